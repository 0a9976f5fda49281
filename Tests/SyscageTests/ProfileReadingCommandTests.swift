import Foundation
import Testing
import TestSupport

/// `check` answers for a profile as Docker reads it, or not at all.
@Suite struct ProfileReadingCommandTests {
  func write(_ text: String) throws -> (dir: URL, path: String) {
    let dir = try Containers.temporaryDirectory("syscage-reading")
    let path = dir.appendingPathComponent("p.json").path
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return (dir, path)
  }

  @Test func longSKeyIsReadAsDockerReadsItWithAWarning() throws {
    let (dir, path) = try write(#"{"defaultAction": "SCMP_ACT_ERRNO", "ſyscalls": [{"names": ["mount", "ptrace"], "action": "SCMP_ACT_ALLOW"}]}"#)
    defer { try? FileManager.default.removeItem(at: dir) }
    for call in ["mount", "ptrace"] {
      let r = run(syscageExecutable, ["check", path, call])
      #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
      #expect(r.stdout.contains("ALLOW"))
      #expect(r.stderr.contains(#"key "ſyscalls" is read as "syscalls" by Docker and runc"#), "\(r.stderr)")
    }
    #expect(run(syscageExecutable, ["check", path, "read"]).status == 1)
  }

  @Test func repeatedArgsIsBadDataNamingBothPaths() throws {
    let (dir, path) = try write(
      """
      {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 0, "value": 131072, "valueTwo": 131072, "op": "SCMP_CMP_MASKED_EQ"}],
        "Args": [{"index": 1, "value": 5, "op": "SCMP_CMP_EQ"}]}]}
      """)
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = run(syscageExecutable, ["check", path, "clone", "0x20000"])
    #expect(r.status == 65)
    #expect(r.stdout.isEmpty)
    #expect(r.stderr.contains("\(path):3: error: syscalls[0].Args: duplicate key syscalls[0].args: also set at syscalls[0].args on line 2"), "\(r.stderr)")
  }
}
