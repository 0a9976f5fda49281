import Foundation
import TestSupport
import Testing

/// `syscage watch` end to end: needs root (or at least seccomp user notification and
/// pidfd_getfd on the child; the suite runs as root only, like the probe tests).
@Suite(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)), .serialized)
struct WatchCommandTests {
  init() throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
  }

  static let profileText = #"""
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
      {"names": ["rmdir"], "action": "SCMP_ACT_KILL_PROCESS"}]}
    """#

  func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-watch-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  func write(_ text: String, _ name: String, in dir: URL) throws -> String {
    let path = dir.appendingPathComponent(name).path
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  func alerts(_ path: String) throws -> [[String: Any]] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return try text.split(separator: "\n").map {
      try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
  }

  @Test func alertLetsTheCallRunAndReportsItAsJSON() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    let log = dir.appendingPathComponent("alerts.jsonl").path
    let target = dir.appendingPathComponent("made").path
    let r = run(syscageExecutable, ["watch", "--profile", p, "--alerts", log, "--", "mkdir", target], timeout: 30)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(FileManager.default.fileExists(atPath: target))
    let lines = try alerts(log)
    #expect(lines.count == 1, "\(lines)")
    let a = try #require(lines.first)
    #expect(a["syscall"] as? String == "mkdir" || a["syscall"] as? String == "mkdirat")
    #expect(a["arch"] as? String == "x86_64")
    #expect(a["comm"] as? String == "mkdir")
    #expect((a["exe"] as? String)?.hasSuffix("/mkdir") == true)
    #expect(a["decision"] as? String == "SCMP_ACT_ERRNO")
    #expect(a["errno"] as? Int == 13)
    #expect(a["action"] as? String == "allowed")
    let args = try #require(a["args"] as? [NSNumber])
    #expect(args.count == 6)
    // mkdir(path, 0777): the mode is the argument after the path.
    let modeIndex = a["syscall"] as? String == "mkdir" ? 1 : 2
    #expect(args[modeIndex].uint64Value == 0o777)
    #expect(r.stderr.contains("profile says SCMP_ACT_ERRNO(13)"), "\(r.stderr)")
  }

  @Test func denyFailsTheCallWithTheProfilesErrno() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    let target = dir.appendingPathComponent("made").path
    let r = run(syscageExecutable, ["watch", "--profile", p, "--on-violation", "deny", "--", "mkdir", target], timeout: 30)
    #expect(r.status == 1)
    #expect(r.stderr.contains("Permission denied"), "\(r.stderr)")  // EACCES = 13
    #expect(r.stderr.contains(#""action":"denied""#))
    #expect(!FileManager.default.fileExists(atPath: target))
  }

  @Test func killKillsTheProgram() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    let target = dir.appendingPathComponent("kept").path
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
    let r = run(syscageExecutable, ["watch", "--profile", p, "--on-violation", "kill", "--", "sh", "-c", "rmdir \(target); echo survived"], timeout: 30)
    #expect(r.status == 137, "\(r.stderr)")
    #expect(!r.stdout.contains("survived"))
    #expect(FileManager.default.fileExists(atPath: target))
    #expect(r.stderr.contains(#""action":"killed""#))
  }

  @Test func allowedCallsAreNotReportedAndChildrenAreWatched() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    let log = dir.appendingPathComponent("alerts.jsonl").path
    let quiet = run(syscageExecutable, ["watch", "--profile", p, "--alerts", log, "--", "sh", "-c", "ls / >/dev/null; echo hi"], timeout: 30)
    #expect(quiet.status == 0 && quiet.stdout == "hi\n")
    #expect(try alerts(log).isEmpty)
    #expect(!quiet.stderr.contains("violation"))
    // sh forks mkdir: the grandchild's call is seen.
    let target = dir.appendingPathComponent("made").path
    let forked = run(syscageExecutable, ["watch", "--profile", p, "--alerts", log, "--", "sh", "-c", "mkdir \(target); exit 3"], timeout: 30)
    #expect(forked.status == 3)
    let lines = try alerts(log)
    #expect(lines.count == 1)
    #expect(lines.first?["comm"] as? String == "mkdir")
  }

  @Test func learntProfileRunsUnderSyscageRun() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    let learnt = dir.appendingPathComponent("learnt.json").path
    let target = dir.appendingPathComponent("made").path
    let script = "mkdir \(target) && rmdir \(target)"
    let w = run(syscageExecutable, ["watch", "--profile", p, "--learn", learnt, "--", "sh", "-c", script], timeout: 30)
    #expect(w.status == 0, "\(w.stderr)")
    let before = run(syscageExecutable, ["run", "--profile", p, "--", "sh", "-c", script])
    #expect(before.status != 0)
    let after = run(syscageExecutable, ["run", "--profile", learnt, "--", "sh", "-c", script])
    #expect(after.status == 0, "\(after.stderr)")
  }

  @Test func aDeadTargetDoesNotHangTheSupervisor() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    // The program dies of SIGKILL while a child holding the filter lives on. Spawned with
    // posix_spawn and waitpid: Foundation's Process would wait for the orphan too (it
    // inherits the pipe Process watches).
    let argv = [syscageExecutable, "watch", "--profile", p, "--", "sh", "-c", "sleep 30 >/dev/null 2>&1 & kill -9 $$"]
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var cargs = argv.map { strdup($0) } + [nil]
    defer { for c in cargs { free(c) } }
    var pid: pid_t = 0
    #expect(posix_spawn(&pid, syscageExecutable, &actions, nil, &cargs, environ) == 0)
    let start = Date()
    var status: Int32 = 0
    var done = false
    while Date().timeIntervalSince(start) < 20 {
      if waitpid(pid, &status, WNOHANG) == pid {
        done = true
        break
      }
      usleep(5000)
    }
    if !done {
      kill(pid, SIGKILL)
      waitpid(pid, &status, 0)
    }
    #expect(done, "syscage watch did not return after its program died")
    #expect((status >> 8) & 0xff == 137)
    #expect(Date().timeIntervalSince(start) < 10)
  }

  @Test func denyOfAKillDecisionFailsWithEPERMAndSaysSo() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    let target = dir.appendingPathComponent("kept").path
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
    let r = run(syscageExecutable, ["watch", "--profile", p, "--on-violation", "deny", "--", "rmdir", target], timeout: 30)
    #expect(r.status == 1, "\(r.stderr)")
    #expect(r.stderr.contains("Operation not permitted"))
    #expect(r.stderr.contains(#""returned_errno":1,"substituted":true"#), "\(r.stderr)")
    #expect(r.stderr.contains("substituted for the profile's action"))
    #expect(FileManager.default.fileExists(atPath: target))
  }

  @Test func aSecondListenerIsRefusedAndExplained() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    let r = run(syscageExecutable, ["watch", "--profile", p, "--", syscageExecutable, "watch", "--profile", p, "--", "true"], timeout: 30)
    #expect(r.status == 125, "\(r.stderr)")
    #expect(r.stderr.contains("EBUSY"))
    #expect(r.stderr.contains("already runs under 1 seccomp filter"))
  }

  @Test func threadsAreReportedWithTheirTid() throws {
    guard run("/usr/bin/env", ["python3", "-c", ""]).status == 0 else {
      #expect(!isCI, "needs python3 to start a thread")
      return
    }
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    let log = dir.appendingPathComponent("alerts.jsonl").path
    let target = dir.appendingPathComponent("made").path
    let script = "import threading, os; t = threading.Thread(target=lambda: os.mkdir('\(target)')); t.start(); t.join()"
    let r = run(syscageExecutable, ["watch", "--profile", p, "--alerts", log, "--", "/usr/bin/env", "python3", "-c", script], timeout: 30)
    #expect(r.status == 0, "\(r.stderr)")
    let a = try #require(try alerts(log).first)
    let pid = try #require(a["pid"] as? Int), tid = try #require(a["tid"] as? Int)
    #expect(pid != tid)
  }

  @Test func failuresUseEnvsExitCodes() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    let missing = run(syscageExecutable, ["watch", "--profile", p, "--", "no-such-program-\(UUID().uuidString)"])
    #expect(missing.status == 127)
    let notExec = run(syscageExecutable, ["watch", "--profile", p, "--", p])
    #expect(notExec.status == 126, "\(notExec.stderr)")
    let bad = run(syscageExecutable, ["watch", "--profile", dir.appendingPathComponent("none.json").path, "--", "true"])
    #expect(bad.status == 125)
  }

  /// Not a timed test: prints the cost of allowed calls under the watch filter.
  @Test func overheadOnAllowedCalls() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    let dd = ["if=/dev/zero", "of=/dev/null", "bs=1", "count=200000"]
    func time(_ body: () -> Void) -> Double {
      let t = Date()
      body()
      return Date().timeIntervalSince(t)
    }
    let plain = time { _ = run("/bin/dd", dd) }
    let watched = time { _ = run(syscageExecutable, ["watch", "--profile", p, "--", "dd"] + dd) }
    let enforced = time { _ = run(syscageExecutable, ["run", "--profile", p, "--", "dd"] + dd) }
    print(String(format: "watch overhead: dd 400k calls plain %.3fs, syscage run %.3fs, syscage watch %.3fs", plain, enforced, watched))
  }
}
