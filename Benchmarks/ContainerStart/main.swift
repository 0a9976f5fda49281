import Foundation
import TestSupport

// Times the start of a container running /bin/true, without a seccomp filter and with
// Docker's default profile as syscage writes it for each engine, side by side in one run
// (the two interleaved, after one untimed run of each): runc (an OCI bundle, convert
// --bundle), podman (convert --to docker), ctr (convert --to oci), containerd's CRI
// (convert --to k8s-pod, a Localhost profile), bubblewrap (compile --format raw, --seccomp
// FD), LXC (convert --to lxc, lxc-execute) and systemd-nspawn (convert --to nspawn, a
// trusted .nspawn file). Each figure is the median of RUNS wall-clock starts of the
// engine's command (for CRI: RunPodSandbox until the container's exit is seen, measured
// by the CRI client). An engine that is missing, or whose conversion or container fails,
// gets a row `n/a: REASON`. See Benchmarks/README.md.
//
// Usage (as root): swift build -c release && .build/release/container-start
// Environment: SYSCAGE (the binary; default: the syscage next to this one), RUNS (5),
// ENGINES (a comma-separated subset of runc,podman,ctr,cri,bwrap,lxc,nspawn).

let env = ProcessInfo.processInfo.environment
let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
let syscage = env["SYSCAGE"] ?? here.appendingPathComponent("syscage").path
let runs = max(1, env["RUNS"].flatMap(Int.init) ?? 5)
let selected = env["ENGINES"].map { Set($0.split(separator: ",").map(String.init)) }

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data(("container-start: " + message + "\n").utf8))
  exit(2)
}
guard FileManager.default.isExecutableFile(atPath: syscage) else { fail("no syscage at \(syscage) (build it, or set SYSCAGE)") }
guard geteuid() == 0 else { fail("run as root: the engines start containers") }

let work: URL
do { work = try Containers.temporaryDirectory("syscage-container-start") } catch { fail("\(error)") }
defer { try? FileManager.default.removeItem(at: work) }
let profile = EngineCases.dockerDefault.path

/// A row could not be measured.
struct NotAvailable: Error { var reason: String }

/// The first line of a program's message, for a row's reason.
func firstLine(_ text: String) -> String {
  text.split(separator: "\n").first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? "(no message)"
}

/// Runs syscage; throws its message when it fails.
func syscageRun(_ arguments: [String], what: String) throws {
  let r = run(syscage, arguments)
  guard r.status == 0 else { throw NotAvailable(reason: "\(what) failed (\(r.status)): \(firstLine(r.stderr))") }
}

/// One start of the container; returns its seconds, or throws why it did not start.
typealias Start = () throws -> Double

/// Seconds taken by the program, which must exit 0.
func timed(_ path: String, _ arguments: [String]) throws -> Double {
  let start = Date()
  let r = run(path, arguments)
  let seconds = Date().timeIntervalSince(start)
  guard r.status == 0 else {
    throw NotAvailable(reason: "\(URL(fileURLWithPath: path).lastPathComponent) exited \(r.status): \(firstLine(r.stderr))")
  }
  return seconds
}

