import BPF
import Foundation
import Host
import Profiles
import Seccomp
import Syscalls

#if canImport(Glibc)
  import Glibc
#endif

/// One run of a runtime: the program to record, and what to remove after it.
struct Launch {
  var executable: String
  var arguments: [String]
  var cleanup: () -> Void = {}
}

/// A runtime set up to start `/bin/true` from a busybox-static rootfs under a container
/// filter that allows everything but one marker call.
struct Engine {
  var runtime: ContainerRuntime
  /// The first line of the runtime's `--version`.
  var version: String
  /// The noNewPrivileges modes the runtime has.
  var modes: [Bool]
  /// The filters the runtime stacks before the container's (see `RuntimeCalls.derive`).
  var filtersBefore: Int
  /// The filters the container's program carries in all.
  var filtersInAll: Int
  /// A run in `mode` whose filter refuses `marker` (with EPERM); `run` makes names unique.
  var launch: (_ mode: Bool, _ marker: String, _ run: Int) throws -> Launch
  /// Removes what the set-up made.
  var tearDown: () -> Void = {}
}

struct SetupError: Error, CustomStringConvertible {
  var description: String
}

func firstExecutable(_ paths: [String]) -> String? { paths.first { FileManager.default.isExecutableFile(atPath: $0) } }

/// Runs a program to the end; its exit status and output (stdout and stderr together).
@discardableResult
func quietly(_ path: String, _ arguments: [String], currentDirectory: URL? = nil) -> (Int32, String) {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: path)
  p.arguments = arguments
  if let currentDirectory { p.currentDirectoryURL = currentDirectory }
  let pipe = Pipe()
  p.standardOutput = pipe
  p.standardError = pipe
  p.standardInput = FileHandle.nullDevice
  do { try p.run() } catch { return (127, "\(error)") }
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

func versionLine(_ path: String, _ arguments: [String] = ["--version"]) -> String {
  let (_, out) = quietly(path, arguments)
  return out.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
}

/// Makes the engines on this machine.
struct Engines {
  let dir: URL
  let busybox: String
  let tag: String
  let fm = FileManager.default

  /// A busybox-static rootfs at `dir`/`name`: /bin/busybox, /bin/true and /bin/sh, the
  /// mount points, and the /usr and os-release systemd-nspawn looks for.
  func rootfs(_ name: String) throws -> URL {
    let root = dir.appendingPathComponent(name)
    for d in ["bin", "proc", "dev", "sys", "tmp", "usr", "etc", "run"] {
      try fm.createDirectory(at: root.appendingPathComponent(d), withIntermediateDirectories: true)
    }
    try fm.copyItem(atPath: busybox, toPath: root.appendingPathComponent("bin/busybox").path)
    for applet in ["true", "sh"] {
      try fm.createSymbolicLink(atPath: root.appendingPathComponent("bin/\(applet)").path, withDestinationPath: "busybox")
    }
    try Data("ID=busybox\n".utf8).write(to: root.appendingPathComponent("etc/os-release"))
    return root
  }

  func make(_ runtime: ContainerRuntime) throws -> Engine? {
    switch runtime {
    case .runc: return try oci(runtime, firstExecutable(["/usr/sbin/runc", "/usr/bin/runc"]))
    case .crun: return try oci(runtime, firstExecutable(["/usr/bin/crun"]))
    case .lxc: return try lxc()
    case .nspawn: return try nspawn()
    case .bwrap: return try bwrap()
    }
  }

