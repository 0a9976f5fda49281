import Foundation
import Profiles
import Recording
import Seccomp
import Testing
import TestSupport

/// `syscage record`'s attach (-p), --args, --baseline, --format, --default-action, --for
/// and --verify (issue #5), checked through the syscage executable: recording in the test
/// process would wait for any child (waitpid(-1)) and reap other tests' children.
@Suite struct RecordFeaturesTests {
  // MARK: Helpers

  func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-features-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  /// Compiles `source` to `dir`/`name` with /usr/bin/cc (-pthread); nil (and a failure
  /// under CI) without a compiler.
  func compile(_ source: String, named name: String, in dir: URL) throws -> String? {
    do { return try compileC(source, named: name, in: dir, flags: ["-O0", "-pthread"]) } catch { #expect(!isCI, "\(error)") }
    return nil
  }

  /// A profile file read as JSON (Docker form).
  struct ProfileFile {
    var object: [String: Any]
    var entries: [[String: Any]] { object["syscalls"] as? [[String: Any]] ?? [] }

    init(_ path: String) throws {
      let data = try Data(contentsOf: URL(fileURLWithPath: path))
      object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(path) is not a JSON object")
    }

    func names(_ entry: [String: Any]) -> [String] { entry["names"] as? [String] ?? [] }
    func conditions(_ entry: [String: Any]) -> [[String: Any]] { entry["args"] as? [[String: Any]] ?? [] }
    func isAllow(_ entry: [String: Any]) -> Bool { entry["action"] as? String == "SCMP_ACT_ALLOW" }

    /// Calls allowed without conditions.
    var unconditional: Set<String> {
      Set(entries.filter { isAllow($0) && conditions($0).isEmpty }.flatMap(names))
    }
    /// Calls allowed at all (with or without argument rules).
    var allowed: Set<String> { Set(entries.filter(isAllow).flatMap(names)) }
    /// The entries that name `call`.
    func entries(for call: String) -> [[String: Any]] { entries.filter { names($0).contains(call) } }
  }

  /// The `--json` statistics line of a recording's stderr.
  func statistics(_ stderr: String) -> [String: Any]? {
    guard let line = stderr.split(separator: "\n").last(where: { $0.hasPrefix("{\"arches\"") }) else { return nil }
    return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
  }

  /// arch → names of the calls in a `--json` statistics object.
  func recordedCalls(_ stats: [String: Any]?) -> [String: Set<String>] {
    let arches = stats?["arches"] as? [String: [String: Any]] ?? [:]
    return arches.mapValues { Set($0.keys) }
  }

  /// Waits until `p` exits (true) or `timeout` seconds pass (false).
  func waitExit(_ p: Process, timeout: Double) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(5000) }
    return !p.isRunning
  }

  /// Polls `condition` every 10 ms for up to `timeout` seconds.
  func eventually(_ timeout: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if condition() { return true }
      usleep(10_000)
    }
    return condition()
  }

  /// A field of /proc/PID/status (or /proc/PID/task/TID/status), trimmed.
  func statusField(_ path: String, _ field: String) -> String? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
      return line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces)
    }
    return nil
  }

  /// The tracing process of every thread of `pid` (TracerPid of /proc/PID/task/*/status
  /// names the tracing thread: its Tgid), 0 for one not traced.
  func tracers(of pid: Int32) -> [Int32] {
    let dir = "/proc/\(pid)/task"
    let tids = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    return tids.compactMap { statusField("\(dir)/\($0)/status", "TracerPid").flatMap { Int32($0) } }.map { tid in
      tid == 0 ? 0 : statusField("/proc/\(tid)/status", "Tgid").flatMap { Int32($0) } ?? tid
    }
  }

  /// Starts `path` with `arguments`, its stdout and stderr to `output` (nil: /dev/null).
  func start(_ path: String, _ arguments: [String], output: FileHandle? = nil) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = output ?? FileHandle.nullDevice
    p.standardError = output ?? FileHandle.nullDevice
    try startUnblocked(p)
    return p
  }

  /// The number the attach target last wrote to its counter file.
  func counter(_ path: String) -> Int {
    Int((try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
  }

  // MARK: 1. Attach (-p)

  /// argv: counter file, stop file, mode (plain | fork | threads). Each round it checks the
  /// stop file (access; exits 3 when it exists), in fork mode forks and execs /bin/true and
  /// waits, writes the round number to the counter file (openat, write, close) and sleeps
  /// 20 ms. In threads mode two extra threads loop on umask and getppid, which the main
  /// thread never calls.
  static let attachTarget = """
    #include <fcntl.h>
    #include <pthread.h>
    #include <stdio.h>
    #include <string.h>
    #include <sys/stat.h>
    #include <sys/wait.h>
    #include <time.h>
    #include <unistd.h>
    static void *helper(void *arg) {
      (void)arg;
      for (;;) {
        umask(022);
        getppid();
        struct timespec t = {0, 10 * 1000 * 1000};
        nanosleep(&t, NULL);
      }
      return NULL;
    }
    int main(int argc, char **argv) {
      if (argc != 4) return 100;
      if (strcmp(argv[3], "threads") == 0) {
        pthread_t t;
        for (int i = 0; i < 2; i++) pthread_create(&t, NULL, helper, NULL);
      }
      for (long n = 1;; n++) {
        if (access(argv[2], F_OK) == 0) return 3;
        if (strcmp(argv[3], "fork") == 0) {
          pid_t c = fork();
          if (c == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
          }
          int st;
          waitpid(c, &st, 0);
        }
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%ld\\n", n);
        int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
          write(fd, buf, (size_t)len);
          close(fd);
        }
        struct timespec t = {0, 20 * 1000 * 1000};
        nanosleep(&t, NULL);
      }
    }
    """

  /// A running attach target, syscage attached to it, and its files.
  struct Attached {
    var target: Process
    var syscage: Process
    var stderr: Pipe
    var profile: String
    var counterFile: String
    var stopFile: String
  }

  /// Starts the attach target in `mode`, waits until it has counted, attaches syscage
  /// (`record -o P -p PID`) and waits until every thread's TracerPid is syscage's pid.
  func attach(mode: String, in dir: URL) throws -> Attached? {
    guard let exe = try compile(Self.attachTarget, named: "target", in: dir) else { return nil }
    let counterFile = dir.appendingPathComponent("counter").path
    let stopFile = dir.appendingPathComponent("stop").path
    let target = try start(exe, [counterFile, stopFile, mode])
    #expect(eventually { counter(counterFile) >= 2 }, "the target does not count")
    if mode == "threads" {
      #expect(eventually { tracers(of: target.processIdentifier).count == 3 }, "the target has no three threads")
    }
    let profile = dir.appendingPathComponent("attached.json").path
    let err = Pipe()
    let syscage = Process()
    syscage.executableURL = URL(fileURLWithPath: syscageExecutable)
    syscage.arguments = ["record", "-o", profile, "-p", String(target.processIdentifier)]
    syscage.standardInput = FileHandle.nullDevice
    syscage.standardOutput = FileHandle.nullDevice
    syscage.standardError = err
    try startUnblocked(syscage)
    let tracer = syscage.processIdentifier
    let traced = eventually {
      let t = tracers(of: target.processIdentifier)
      return !t.isEmpty && t.allSatisfy { $0 == tracer }
    }
    #expect(traced, "syscage (\(tracer)) did not attach to every thread: TracerPids \(tracers(of: target.processIdentifier))")
    return Attached(
      target: target, syscage: syscage, stderr: err, profile: profile, counterFile: counterFile, stopFile: stopFile)
  }

  /// Stops a target left running and waits for it.
  func cleanUp(_ a: Attached) {
    if a.syscage.isRunning { kill(a.syscage.processIdentifier, SIGKILL) }
    if a.target.isRunning { kill(a.target.processIdentifier, SIGKILL) }
    a.syscage.waitUntilExit()
    a.target.waitUntilExit()
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func attachRecordsUntilControlCAndDetaches() throws {
    try #require(Peer.root.isAvailable, "attaching to a process needs root (CAP_SYS_PTRACE)")
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let a = try attach(mode: "fork", in: dir) else { return }
    defer { cleanUp(a) }
    let before = counter(a.counterFile)
    #expect(eventually { counter(a.counterFile) >= before + 5 }, "the target does not go on while traced")
    kill(a.syscage.processIdentifier, SIGINT)
    #expect(waitExit(a.syscage, timeout: 10), "syscage did not end after SIGINT")
    let stderr = String(decoding: a.stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(a.syscage.terminationStatus == 0, "\(stderr)")
    #expect(stderr.contains("detached from \(a.target.processIdentifier)"), "\(stderr)")

    // The target runs on: untraced, not stopped, still counting.
    let pid = a.target.processIdentifier
    #expect(a.target.isRunning)
    #expect(eventually { tracers(of: pid).allSatisfy { $0 == 0 } }, "TracerPids after detach: \(tracers(of: pid))")
    let state = statusField("/proc/\(pid)/status", "State") ?? "?"
    #expect(!state.hasPrefix("T") && !state.hasPrefix("t"), "the target is stopped after detach: \(state)")
    let after = counter(a.counterFile)
    #expect(eventually { counter(a.counterFile) >= after + 3 }, "the target stopped counting after detach")

    // What the loop does each round (and its children do after fork) is in the profile.
    let profile = try ProfileFile(a.profile)
    let calls = profile.allowed
    for call in ["access", "clone", "wait4", "execve", "openat", "write", "close", "exit_group"] {
      #expect(calls.contains(call), "\(call) is not in the profile of the attached loop: \(calls.sorted())")
    }
    #expect(calls.contains("nanosleep") || calls.contains("clock_nanosleep"))
    #expect(!calls.contains("umask"), "the main thread never calls umask")
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func attachTracesEveryThread() throws {
    try #require(Peer.root.isAvailable, "attaching to a process needs root (CAP_SYS_PTRACE)")
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let a = try attach(mode: "threads", in: dir) else { return }
    defer { cleanUp(a) }
    #expect(tracers(of: a.target.processIdentifier).count == 3)
    usleep(200_000)
    kill(a.syscage.processIdentifier, SIGINT)
    #expect(waitExit(a.syscage, timeout: 10), "syscage did not end after SIGINT")
    let stderr = String(decoding: a.stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(a.syscage.terminationStatus == 0, "\(stderr)")
    let calls = try ProfileFile(a.profile).allowed
    #expect(calls.contains("umask"), "the helper threads' umask is missing: \(calls.sorted())")
    #expect(calls.contains("getppid"), "the helper threads' getppid is missing")
    #expect(calls.contains("openat") && calls.contains("write"), "the main thread's calls are missing")
    #expect(eventually { tracers(of: a.target.processIdentifier).allSatisfy { $0 == 0 } })
    #expect(a.target.isRunning)
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func attachedProgramThatEndsGivesItsStatus() throws {
    try #require(Peer.root.isAvailable, "attaching to a process needs root (CAP_SYS_PTRACE)")
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let a = try attach(mode: "plain", in: dir) else { return }
    defer { cleanUp(a) }
    #expect(FileManager.default.createFile(atPath: a.stopFile, contents: Data()))
    #expect(waitExit(a.syscage, timeout: 10), "syscage did not end when the attached program did")
    let stderr = String(decoding: a.stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(a.syscage.terminationStatus == 3, "syscage ends with the program's status: \(stderr)")
    #expect(!stderr.contains("detached"), "\(stderr)")
    #expect(waitExit(a.target, timeout: 5))
    #expect(a.target.terminationStatus == 3)
    let calls = try ProfileFile(a.profile).allowed
    #expect(calls.contains("access") && calls.contains("exit_group"), "\(calls.sorted())")
  }

  @Test func attachUsageErrors() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("p.json").path
    let pid = String(getpid())
    let baseline = dir.appendingPathComponent("b.json").path
    try Data("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[]}".utf8).write(to: URL(fileURLWithPath: baseline))
    for extra in [["--verify"], ["--", "/bin/true"], ["--baseline", baseline], ["--stops", "one"], ["--cpus", "one"]] {
      let r = run(syscageExecutable, ["record", "-o", profile, "-p", pid] + extra)
      #expect(r.status == 64, "-p with \(extra): \(r.stderr)")
      #expect(r.stderr.contains("Error:"), "\(r.stderr)")
    }
    let zero = run(syscageExecutable, ["record", "-o", profile, "-p", "0"])
    #expect(zero.status == 64 && zero.stderr.contains("process id"), "\(zero.stderr)")
    #expect(!FileManager.default.fileExists(atPath: profile), "a usage error writes no profile")
  }

  /// A process id no process has: that of a child that has been reaped.
  func freePid() throws -> Int32 {
    let p = try start("/bin/true", [])
    p.waitUntilExit()
    return p.processIdentifier
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func attachToAMissingProcessFailsClearly() throws {
    try #require(Peer.root.isAvailable, "attaching needs root")
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("p.json").path
    let pid = try freePid()
    let r = run(syscageExecutable, ["record", "-o", profile, "-p", String(pid)], timeout: 10)
    #expect(r.status != 0 && r.status != -1, "\(r.stderr)")
    #expect(r.stderr.contains("\(pid)"), "the message names the process: \(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: profile))
    #expect(r.stderr.contains("no process \(pid)"), "\(r.stderr)")
    #expect(r.status == 64)
  }

  // MARK: 2. --args

  /// argv[1] is the mode; exits 0 (and prints "ok") when the calls succeeded, else with
  /// the errno of the first that failed.
  ///   record: socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC), fork + wait, a thread (clone3
  ///           while recording, clone under the profile), one futex wake.
  ///   inet-nonblock, inet-stream, inet6, netlink: one socket of that kind.
  ///   userns: clone(CLONE_NEWUSER|SIGCHLD) + wait.  unshare-net: unshare(CLONE_NEWNET).
  static let capabilities = """
    #define _GNU_SOURCE
    #include <errno.h>
    #include <linux/futex.h>
    #include <linux/netlink.h>
    #include <pthread.h>
    #include <sched.h>
    #include <signal.h>
    #include <string.h>
    #include <sys/socket.h>
    #include <sys/syscall.h>
    #include <sys/wait.h>
    #include <unistd.h>
    static void *work(void *arg) { return arg; }
    static int sock(int family, int type, int protocol) {
      int fd = socket(family, type, protocol);
      if (fd < 0) return errno;
      close(fd);
      return 0;
    }
    static int child(pid_t c) {
      if (c < 0) return errno;
      if (c == 0) _exit(0);
      int st;
      if (waitpid(c, &st, 0) < 0) return errno;
      return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 99;
    }
    static int act(const char *mode) {
      if (strcmp(mode, "record") == 0) {
        int e = sock(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (e) return e;
        if ((e = child(fork()))) return e;
        pthread_t t;
        if ((e = pthread_create(&t, NULL, work, NULL))) return e;
        // pthread_join waits in futex only if the thread is still running: make the call
        // once here, so that the recording holds it however the threads were scheduled.
        static int word;
        syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        return pthread_join(t, NULL);
      }
      if (strcmp(mode, "inet-nonblock") == 0) return sock(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
      if (strcmp(mode, "inet-stream") == 0) return sock(AF_INET, SOCK_STREAM, 0);
      if (strcmp(mode, "inet6") == 0) return sock(AF_INET6, SOCK_DGRAM, 0);
      if (strcmp(mode, "netlink") == 0) return sock(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
      if (strcmp(mode, "userns") == 0) return child((pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
      if (strcmp(mode, "unshare-net") == 0) return unshare(CLONE_NEWNET) == 0 ? 0 : errno;
      return 100;
    }
    int main(int argc, char **argv) {
      if (argc != 2) return 100;
      int e = act(argv[1]);
      if (e == 0) write(1, "ok\\n", 3);
      return e;
    }
    """

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func argumentRulesAreWrittenAndHoldInTheKernel() throws {
    try #require(Peer.root.isAvailable, "recording and the namespace variants need root")
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let exe = try compile(Self.capabilities, named: "caps", in: dir) else { return }
    let variants = ["record", "inet-nonblock", "inet-stream", "inet6", "netlink", "userns", "unshare-net"]
    for mode in variants {
      let plain = run(exe, [mode])
      try #require(plain.status == 0, "\(mode) fails without a profile (\(plain.status)); the comparison would mean nothing")
    }

    let path = dir.appendingPathComponent("args.json").path
    let r = run(syscageExecutable, ["record", "-o", path, "--args", "--", exe, "record"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout == "ok\n")
    #expect(r.stderr.contains("clone3 was seen but gets ENOSYS"), "the thread's clone3 was seen: \(r.stderr)")
    let profile = try ProfileFile(path)

    // socket: family EQ 2 and type MASKED_EQ 0xf 2 (SOCK_CLOEXEC left free), only that rule.
    let sockets = profile.entries(for: "socket")
    #expect(sockets.count == 1, "\(sockets)")
    if let socket = sockets.first {
      #expect(profile.isAllow(socket))
      let c = profile.conditions(socket)
      #expect(c.count == 2, "\(c)")
      #expect(c.contains { $0["index"] as? Int == 0 && $0["op"] as? String == "SCMP_CMP_EQ" && $0["value"] as? Int == 2 })
      #expect(
        c.contains {
          $0["index"] as? Int == 1 && $0["op"] as? String == "SCMP_CMP_MASKED_EQ" && $0["value"] as? Int == 0xf
            && $0["valueTwo"] as? Int == 2
        })
    }
    // clone (fork and, under the profile, the thread): namespace flags masked, value 0.
    let clones = profile.entries(for: "clone")
    #expect(clones.count == 1, "\(clones)")
    if let clone = clones.first {
      #expect(profile.isAllow(clone))
      let c = profile.conditions(clone)
      #expect(c.count == 1)
      #expect(c.first?["op"] as? String == "SCMP_CMP_MASKED_EQ")
      #expect(c.first?["index"] as? Int == 0)
      #expect(c.first?["value"] as? Int == Int(ArgumentRules.cloneNamespaceFlags))
      #expect(c.first?["valueTwo"] as? Int == 0)
    }
    // clone3 was seen (pthread_create) and still gets ENOSYS, in no ALLOW entry.
    let clone3 = profile.entries(for: "clone3")
    #expect(clone3.count == 1, "\(clone3)")
    #expect(clone3.first?["action"] as? String == "SCMP_ACT_ERRNO")
    #expect(clone3.first?["errnoRet"] as? Int == 38)
    #expect(!profile.unconditional.contains("socket") && !profile.unconditional.contains("clone"))

    // The kernel: what was recorded runs, the other families and namespaces get EPERM.
    let expected: [String: Int32] = [
      "record": 0, "inet-nonblock": 0, "inet-stream": EPERM, "inet6": EPERM, "netlink": EPERM, "userns": EPERM,
      "unshare-net": EPERM,
    ]
    for mode in variants {
      let replay = run(syscageExecutable, ["run", "--profile", path, "--", exe, mode])
      #expect(replay.status == expected[mode], "\(mode) under the profile: \(replay.status) \(replay.stderr)")
    }
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func unshareWithANamespaceIsRefusedUnderAProfileOfPlainUnshare() throws {
    try #require(Peer.root.isAvailable, "unshare -U and recording need root")
    let unshare = "/usr/bin/unshare"
    guard FileManager.default.isExecutableFile(atPath: unshare) else {
      #expect(!isCI, "needs util-linux's unshare")
      return
    }
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("unshare.json").path
    // `unshare true` calls unshare(0): the rule allows no namespace flag. The shell's echo
    // to stderr puts write in the profile, so that unshare can say why it failed.
    let r = run(syscageExecutable, ["record", "-o", path, "--args", "--for", "none", "--", "/bin/sh", "-c", "\(unshare) true && echo ran >&2"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr == "ran\n")
    let rules = try ProfileFile(path).entries(for: "unshare")
    #expect(rules.count == 1 && (rules.first?["args"] as? [[String: Any]])?.first?["valueTwo"] as? Int == 0, "\(rules)")
    let same = run(syscageExecutable, ["run", "--profile", path, "--", "/bin/sh", "-c", "\(unshare) true && echo ran >&2"])
    #expect(same.status == 0 && same.stderr == "ran\n", "\(same.stderr)")
    #expect(run(unshare, ["-U", "true"]).status == 0, "unshare -U works without the profile")
    let user = run(syscageExecutable, ["run", "--profile", path, "--", "/bin/sh", "-c", "\(unshare) -U true && echo ran >&2"])
    #expect(user.status != 0, "unshare -U ran under the profile")
    #expect(user.stderr.contains("unshare failed: Operation not permitted"), "\(user.stderr)")
    #expect(!user.stderr.contains("ran"))
  }

  // MARK: 3. --baseline

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func baselineStopsOnlyOnNewCalls() throws {
    try #require(Peer.root.isAvailable, "recording needs root here")
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let a = ["/bin/sh", "-c", "cat /etc/hostname > /dev/null; echo a"]
    let made = dir.appendingPathComponent("made").path
    let b = ["/bin/sh", "-c", "cat /etc/hostname > /dev/null; mkdir \(made); echo b"]
    let p1 = dir.appendingPathComponent("p1.json").path
    let first = run(syscageExecutable, ["record", "-o", p1, "--"] + a)
    #expect(first.status == 0, "\(first.stderr)")
    let baseline = try ProfileFile(p1).allowed
    #expect(baseline.contains("execve") && !baseline.contains("mkdir"))

    // A again: every call is in the baseline's filter, so nothing reaches the tracer.
    let p2 = dir.appendingPathComponent("p2.json").path
    let again = run(syscageExecutable, ["record", "-o", p2, "--baseline", p1, "--json", "--stops", "one", "--"] + a)
    #expect(again.status == 0, "\(again.stderr)")
    #expect(again.stdout == "a\n")
    let stats = try #require(statistics(again.stderr), "no --json line: \(again.stderr)")
    #expect(stats["stops"] as? String == "one")
    let seenAgain = recordedCalls(stats).values.reduce(into: Set<String>()) { $0.formUnion($1) }
    #expect(seenAgain.isDisjoint(with: baseline), "calls the baseline allows reached the tracer: \(seenAgain.intersection(baseline).sorted())")
    #expect(seenAgain.count <= 2, "a repeated recording saw \(seenAgain.sorted())")
    #expect(try ProfileFile(p2).allowed == baseline.union(seenAgain))

    // B makes mkdir: only the new calls are recorded, and the profile is P1 ∪ new.
    let p3 = dir.appendingPathComponent("p3.json").path
    let other = run(syscageExecutable, ["record", "-o", p3, "--baseline", p1, "--json", "--stops", "one", "--"] + b)
    #expect(other.status == 0, "\(other.stderr)")
    #expect(other.stdout == "b\n")
    #expect(FileManager.default.fileExists(atPath: made))
    let new = recordedCalls(statistics(other.stderr))["x86_64"] ?? []
    #expect(new.contains("mkdir") || new.contains("mkdirat"), "\(other.stderr)")
    #expect(new.isDisjoint(with: baseline), "\(new.intersection(baseline).sorted())")
    #expect(try ProfileFile(p3).allowed == baseline.union(new))

    // Without --json the recording is the same and says only which calls it added.
    try? FileManager.default.removeItem(atPath: made)
    let p4 = dir.appendingPathComponent("p4.json").path
    let quiet = run(syscageExecutable, ["record", "-o", p4, "--baseline", p1, "--"] + b)
    let lines = quiet.stderr.split(separator: "\n")
    #expect(quiet.status == 0 && lines.count == 1, "\(quiet.stderr)")
    #expect(lines.first?.hasPrefix("syscage: note: called and refused by the baseline's default action") == true, "\(quiet.stderr)")
    #expect(try ProfileFile(p4).allowed == ProfileFile(p3).allowed)
  }

  /// `--json` alone means two stops (for errors and times), which ignores the baseline's
  /// filter: every call is recorded, though `-c` and `--stops two` with --baseline are
  /// refused as usage errors for that very reason.
  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func baselineWithJSONStopsOnlyOnNewCalls() throws {
    try #require(Peer.root.isAvailable, "recording needs root here")
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let a = ["/bin/sh", "-c", "cat /etc/hostname > /dev/null"]
    let p1 = dir.appendingPathComponent("p1.json").path
    #expect(run(syscageExecutable, ["record", "-o", p1, "--"] + a).status == 0)
    let p2 = dir.appendingPathComponent("p2.json").path
    let again = run(syscageExecutable, ["record", "-o", p2, "--baseline", p1, "--json", "--"] + a)
    #expect(try ProfileFile(p2).allowed == ProfileFile(p1).allowed)
    let seen = recordedCalls(statistics(again.stderr)).values.reduce(into: Set<String>()) { $0.formUnion($1) }
    #expect(again.status == 0 && seen.count <= 2, "--baseline --json recorded \(seen.count) calls: \(seen.sorted())")
  }

  @Test func baselineInputErrors() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out.json").path
    let missing = dir.appendingPathComponent("no-such-profile.json").path
    let r1 = run(syscageExecutable, ["record", "-o", out, "--baseline", missing, "--", "/bin/true"])
    #expect(r1.status == 65, "\(r1.stderr)")
    #expect(r1.stderr.contains("no-such-profile.json"), "\(r1.stderr)")
    let invalid = dir.appendingPathComponent("invalid-profile.json").path
    try Data("{\"defaultAction\": ".utf8).write(to: URL(fileURLWithPath: invalid))
    let r2 = run(syscageExecutable, ["record", "-o", out, "--baseline", invalid, "--", "/bin/true"])
    #expect(r2.status == 65, "\(r2.stderr)")
    #expect(r2.stderr.contains("invalid-profile.json"), "\(r2.stderr)")
    let r3 = run(syscageExecutable, ["record", "-o", out, "--baseline", invalid, "-c", "--", "/bin/true"])
    #expect(r3.status == 64, "\(r3.stderr)")
    let r4 = run(syscageExecutable, ["record", "-o", out, "--baseline", invalid, "--stops", "two", "--", "/bin/true"])
    #expect(r4.status == 64, "\(r4.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out), "no profile is written")
  }

  // MARK: 4. Formats and --default-action

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func everyFormatIsWritten() throws {
    try #require(Peer.root.isAvailable, "recording needs root here")
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let made = dir.appendingPathComponent("made").path
    let program = ["/bin/sh", "-c", "mkdir \(made) && rmdir \(made)"]

    let spo = dir.appendingPathComponent("web.yaml").path
    let r1 = run(syscageExecutable, ["record", "-o", spo, "--format", "spo", "--name", "web-app", "--"] + program)
    #expect(r1.status == 0, "\(r1.stderr)")
    let yaml = try String(contentsOfFile: spo, encoding: .utf8)
    #expect(yaml.contains("apiVersion: security-profiles-operator.x-k8s.io/"))
    #expect(yaml.contains("kind: SeccompProfile"))
    #expect(yaml.contains("name: web-app"))
    #expect(yaml.contains("- mkdir"), "\(yaml)")
    #expect(yaml.contains("- execve"))

    let unit = dir.appendingPathComponent("app.conf").path
    let r2 = run(syscageExecutable, ["record", "-o", unit, "--format", "systemd", "--"] + program)
    #expect(r2.status == 0, "\(r2.stderr)")
    let text = try String(contentsOfFile: unit, encoding: .utf8)
    #expect(text.contains("[Service]"))
    let allowLines = text.split(separator: "\n").filter { $0.hasPrefix("SystemCallFilter=") && !$0.hasPrefix("SystemCallFilter=~") }
    let allowed = Set(allowLines.flatMap { $0.dropFirst("SystemCallFilter=".count).split(separator: " ").map(String.init) })
    #expect(allowed.contains("mkdir") && allowed.contains("rmdir"), "\(text)")
    #expect(!allowed.contains("mount") && !allowed.contains("ptrace"))
    #expect(text.contains("SystemCallErrorNumber=EPERM"))

    let pod = dir.appendingPathComponent("pod").path
    let r3 = run(syscageExecutable, ["record", "-o", pod, "--format", "k8s-pod", "--name", "app", "--"] + program)
    #expect(r3.status == 0, "\(r3.stderr)")
    let podYAML = try String(contentsOfFile: pod + "/pod.yaml", encoding: .utf8)
    #expect(podYAML.contains("kind: Pod"))
    #expect(podYAML.contains("localhostProfile: profiles/app.json"), "\(podYAML)")
    // The container runs what was recorded.
    let command = YAMLValue.map([("command", .strings(program))]).yamlDocument()
    #expect(podYAML.contains(command.split(separator: "\n").map { "    \($0)\n" }.joined()), "\(podYAML)")
    let json = pod + "/profiles/app.json"
    #expect(try ProfileFile(json).allowed.contains("mkdir"))
    let lint = run(syscageExecutable, ["lint", json])
    #expect(lint.status == 0, "\(lint.stdout)\(lint.stderr)")
    #expect(run(syscageExecutable, ["compile", json, "-o", dir.appendingPathComponent("bpf").path]).status == 0)
    #expect(run(syscageExecutable, ["check", json, "mkdir"]).status == 0)
    #expect(run(syscageExecutable, ["check", json, "mount"]).status == 1)
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func defaultActionIsWrittenAndEnforced() throws {
    try #require(Peer.root.isAvailable, "recording needs root here")
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let exe = try compile(Self.capabilities, named: "caps", in: dir) else { return }

    let enosys = dir.appendingPathComponent("enosys.json").path
    let r1 = run(syscageExecutable, ["record", "-o", enosys, "--default-action", "errno:ENOSYS", "--", exe, "record"])
    #expect(r1.status == 0, "\(r1.stderr)")
    let p1 = try ProfileFile(enosys)
    #expect(p1.object["defaultAction"] as? String == "SCMP_ACT_ERRNO")
    #expect(p1.object["defaultErrnoRet"] as? Int == 38)
    // unshare was never recorded: it now fails with ENOSYS, not EPERM.
    #expect(run(syscageExecutable, ["run", "--profile", enosys, "--", exe, "unshare-net"]).status == ENOSYS)

    let numeric = dir.appendingPathComponent("eacces.json").path
    #expect(run(syscageExecutable, ["record", "-o", numeric, "--default-action", "errno:13", "--", "/bin/true"]).status == 0)
    #expect(try ProfileFile(numeric).object["defaultErrnoRet"] as? Int == 13)

    let kill = dir.appendingPathComponent("kill.json").path
    let r2 = run(syscageExecutable, ["record", "-o", kill, "--default-action", "kill-process", "--", exe, "record"])
    #expect(r2.status == 0, "\(r2.stderr)")
    let p2 = try ProfileFile(kill)
    #expect(p2.object["defaultAction"] as? String == "SCMP_ACT_KILL_PROCESS")
    #expect(p2.object["defaultErrnoRet"] == nil)
    let killed = run(syscageExecutable, ["run", "--profile", kill, "--", exe, "unshare-net"])
    #expect(killed.status == 128 + SIGSYS, "\(killed.stderr)")

    let bad = dir.appendingPathComponent("bad.json").path
    for value in ["bogus", "allow", "errno:NOSUCHERRNO", "kill-process:5", "errno:0"] {
      let r = run(syscageExecutable, ["record", "-o", bad, "--default-action", value, "--", "/bin/true"])
      #expect(r.status == 64, "--default-action \(value): \(r.status) \(r.stderr)")
    }
    #expect(!FileManager.default.fileExists(atPath: bad))
  }

  // MARK: 5. Signals

  /// Handles SIGUSR1 three times (raise, kill of itself, kill from a forked child) and
  /// SIGALRM once (setitimer, 30 ms), and exits 42 only when all four handlers ran.
  static let signals = """
    #include <signal.h>
    #include <string.h>
    #include <sys/time.h>
    #include <sys/wait.h>
    #include <unistd.h>
    static volatile sig_atomic_t usr1, alrm;
    static void on_usr1(int s) { (void)s; usr1++; }
    static void on_alrm(int s) { (void)s; alrm++; }
    int main(void) {
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = on_usr1;
      sigaction(SIGUSR1, &sa, NULL);
      sa.sa_handler = on_alrm;
      sigaction(SIGALRM, &sa, NULL);
      sigset_t block, old;
      sigemptyset(&block);
      sigaddset(&block, SIGUSR1);
      sigaddset(&block, SIGALRM);
      sigprocmask(SIG_UNBLOCK, &block, NULL);  // a test runner's children may inherit them blocked
      raise(SIGUSR1);
      kill(getpid(), SIGUSR1);
      sigprocmask(SIG_BLOCK, &block, &old);
      pid_t c = fork();
      if (c == 0) {
        kill(getppid(), SIGUSR1);
        _exit(0);
      }
      struct itimerval it = {{0, 0}, {0, 30000}};
      setitimer(ITIMER_REAL, &it, NULL);
      while (usr1 < 3 || alrm < 1) sigsuspend(&old);
      sigprocmask(SIG_SETMASK, &old, NULL);
      int st = 0;
      waitpid(c, &st, 0);
      return usr1 == 3 && alrm == 1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 42 : 10 + usr1 + 5 * alrm;
    }
    """

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func signalsAreDeliveredAndRecorded() throws {
    try #require(Peer.root.isAvailable, "recording needs root here")
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let exe = try compile(Self.signals, named: "signals", in: dir) else { return }
    try #require(run(exe, [], timeout: 10).status == 42, "the program does not work without syscage")
    let signalCalls = ["rt_sigaction", "rt_sigreturn", "kill", "setitimer", "rt_sigsuspend", "rt_sigprocmask"]

    let one = dir.appendingPathComponent("one.json").path
    let r1 = run(syscageExecutable, ["record", "-o", one, "--", exe], timeout: 20)
    #expect(r1.status == 42, "one stop: the handlers did not all run: \(r1.status) \(r1.stderr)")
    let calls1 = try ProfileFile(one).allowed
    for call in signalCalls { #expect(calls1.contains(call), "one stop: \(call) missing from \(calls1.sorted())") }
    #expect(calls1.contains("tgkill") || calls1.contains("tkill"), "raise's call is missing")

    let two = dir.appendingPathComponent("two.json").path
    let r2 = run(syscageExecutable, ["record", "-o", two, "-c", "--", exe], timeout: 20)
    #expect(r2.status == 42, "-c: the handlers did not all run: \(r2.status) \(r2.stderr)")
    let column = StraceTable.callsColumn(r2.stderr)
    let returns = column.first { $0.name == "rt_sigreturn" }?.calls ?? 0
    #expect(returns >= 4, "four handlers returned: \(r2.stderr)")
    #expect((column.first { $0.name == "kill" }?.calls ?? 0) >= 2, "the process's and the child's kill")
    let calls2 = try ProfileFile(two).allowed
    for call in signalCalls { #expect(calls2.contains(call), "-c: \(call) missing") }
    #expect(calls1 == calls2, "one and two stops differ: \(calls1.symmetricDifference(calls2).sorted())")
  }

  @Test(.enabled(if: Peer.strace.shouldRun && Peer.root.shouldRun, Comment(rawValue: Peer.strace.skipReason)))
  func signalProgramProfileCoversWhatStraceSees() throws {
    try #require(Peer.strace.isAvailable, "needs strace")
    try #require(Peer.root.isAvailable, "recording needs root here")
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let exe = try compile(Self.signals, named: "signals", in: dir) else { return }
    let log = dir.appendingPathComponent("strace.log").path
    let traced = run("/usr/bin/strace", ["-f", "-qq", "-o", log, exe], timeout: 20)
    #expect(traced.status == 42, "under strace: \(traced.stderr)")
    let text = try String(contentsOfFile: log, encoding: .utf8)
    var seen = Set<String>()
    for line in text.split(separator: "\n") {
      var rest = Substring(line)
      if rest.first?.isNumber == true { rest = rest.drop(while: \.isNumber).drop(while: { $0 == " " }) }
      if rest.hasPrefix("<... ") { rest = rest.dropFirst(5) }  // a resumed call: "<... name resumed>"
      let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
      let next = rest.dropFirst(name.count).first
      if !name.isEmpty, next == "(" || next == " " && rest.dropFirst(name.count).hasPrefix(" resumed") {
        seen.insert(String(name))
      }
    }
    #expect(seen.contains("execve") && seen.contains("rt_sigreturn"), "strace's log was not understood: \(text)")
    let path = dir.appendingPathComponent("p.json").path
    let r = run(syscageExecutable, ["record", "-o", path, "--", exe], timeout: 20)
    #expect(r.status == 42)
    let missing = seen.subtracting(try ProfileFile(path).allowed)
    #expect(missing.isEmpty, "strace saw \(missing.sorted()) that the profile lacks")
  }

  // MARK: 6. --one-cpu, --verify and stdout

  /// --cpus one runs the program on one CPU (it sees one); auto (the default) gives it
  /// every CPU before it asks (nproc: sched_getaffinity) or starts a second process.
  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func cpuPlacement() throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let cpus = ProcessInfo.processInfo.activeProcessorCount
    var profiles: [String: Set<String>] = [:]
    for (placement, expected) in [("one", 1), ("auto", cpus), ("all", cpus)] {
      for stops in ["one", "two"] {
        let profile = dir.appendingPathComponent("\(placement)-\(stops).json").path
        let r = run(syscageExecutable, ["record", "--cpus", placement, "--stops", stops, "-o", profile, "--", "/usr/bin/nproc"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "\(expected)\n", "--cpus \(placement) --stops \(stops)")
        profiles["\(placement)-\(stops)"] = try ProfileFile(profile).allowed
      }
      // A forked child gets every CPU too under auto (here: a shell running nproc).
      let forked = run(syscageExecutable, ["record", "--cpus", placement, "-o", dir.appendingPathComponent("sh.json").path, "--", "/bin/sh", "-c", "/usr/bin/nproc; true"])
      #expect(forked.stdout == "\(expected)\n", "--cpus \(placement) through sh")
    }
    #expect(Set(profiles.values).count == 1, "the placement does not change what is recorded")
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func verifyPrintsTheProgramsOutputOnce() throws {
    try #require(Peer.root.isAvailable, "recording needs root here")
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("p.json").path
    let r = run(syscageExecutable, ["record", "--verify", "-o", path, "--", "sh", "-c", "echo hello"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout == "hello\n", "the verification run's output is discarded")
    #expect(r.stderr.contains("verify: the program ran the same"), "the verification did run: \(r.stderr)")
    // The discarded output is the second run's only: the status is the recording's.
    let status = run(syscageExecutable, ["record", "--verify", "-o", path, "--", "sh", "-c", "echo bye; exit 5"])
    #expect(status.status == 5)
    #expect(status.stdout == "bye\n")
  }

  // MARK: 7. --for: the container runtime's calls

  /// A plain recording allows the OCI runtimes' calls after their filter (runc's and
  /// crun's, both modes), those /bin/true did not make in an entry of their own; --for
  /// names another runtime; --for none adds nothing.
  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func forAddsTheRuntimesCallsByDefault() throws {
    try #require(Peer.root.isAvailable, "recording needs root here")
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let nonePath = dir.appendingPathComponent("none.json").path
    let none = run(syscageExecutable, ["record", "-o", nonePath, "--for", "none", "--", "/bin/true"])
    #expect(none.status == 0, "\(none.stderr)")
    #expect(!none.stderr.contains("after loading the container's filter"), "\(none.stderr)")
    let plain = try ProfileFile(nonePath).allowed
    let runc = Set(ContainerRuntime.runc.callsAfterFilter())
    let oci = runc.union(ContainerRuntime.crun.callsAfterFilter())
    for call in ["capset", "setgroups", "prctl", "setuid", "setresuid"] where oci.contains(call) {
      #expect(!plain.contains(call), "/bin/true made \(call); the test would mean nothing")
    }
    for extra in [[], ["--for", "runc"], ["--for", "docker"], ["--for", "kubernetes"], ["--format", "oci"]] {
      let path = dir.appendingPathComponent("p\(extra.joined()).json").path
      let r = run(syscageExecutable, ["record", "-o", path] + extra + ["--", "/bin/true"])
      #expect(r.status == 0, "\(r.stderr)")
      let calls = try ProfileFile(path).allowed
      let expected = plain.union(extra.isEmpty || extra.contains("--format") ? oci : runc)
      #expect(calls == expected, "\(extra): \(calls.symmetricDifference(expected).sorted())")
      let lines = r.stderr.split(separator: "\n").filter { $0.contains("after loading the container's filter") }
      #expect(lines.count == 1 && lines[0].contains("runc") && lines[0].contains("--for none leaves them out"), "\(r.stderr)")
    }
    // Docker JSON keeps the entry's comment: the calls /bin/true did not make, named as the OCI runtimes'.
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("p.json"))) as? [String: Any]
    let entries = object?["syscalls"] as? [[String: Any]] ?? []
    let entry = try #require(entries.first { ($0["comment"] as? String ?? "").contains("(crun and runc) makes after loading") }, "\(entries)")
    #expect(Set(entry["names"] as? [String] ?? []) == oci.subtracting(plain))
    #expect((entry["comment"] as? String ?? "").contains("noNewPrivileges true and false"))

    let podman = dir.appendingPathComponent("podman.json").path
    #expect(run(syscageExecutable, ["record", "-o", podman, "--for", "podman", "--", "/bin/true"]).status == 0)
    #expect(try ProfileFile(podman).allowed == plain.union(RuntimeSelection(.podman).calls))
    // --format systemd is for no container runtime.
    let unit = dir.appendingPathComponent("unit.conf").path
    let systemd = run(syscageExecutable, ["record", "-o", unit, "--format", "systemd", "--", "/bin/true"])
    #expect(systemd.status == 0 && !systemd.stderr.contains("after loading the container's filter"), "\(systemd.stderr)")
    let bad = run(syscageExecutable, ["record", "-o", dir.appendingPathComponent("x.json").path, "--for", "runsc", "--", "/bin/true"])
    #expect(bad.status == 64)
  }

  // MARK: 8. Baselines, runtimes and attaching: the corners

  static var rootReason: Comment { Comment(rawValue: Peer.root.skipReason) }

  /// A baseline that allows almost nothing still lets every other call reach the
  /// tracer: no ENOSYS stub answers the numbers past its highest.
  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func aTinyBaselineStillSeesEveryNewCall() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let baseline = dir.appendingPathComponent("read.json").path
    try Data(#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#.utf8)
      .write(to: URL(fileURLWithPath: baseline))
    let out = dir.appendingPathComponent("echo.json").path
    let r = run(syscageExecutable, ["record", "-o", out, "--baseline", baseline, "--", "/bin/echo", "hi"])
    #expect(r.status == 0 && r.stdout == "hi\n", "\(r.stderr)")
    let calls = try ProfileFile(out).unconditional
    #expect(calls.isSuperset(of: ["read", "execve", "write", "mmap", "exit_group"]), "\(calls.sorted())")
  }

  /// --baseline keeps the baseline's argument rules: the output is the baseline plus the
  /// new calls, not its unconditional calls only.
  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func aBaselineKeepsItsArgumentRules() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p1 = dir.appendingPathComponent("p1.json").path
    let p2 = dir.appendingPathComponent("p2.json").path
    let script = "import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)"
    let first = run(syscageExecutable, ["record", "--args", "-o", p1, "--", "/usr/bin/python3", "-c", script])
    try #require(first.status == 0, "\(first.stderr)")
    let second = run(syscageExecutable, ["record", "-o", p2, "--baseline", p1, "--", "/bin/true"])
    try #require(second.status == 0, "\(second.stderr)")
    let socket = try ProfileFile(p2).entries(for: "socket")
    #expect(socket.count == 1, "\(socket)")
    #expect((socket.first?["args"] as? [[String: Any]])?.first?["value"] as? Int == 10, "AF_INET6's rule is kept: \(socket)")
    // And the program still runs under the new profile.
    let replay = run(syscageExecutable, ["run", "--profile", p2, "--", "/usr/bin/python3", "-c", script])
    #expect(replay.status == 0, "\(replay.stderr)")
  }

  /// --args does not narrow the calls a container runtime makes after its filter.
  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func argumentRulesLeaveTheRuntimesCallsAlone() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("p.json").path
    // sh -c: prctl is not among its calls, ioctl is; both must stay unconditional.
    let r = run(syscageExecutable, ["record", "--args", "--for", "runc", "-o", out, "--", "/bin/sh", "-c", "exec /usr/bin/python3 -c 'import ctypes; ctypes.CDLL(None).prctl(15, b\"x\", 0, 0, 0)'"])
    #expect(r.status == 0, "\(r.stderr)")
    let profile = try ProfileFile(out)
    let runc = ContainerRuntime.runc.callsAfterFilter()
    #expect(profile.unconditional.isSuperset(of: runc), "missing: \(Set(runc).subtracting(profile.unconditional).sorted())")
    #expect(profile.entries(for: "prctl").allSatisfy { profile.conditions($0).isEmpty }, "\(profile.entries(for: "prctl"))")
  }

  /// The program gets every CPU it had whenever it asks, also against a baseline (whose
  /// filter must still stop at sched_getaffinity) and in the verification run.
  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func aProgramAlwaysSeesItsCPUs() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let cpus = "\(ProcessInfo.processInfo.activeProcessorCount)\n"
    let n1 = dir.appendingPathComponent("n1.json").path
    let first = run(syscageExecutable, ["record", "-o", n1, "--", "/usr/bin/nproc"])
    #expect(first.status == 0 && first.stdout == cpus, "\(first.stderr)")
    // One process that fails when it sees one CPU: the verification run sees them all too.
    let check = "import os, sys; sys.exit(len(os.sched_getaffinity(0)) != \(ProcessInfo.processInfo.activeProcessorCount))"
    let verified = run(syscageExecutable, ["record", "--verify", "-o", dir.appendingPathComponent("py.json").path, "--", "/usr/bin/python3", "-c", check])
    #expect(verified.status == 0, "\(verified.stderr)")
    #expect(verified.stderr.contains("ran the same"), "\(verified.stderr)")
    let n2 = dir.appendingPathComponent("n2.json").path
    let again = run(syscageExecutable, ["record", "-o", n2, "--baseline", n1, "--", "/usr/bin/nproc"])
    #expect(again.status == 0 && again.stdout == cpus, "\(again.stderr)")
  }

  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func outputsThatCannotBeWritten() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = dir.appendingPathComponent("p.json").path
    try #require(run(syscageExecutable, ["record", "-o", p, "--", "/bin/true"]).status == 0)
    let same = run(syscageExecutable, ["record", "-o", p, "--baseline", p, "--", "/bin/sh", "-c", "echo RAN >&2"])
    #expect(same.status == 64 && !same.stderr.contains("RAN"), "refused before running: \(same.stderr)")
    let missingDir = run(syscageExecutable, ["record", "-o", dir.appendingPathComponent("no/such/dir.json").path, "--", "/bin/sh", "-c", "echo RAN >&2"])
    #expect(missingDir.status == 73 && !missingDir.stderr.contains("RAN"), "refused before running: \(missingDir.stderr)")
  }

  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func attachingToOneMissingProcessAmongSeveralFails() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let sleeper = try start("/bin/sleep", ["5"])
    defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
    let missing = try freePid()
    let r = run(syscageExecutable, ["record", "-o", dir.appendingPathComponent("p.json").path, "-p", String(sleeper.processIdentifier), "-p", String(missing)], timeout: 10)
    #expect(r.status == 64 && r.stderr.contains("no process \(missing)"), "\(r.stderr)")
    #expect(statusField("/proc/\(sleeper.processIdentifier)/status", "TracerPid") == "0")
  }

  /// main() ends with pthread_exit while a thread lives on: the leader is a zombie.
  static let zombieLeader = """
    #include <pthread.h>
    #include <unistd.h>
    static void *worker(void *arg) { (void)arg; for (;;) usleep(10000); return 0; }
    int main(void) {
      pthread_t t;
      pthread_create(&t, 0, worker, 0);
      pthread_exit(0);
    }
    """

  /// Ctrl-C detaches at once even when the thread group leader has exited (it can no
  /// longer be stopped).
  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func detachingIsPromptWhenTheLeaderHasExited() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let exe = try compile(Self.zombieLeader, named: "zombie", in: dir) else { return }
    let target = try start(exe, [])
    defer { kill(target.processIdentifier, SIGKILL); target.waitUntilExit() }
    #expect(eventually { statusField("/proc/\(target.processIdentifier)/status", "State")?.hasPrefix("Z") == true })
    let syscage = try start(syscageExecutable, ["record", "-o", dir.appendingPathComponent("p.json").path, "-p", String(target.processIdentifier)])
    defer { if syscage.isRunning { kill(syscage.processIdentifier, SIGKILL) }; syscage.waitUntilExit() }
    #expect(eventually { tracers(of: target.processIdentifier).contains(syscage.processIdentifier) })
    usleep(100_000)
    let sent = Date()
    kill(syscage.processIdentifier, SIGINT)
    #expect(waitExit(syscage, timeout: 10))
    #expect(Date().timeIntervalSince(sent) < 2, "detaching took \(Date().timeIntervalSince(sent)) s")
    #expect(syscage.terminationStatus == 0)
    #expect(target.isRunning, "the target runs on")
  }
}
