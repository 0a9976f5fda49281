import Foundation
import Host
import Profiles
import Recording
import Seccomp
import Syscalls
import Testing
import TestSupport

/// `syscage record` against real programs, compared with what `strace -f` sees, and
/// replayed under `syscage run`. Recording runs in the syscage executable, as a user runs
/// it (`InProcessRecorderTests` calls the recorder in the test process).
@Suite struct RecordCommandTests {
  func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-record-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  /// Compiles a C program with /usr/bin/cc; nil (and a failure under CI) without a compiler.
  func compile(_ source: String, in dir: URL, flags: [String] = []) throws -> String? {
    let src = dir.appendingPathComponent("prog.c").path
    try Data(source.utf8).write(to: URL(fileURLWithPath: src))
    let exe = dir.appendingPathComponent("prog").path
    let r = run("/usr/bin/cc", ["-O0", "-o", exe, src] + flags)
    guard r.status == 0 else {
      #expect(!isCI, "needs a C compiler (/usr/bin/cc): \(r.stderr)")
      return nil
    }
    return exe
  }

  struct Recorded {
    var result: ProcessResult
    var profile: String
    /// arch name → syscall name → calls, from `--json`.
    var calls: [String: [String: Int]]
  }

  func record(_ command: [String], in dir: URL, extra: [String] = []) throws -> Recorded {
    let profile = dir.appendingPathComponent("profile-\(UUID().uuidString).json").path
    let r = run(syscageExecutable, ["record", "-o", profile, "--json"] + extra + ["--"] + command)
    let jsonLine = r.stderr.split(separator: "\n").last { $0.hasPrefix("{\"arches\"") } ?? ""
    var calls: [String: [String: Int]] = [:]
    if let object = try? JSONSerialization.jsonObject(with: Data(jsonLine.utf8)) as? [String: Any],
      let arches = object["arches"] as? [String: [String: [String: Any]]]
    {
      for (arch, names) in arches { calls[arch] = names.compactMapValues { $0["calls"] as? Int } }
    }
    #expect(!calls.isEmpty, "no --json statistics in: \(r.stderr)")
    return Recorded(result: r, profile: profile, calls: calls)
  }

  /// The syscall names `strace -f` prints for a command (x86_64 processes only).
  func straceNames(_ command: [String], in dir: URL) -> Set<String>? {
    let log = dir.appendingPathComponent("strace-\(UUID().uuidString).log").path
    let r = run("/usr/bin/strace", ["-f", "-qq", "-o", log] + command)
    guard r.status != 127, let text = try? String(contentsOfFile: log, encoding: .utf8) else {
      Issue.record("strace failed: \(r.stderr)")
      return nil
    }
    var names = Set<String>()
    for line in text.split(separator: "\n") {
      var rest = Substring(line)
      if let first = rest.first, first.isNumber {
        rest = rest.drop(while: \.isNumber).drop(while: { $0 == " " })
      }
      let name = rest.prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" })
      if !name.isEmpty, rest.dropFirst(name.count).first == "(" { names.insert(String(name)) }
    }
    return names
  }

