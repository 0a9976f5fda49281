import Foundation
import Seccomp
import Testing
import TestSupport

/// One `--default-action` grammar for record and import (and `--bad-arch`'s for the
/// commands that compile): the same words are accepted by each, and refused with the
/// same message.
@Suite struct DefaultActionCommandTests {
  static let trace = """
    100 execve("/usr/bin/cat", ["cat", "/etc/hostname"], 0x7ffd /* 3 vars */) = 0
    100 openat(AT_FDCWD, "/etc/hostname", O_RDONLY|O_CLOEXEC) = 3
    100 read(3, "host\\n", 131072) = 5
    100 exit_group(0) = ?
    """

  func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-default-action-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  func written(_ json: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(json)")
  }

  /// The values each command accepts, and what the profile says for them.
  static let accepted: [(String, String, Int?)] = [
    ("errno", "SCMP_ACT_ERRNO", 1),
    ("SCMP_ACT_ERRNO", "SCMP_ACT_ERRNO", 1),
    ("errno:ENOSYS", "SCMP_ACT_ERRNO", 38),
    ("errno:13", "SCMP_ACT_ERRNO", 13),
    ("ERRNO(38)", "SCMP_ACT_ERRNO", 38),
    ("kill-process", "SCMP_ACT_KILL_PROCESS", nil),
    ("SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_PROCESS", nil),
    ("kill_thread", "SCMP_ACT_KILL_THREAD", nil),
    ("kill", "SCMP_ACT_KILL", nil),
    ("trap", "SCMP_ACT_TRAP", nil),
    ("log", "SCMP_ACT_LOG", nil),
  ]

  /// The values every command refuses (64), and the words of the message.
  static let refused: [(String, String)] = [
    ("bogus", "'bogus' is not an action; use errno (EPERM), errno:NAME|N"),
    ("errno:NOSUCHERRNO", "'NOSUCHERRNO' is not an errno"),
    ("errno:0", "errno 0 makes a refused call return success"),
    ("kill-process:5", "kill-process takes no value"),
    ("allow", "--default-action allow: allow would let every call run, so the list of the calls seen would decide nothing"),
    ("SCMP_ACT_ALLOW", "--default-action allow: allow would let every call run"),
    ("notify", "--default-action notify: notify hands every other call to a listener"),
    ("trace", "--default-action trace: trace hands every other call to a ptrace tracer"),
  ]

  @Test func importAcceptsTheGrammar() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = dir.appendingPathComponent("app.trace").path
    try Data(Self.trace.utf8).write(to: URL(fileURLWithPath: log))
    let names = dir.appendingPathComponent("names.txt").path
    try Data("read write\n".utf8).write(to: URL(fileURLWithPath: names))
    for (value, action, errno) in Self.accepted {
      for source in [["--strace", log], ["--names", names]] {
        let r = run(syscageExecutable, ["import"] + source + ["--default-action", value])
        #expect(r.status == 0, "\(source[0]) --default-action \(value): \(r.stderr)")
        guard r.status == 0 else { continue }
        let p = try written(r.stdout)
        #expect(p["defaultAction"] as? String == action, "\(value)")
        #expect(p["defaultErrnoRet"] as? Int == errno, "\(value)")
      }
    }
  }

  @Test func importRefusesWithTheSameMessages() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = dir.appendingPathComponent("app.trace").path
    try Data(Self.trace.utf8).write(to: URL(fileURLWithPath: log))
    for (value, message) in Self.refused {
      let r = run(syscageExecutable, ["import", "--strace", log, "--default-action", value])
      #expect(r.status == 64, "--default-action \(value): \(r.status) \(r.stderr)")
      #expect(r.stderr.contains(message), "--default-action \(value): \(r.stderr)")
      #expect(r.stdout.isEmpty)
    }
    // An LXC policy says its own default action: any --default-action is refused.
    let lxc = dir.appendingPathComponent("p.seccomp").path
    try Data("2\nallowlist\nread\n".utf8).write(to: URL(fileURLWithPath: lxc))
    let r = run(syscageExecutable, ["import", "--lxc", lxc, "--default-action", "errno"])
    #expect(r.status == 64 && r.stderr.contains("an LXC policy says its own default action"), "\(r.stderr)")
  }

  /// record refuses before it starts anything; no output is created.
  @Test func recordRefusesWithTheSameMessages() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("p.json").path
    for (value, message) in Self.refused {
      let r = run(syscageExecutable, ["record", "-o", out, "--default-action", value, "--", "/bin/true"])
      #expect(r.status == 64, "--default-action \(value): \(r.status) \(r.stderr)")
      #expect(r.stderr.contains(message), "--default-action \(value): \(r.stderr)")
    }
    #expect(!FileManager.default.fileExists(atPath: out))
  }

  /// record takes the spellings it refused before (SCMP_ACT_*, ERRNO(N)).
  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func recordAcceptsTheGrammar() throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    for (value, action, errno) in [("SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_PROCESS", nil), ("ERRNO(ENOSYS)", "SCMP_ACT_ERRNO", 38), ("log", "SCMP_ACT_LOG", Int?.none)] {
      let out = dir.appendingPathComponent("p.json").path
      let r = run(syscageExecutable, ["record", "-o", out, "--default-action", value, "--", "/bin/true"])
      #expect(r.status == 0, "--default-action \(value): \(r.stderr)")
      let p = try written(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out)), as: UTF8.self))
      #expect(p["defaultAction"] as? String == action, "\(value)")
      #expect(p["defaultErrnoRet"] as? Int == errno, "\(value)")
    }
  }

  /// --bad-arch takes the same words: lint sees a bad-arch action that allows.
  @Test func badArchTakesTheGrammar() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("deny.json").path
    try Data(#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}"#.utf8)
      .write(to: URL(fileURLWithPath: profile))
    let quiet = run(syscageExecutable, ["lint", profile, "--arch", "x86_64"])
    #expect(quiet.stdout.contains("an unlisted ABI KILL_PROCESS"), "\(quiet.stdout)")
    #expect(!quiet.stdout.contains("the bad-arch action is ALLOW"), "\(quiet.stdout)")
    for value in ["allow", "SCMP_ACT_ALLOW"] {
      let r = run(syscageExecutable, ["lint", profile, "--arch", "x86_64", "--bad-arch", value])
      #expect(r.stdout.contains("the bad-arch action is ALLOW"), "--bad-arch \(value): \(r.stdout) \(r.stderr)")
    }
    // An errno is honoured now (--bad-arch took no errno before).
    let enosys = run(syscageExecutable, ["lint", profile, "--arch", "x86_64", "--bad-arch", "errno:ENOSYS"])
    #expect(enosys.stdout.contains("an unlisted ABI ERRNO(38)"), "\(enosys.stdout)")
    let bad = run(syscageExecutable, ["lint", profile, "--bad-arch", "errno:0"])
    #expect(bad.status == 64 && bad.stderr.contains("errno 0 makes a refused call return success"), "\(bad.stderr)")
    let convert = run(syscageExecutable, ["convert", profile, "--to", "oci", "--bad-arch", "kill-process"])
    #expect(convert.status == 64 && convert.stderr.contains("--bad-arch belong to compile"), "\(convert.stderr)")
  }
}
