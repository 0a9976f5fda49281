import Foundation
import Testing
import TestSupport

/// `syscage run` as a user meets it: pass-through, denials, kills named, failures.
@Suite struct RunCommandTests {
  static let docker = packageRoot.appendingPathComponent("Data/docker-default.json").path

  func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  func profile(_ json: String, in dir: URL) throws -> String {
    let path = dir.appendingPathComponent("p-\(UUID().uuidString).json").path
    try Data(json.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  static let denyMkdir = #"""
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
      {"names": ["rmdir"], "action": "SCMP_ACT_KILL_PROCESS"},
      {"names": ["sethostname"], "action": "SCMP_ACT_KILL_THREAD"}]}
    """#

  @Test func streamsStatusAndEnvironmentPassThrough() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try profile(Self.denyMkdir, in: dir)
    let r = run(syscageExecutable, ["run", "--profile", p, "--", "sh", "-c", "read x; echo out:$x:$SYSCAGE_T; echo err >&2; exit 7"], stdin: "in\n")
    #expect(r.status == 7)
    #expect(r.stdout == "out:in:\n")  // syscage writes nothing to the program's stdout
    #expect(r.stderr.contains("err"))
  }

  @Test func errnoRulesDenyAndKillRulesAreNamed() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try profile(Self.denyMkdir, in: dir)
    let target = dir.appendingPathComponent("made").path
    let denied = run(syscageExecutable, ["run", "--profile", p, "--", "mkdir", target])
    #expect(denied.status == 1)
    #expect(denied.stderr.contains("Operation not permitted"))
    #expect(!FileManager.default.fileExists(atPath: target))
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
    let killed = run(syscageExecutable, ["run", "--profile", p, "--", "rmdir", target])
    #expect(killed.status == 128 + 31)
    #expect(killed.stderr.contains("killed by seccomp: rmdir (84, x86_64)"), "\(killed.stderr)")
    #expect(FileManager.default.fileExists(atPath: target))
    let thread = run(syscageExecutable, ["run", "--profile", p, "--", "hostname", "new-name"])
    #expect(thread.status == 128 + 31)
    #expect(thread.stderr.contains("sethostname (170, x86_64)"), "\(thread.stderr)")
  }

  @Test func ia32CallsAreNamedInTheirABI() throws {
    // A profile without x86 in its arches: an int 0x80 call is a foreign ABI (KILL_PROCESS).
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try profile(#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"]}"#, in: dir)
    let src = dir.appendingPathComponent("int80.c").path
    try Data("int main(void){ long r; __asm__ volatile(\"int $0x80\" : \"=a\"(r) : \"a\"(20L)); return 0; }\n".utf8)
      .write(to: URL(fileURLWithPath: src))
    let exe = dir.appendingPathComponent("int80").path
    guard run("/usr/bin/cc", ["-O0", "-o", exe, src]).status == 0 else {
      #expect(!isCI, "needs a C compiler (/usr/bin/cc) to build the int 0x80 program")
      return
    }
    let r = run(syscageExecutable, ["run", "--profile", p, "--", exe])
    #expect(r.status == 128 + 31)
    #expect(r.stderr.contains("getpid (20, x86)"), "\(r.stderr)")
  }

  @Test func failuresUseEnvsExitCodes() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try profile(Self.denyMkdir, in: dir)
    let missing = run(syscageExecutable, ["run", "--profile", p, "--", "no-such-program-\(UUID().uuidString)"])
    #expect(missing.status == 127 && missing.stderr.contains("not found"))
    let notExecutable = run(syscageExecutable, ["run", "--profile", p, "--", p])
    #expect(notExecutable.status == 126)
    let bad = try profile(#"{"defaultAction": "SCMP_ACT_NOPE"}"#, in: dir)
    let badProfile = run(syscageExecutable, ["run", "--profile", bad, "--", "true"])
    #expect(badProfile.status == 125 && badProfile.stderr.contains("defaultAction"))
    let noExec = try profile(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_ERRNO"}]}"#, in: dir)
    let refused = run(syscageExecutable, ["run", "--profile", noExec, "--", "true"])
    #expect(refused.status == 125 && refused.stderr.contains("does not allow execve"))
    let noProfile = run(syscageExecutable, ["run", "--profile", dir.appendingPathComponent("none.json").path, "--", "true"])
    #expect(noProfile.status == 125)
  }

  /// Whether `pid` has a child whose command name is `name` (from /proc).
  static func hasChild(_ pid: Int32, named name: String) -> Bool {
    guard let children = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8) else { return false }
    return children.split(separator: " ").contains { child in
      let comm = try? String(contentsOfFile: "/proc/\(child)/comm", encoding: .utf8)
      return comm?.trimmingCharacters(in: .whitespacesAndNewlines) == name
    }
  }

  @Test func signalsReachTheProgram() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try profile(Self.denyMkdir, in: dir)
    let selfKill = run(syscageExecutable, ["run", "--profile", p, "--", "sh", "-c", "kill -TERM $$"])
    #expect(selfKill.status == 128 + 15)
    // SIGTERM sent to syscage is forwarded to the program.
    let process = Process()
    process.executableURL = URL(fileURLWithPath: syscageExecutable)
    process.arguments = ["run", "--profile", p, "--", "sleep", "30"]
    try startUnblocked(process)
    // syscage forwards signals from before it releases the program: once sleep runs, it does.
    let started = Date()
    while !Self.hasChild(process.processIdentifier, named: "sleep") && Date().timeIntervalSince(started) < 30 {
      usleep(10_000)
    }
    kill(process.processIdentifier, SIGTERM)
    process.waitUntilExit()
    #expect(process.terminationStatus == 128 + 15)
  }

  @Test func dockerDefaultRunsCommonToolsAndRefusesWhatItSays() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let script = """
      set -e
      cd \(dir.path)
      printf 'b\\na\\nc\\n' > in.txt
      sort in.txt | head -n 2 | wc -l
      grep -c a in.txt
      sed 's/a/x/' in.txt | tr -d '\\n'; echo
      tar cf t.tar in.txt && tar tf t.tar
      ls -la >/dev/null && cat /proc/self/status | grep -q Seccomp
      date +%Y >/dev/null; id -u >/dev/null; uname -s
      """
    let ok = run(syscageExecutable, ["run", "--profile", Self.docker, "--", "sh", "-c", script])
    #expect(ok.status == 0, "\(ok.stderr)")
    #expect(ok.stdout == "2\n1\nbxc\nin.txt\nLinux\n")
    // keyctl and add_key are refused with EPERM (the program sees the errno; nothing is killed).
    let python = "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); "
      + "r1 = libc.syscall(250, 0, 0, 0, 0, 0); e1 = ctypes.get_errno(); "
      + "r2 = libc.syscall(248, b'user', b'k', b'v', 1, -1); e2 = ctypes.get_errno(); print(r1, e1, r2, e2)"
    let keys = run(syscageExecutable, ["run", "--profile", Self.docker, "--", "/usr/bin/python3", "-c", python])
    #expect(keys.status == 0, "\(keys.stderr)")
    #expect(keys.stdout == "-1 1 -1 1\n")
    // Without CAP_SYS_ADMIN in the bounding set, unshare and mount are refused by the profile.
    let setpriv = "/usr/bin/setpriv"
    guard FileManager.default.isExecutableFile(atPath: setpriv), geteuid() == 0 else { return }
    let noAdmin = run(setpriv, ["--bounding-set", "-sys_admin", "--", syscageExecutable, "run", "--profile", Self.docker, "--",
                                "sh", "-c", "unshare -n true; echo unshare=$?; mount -t tmpfs none \(dir.path) 2>/dev/null; echo mount=$?"])
    #expect(noAdmin.stdout.contains("unshare=1") && noAdmin.stdout.contains("mount=32"), "\(noAdmin.stdout) \(noAdmin.stderr)")
  }
}
