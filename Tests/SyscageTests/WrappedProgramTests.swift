import Foundation
import Testing
import TestSupport

/// What a wrapped program gets from `run`, `record` and `watch`: the signal state it was
/// given, strict mode as unwrapped, kills and loader failures named truthfully.
@Suite struct WrappedProgramTests {
  func tempDir() throws -> URL { try Containers.temporaryDirectory("syscage-wrapped") }

  func write(_ text: String, _ name: String, in dir: URL) throws -> String { try writeFile(text, name, in: dir) }

  /// Builds a C program with the system compiler, or nil (a failure under CI) without one.
  func compile(_ source: String, _ name: String, in dir: URL, flags: [String] = []) throws -> String? {
    do { return try compileC(source, named: name, in: dir, flags: ["-O1"] + flags) } catch { #expect(!isCI, "\(error)") }
    return nil
  }

  static let allowAll = #"{"defaultAction": "SCMP_ACT_ALLOW"}"#

  /// Ignores SIGHUP, blocks SIGUSR1 and execs its arguments (what `nohup` and a shell's
  /// `trap '' HUP` leave to a program, plus a blocked signal).
  static let launcher = """
    #include <signal.h>
    #include <unistd.h>
    int main(int argc, char **argv) {
      (void)argc;
      sigset_t s; sigemptyset(&s); sigaddset(&s, SIGUSR1); sigprocmask(SIG_BLOCK, &s, 0);
      signal(SIGHUP, SIG_IGN);
      execv(argv[1], argv + 1);
      return 127;
    }
    """

  /// Appends its SigIgn, SigBlk and SigCgt lines to the file argv[1] (one block per run).
  static let probe = """
    #include <stdio.h>
    #include <string.h>
    int main(int argc, char **argv) {
      (void)argc;
      FILE *in = fopen("/proc/self/status", "r"), *out = fopen(argv[1], "a");
      char line[256];
      while (fgets(line, sizeof line, in))
        if (!strncmp(line, "SigIgn:", 7) || !strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigCgt:", 7)) fputs(line, out);
      fputs("--\\n", out);
      return 0;
    }
    """

  /// The signal masks of each run the probe logged: [["SigIgn": bits, ...], ...].
  func runs(_ log: String) throws -> [[String: UInt64]] {
    let text = try String(contentsOfFile: log, encoding: .utf8)
    return text.components(separatedBy: "--\n").filter { !$0.isEmpty }.map { block in
      var fields: [String: UInt64] = [:]
      for line in block.split(separator: "\n") {
        let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
        if parts.count == 2 { fields[parts[0]] = UInt64(parts[1], radix: 16) }
      }
      return fields
    }
  }

  static func bit(_ signal: Int32) -> UInt64 { 1 << UInt64(signal - 1) }

  @Test func ignoredSignalsAndTheMaskReachTheProgramThroughEveryWrapper() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let launcher = try compile(Self.launcher, "launcher", in: dir), let probe = try compile(Self.probe, "probe", in: dir)
    else { return }
    let profile = try write(Self.allowAll, "allow.json", in: dir)
    let out = dir.appendingPathComponent("out.json").path
    var wrappers: [(String, [String], Int)] = [
      ("run", ["run", "--profile", profile], 1),
      ("record", ["record", "-o", out], 1),
      ("record -c", ["record", "-o", out, "-c"], 1),
      ("record --baseline", ["record", "-o", out, "--baseline", profile], 1),
      ("record --verify", ["record", "-o", out, "--verify"], 2),
      ("watch", ["watch", "--profile", profile], 1),
    ]
    if Peer.root.isAvailable { wrappers.append(("record --backend ebpf", ["record", "-o", out, "--backend", "ebpf"], 1)) }
    for (name, arguments, count) in wrappers {
      let log = dir.appendingPathComponent("\(name.replacingOccurrences(of: " ", with: "_")).log").path
      let r = run(launcher, [syscageExecutable] + arguments + ["--", probe, log])
      #expect(r.status == 0, "\(name): \(r.stderr)")
      let seen = try runs(log)
      #expect(seen.count == count, "\(name): \(seen)")
      for fields in seen {
        let ignored = fields["SigIgn"] ?? 0, blocked = fields["SigBlk"] ?? 0, caught = fields["SigCgt"] ?? 0
        #expect(ignored & Self.bit(SIGHUP) != 0, "\(name): SIGHUP no longer ignored: \(fields)")
        #expect(blocked & Self.bit(SIGUSR1) != 0, "\(name): SIGUSR1 no longer blocked: \(fields)")
        // Signals syscage catches to forward them are the program's default again.
        for sig in [SIGTERM, SIGINT, SIGQUIT, SIGUSR2] {
          #expect((ignored | caught) & Self.bit(sig) == 0, "\(name): signal \(sig) not SIG_DFL: \(fields)")
        }
      }
    }
    // Without the launcher nothing is ignored or blocked that the test runner did not give.
    let plain = dir.appendingPathComponent("plain.log").path
    let r = run(syscageExecutable, ["run", "--profile", profile, "--", probe, plain])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(try runs(plain).first?["SigIgn"].map { $0 & Self.bit(SIGHUP) } == 0)
  }