  /// Records `command`, checks it against strace, its stdout, exit_group, and the replay.
  func check(_ command: [String], expectedOutput: String? = nil) throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let plain = run(command[0], Array(command.dropFirst()))
    let recorded = try record(command, in: dir)
    #expect(recorded.result.status == plain.status, "\(recorded.result.stderr)")
    #expect(recorded.result.stdout == plain.stdout)  // the program's stdout is its own
    if let expectedOutput { #expect(plain.stdout == expectedOutput) }
    let native = recorded.calls["x86_64"] ?? [:]
    #expect(native["exit_group"] ?? 0 >= 1, "exit_group is counted at entry")
    #expect(native["execve"] ?? 0 >= 1)
    if Peer.strace.isAvailable || isCI, let seen = straceNames(command, in: dir) {
      #expect(seen.contains("execve"), "strace's log was not understood")
      let missing = seen.subtracting(native.keys)
      #expect(missing.isEmpty, "strace saw \(missing.sorted()) that the recording lacks")
    }
    let profile = try Profile.load(path: recorded.profile).profile
    #expect(profile.architectures == [.x86_64])
    let replay = run(syscageExecutable, ["run", "--profile", recorded.profile, "--"] + command)
    #expect(replay.status == plain.status, "\(replay.stderr)")
    #expect(replay.stdout == plain.stdout)
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func singleProcess() throws {
    try check(["/bin/true"], expectedOutput: "")
    try check(["/bin/sh", "-c", "cat /etc/hostname > /dev/null; echo done"], expectedOutput: "done\n")
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func forkingPipeline() throws {
    try check(["/bin/sh", "-c", "ls / | wc -l"])
  }

  /// Three threads one after another, then one that execs while main waits for it. main
  /// makes one futex call itself: pthread_join waits in futex only when the thread still
  /// runs, and the recording, strace and the replay must not depend on how the threads were
  /// scheduled. (main waited in pause before, which it reached only when the exec came late.)
  static let threaded = """
    #include <linux/futex.h>
    #include <pthread.h>
    #include <stdio.h>
    #include <string.h>
    #include <sys/syscall.h>
    #include <unistd.h>
    static void *work(void *arg) { (void)arg; write(1, "thread\\n", 7); getppid(); return NULL; }
    static void *exec_it(void *arg) {
      (void)arg;
      char *argv[] = {"/bin/echo", "exec from a thread", NULL};
      execv(argv[0], argv);
      return NULL;
    }
    int main(void) {
      pthread_t t;
      static int word;
      syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
      for (int i = 0; i < 3; i++) { pthread_create(&t, NULL, work, NULL); pthread_join(t, NULL); }
      fflush(stdout);
      pthread_create(&t, NULL, exec_it, NULL);
      for (;;) pthread_join(t, NULL);
    }
    """

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func threadsAndExecFromAThread() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let exe = try compile(Self.threaded, in: dir, flags: ["-pthread"]) else { return }
    try check([exe], expectedOutput: "thread\nthread\nthread\nexec from a thread\n")
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func ia32CallsAreRecordedUnderX86() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let source = "int main(void){ long r; __asm__ volatile(\"int $0x80\" : \"=a\"(r) : \"a\"(20L)); return r > 0 ? 0 : 1; }\n"
    guard let exe = try compile(source, in: dir) else { return }
    let recorded = try record([exe], in: dir)
    #expect(recorded.result.status == 0, "\(recorded.result.stderr)")
    #expect(recorded.calls["x86"] == ["getpid": 1])
    #expect(recorded.calls["x86_64"]?["getpid"] == nil)
    let profile = try Profile.load(path: recorded.profile).profile
    #expect(profile.architectures == [.x86_64, .x86])
    let replay = run(syscageExecutable, ["run", "--profile", recorded.profile, "--", exe])
    #expect(replay.status == 0, "\(replay.stderr)")
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func countTableSumsAndStatusPassesThrough() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("p.json").path
    let r = run(syscageExecutable, ["record", "-o", profile, "-c", "--format", "oci", "--", "sh", "-c", "ls / > /dev/null; exit 3"])
    #expect(r.status == 3)
    #expect(r.stdout == "")
    #expect(r.stderr.contains("% time     seconds  usecs/call     calls    errors syscall\n"))
    let column = StraceTable.callsColumn(r.stderr)
    #expect(column.last?.name == "total")
    #expect(column.dropLast().map(\.calls).reduce(0, +) == column.last?.calls)
    #expect(column.contains { $0.name == "exit_group" })
    let text = try String(contentsOfFile: profile, encoding: .utf8)
    #expect(!text.contains("archMap"))
    #expect(text.contains("SCMP_ARCH_X86_64"))
    let killed = run(syscageExecutable, ["record", "-o", profile, "--", "sh", "-c", "kill -TERM $$"])
    #expect(killed.status == 128 + 15)
    #expect(FileManager.default.fileExists(atPath: profile))
  }

  /// Ctrl-C on a terminal: the program gets SIGINT from the terminal (syscage does not
  /// forward it a second time), recording goes on until it ends, and the table and profile
  /// are still written. Runs syscage on a pseudo-terminal made by python3's pty module.
  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func controlCReachesTheProgramAndTheProfileIsWritten() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("p.json").path
    let script = """
      import os, pty, sys, time
      exe, profile = sys.argv[1], sys.argv[2]
      pid, fd = pty.fork()
      if pid == 0:
          os.execv(exe, [exe, "record", "-o", profile, "-c", "--", "/bin/sh", "-c", "echo ready; sleep 30"])
      buf = b""
      deadline = time.time() + 30
      while b"ready" not in buf and time.time() < deadline:
          buf += os.read(fd, 1024)
      time.sleep(0.3)
      os.write(fd, b"\\x03")
      while True:
          try:
              d = os.read(fd, 4096)
          except OSError:
              break
          if not d:
              break
          buf += d
      _, st = os.waitpid(pid, 0)
      print(os.waitstatus_to_exitcode(st))
      sys.stdout.write(buf.decode(errors="replace"))
      """
    let r = run("/usr/bin/python3", ["-c", script, syscageExecutable, profile], timeout: 60)
    guard r.status == 0 else {
      #expect(!isCI, "needs /usr/bin/python3 with pty: \(r.stderr)")
      return
    }
    #expect(r.stdout.hasPrefix("130\n"), "\(r.stdout)")
    #expect(r.stdout.contains(" total"), "the table is printed after Ctrl-C")
    #expect(r.stdout.contains(" exit_group") || r.stdout.contains(" wait4"))
    #expect(FileManager.default.fileExists(atPath: profile))
  }

  /// A signal-delivery stop passes the signal on (the handler runs); a group-stop (SIGSTOP
  /// under PTRACE_SEIZE) is held with PTRACE_LISTEN until SIGCONT, not lost or turned
  /// into a running process.
  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func signalsAndGroupStopsPassThrough() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let handled = try record(["/bin/sh", "-c", "trap 'echo got usr1' USR1; kill -USR1 $$; echo after"], in: dir)
    #expect(handled.result.status == 0)
    #expect(handled.result.stdout == "got usr1\nafter\n")
    let stopped = try record(
      ["/bin/sh", "-c", "(sleep 0.3; kill -CONT $$) & kill -STOP $$; echo resumed; wait"], in: dir)
    #expect(stopped.result.status == 0)
    #expect(stopped.result.stdout == "resumed\n")
    #expect(stopped.calls["x86_64"]?["kill"] ?? 0 >= 2, "the child's kill is recorded too")
  }

  @Test func ownFailuresUseEnvsCodes() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("p.json").path
    let missing = run(syscageExecutable, ["record", "-o", profile, "--", "no-such-program-\(UUID().uuidString)"])
    #expect(missing.status == 127 && missing.stderr.contains("not found"))
    let notExecutable = run(syscageExecutable, ["record", "-o", profile, "--", "/etc/hostname"])
    #expect(notExecutable.status == 126)
    #expect(!FileManager.default.fileExists(atPath: profile))
  }
}
