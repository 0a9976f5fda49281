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
}