func median(_ values: [Double]) -> Double {
  let sorted = values.sorted()
  return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// The medians of `runs` starts without and with the profile, interleaved after one
/// untimed start of each.
func measure(without: Start, with: Start) throws -> (without: Double, with: Double) {
  _ = try without()
  _ = try with()
  var a: [Double] = [], b: [Double] = []
  for _ in 0..<runs {
    a.append(try without())
    b.append(try with())
  }
  return (median(a), median(b))
}

/// A busybox-static rootfs in a fresh directory of `work`.
func rootfs(_ name: String) throws -> URL {
  let dir = work.appendingPathComponent(name)
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  return try EngineCases.makeRootfs(in: dir)
}

func unique(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

// MARK: - Engines

func runcRow() throws -> (Double, Double) {
  guard Containers.runcReady else { throw NotAvailable(reason: "needs runc and busybox-static") }
  func bundle(_ name: String) throws -> URL {
    let dir = work.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return try Containers.makeBundle(in: dir, args: ["/bin/true"], noNewPrivileges: true)
  }
  let plain = try bundle("runc-without"), filtered = try bundle("runc-with")
  try syscageRun(["convert", profile, "--to", "oci", "--bundle", filtered.path], what: "syscage convert --to oci --bundle")
  func start(_ b: URL) -> Start {
    {
      let id = unique("syscage-bench")
      defer { _ = run(Containers.runcPath, ["delete", "--force", id]) }
      return try timed(Containers.runcPath, ["run", "--bundle", b.path, id])
    }
  }
  return try measure(without: start(plain), with: start(filtered))
}

func podmanRow() throws -> (Double, Double) {
  guard Podman.ready else { throw NotAvailable(reason: Podman.reason) }
  let file = work.appendingPathComponent("podman.json").path
  try syscageRun(["convert", profile, "--to", "docker", "-o", file], what: "syscage convert --to docker")
  let image = try Podman.importImage(try rootfs("podman"))
  defer { Podman.removeImage(image) }
  func start(_ seccomp: String?) -> Start {
    {
      try timed(Podman.path, Podman.runArguments(image: image, name: unique("syscage-bench"), command: ["/bin/true"], seccompProfile: seccomp))
    }
  }
  return try measure(without: start(nil), with: start(file))
}

/// One containerd for the ctr and CRI rows.
nonisolated(unsafe) var sharedContainerd: Containerd?
func containerd() throws -> Containerd {
  if let sharedContainerd { return sharedContainerd }
  guard Containerd.ready else { throw NotAvailable(reason: Containerd.reason) }
  let c = try Containerd.start()
  sharedContainerd = c
  return c
}

func ctrRow() throws -> (Double, Double) {
  let c = try containerd()
  let file = work.appendingPathComponent("ctr.json").path
  try syscageRun(["convert", profile, "--to", "oci", "-o", file], what: "syscage convert --to oci")
  let image = "docker.io/syscage-bench/\(unique("busybox")):latest"
  try c.importImage(rootfs: try rootfs("ctr"), ref: image)
  defer { c.removeImage(image) }
  func start(_ seccomp: String?) -> Start {
    { try timed(Containerd.ctrPath, c.runArguments(image: image, id: unique("syscage-bench"), command: ["/bin/true"], seccompProfile: seccomp)) }
  }
  return try measure(without: start(nil), with: start(file))
}

func criRow() throws -> (Double, Double) {
  guard Peer.criClient.isAvailable else { throw NotAvailable(reason: Peer.criClient.skipReason) }
  let c = try containerd()
  let seccompRoot = work.appendingPathComponent("kubelet-seccomp")
  try syscageRun(
    ["convert", profile, "--to", "k8s-pod", "--name", "docker-default", "-o", seccompRoot.path],
    what: "syscage convert --to k8s-pod")
  let localhost = seccompRoot.appendingPathComponent("profiles/docker-default.json").path
  let client = try CRIClient.prepare(in: work.appendingPathComponent("cri-messages"))
  let image = "docker.io/syscage-bench/\(unique("busybox")):latest"
  try c.importImage(rootfs: try rootfs("cri"), ref: image, namespace: Containerd.criNamespace)
  defer { c.removeImage(image, namespace: Containerd.criNamespace) }
  func start(_ seccomp: String?) -> Start {
    {
      let r = client.run(c, image: image, command: ["/bin/true"], localhostProfile: seccomp)
      guard r.status == 0, r.exitCode == 0 else {
        throw NotAvailable(reason: "the pod did not run: \(firstLine(r.message + r.stderr))")
      }
      return r.sandboxSeconds + r.containerSeconds
    }
  }
  return try measure(without: start(nil), with: start(localhost))
}

func bwrapRow() throws -> (Double, Double) {
  guard Containers.bwrapReady else { throw NotAvailable(reason: "needs bubblewrap (apt-get install bubblewrap)") }
  let bpf = work.appendingPathComponent("bwrap.bpf").path
  try syscageRun(["compile", profile, "--format", "raw", "-o", bpf], what: "syscage compile --format raw")
  let root = try rootfs("bwrap")
  let bwrap = ["/usr/bin/bwrap", "--bind", root.path, "/", "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
    "--unshare-all", "--die-with-parent"].map(Containers.shellQuote).joined(separator: " ")
  // Both through /bin/sh, which opens the filter's file for --seccomp 9 in the second.
  let without = { try timed("/bin/sh", ["-c", "exec \(bwrap) /bin/true"]) }
  let with = { try timed("/bin/sh", ["-c", "exec \(bwrap) --seccomp 9 /bin/true 9<\(Containers.shellQuote(bpf))"]) }
  return try measure(without: without, with: with)
}

func lxcRow() throws -> (Double, Double) {
  guard Peer.lxc.isAvailable else { throw NotAvailable(reason: Peer.lxc.skipReason) }
  let policy = work.appendingPathComponent("lxc.seccomp").path
  try syscageRun(["convert", profile, "--to", "lxc", "-o", policy], what: "syscage convert --to lxc")
  let root = try rootfs("lxc")
  let lxcPath = work.appendingPathComponent("lxc-containers").path
  let name = unique("syscage-bench")
  try FileManager.default.createDirectory(atPath: lxcPath + "/" + name, withIntermediateDirectories: true)
  let config = try writeFile(
    """
    lxc.uts.name = \(name)
    lxc.rootfs.path = dir:\(root.path)
    lxc.net.0.type = empty
    lxc.apparmor.profile = unconfined
    lxc.mount.auto = proc:mixed sys:ro
    lxc.autodev = 1

    """, "config", in: URL(fileURLWithPath: lxcPath + "/" + name))
  func start(_ seccomp: String?) -> Start {
    {
      try timed(
        "/usr/bin/lxc-execute",
        ["-P", lxcPath, "-n", name, "-f", config] + (seccomp.map { ["-s", "lxc.seccomp.profile=\($0)"] } ?? [])
          + ["--", "/bin/true"])
    }
  }
  return try measure(without: start(nil), with: start(policy))
}

func nspawnRow() throws -> (Double, Double) {
  guard Peer.nspawn.isAvailable else { throw NotAvailable(reason: Peer.nspawn.skipReason) }
  // systemd-nspawn reads MACHINE.nspawn next to the directory given with -D when the
  // settings are trusted; the machine is the directory's name.
  let machines = work.appendingPathComponent("nspawn")
  let name = unique("syscage-bench")
  try FileManager.default.createDirectory(at: machines, withIntermediateDirectories: true)
  let settings = machines.appendingPathComponent("\(name).nspawn").path
  try syscageRun(["convert", profile, "--to", "nspawn", "-o", settings], what: "syscage convert --to nspawn")
  let root = try rootfs("nspawn-rootfs")
  let machine = machines.appendingPathComponent(name).path
  try FileManager.default.moveItem(atPath: root.path, toPath: machine)
  func start(_ trusted: Bool) -> Start {
    {
      try timed(
        "/usr/bin/systemd-nspawn",
        ["-q", "--register=no", "--keep-unit", "--settings=\(trusted ? "trusted" : "no")", "-D", machine, "/bin/true"])
    }
  }
  return try measure(without: start(false), with: start(true))
}

// MARK: - The table

let rows: [(String, () throws -> (Double, Double))] = [
  ("runc", runcRow), ("podman", podmanRow), ("ctr", ctrRow), ("cri", criRow), ("bwrap", bwrapRow),
  ("lxc", lxcRow), ("nspawn", nspawnRow),
]
let labels = [
  "runc": "runc 1.1 (OCI bundle)", "podman": "podman 4.3 + runc", "ctr": "containerd 1.6, ctr run",
  "cri": "containerd 1.6, CRI pod", "bwrap": "bubblewrap (raw BPF)", "lxc": "LXC 5, lxc-execute",
  "nspawn": "systemd-nspawn 252",
]
print("container start running /bin/true: no filter vs Docker's default as syscage writes it; median of \(runs)")
print("engine".padding(toLength: 26, withPad: " ", startingAt: 0) + "  without (ms)   with (ms)   ratio")
for (key, row) in rows where selected?.contains(key) ?? true {
  let label = (labels[key] ?? key).padding(toLength: 26, withPad: " ", startingAt: 0)
  do {
    let (without, with) = try row()
    print(label + String(format: "  %12.1f  %10.1f   %5.2f", without * 1000, with * 1000, with / without))
  } catch let error as NotAvailable {
    print(label + "  n/a: " + error.reason)
  } catch {
    print(label + "  n/a: \(error)")
  }
}
sharedContainerd?.stop()
