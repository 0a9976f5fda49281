import Foundation
import Testing
import TestSupport

/// What makes a recording differ from a real run, said while recording: a program that
/// traces, a privileged executable, a zombie for -p, a baseline allowing io_uring.
@Suite struct RecordFaultTests {
  func tempDir() throws -> URL {
    let dir = URL(fileURLWithPath: "/tmp").appendingPathComponent("syscage-rfault-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    chmod(dir.path, 0o777)  // -o written as nobody too
    return dir
  }

  func compile(_ source: String, named name: String, in dir: URL) throws -> String? {
    do { return try compileC(source, named: name, in: dir) } catch { #expect(!isCI, "\(error)") }
    return nil
  }

  @Test func aProgramThatCallsPtraceIsToldAbout() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let source = """
      #include <sys/ptrace.h>
      int main(void) { return ptrace(PTRACE_TRACEME, 0, 0, 0) == -1 ? 3 : 0; }
      """
    guard let exe = try compile(source, named: "traceme", in: dir) else { return }
    let r = run(syscageExecutable, ["record", "-o", dir.appendingPathComponent("o.json").path, "--", exe])
    #expect(r.status == 3, "\(r.stderr)")
    #expect(
      r.stderr.contains(
        "the program called ptrace(PTRACE_TRACEME): a program recorded by syscage cannot trace (the kernel allows one tracer); the recording is of a run where that failed"
      ), "\(r.stderr)")
    let lines = r.stderr.split(separator: "\n").filter { $0.contains("called ptrace") }
    #expect(lines.count == 1)
    let quiet = run(syscageExecutable, ["record", "-o", dir.appendingPathComponent("q.json").path, "--", "true"])
    #expect(quiet.status == 0)
    #expect(!quiet.stderr.contains("ptrace"), "\(quiet.stderr)")
  }

  @Test(.enabled(if: Peer.strace.shouldRun, Comment(rawValue: Peer.strace.skipReason)))
  func straceUnderRecordIsToldAbout() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = run(syscageExecutable, ["record", "-o", dir.appendingPathComponent("o.json").path, "--", "/usr/bin/strace", "-o", "/dev/null", "true"])
    #expect(r.status != 0)
    // strace seizes its child, which syscage traces already.
    #expect(r.stderr.contains("the program called ptrace(PTRACE_SEIZE) on process "), "\(r.stderr)")
    #expect(r.stderr.contains(", which syscage traces: a program recorded by syscage cannot trace its own processes"), "\(r.stderr)")
  }

  /// A SEIZE of a process syscage does not trace works under record, and nothing is said.
  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func seizingAnUntracedProcessWorksAndIsNotReported() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let source = """
      #include <stdlib.h>
      #include <sys/ptrace.h>
      int main(int argc, char **argv) {
        return argc > 1 && ptrace(PTRACE_SEIZE, atoi(argv[1]), 0, 0) == 0 ? 0 : 3;  /* exiting detaches */
      }
      """
    guard let exe = try compile(source, named: "seize", in: dir) else { return }
    let sleeper = Process()
    sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
    sleeper.arguments = ["30"]
    try startUnblocked(sleeper)
    defer { sleeper.terminate() }
    let r = run(syscageExecutable, ["record", "-o", dir.appendingPathComponent("o.json").path, "--", exe, String(sleeper.processIdentifier)])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(!r.stderr.contains("called ptrace"), "\(r.stderr)")
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func aSetuidExecutableIsToldAbout() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let exe = dir.appendingPathComponent("true-suid").path
    try FileManager.default.copyItem(atPath: "/bin/true", toPath: exe)
    #expect(chown(exe, 0, 0) == 0)
    #expect(chmod(exe, 0o4755) == 0)
    // As nobody, it would run as root; in one-stop mode no_new_privs keeps it from that.
    func asNobody(_ out: String) -> [String] {
      ["--reuid=65534", "--regid=65534", "--clear-groups", syscageExecutable, "record", "-o", dir.appendingPathComponent(out).path, "--"]
    }
    let direct = run("/usr/bin/setpriv", asNobody("d.json") + [exe])
    #expect(direct.status == 0, "\(direct.stderr)")
    #expect(
      direct.stderr.contains(
        "\(exe) is setuid root; with no_new_privs (which the recording's filter needs) the kernel runs it without its privileges, so the recording may differ from a real run"
      ), "\(direct.stderr)")
    // Started by the program: seen at its execve, said once.
    let nested = run("/usr/bin/setpriv", asNobody("n.json") + ["/bin/sh", "-c", "\(exe); \(exe)"])
    #expect(nested.status == 0, "\(nested.stderr)")
    #expect(nested.stderr.components(separatedBy: "is setuid root").count == 2, "\(nested.stderr)")
    // Root gains nothing from a setuid-root file: nothing to say.
    let root = run(syscageExecutable, ["record", "-o", dir.appendingPathComponent("r.json").path, "--", exe])
    #expect(root.status == 0)
    #expect(!root.stderr.contains("is setuid"), "\(root.stderr)")
  }

  @Test func recordOfAZombieSaysSo() throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    // A child that exits at once, which its parent does not reap.
    p.arguments = ["-c", "import os, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(30)"]
    let out = Pipe()
    p.standardOutput = out
    try startUnblocked(p)
    defer { p.terminate(); p.waitUntilExit() }
    var line = Data()
    while !line.contains(UInt8(ascii: "\n")) {
      let d = out.fileHandleForReading.availableData
      if d.isEmpty { break }
      line += d
    }
    let pid = try #require(Int32(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
    func state() -> String {
      (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("State:") }.map(String.init) ?? ""
    }
    while !state().contains("Z") && !state().isEmpty { usleep(1000) }
    try #require(state().contains("Z"), "the background process is not a zombie: \(state())")
    let r = run(syscageExecutable, ["record", "-o", "/tmp/syscage-zombie-\(UUID().uuidString).json", "-p", "\(pid)"])
    #expect(r.status == 64, "\(r.stderr)")
    #expect(r.stderr.contains("process \(pid) is a zombie (it has exited; its parent has not reaped it): nothing to record"), "\(r.stderr)")
  }

  @Test func aBaselineAllowingIoUringIsWarnedAbout() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let baseline = dir.appendingPathComponent("b.json").path
    try Data(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["io_uring_setup", "read"], "action": "SCMP_ACT_ALLOW"}]}"#.utf8)
      .write(to: URL(fileURLWithPath: baseline))
    let r = run(syscageExecutable, ["record", "--baseline", baseline, "-o", dir.appendingPathComponent("o.json").path, "--", "true"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("\(baseline) allows io_uring_setup: requests submitted through io_uring"), "\(r.stderr)")
  }
}