  /// The tutorials' strict-mode program: unwrapped it dies with SIGKILL at getpid.
  static let strictProgram = """
    #include <stdio.h>
    #include <string.h>
    #include <unistd.h>
    #include <sys/prctl.h>
    #include <sys/syscall.h>
    #include <linux/seccomp.h>
    int main(int argc, char **argv) {
      printf("Step 1: no restrictions yet\\n");
      fflush(stdout);
      if (argc > 1 && strcmp(argv[1], "seccomp") == 0)
        syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
      else
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT);
      printf("Step 2: entering the strict mode\\n");
      fflush(stdout);
      syscall(SYS_getpid);
      printf("You will not see this message\\n");
      return 0;
    }
    """

  @Test func strictModeProgramsRecordAsUnwrappedAndRunSaysWhy() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let program = try compile(Self.strictProgram, "strict", in: dir) else { return }
    let unwrapped = run(program, [])
    #expect(unwrapped.status == SIGKILL && !unwrapped.stdout.contains("You will not see"), "\(unwrapped)")
    let profile = try write(Self.allowAll, "allow.json", in: dir)
    let out = dir.appendingPathComponent("out.json").path
    for how in ["prctl", "seccomp"] {
      // record: the one-stop run is ended at the request and made again with two stops.
      var ways: [[String]] = [[], ["--baseline", profile]]
      if Peer.root.isAvailable { ways.append(["--backend", "ebpf"]) }
      for extra in ways {
        let r = run(syscageExecutable, ["record", "-o", out] + extra + ["--", program, how])
        #expect(r.status == 137, "record \(extra) \(how): \(r.stderr)")
        #expect(!r.stdout.contains("You will not see"), "\(r.stdout)")
        #expect(r.stderr.contains("strict mode") && r.stderr.contains("two stops"), "\(r.stderr)")
        // The profile allows the call (with --baseline, an allow-all baseline already does).
        let allowed = run(syscageExecutable, ["check", out, how])
        #expect(allowed.status == 0, "record \(extra): \(how) not allowed by the recorded profile: \(allowed.stdout)")
      }
      // run: the kernel refuses strict mode under the filter; syscage says so after the run.
      let r = run(syscageExecutable, ["run", "--profile", profile, "--", program, how])
      #expect(r.status == 0 && r.stdout.contains("You will not see this message"), "\(r)")
      let name = how == "prctl" ? "prctl PR_SET_SECCOMP" : "seccomp SECCOMP_SET_MODE_STRICT"
      #expect(r.stderr.contains("asked for seccomp strict mode (\(name)") && r.stderr.contains("EINVAL"), "\(r.stderr)")
    }
    // --single-filter: the profile's filter alone; nothing is noticed.
    let single = run(syscageExecutable, ["run", "--single-filter", "--profile", profile, "--", program])
    #expect(single.status == 0 && !single.stderr.contains("strict mode"), "\(single)")
    // A program that makes other prctl and seccomp calls is not said to ask for strict mode.
    let other = run(syscageExecutable, ["run", "--profile", profile, "--", "/usr/bin/python3", "-c",
      "import ctypes; l = ctypes.CDLL(None); print(l.prctl(15, b'x', 0, 0, 0), l.syscall(317, 2, 0, 0))"])
    #expect(other.status == 0 && !other.stderr.contains("strict mode"), "\(other)")
    // A TRACE rule of the profile still fails with ENOSYS, as with no tracer.
    let trace = try write(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_TRACE"}]}"#,
      "trace.json", in: dir)
    let traced = run(syscageExecutable, ["run", "--profile", trace, "--", "/usr/bin/python3", "-c",
      "import ctypes; l = ctypes.CDLL(None, use_errno=True); print(l.getppid(), ctypes.get_errno())"])
    #expect(traced.status == 0 && traced.stdout == "-38 0\n", "\(traced)")  // glibc's getppid returns the raw value
  }

  static let rawWriter = """
    void _start(void) {
      long r;
      __asm__ volatile("syscall" : "=a"(r) : "a"(1L), "D"(1L), "S"("x\\n"), "d"(2L) : "rcx", "r11", "memory");
      __asm__ volatile("syscall" : : "a"(60L), "D"(0L) : "rcx", "r11");
      for (;;) {}
    }
    """

  @Test func killsNameTheDecidingRuleAsCheckDoes() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    // write(1, ...) is allowed for stdout only when a2 is small, killed by a rule for fd 5,
    // and reaches the default action (KILL_PROCESS) otherwise.
    let profile = try write(
      #"""
      {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["write"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]},
        {"names": ["write"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]},
        {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}
      """#, "p.json", in: dir)
    // The profile allows ptrace (by its default action): --trace-kills names the arguments.
    let byRule = run(syscageExecutable, ["run", "--trace-kills", "--profile", profile, "--", "/usr/bin/python3", "-c", "import os; os.write(5, b'x')"])
    #expect(byRule.status == 159, "\(byRule)")
    #expect(byRule.stderr.contains("write (1, x86_64) with arguments (0x5,"), "\(byRule.stderr)")
    let check = run(syscageExecutable, ["check", profile, "write", "5"])
    let reason = check.stdout.components(separatedBy: "KILL_PROCESS, ").last?.trimmingCharacters(in: .newlines) ?? "?"
    #expect(reason.hasPrefix("syscalls[0]: "), "\(check.stdout)")
    #expect(byRule.stderr.contains("says KILL_PROCESS (\(reason))"), "\(byRule.stderr) vs \(reason)")
    // Untraced, the audit log has no arguments: the rules that can kill write are named, not one guessed.
    let audited = run(syscageExecutable, ["run", "--profile", profile, "--", "/usr/bin/python3", "-c", "import os; os.write(5, b'x')"])
    #expect(audited.status == 159, "\(audited)")
    if Peer.root.isAvailable {
      #expect(
        audited.stderr.contains("write (1, x86_64) (from the audit log, without its arguments): \(profile) decides it by its arguments; "
          + "what kills it: syscalls[0]: write(a0 == 0x5) -> KILL_PROCESS\n"), "\(audited.stderr)")
    }

    // A program without libc whose write(1, "x\n", 2) reaches the default action; the rule
    // for write(0, ...) would match the call's number with its arguments unread.
    guard let writer = try compile(Self.rawWriter, "writer", in: dir, flags: ["-static", "-nostdlib"]) else { return }
    let killAll = try write(
      #"""
      {"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [
        {"names": ["execve", "exit"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["write"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]}
      """#, "k.json", in: dir)
    let defaultKill = run(syscageExecutable, ["run", "--profile", killAll, "--", writer])
    #expect(defaultKill.status == 159, "\(defaultKill)")
    #expect(defaultKill.stderr.contains("says KILL_PROCESS (default action)"), "\(defaultKill.stderr)")
    #expect(defaultKill.stderr.contains("write (1, x86_64) with arguments (0x1, "), "\(defaultKill.stderr)")
    #expect(!defaultKill.stderr.contains("syscalls["), "\(defaultKill.stderr)")

    // watch: the same words, and the rule's place in the JSON line.
    let alerts = dir.appendingPathComponent("alerts.jsonl").path
    let watched = run(syscageExecutable, ["watch", "--profile", profile, "--alerts", alerts, "--", "/usr/bin/python3", "-c",
      "import os; os.getppid()"])
    #expect(watched.status == 0, "\(watched)")
    #expect(watched.stderr.contains("profile says SCMP_ACT_KILL_PROCESS (syscalls[2]: getppid -> KILL_PROCESS)"), "\(watched.stderr)")
    let line = try String(contentsOfFile: alerts, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    #expect(object?["rule"] as? String == "syscalls[2]" && object?["reason"] as? String == "rule", "\(line)")
    #expect(object?["explanation"] as? String == "syscalls[2]: getppid -> KILL_PROCESS", "\(line)")
  }

  @Test func loaderWarningsOnlyWhenTheLoaderRuns() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let noOpen = try write(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["openat", "io_uring_setup", "io_uring_enter", "io_uring_register"], "action": "SCMP_ACT_ERRNO"}]}"#, "o.json",
      in: dir)
    // A dynamic program: one warning, and after its death the reason.
    let dynamic = run(syscageExecutable, ["run", "--profile", noOpen, "--", "/bin/echo", "hi"])
    #expect(dynamic.status == 127, "\(dynamic)")
    #expect(dynamic.stderr.components(separatedBy: "warning:").count == 2, "\(dynamic.stderr)")
    #expect(dynamic.stderr.contains("refuses openat (ERRNO(1)), which the dynamic loader"), "\(dynamic.stderr)")
    #expect(dynamic.stderr.contains("--no-loader-warning"), "\(dynamic.stderr)")
    #expect(dynamic.stderr.contains("the loader probably failed at the refused call (openat)"), "\(dynamic.stderr)")
    let quiet = run(syscageExecutable, ["run", "--no-loader-warning", "--profile", noOpen, "--", "/bin/echo", "hi"])
    #expect(quiet.status == 127 && !quiet.stderr.contains("warning") && !quiet.stderr.contains("probably"), "\(quiet)")
    // A script: its interpreter is what the loader loads.
    let script = try write("#!/bin/sh\necho script\n", "s.sh", in: dir)
    chmod(script, 0o755)
    let scripted = run(syscageExecutable, ["run", "--profile", noOpen, "--", script])
    #expect(scripted.stderr.contains("which the dynamic loader"), "\(scripted.stderr)")
    // A call glibc survives failing (brk) is no warning; killing it is.
    let noBrk = try write(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["brk", "io_uring_setup", "io_uring_enter", "io_uring_register"], "action": "SCMP_ACT_ERRNO"}]}"#, "b.json", in: dir)
    let brk = run(syscageExecutable, ["run", "--profile", noBrk, "--", "/bin/echo", "hi"])
    #expect(brk.status == 0 && brk.stdout == "hi\n" && !brk.stderr.contains("warning"), "\(brk)")
    let killBrk = try write(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["brk"], "action": "SCMP_ACT_KILL_PROCESS"}]}"#, "kb.json",
      in: dir)
    let killed = run(syscageExecutable, ["run", "--profile", killBrk, "--", "/bin/echo", "hi"])
    #expect(killed.status == 159 && killed.stderr.contains("refuses brk (KILL_PROCESS)"), "\(killed)")
    #expect(killed.stderr.contains("brk is the loader's call warned about before the start"), "\(killed.stderr)")
    // A static program runs no loader: no warning.
    if let busybox = Containers.busybox {
      let r = run(syscageExecutable, ["run", "--profile", noOpen, "--", busybox, "true"])
      #expect(r.status == 0 && !r.stderr.contains("warning"), "\(r)")
    } else {
      #expect(!isCI, "needs busybox-static for a static program")
    }
    // syscage's own recording of a dynamic program: no warning when it is run under it.
    let recorded = dir.appendingPathComponent("echo.json").path
    let rec = run(syscageExecutable, ["record", "-o", recorded, "--", "/bin/echo", "hi"])
    #expect(rec.status == 0, "\(rec.stderr)")
    let replay = run(syscageExecutable, ["run", "--profile", recorded, "--", "/bin/echo", "hi"])
    #expect(replay.status == 0 && !replay.stderr.contains("warning"), "\(replay)")
  }
}