  /// runc or crun on an OCI bundle (`runc spec`/`crun spec`, the process /bin/true), by
  /// `run` and by `create` + `start` in turn.
  /// crun runs in a private mount namespace without /sys/fs/cgroup/unified: it refuses a
  /// hybrid cgroup layout whose cgroup2 has controllers, as this kind of machine has.
  func oci(_ runtime: ContainerRuntime, _ path: String?) throws -> Engine? {
    guard let path else { return nil }
    let bundle = dir.appendingPathComponent("\(runtime)")
    try fm.createDirectory(at: bundle, withIntermediateDirectories: true)
    _ = try rootfs("\(runtime)/rootfs")
    let (status, out) = quietly(path, ["spec"], currentDirectory: bundle)
    guard status == 0 else { throw SetupError(description: "\(runtime) spec failed: \(out)") }
    let configURL = bundle.appendingPathComponent("config.json")
    guard let data = try? Data(contentsOf: configURL),
      let spec = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    else { throw SetupError(description: "\(runtime) spec wrote an unexpected config.json") }
    let unshare = firstExecutable(["/usr/bin/unshare", "/bin/unshare"])
    if runtime == .crun && unshare == nil { throw SetupError(description: "crun needs unshare (util-linux)") }
    return Engine(
      runtime: runtime, version: versionLine(path), modes: [false, true], filtersBefore: 0, filtersInAll: 1,
      launch: { mode, marker, run in
        var config = spec
        guard var process = config["process"] as? [String: Any], var linux = config["linux"] as? [String: Any]
        else { throw SetupError(description: "no process or linux in config.json") }
        process["args"] = ["/bin/true"]
        process["terminal"] = false
        process["noNewPrivileges"] = mode
        config["process"] = process
        config["root"] = ["path": "rootfs", "readonly": false]
        linux["seccomp"] = [
          "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
          "syscalls": [["names": [marker], "action": "SCMP_ACT_ERRNO"]],
        ]
        config["linux"] = linux
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: configURL)
        let id = "\(tag)-\(runtime)-\(run)"
        let cleanup = { _ = quietly(path, ["delete", "--force", id]) }
        // Every other run takes the path containerd's shim and podman's conmon take:
        // `create`, then `start` (the container's init waits on the exec FIFO under its
        // filter); the others `run`.
        let start = run % 2 == 1
          ? "\(path) create --bundle '\(bundle.path)' \(id) && exec \(path) start \(id)"
          : "exec \(path) run --bundle '\(bundle.path)' \(id)"
        if runtime == .runc {
          return Launch(executable: "/bin/sh", arguments: ["sh", "-c", start], cleanup: cleanup)
        }
        let script = "if grep -q ' /sys/fs/cgroup/unified ' /proc/self/mounts; then umount /sys/fs/cgroup/unified || exit 125; fi; "
          + start
        return Launch(
          executable: unshare!, arguments: ["unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script], cleanup: cleanup)
      })
  }

  /// lxc-execute of a busybox container (`lxc-create -t busybox`, no network, AppArmor
  /// unconfined) with a version 2 policy; noNewPrivileges is `lxc.no_new_privs`.
  func lxc() throws -> Engine? {
    guard let execute = firstExecutable(["/usr/bin/lxc-execute"]), let create = firstExecutable(["/usr/bin/lxc-create"]),
      let destroy = firstExecutable(["/usr/bin/lxc-destroy"])
    else { return nil }
    let lxcPath = dir.appendingPathComponent("lxc")
    try fm.createDirectory(at: lxcPath, withIntermediateDirectories: true)
    let base = dir.appendingPathComponent("lxc-base.conf")
    try Data("lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n".utf8).write(to: base)
    let name = "\(tag)-lxc"
    let (status, out) = quietly(create, ["-P", lxcPath.path, "-n", name, "-t", "busybox", "-f", base.path])
    guard status == 0 else { throw SetupError(description: "lxc-create failed: \(out)") }
    let policy = dir.appendingPathComponent("lxc.seccomp")
    return Engine(
      runtime: .lxc, version: "lxc " + versionLine(execute), modes: [false, true], filtersBefore: 0, filtersInAll: 1,
      launch: { mode, marker, _ in
        try Data("2\ndenylist\n[x86_64]\n\(marker) errno 1\n".utf8).write(to: policy)
        return Launch(
          executable: execute,
          arguments: [
            "lxc-execute", "-P", lxcPath.path, "-n", name, "-s", "lxc.seccomp.profile=\(policy.path)",
            "-s", "lxc.no_new_privs=\(mode ? 1 : 0)", "--", "/bin/true",
          ])
      },
      tearDown: { _ = quietly(destroy, ["-P", lxcPath.path, "-n", name]) })
  }

  /// systemd-nspawn on a directory (`--register=no --keep-unit`: no systemd as PID 1 is
  /// needed) with `--system-call-filter=~MARKER`; noNewPrivileges is `--no-new-privileges`.
  func nspawn() throws -> Engine? {
    guard let path = firstExecutable(["/usr/bin/systemd-nspawn"]) else { return nil }
    let root = try rootfs("nspawn")
    return Engine(
      runtime: .nspawn, version: versionLine(path), modes: [false, true], filtersBefore: 2, filtersInAll: 5,
      launch: { mode, marker, _ in
        Launch(
          executable: path,
          arguments: [
            "systemd-nspawn", "-q", "--register=no", "--keep-unit", "-D", root.path, "--system-call-filter=~\(marker)",
            "--no-new-privileges=\(mode ? "yes" : "no")", "/bin/true",
          ])
      })
  }

  /// bubblewrap with `--seccomp FD`: a filter compiled here (x86_64, allow all but the
  /// marker). bubblewrap always sets no_new_privs, so its one mode is true.
  func bwrap() throws -> Engine? {
    guard let path = firstExecutable(["/usr/bin/bwrap"]) else { return nil }
    let root = try rootfs("bwrap")
    let filter = dir.appendingPathComponent("bwrap.bpf")
    return Engine(
      runtime: .bwrap, version: versionLine(path), modes: [true], filtersBefore: 0, filtersInAll: 1,
      launch: { _, marker, _ in
        guard let number = Arch.x86_64.number(of: marker) else { throw SetupError(description: "no call \(marker) on x86_64") }
        let policy = Policy(
          arches: [
            ArchPolicy(
              arch: .x86_64, defaultAction: .allow,
              rules: [Rule(name: marker, number: number, action: .errno(SeccompAction.eperm))])
          ], badArchAction: .allow, context: HostFacts.dockerDefault())
        try Data(try Compiler.compile(policy).rawBytes).write(to: filter)
        let command = [
          path, "--bind", root.path, "/", "--proc", "/proc", "--dev", "/dev", "--unshare-all", "--die-with-parent",
          "--seccomp", "9", "/bin/true",
        ].map { "'\($0)'" }.joined(separator: " ")
        return Launch(executable: "/bin/sh", arguments: ["sh", "-c", "exec \(command) 9<'\(filter.path)'"])
      })
  }
}
