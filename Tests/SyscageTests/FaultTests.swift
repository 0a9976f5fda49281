import Foundation
import Testing
import TestSupport

/// Faults of the wrapping commands: io_uring warned about, supervisor death, a program that traces.
@Suite struct FaultTests {
  func profile(_ json: String) throws -> (dir: URL, path: String) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-fault-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let path = dir.appendingPathComponent("p.json").path
    try Data(json.utf8).write(to: URL(fileURLWithPath: path))
    return (dir, path)
  }

  static let allowsIoUring = #"""
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    """#
  static let deniesIoUring = #"""
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["io_uring_setup", "io_uring_enter", "io_uring_register"], "action": "SCMP_ACT_ERRNO"},
      {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    """#

  @Test func runWarnsOnceWhenTheProfileAllowsIoUring() throws {
    let (dir, allows) = try profile(Self.allowsIoUring)
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = run(syscageExecutable, ["run", "--profile", allows, "--", "true"])
    #expect(r.status == 0, "\(r.stderr)")
    let lines = r.stderr.split(separator: "\n").filter { $0.contains("io_uring") }
    #expect(lines.count == 1, "\(r.stderr)")
    #expect(r.stderr.contains("allows io_uring_setup, io_uring_enter, io_uring_register: requests submitted through io_uring"), "\(r.stderr)")
    #expect(r.stderr.contains("never pass through seccomp"))
    let (dir2, denies) = try profile(Self.deniesIoUring)
    defer { try? FileManager.default.removeItem(at: dir2) }
    let quiet = run(syscageExecutable, ["run", "--profile", denies, "--", "true"])
    #expect(quiet.status == 0)
    #expect(!quiet.stderr.contains("io_uring"), "\(quiet.stderr)")
  }

  static let tracer = #"""
    #include <sys/ptrace.h>
    #include <sys/wait.h>
    #include <unistd.h>
    #include <stdlib.h>
    int main(int argc, char **argv) {
      if (argc > 1) {  /* PTRACE_TRACEME, then execve: the parent becomes the tracer */
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) return 4;
        execl("/bin/true", "true", (char *)0);
        return 5;
      }
      pid_t parent = getpid();
      pid_t c = fork();
      if (c == 0) {  /* a crash reporter's helper: traces its parent */
        if (ptrace(PTRACE_SEIZE, parent, 0, 0) != 0) _exit(3);
        ptrace(PTRACE_DETACH, parent, 0, 0);
        _exit(0);
      }
      int st;
      waitpid(c, &st, 0);
      return WIFEXITED(st) ? WEXITSTATUS(st) : 9;
    }
    """#

  /// Compiles `tracer` into `dir`; nil (a failure under CI) without a C compiler.
  func compileTracer(in dir: URL) throws -> String? {
    do { return try compileC(Self.tracer, named: "tracer", in: dir) } catch { #expect(!isCI, "\(error)") }
    return nil
  }

  static let allowsPtrace = #"""
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW"}, {"names": ["rmdir"], "action": "SCMP_ACT_KILL_PROCESS"}, {"names": ["io_uring_setup", "io_uring_enter", "io_uring_register"], "action": "SCMP_ACT_ERRNO"}]}
    """#

  @Test func runLeavesPtraceToAProgramItsProfileAllowsToTrace() throws {
    let (dir, p) = try profile(Self.allowsPtrace)
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let exe = try compileTracer(in: dir) else { return }
    // A helper that traces its parent, as a crash reporter does.
    let seize = run(syscageExecutable, ["run", "--profile", p, "--", exe])
    #expect(seize.status == 0, "\(seize.stderr)")
    // PTRACE_TRACEME makes syscage the tracer: it lets the program go.
    let traceme = run(syscageExecutable, ["run", "--profile", p, "--", exe, "traceme"], timeout: 60)
    #expect(traceme.status == 0, "\(traceme.stderr)")
    // --trace-kills traces it: the kernel allows one tracer.
    let traced = run(syscageExecutable, ["run", "--trace-kills", "--profile", p, "--", exe])
    #expect(traced.status == 3, "\(traced.stderr)")
    let tracedSelf = run(syscageExecutable, ["run", "--trace-kills", "--profile", p, "--", exe, "traceme"])
    #expect(tracedSelf.status == 4, "\(tracedSelf.stderr)")
  }

  /// A deny-list allows ptrace by its default action: the program can trace under it too.
  @Test func aDenyListLeavesPtraceToTheProgram() throws {
    let (dir, p) = try profile(Self.deniesIoUring)
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let exe = try compileTracer(in: dir) else { return }
    let seize = run(syscageExecutable, ["run", "--profile", p, "--", exe])
    #expect(seize.status == 0, "\(seize.stderr)")
    let traced = run(syscageExecutable, ["run", "--trace-kills", "--profile", p, "--", exe])
    #expect(traced.status == 3, "\(traced.stderr)")
  }

  @Test func anUntracedKillIsNamedFromTheAuditLogOrBySignal() throws {
    let (dir, p) = try profile(Self.allowsPtrace)
    defer { try? FileManager.default.removeItem(at: dir) }
    let target = dir.appendingPathComponent("d").path
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
    let r = run(syscageExecutable, ["run", "--profile", p, "--", "rmdir", target])
    #expect(r.status == 128 + 31)
    #expect(FileManager.default.fileExists(atPath: target))
    if r.stderr.contains("the audit multicast cannot be read here") {
      #expect(!isCI || !Peer.root.isAvailable, "root reads the audit multicast: \(r.stderr)")
      #expect(!r.stderr.contains("killed by seccomp"))
    } else {
      #expect(r.stderr.contains("killed by seccomp: rmdir (84, x86_64) (from the audit log, without its arguments)"), "\(r.stderr)")
    }
    let traced = run(syscageExecutable, ["run", "--trace-kills", "--profile", p, "--", "rmdir", target])
    #expect(traced.stderr.contains("killed by seccomp: rmdir (84, x86_64) with arguments"), "\(traced.stderr)")
  }

  @Test func theProgramDiesWithItsWatch() throws {
    let (dir, p) = try profile(Self.deniesIoUring)
    defer { try? FileManager.default.removeItem(at: dir) }
    for mode in ["alert", "deny", "kill"] {
      let watch = Process()
      watch.executableURL = URL(fileURLWithPath: syscageExecutable)
      watch.arguments = ["watch", "--profile", p, "--on-violation", mode, "--", "/bin/sh", "-c", "sleep 30 >/dev/null & echo $$ $!; exec >/dev/null; wait"]
      let out = Pipe()
      watch.standardOutput = out
      watch.standardError = FileHandle.nullDevice
      try startUnblocked(watch)
      var line = Data()
      while !line.contains(UInt8(ascii: "\n")) {
        let d = out.fileHandleForReading.availableData
        if d.isEmpty { break }
        line += d
      }
      let pids = String(decoding: line, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
      try #require(pids.count == 2, "\(mode): \(String(decoding: line, as: UTF8.self))")
      let (program, grandchild) = (pids[0], pids[1])
      kill(watch.processIdentifier, SIGKILL)
      // Its child too, killed by the guard between them (README; WatchGuardTests has more).
      for (name, pid) in [("program", program), ("background child", grandchild)] {
        let ended = ends(pid)
        #expect(ended, "\(mode): the \(name) \(pid) outlived its watch")
        if !ended { kill(pid, SIGKILL) }
      }
      watch.waitUntilExit()
    }
  }
}
