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

  func tempDir() throws -> URL { try Containers.temporaryDirectory("syscage-watch") }

  func write(_ text: String, _ name: String, in dir: URL) throws -> String { try writeFile(text, name, in: dir) }

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
    // The program dies of SIGKILL while a child holding the filter lives on for a second:
    // the watch serves the child, then ends with the program's status.
    let start = Date()
    let pid = spawnSyscage(["watch", "--profile", p, "--", "sh", "-c", "sleep 1 >/dev/null 2>&1 & kill -9 $$"])
    #expect(pid > 0)
    let status = waitExit(pid, within: 20)
    #expect(status != nil, "syscage watch did not return after its program and the child died")
    #expect(status == 137)
    let took = Date().timeIntervalSince(start)
    #expect(took >= 0.9 && took < 10, "\(took)")
  }

  @Test func aDescendantThatOutlivesTheProgramIsStillWatched() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    let log = dir.appendingPathComponent("alerts.jsonl").path
    for mode in ["alert", "deny"] {
      try? FileManager.default.removeItem(atPath: log)
      // The shell exits at once; its background child makes the call 0.3 s later.
      let target = dir.appendingPathComponent("made-\(mode)").path
      let start = Date()
      let r = run(
        syscageExecutable,
        ["watch", "--profile", p, "--on-violation", mode, "--alerts", log, "--", "sh", "-c", "(sleep 0.3; mkdir \(target)) & exit 0"],
        timeout: 30)
      let took = Date().timeIntervalSince(start)
      #expect(r.status == 0, "\(mode): \(r.stderr)")
      #expect(took >= 0.3 && took < 10, "\(mode): \(took)")
      let lines = try alerts(log)
      #expect(lines.count == 1, "\(mode): \(lines)")
      let a = try #require(lines.first)
      #expect(a["comm"] as? String == "mkdir")
      #expect(a["action"] as? String == (mode == "alert" ? "allowed" : "denied"))
      #expect(FileManager.default.fileExists(atPath: target) == (mode == "alert"), "\(mode)")
      if mode == "deny" { #expect(r.stderr.contains("Permission denied"), "\(r.stderr)") }
    }
  }

  @Test func killAlsoKillsWhatOutlivedTheProgram() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    let kept = dir.appendingPathComponent("kept").path
    try FileManager.default.createDirectory(atPath: kept, withIntermediateDirectories: false)
    let survived = dir.appendingPathComponent("survived").path
    // The program exits 0; its background child's rmdir (KILL_PROCESS) kills that child:
    // the status is 137 all the same, and the child's next step never runs.
    let r = run(
      syscageExecutable,
      ["watch", "--profile", p, "--on-violation", "kill", "--", "sh", "-c", "(sleep 0.3; rmdir \(kept); touch \(survived)) & exit 0"],
      timeout: 30)
    #expect(r.status == 137, "\(r.stderr)")
    #expect(r.stderr.contains(#""action":"killed""#))
    #expect(r.stderr.contains("the processes that outlived it were killed"), "\(r.stderr)")
    #expect(FileManager.default.fileExists(atPath: kept))
    #expect(!FileManager.default.fileExists(atPath: survived))
    // A violation of the program kills its background children too, at once.
    let bg = dir.appendingPathComponent("bg").path
    let start = Date()
    let k = run(
      syscageExecutable,
      ["watch", "--profile", p, "--on-violation", "kill", "--", "sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $! > \(bg); rmdir \(kept)"],
      timeout: 30)
    #expect(k.status == 137, "\(k.stderr)")
    #expect(Date().timeIntervalSince(start) < 10)
    let sleeper = try #require(readPid(bg, within: 1))
    #expect(!isAlive(sleeper))
  }

  @Test func signalsAfterTheProgramEndedGoToWhatOutlivedItAndASecondStopsTheWatch() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try write(Self.profileText, "p.json", in: dir)
    let bg = dir.appendingPathComponent("bg").path
    // SIGTERM to syscage goes to the background sleep; it dies, and so the watch ends.
    let pid = spawnSyscage(["watch", "--profile", p, "--", "sh", "-c", "sleep 30 & echo $! > \(bg); exit 0"])
    let sleeper = try #require(readPid(bg))
    usleep(300_000)
    #expect(kill(pid, SIGTERM) == 0)
    #expect(waitExit(pid, within: 10) == 0)
    #expect(!isAlive(sleeper))
    // A process that ignores SIGTERM: a second signal stops the watch, and syscage says so.
    try? FileManager.default.removeItem(atPath: bg)
    let err = dir.appendingPathComponent("stderr").path
    let pid2 = spawnSyscage(
      ["watch", "--profile", p, "--", "sh", "-c", "(trap '' TERM; exec sleep 30) & echo $! > \(bg); exit 0"], stderr: err)
    let stubborn = try #require(readPid(bg))
    defer { kill(stubborn, SIGKILL) }
    usleep(300_000)
    #expect(kill(pid2, SIGTERM) == 0)
    usleep(300_000)
    #expect(isAlive(pid2), "one signal stopped the watch")
    #expect(kill(pid2, SIGTERM) == 0)
    #expect(waitExit(pid2, within: 10) == 0)
    #expect(isAlive(stubborn))
    let text = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
    #expect(text.contains("stopped watching 1 process still under the filter"), "\(text)")
  }

  /// Calls made with `int $0x80` (ia32) and with the x32 bit (x32) from a 64-bit program.
  static let abiProgram = #"""
    #include <stdio.h>
    int main(void) {
      long ia32, x32;
      __asm__ volatile("int $0x80" : "=a"(ia32) : "0"(20L) : "r8", "r9", "r10", "r11", "memory", "cc");
      __asm__ volatile("syscall" : "=a"(x32) : "0"(39L | 0x40000000L) : "rcx", "r11", "memory", "cc");
      printf("%ld %ld\n", (long)(int)ia32, x32);
      return 0;
    }
    """#

  /// Compiles `source` with cc into `dir`; nil (and a failed expectation on CI) without cc.
  func compile(_ source: String, in dir: URL) throws -> String? {
    let c = try write(source, "abi.c", in: dir)
    let out = dir.appendingPathComponent("abi").path
    let r = run("/usr/bin/env", ["cc", "-O1", "-o", out, c])
    guard r.status == 0 else {
      #expect(!isCI, "needs cc to build the ia32/x32 caller: \(r.stderr)")
      return nil
    }
    return out
  }

  @Test func ia32AndX32CallsAreReportedAndDenied() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let program = try compile(Self.abiProgram, in: dir) else { return }
    // Unwatched: ia32 getpid returns the pid; x32 getpid returns it too, or -ENOSYS on a
    // kernel without CONFIG_X86_X32_ABI (seccomp still sees the call first).
    let plain = run(program, [])
    let plainResults = plain.stdout.split(separator: " ").compactMap { Int(String($0).trimmingCharacters(in: .newlines)) }
    try #require(plainResults.count == 2 && plainResults[0] > 0, "int $0x80 (ia32 emulation) is needed: \(plain.stdout)")
    let x32Kernel = plainResults[1] != -38
    let p = try write(
      #"""
      {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
       "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
      """#, "abi.json", in: dir)
    let log = dir.appendingPathComponent("alerts.jsonl").path
    for mode in ["alert", "deny"] {
      try? FileManager.default.removeItem(atPath: log)
      let r = run(syscageExecutable, ["watch", "--profile", p, "--on-violation", mode, "--alerts", log, "--", program], timeout: 30)
      #expect(r.status == 0, "\(mode): \(r.stderr)")
      let lines = try alerts(log)
      try #require(lines.count == 2, "\(mode): \(lines)")
      let (ia32, x32) = (lines[0], lines[1])
      #expect(ia32["arch"] as? String == "x86")
      #expect(ia32["audit_arch"] as? String == "0x40000003")
      #expect(ia32["syscall"] as? String == "getpid")
      #expect(ia32["nr"] as? Int == 20)
      #expect(x32["arch"] as? String == "x32")
      #expect(x32["audit_arch"] as? String == "0xc000003e")
      #expect(x32["syscall"] as? String == "getpid")
      #expect(x32["nr"] as? Int == 39)  // 39 | 0x40000000 on the wire: the x32 bit is the arch
      for a in lines {
        #expect(a["decision"] as? String == "SCMP_ACT_ERRNO")
        #expect(a["errno"] as? Int == 13)
        #expect(a["reason"] as? String == "rule" && a["rule"] as? String == "syscalls[0]")
      }
      let pid = try #require(ia32["pid"] as? Int)
      if mode == "alert" {
        // Both calls ran: getpid's result, or ENOSYS where the kernel has no x32.
        #expect(r.stdout == "\(pid) \(x32Kernel ? pid : -38)\n", "\(r.stdout)")
        #expect(lines.allSatisfy { $0["action"] as? String == "allowed" })
      } else {
        #expect(r.stdout == "-13 -13\n", "\(r.stdout)")
        #expect(lines.allSatisfy { $0["action"] as? String == "denied" && $0["returned_errno"] as? Int == 13 })
      }
    }
    // A profile for x86_64 alone: both ABIs are outside it (KILL_PROCESS, the bad-arch
    // action); deny fails them with EPERM and says it substituted.
    let only = try write(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"]}"#, "only.json", in: dir)
    try? FileManager.default.removeItem(atPath: log)
    let r = run(syscageExecutable, ["watch", "--profile", only, "--on-violation", "deny", "--alerts", log, "--", program], timeout: 30)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout == "-1 -1\n", "\(r.stdout)")
    let lines = try alerts(log)
    try #require(lines.count == 2, "\(lines)")
    #expect(lines[0]["arch"] as? String == "x86" && lines[0]["reason"] as? String == "abi-not-in-profile")
    #expect(lines[1]["arch"] as? String == "x32" && lines[1]["reason"] as? String == "x32-not-in-profile")
    #expect(lines[1]["syscall"] as? String == "getpid" && lines[1]["nr"] as? Int == 39)
    #expect(lines.allSatisfy { $0["returned_errno"] as? Int == 1 && $0["substituted"] as? Bool == true })
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
    // The failed child's exit_group is not allowed (so notified) under this profile: the
    // supervisor must not wait for it.
    let strict = try write(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["execve", "read", "write", "close"], "action": "SCMP_ACT_ALLOW"}]}"#,
      "strict.json", in: dir)
    let notExecStrict = run(syscageExecutable, ["watch", "--profile", strict, "--", p], timeout: 20)
    #expect(notExecStrict.status == 126, "\(notExecStrict.stderr)")
  }
}
