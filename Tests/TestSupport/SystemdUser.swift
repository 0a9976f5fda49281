import Foundation

/// A private `systemd --user` manager for `systemd-run --user` units. There is no systemd
/// PID 1 here, and a user manager refuses to start without /run/systemd/system, so the
/// manager runs in a mount namespace of its own where /run/systemd is a fresh tmpfs with
/// that directory (the host's /run/systemd is untouched), with its own XDG_RUNTIME_DIR,
/// HOME and cgroup directories. `stop()` ends it with `systemctl --user exit` (then its
/// pid) and removes what it made.
///
/// The manager is started with posix_spawn, not Foundation's `Process`: it closes every
/// descriptor it inherits, which `Process` takes for its exit, and `Process` then blocks
/// in waitpid on it, so that no other `Process` of the test run is reaped any more.
public final class SystemdUser: Sendable {
  /// The manager's executable.
  public static let managerPath = "/lib/systemd/systemd"

  /// Whether a manager can be started here.
  public static var ready: Bool { Peer.systemdRun.isAvailable && Peer.root.isAvailable && Containers.busybox != nil }

  /// The directory holding XDG_RUNTIME_DIR, HOME and the manager's log.
  public let directory: URL
  /// The manager's pid (unshare's, which execs a shell, which execs the manager).
  public let pid: pid_t
  /// The cgroup directories the manager runs in.
  public let cgroups: [String]

  /// `env` arguments that give a command this manager's environment.
  var envArguments: [String] {
    ["-u", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR=\(directory.appendingPathComponent("xdg").path)",
     "HOME=\(directory.appendingPathComponent("home").path)"]
  }

  init(directory: URL, pid: pid_t, cgroups: [String]) {
    self.directory = directory
    self.pid = pid
    self.cgroups = cgroups
  }

  /// Starts a manager and waits (up to 10 s) until it listens on its private socket.
  public static func start() throws -> SystemdUser {
    let dir = try Containers.temporaryDirectory("syscage-sduser")
    let fm = FileManager.default
    let xdg = dir.appendingPathComponent("xdg")
    try fm.createDirectory(at: xdg, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
    try fm.createDirectory(at: dir.appendingPathComponent("home"), withIntermediateDirectories: false)
    let name = "syscage-sduser-\(UUID().uuidString.prefix(8).lowercased())"
    let cgroups = Nspawn.cgroupDirectories(named: name)
    var moves = ""
    for cg in cgroups {
      try fm.createDirectory(atPath: cg, withIntermediateDirectories: false)
      moves += "echo $$ > \(Containers.shellQuote(cg + "/cgroup.procs")) && "
    }
    let script = "mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && \(moves)exec \(managerPath) --user"
    let log = dir.appendingPathComponent("manager.log").path
    var environment = ProcessInfo.processInfo.environment
    environment["XDG_RUNTIME_DIR"] = xdg.path
    environment["HOME"] = dir.appendingPathComponent("home").path
    environment["DBUS_SESSION_BUS_ADDRESS"] = nil
    let pid: pid_t
    do {
      pid = try spawn(
        "/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script],
        environment: environment.map { "\($0.key)=\($0.value)" }, log: log)
    } catch {
      Nspawn.removeCgroups(cgroups)
      try? fm.removeItem(at: dir)
      throw error
    }
    let manager = SystemdUser(directory: dir, pid: pid, cgroups: cgroups)
    let socket = xdg.appendingPathComponent("systemd/private").path
    for _ in 0..<200 {
      if fm.fileExists(atPath: socket) { return manager }
      if !manager.isRunning { break }
      usleep(50_000)
    }
    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    manager.stop()
    throw Containers.SetupError(description: "the systemd --user manager did not start: \(text)")
  }

  /// posix_spawn with no signal blocked, standard input from /dev/null and standard
  /// output and error appended to `log`.
  static func spawn(_ path: String, _ arguments: [String], environment: [String], log: String) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    let setsid: Int32 = 0x80  // POSIX_SPAWN_SETSID (glibc >= 2.26): a session of its own, as setsid(1) gives
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | setsid))
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp = environment.map { strdup($0) } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
    guard rc == 0 else {
      throw Containers.SetupError(description: "cannot start \(path): \(String(cString: strerror(rc)))")
    }
    return pid
  }

  /// Whether the manager still runs (reaps it once it has ended).
  var isRunning: Bool {
    var status: Int32 = 0
    let r = waitpid(pid, &status, WNOHANG)
    return r == 0
  }

  /// Runs `command` as a transient service (`systemd-run --user --wait --pipe -q`) with
  /// `properties` (each `-p KEY=VALUE`), inside `rootDirectory` when given.
  public func run(properties: [String], command: [String], rootDirectory: URL? = nil, timeout: Double = 60) -> ProcessResult {
    var arguments = ["--user", "--wait", "--pipe", "-q"]
    if let rootDirectory { arguments += ["-p", "RootDirectory=\(rootDirectory.path)"] }
    for property in properties { arguments += ["-p", property] }
    return TestSupport.run("/usr/bin/env", envArguments + ["/usr/bin/systemd-run"] + arguments + command, timeout: timeout)
  }

  /// Ends the manager (`systemctl --user exit`, then SIGKILL to its pid after 10 s) and
  /// removes its cgroup directories and files.
  public func stop() {
    if isRunning {
      _ = TestSupport.run("/usr/bin/env", envArguments + ["/usr/bin/systemctl", "--user", "exit"], timeout: 10)
      var ended = false
      for _ in 0..<200 {
        if !isRunning { ended = true; break }
        usleep(50_000)
      }
      if !ended {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
      }
    }
    Nspawn.removeCgroups(cgroups)
    try? FileManager.default.removeItem(at: directory)
  }
}
