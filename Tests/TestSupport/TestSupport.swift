import Foundation

/// The package root, found from this file's path.
public let packageRoot: URL = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// True under CI (`CI=true`), where a test that would skip for a missing peer must fail instead.
public let isCI: Bool = ProcessInfo.processInfo.environment["CI"] == "true"

/// Peers the tests compare against, and how to tell whether they are here.
public enum Peer: String, Sendable {
  case libseccomp = "python3-seccomp (libseccomp 2.5.4) for /usr/bin/python3"
  case strace
  case runc
  case bwrap = "bubblewrap"
  case root = "root privileges"
  case podman
  case crun
  case containerd = "containerd (with ctr)"
  case criClient = "python3-grpcio, python3-protobuf and protoc (the CRI test client)"
  case lxc = "LXC (lxc-execute)"
  case nspawn = "systemd-nspawn"
  case systemdRun = "systemd-run and systemd --user"
  case skopeo = "skopeo (reads OCI image layouts)"

  /// Whether this peer can be used on this machine.
  public var isAvailable: Bool {
    switch self {
    case .libseccomp:
      return run("/usr/bin/python3", ["-c", "import seccomp"]).status == 0
    case .strace: return FileManager.default.isExecutableFile(atPath: "/usr/bin/strace")
    case .runc: return FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc")
      || FileManager.default.isExecutableFile(atPath: "/usr/bin/runc")
    case .bwrap: return FileManager.default.isExecutableFile(atPath: "/usr/bin/bwrap")
    case .root: return geteuid() == 0
    case .podman: return Self.anyExecutable(["/usr/bin/podman"])
    case .crun: return Self.anyExecutable(["/usr/bin/crun"])
    case .containerd: return Self.anyExecutable(["/usr/bin/containerd"]) && Self.anyExecutable(["/usr/bin/ctr"])
    case .criClient:
      return Self.anyExecutable(["/usr/bin/protoc"]) && run("/usr/bin/python3", ["-c", "import grpc, google.protobuf"]).status == 0
    case .lxc: return Self.anyExecutable(["/usr/bin/lxc-execute"])
    case .nspawn: return Self.anyExecutable(["/usr/bin/systemd-nspawn"])
    case .systemdRun: return Self.anyExecutable(["/usr/bin/systemd-run"]) && Self.anyExecutable(["/lib/systemd/systemd"])
    case .skopeo: return Self.anyExecutable(["/usr/bin/skopeo"])
    }
  }

  /// Whether a test needing this peer runs: when the peer is here, and always under CI
  /// (where its absence must fail the test rather than skip it).
  public var shouldRun: Bool { isCI || isAvailable }

  /// The visible reason a test is skipped.
  public var skipReason: String { "needs \(rawValue); install it (\(installHint)) or run under CI=true" }

  var installHint: String {
    switch self {
    case .libseccomp: "apt-get install python3-seccomp"
    case .strace: "apt-get install strace"
    case .runc: "apt-get install runc"
    case .bwrap: "apt-get install bubblewrap"
    case .root: "run the tests as root"
    case .podman: "apt-get install podman"
    case .crun: "apt-get install crun"
    case .containerd: "apt-get install containerd"
    case .criClient: "apt-get install python3-grpcio python3-protobuf protobuf-compiler"
    case .lxc: "apt-get install lxc"
    case .nspawn: "apt-get install systemd-container"
    case .systemdRun: "apt-get install systemd"
    case .skopeo: "apt-get install skopeo"
    }
  }

  static func anyExecutable(_ paths: [String]) -> Bool {
    paths.contains { FileManager.default.isExecutableFile(atPath: $0) }
  }
}

/// The result of running a program to completion.
public struct ProcessResult: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String
}

/// Starts `process` with no signal blocked, as a shell starts a program: the test runner's
/// worker threads block most signals, and a child inherits the mask of the thread that
/// spawns it (syscage passes it on to the programs it wraps, as env does).
public func startUnblocked(_ process: Process) throws {
  var none = sigset_t(), old = sigset_t()
  sigemptyset(&none)
  pthread_sigmask(SIG_SETMASK, &none, &old)
  defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
  try process.run()
}

/// Runs `path` with `arguments`, feeding `stdin`, and waits up to `timeout` seconds
/// (then kills it and reports status -1).
public func run(_ path: String, _ arguments: [String], stdin: String? = nil, timeout: Double = 120) -> ProcessResult {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: path)
  p.arguments = arguments
  let out = Pipe(), err = Pipe(), inp = Pipe()
  p.standardOutput = out
  p.standardError = err
  p.standardInput = inp
  do { try startUnblocked(p) } catch { return ProcessResult(status: 127, stdout: "", stderr: "\(error)") }
  if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
  try? inp.fileHandleForWriting.close()
  let group = DispatchGroup()
  nonisolated(unsafe) var outData = Data(), errData = Data()
  group.enter()
  DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
  group.enter()
  DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
  let deadline = Date().addingTimeInterval(timeout)
  while p.isRunning && Date() < deadline { usleep(2000) }
  var timedOut = false
  if p.isRunning { p.terminate(); kill(p.processIdentifier, SIGKILL); timedOut = true }
  p.waitUntilExit()
  group.wait()
  return ProcessResult(
    status: timedOut ? -1 : p.terminationStatus,
    stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

/// The built `syscage` executable next to the test bundle.
public var syscageExecutable: String {
  let candidates = [
    packageRoot.appendingPathComponent(".build/debug/syscage").path,
    Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("syscage").path,
  ]
  return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
}

/// Writes `text` to `dir`/`name` and returns the file's path.
public func writeFile(_ text: String, _ name: String, in dir: URL) throws -> String {
  let path = dir.appendingPathComponent(name).path
  try Data(text.utf8).write(to: URL(fileURLWithPath: path))
  return path
}

/// Compiles C `source` into `dir`/`name` with /usr/bin/cc (`flags` before `-o`) and
/// returns the executable's path; throws with the compiler's message when it fails.
public func compileC(_ source: String, named name: String, in dir: URL, flags: [String] = ["-O0"]) throws -> String {
  let src = try writeFile(source, name + ".c", in: dir)
  let exe = dir.appendingPathComponent(name).path
  let r = run("/usr/bin/cc", flags + ["-o", exe, src])
  guard r.status == 0 else { throw Containers.SetupError(description: "needs a C compiler (/usr/bin/cc): \(r.stderr)") }
  return exe
}

/// The shell status of child `pid` if it ends within `seconds`; else SIGKILLs it, reaps it
/// and returns nil.
public func waitExit(_ pid: pid_t, within seconds: Double = 20) -> Int32? {
  let start = Date()
  var status: Int32 = 0
  while Date().timeIntervalSince(start) < seconds {
    if waitpid(pid, &status, WNOHANG) == pid {
      return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
    usleep(5000)
  }
  kill(pid, SIGKILL)
  waitpid(pid, &status, 0)
  return nil
}
