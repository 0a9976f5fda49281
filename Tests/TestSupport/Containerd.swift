import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A containerd the tests start as their own child process (not the machine's daemon): its
/// own config, root, state, socket and runc roots in a fresh temporary directory, CRI's
/// sandbox image a local one, stopped by its pid with everything it made removed.
public final class Containerd: @unchecked Sendable {
  /// The containerd executable.
  public static let path = "/usr/bin/containerd"
  /// The ctr executable.
  public static let ctrPath = "/usr/bin/ctr"
  /// Whether a containerd can be started here (containerd, ctr, runc, busybox-static, root).
  public static var ready: Bool { Peer.containerd.isAvailable && Containers.runcReady }
  /// Why a containerd test cannot run.
  public static let reason =
    "needs containerd (with ctr), runc, busybox-static and root (apt-get install containerd runc busybox-static); required under CI=true"

  /// The namespace CRI's images and containers live in.
  public static let criNamespace = "k8s.io"

  /// The instance's directory (config.toml, root, state, the socket, runc roots, logs).
  public let directory: URL
  /// The gRPC socket (ctr's and CRI's).
  public let socket: String
  /// CRI's sandbox ("pause") image, imported into `criNamespace` at start.
  public let sandboxImage: String
  let process: Process
  let createdUnderRun: [String]
  let lock = NSLock()
  var stopped = false

  init(directory: URL, socket: String, sandboxImage: String, process: Process, createdUnderRun: [String]) {
    self.directory = directory
    self.socket = socket
    self.sandboxImage = sandboxImage
    self.process = process
    self.createdUnderRun = createdUnderRun
  }

  /// The shim and runc directories under /run/containerd the runc v2 shim makes whatever
  /// the state directory is; those that did not exist before the start are removed at stop
  /// (when empty).
  static let runDirectories = ["/run/containerd/s", "/run/containerd/fifo", "/run/containerd/runc", "/run/containerd"]

  /// Starts containerd with its own config in a fresh directory and waits until it answers
  /// on its socket; imports the sandbox image (a busybox-static image whose Cmd sleeps)
  /// into `criNamespace`. On failure everything started is stopped and removed.
  public static func start() throws -> Containerd {
    let fm = FileManager.default
    // Unix socket paths are short (108 bytes): a short name under /tmp.
    let directory = URL(fileURLWithPath: "/tmp/syscage-ctd-\(UUID().uuidString.prefix(8).lowercased())")
    try fm.createDirectory(at: directory, withIntermediateDirectories: true)
    let socket = directory.appendingPathComponent("containerd.sock").path
    let sandboxImage = "localhost/syscage-test/pause-\(directory.lastPathComponent.suffix(8)):1"
    let createdUnderRun = runDirectories.filter { !fm.fileExists(atPath: $0) }

    let defaults = TestSupport.run(path, ["config", "default"])
    guard defaults.status == 0 else {
      try? fm.removeItem(at: directory)
      throw Containers.SetupError(description: "containerd config default failed: \(defaults.stderr)")
    }
    let config: String
    do {
      config = try Self.config(from: defaults.stdout, directory: directory.path, socket: socket, sandboxImage: sandboxImage)
    } catch {
      try? fm.removeItem(at: directory)
      throw error
    }
    let configPath = try writeFile(config, "config.toml", in: directory)

    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = ["--config", configPath]
    let logPath = directory.appendingPathComponent("containerd.log").path
    _ = fm.createFile(atPath: logPath, contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    p.standardOutput = log
    p.standardError = log
    p.standardInput = FileHandle(forReadingAtPath: "/dev/null")
    do { try startUnblocked(p) } catch {
      try? fm.removeItem(at: directory)
      throw Containers.SetupError(description: "cannot start containerd: \(error)")
    }
    try? log.close()
    let instance = Containerd(
      directory: directory, socket: socket, sandboxImage: sandboxImage, process: p, createdUnderRun: createdUnderRun)
    do {
      let deadline = Date().addingTimeInterval(30)
      while instance.ctr(["version"], timeout: 10).status != 0 {
        guard p.isRunning, Date() < deadline else {
          throw Containers.SetupError(
            description: "containerd did not answer on \(socket) within 30 s; its log:\n\(instance.logTail())")
        }
        usleep(50_000)
      }
      let pauseDir = directory.appendingPathComponent("pause")
      try fm.createDirectory(at: pauseDir, withIntermediateDirectories: true)
      let pauseRootfs = try EngineCases.makeRootfs(in: pauseDir)
      try instance.importImage(
        rootfs: pauseRootfs, ref: sandboxImage, namespace: criNamespace, command: ["/bin/sleep", "2147483647"])
    } catch {
      instance.stop()
      throw error
    }
    return instance
  }

  /// `defaults` (the output of `containerd config default`) with root, state, the gRPC
  /// address, the opt plugin's path and CRI's runc root under `directory`,
  /// `restrict_oom_score_adj = true` (raising oom_score_adj needs CAP_SYS_RESOURCE), the
  /// local sandbox image, and the snapshotters that cannot work here disabled. Throws when
  /// a setting is not found exactly once (another containerd's defaults).
  public static func config(from defaults: String, directory: String, socket: String, sandboxImage: String) throws
    -> String
  {
    let cri = "plugins.\"io.containerd.grpc.v1.cri\""
    let settings: [(section: String, key: String, value: String)] = [
      ("", "root", quoted(directory + "/root")),
      ("", "state", quoted(directory + "/state")),
      ("", "disabled_plugins", "[" + ["aufs", "btrfs", "devmapper", "zfs"].map {
        quoted("io.containerd.snapshotter.v1.\($0)") }.joined(separator: ", ") + "]"),
      ("grpc", "address", quoted(socket)),
      (cri, "restrict_oom_score_adj", "true"),
      (cri, "sandbox_image", quoted(sandboxImage)),
      (cri + ".containerd.runtimes.runc.options", "Root", quoted(directory + "/runc-cri")),
      ("plugins.\"io.containerd.internal.v1.opt\"", "path", quoted(directory + "/opt")),
    ]
    var found = Array(repeating: 0, count: settings.count)
    var section = ""
    var lines: [String] = []
    for line in defaults.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.hasPrefix("[") && trimmed.hasSuffix("]") {
        section = String(trimmed.dropFirst().dropLast())
        lines.append(line)
        continue
      }
      guard let equals = trimmed.firstIndex(of: "="),
        let i = settings.firstIndex(where: {
          $0.section == section && trimmed[..<equals].trimmingCharacters(in: .whitespaces) == $0.key
        })
      else {
        lines.append(line)
        continue
      }
      found[i] += 1
      let indent = line.prefix { $0 == " " }
      lines.append("\(indent)\(settings[i].key) = \(settings[i].value)")
    }
    let missing = settings.indices.filter { found[$0] != 1 }.map { "[\(settings[$0].section)] \(settings[$0].key)" }
    guard missing.isEmpty else {
      throw Containers.SetupError(
        description: "containerd config default does not set exactly once: \(missing.joined(separator: ", "))")
    }
    return lines.joined(separator: "\n")
  }

  static func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\") + "\"" }

  /// Runs ctr against this containerd in `namespace`.
  public func ctr(_ arguments: [String], namespace: String = "default", timeout: Double = 120) -> ProcessResult {
    TestSupport.run(Self.ctrPath, ["--address", socket, "--namespace", namespace] + arguments, timeout: timeout)
  }

  /// Writes an OCI image archive of `rootfs` (Tests/Engines/oci_archive.py, the Python
  /// standard library only) and imports it with `ctr images import` into `namespace` as
  /// `ref`, its Cmd `command`.
  public func importImage(rootfs: URL, ref: String, namespace: String = "default", command: [String] = ["/bin/sh"]) throws {
    let archive = directory.appendingPathComponent("image-\(UUID().uuidString.prefix(8)).tar").path
    defer { try? FileManager.default.removeItem(atPath: archive) }
    let commandJSON = String(decoding: try JSONSerialization.data(withJSONObject: command), as: UTF8.self)
    let made = TestSupport.run("/usr/bin/python3", [Self.ociArchiveScript.path, rootfs.path, archive, ref, commandJSON])
    guard made.status == 0 else {
      throw Containers.SetupError(description: "oci_archive.py failed (\(made.status)): \(made.stderr)")
    }
    let imported = ctr(["images", "import", archive], namespace: namespace)
    guard imported.status == 0 else {
      throw Containers.SetupError(description: "ctr images import failed (\(imported.status)): \(imported.stderr)")
    }
  }

  /// Removes the image `ref` from `namespace`.
  public func removeImage(_ ref: String, namespace: String = "default") {
    _ = ctr(["images", "rm", ref], namespace: namespace)
  }

  /// The script that writes OCI image archives.
  public static var ociArchiveScript: URL { packageRoot.appendingPathComponent("Tests/Engines/oci_archive.py") }

  /// The arguments of `ctr run --rm` of `image` as container `id` running `command`, with
  /// `--seccomp --seccomp-profile PROFILE` when a profile is given (ctr applies no seccomp
  /// otherwise); runc's root and the I/O fifos in this instance's directory.
  public func runArguments(image: String, id: String, command: [String], seccompProfile: String?) -> [String] {
    var arguments = [
      "--address", socket, "--namespace", "default", "run", "--rm",
      "--runc-root", directory.appendingPathComponent("runc").path,
      "--fifo-dir", directory.appendingPathComponent("fifo").path,
    ]
    if let seccompProfile { arguments += ["--seccomp", "--seccomp-profile", seccompProfile] }
    return arguments + [image, id] + command
  }

  /// Runs `command` in a new container of `image` with `ctr run --rm` (see `runArguments`).
  public func run(image: String, command: [String], seccompProfile: String?, timeout: Double = 120) -> ProcessResult {
    let id = "syscage-test-\(UUID().uuidString.prefix(8).lowercased())"
    let r = TestSupport.run(
      Self.ctrPath, runArguments(image: image, id: id, command: command, seccompProfile: seccompProfile),
      timeout: timeout)
    if r.status != 0 {  // a container that did not start may be left: remove it
      _ = ctr(["tasks", "rm", "--force", id])
      _ = ctr(["containers", "rm", id])
    }
    return r
  }

  /// The last lines of containerd's log.
  public func logTail(_ lines: Int = 30) -> String {
    let text = (try? String(contentsOf: directory.appendingPathComponent("containerd.log"), encoding: .utf8)) ?? ""
    return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
  }

  /// Removes every task and container left in its namespaces, stops containerd by its pid
  /// (SIGTERM, then SIGKILL after 10 s), kills any shim of this instance still running,
  /// unmounts what is mounted under its directory and removes the directory, and the
  /// /run/containerd directories that it made and that are empty. Safe to call twice.
  public func stop() {
    lock.lock()
    defer { lock.unlock() }
    guard !stopped else { return }
    stopped = true
    if process.isRunning {
      for namespace in ["default", Self.criNamespace] {
        let tasks = ctr(["tasks", "ls", "--quiet"], namespace: namespace, timeout: 30)
        for id in tasks.stdout.split(separator: "\n") where !id.isEmpty {
          _ = ctr(["tasks", "rm", "--force", String(id)], namespace: namespace, timeout: 30)
        }
        let containers = ctr(["containers", "ls", "--quiet"], namespace: namespace, timeout: 30)
        for id in containers.stdout.split(separator: "\n") where !id.isEmpty {
          _ = ctr(["containers", "rm", String(id)], namespace: namespace, timeout: 30)
        }
      }
      kill(process.processIdentifier, SIGTERM)
      let deadline = Date().addingTimeInterval(10)
      while process.isRunning && Date() < deadline { usleep(20_000) }
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    process.waitUntilExit()
    for pid in Self.processes(mentioning: directory.path) { kill(pid, SIGKILL) }
    for mountPoint in Self.mountPoints(under: directory.path) { _ = umount2(mountPoint, Int32(MNT_DETACH)) }
    try? FileManager.default.removeItem(at: directory)
    for dir in Self.runDirectories where createdUnderRun.contains(dir) {
      for sub in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
        rmdir(dir + "/" + sub)  // runc/<namespace>, when empty
      }
      rmdir(dir)
    }
  }

  deinit { stop() }

  /// Processes (shims) whose command line mentions `text`, other than this one.
  static func processes(mentioning text: String) -> [pid_t] {
    let fm = FileManager.default
    return ((try? fm.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
      guard let pid = pid_t(entry), pid != getpid(),
        let data = fm.contents(atPath: "/proc/\(entry)/cmdline")
      else { return nil }
      let line = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
      return line.contains(text) ? pid : nil
    }
  }

  /// Mount points at or under `path` in this mount namespace, the deepest first.
  static func mountPoints(under path: String) -> [String] {
    guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
    let points = text.split(separator: "\n").compactMap { line -> String? in
      let fields = line.split(separator: " ")
      guard fields.count > 4 else { return nil }
      // mountinfo escapes space, tab, newline and backslash as octal.
      let point = String(fields[4]).replacingOccurrences(of: "\\040", with: " ")
      return point == path || point.hasPrefix(path + "/") ? point : nil
    }
    return points.sorted { $0.count > $1.count }
  }
}

/// The test's CRI client: Tests/Engines/cri/cri_client.py run by /usr/bin/python3 with
/// python3-grpcio, its message code generated by /usr/bin/protoc from the vendored
/// Tests/Engines/cri/api.proto into a directory of the test's.
public struct CRIClient: Sendable {
  /// The directory holding the generated api_pb2.py.
  public let messages: URL

  /// The vendored CRI definition (runtime.v1).
  public static var proto: URL { packageRoot.appendingPathComponent("Tests/Engines/cri/api.proto") }
  /// The client script.
  public static var script: URL { packageRoot.appendingPathComponent("Tests/Engines/cri/cri_client.py") }

  /// Generates the message code into `directory` with protoc --python_out, from a copy of
  /// the proto without the `debug_redact` field option (protoc 3.21 does not know it).
  public static func prepare(in directory: URL) throws -> CRIClient {
    let source = try String(contentsOf: proto, encoding: .utf8)
    let copy = source.replacingOccurrences(of: " [debug_redact = true]", with: "")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    _ = try writeFile(copy, "api.proto", in: directory)
    let r = TestSupport.run("/usr/bin/protoc", ["--proto_path", directory.path, "--python_out", directory.path, "api.proto"])
    guard r.status == 0, FileManager.default.fileExists(atPath: directory.appendingPathComponent("api_pb2.py").path)
    else { throw Containers.SetupError(description: "protoc --python_out failed (\(r.status)): \(r.stderr)") }
    return CRIClient(messages: directory)
  }

  /// One container run through the CRI.
  public struct Result: Sendable {
    /// The client's exit status: 0 when the container ran, 69 when the runtime refused a step.
    public var status: Int32
    /// The container's exit code (nil when it did not run).
    public var exitCode: Int?
    /// The container's standard output and error, from its CRI log.
    public var stdout: String
    public var stderr: String
    /// Seconds for RunPodSandbox, and from CreateContainer until the exit was seen.
    public var sandboxSeconds: Double
    public var containerSeconds: Double
    /// The client's own messages (the step the runtime refused, and why).
    public var message: String
  }

  /// Runs `command` in a new pod (its name unique) of `image` through `containerd`'s CRI
  /// socket; with `localhostProfile` (an absolute path) as the container's Localhost
  /// seccomp profile, with `noNewPrivileges` as the container's no_new_privs.
  public func run(
    _ containerd: Containerd, image: String, command: [String], localhostProfile: String?, noNewPrivileges: Bool = false,
    timeout: Double = 120
  ) -> Result {
    let name = "syscage-test-\(UUID().uuidString.prefix(8).lowercased())"
    var arguments = [
      Self.script.path, "--socket", containerd.socket, "--messages", messages.path, "--image", image,
      "--name", name, "--log-dir", containerd.directory.appendingPathComponent("pods/\(name)").path,
      "--timeout", String(Int(timeout)),
    ]
    if let localhostProfile { arguments += ["--seccomp-localhost", localhostProfile] }
    if noNewPrivileges { arguments.append("--no-new-privs") }
    let r = TestSupport.run("/usr/bin/python3", arguments + ["--"] + command, timeout: timeout + 30)
    var result = Result(
      status: r.status, exitCode: nil, stdout: "", stderr: "", sandboxSeconds: 0, containerSeconds: 0, message: r.stderr)
    if r.status == 0,
      let object = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    {
      result.exitCode = (object["exit_code"] as? NSNumber)?.intValue
      result.stdout = object["stdout"] as? String ?? ""
      result.stderr = object["stderr"] as? String ?? ""
      result.sandboxSeconds = (object["sandbox_seconds"] as? NSNumber)?.doubleValue ?? 0
      result.containerSeconds = (object["container_seconds"] as? NSNumber)?.doubleValue ?? 0
    } else if r.status == 0 {
      result.status = 65
      result.message = "cri_client.py printed no result: \(r.stdout)\(r.stderr)"
    }
    return result
  }
}
