import Foundation
import Profiles
import Seccomp
import Testing
import TestSupport

/// `syscage diff` and `syscage merge` as a user meets them: output, exit statuses.
@Suite struct DiffMergeCommandTests {
  static let docker = packageRoot.appendingPathComponent("Data/docker-default.json").path

  func syscage(_ args: [String]) -> ProcessResult { run(syscageExecutable, args + ["--kernel", "6.18"]) }

  func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-diffmerge-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  func write(_ json: String, _ name: String, in dir: URL) throws -> String {
    let path = dir.appendingPathComponent(name).path
    try Data(json.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  static let a = #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read", "write", "socket"], "action": "SCMP_ACT_ALLOW"}, {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]}]}"#
  /// The same decisions, written differently.
  static let aAgain = #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"name": "write", "action": "SCMP_ACT_ALLOW"}, {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]}, {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#
  /// socket(38) and socket(40) denied, AF_VSOCK in particular.
  static let b = #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}, {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 38, "op": "SCMP_CMP_LT"}]}, {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 39, "op": "SCMP_CMP_EQ"}]}, {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_GT"}]}]}"#

  @Test func equalDecisionsExitZero() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let a = try write(Self.a, "a.json", in: dir), again = try write(Self.aAgain, "again.json", in: dir)
    let r = syscage(["diff", a, again])
    #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    #expect(r.stdout.isEmpty)
    #expect(r.stderr.contains("decide the same"))
    #expect(syscage(["diff", Self.docker, Self.docker]).status == 0)
  }

  @Test func differencesExitOneWithTheRegion() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let a = try write(Self.a, "a.json", in: dir), b = try write(Self.b, "b.json", in: dir)
    let r = syscage(["diff", a, b])
    #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
    #expect(r.stdout == "- x86_64: socket: a0 in [38, 38]: ALLOW → ERRNO(1)\n", "\(r.stdout)")
    let j = syscage(["diff", a, b, "--json"])
    #expect(j.status == 1)
    let obj = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
    #expect(obj?["syscall"] as? String == "socket" && obj?["region"] as? String == "a0 in [38, 38]" && obj?["new"] as? String == "ERRNO(1)")
  }

  @Test func badInputIs65() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let bad = try write(#"{"defaultAction": "SCMP_ACT_MAYBE"}"#, "bad.json", in: dir)
    #expect(syscage(["diff", Self.docker, bad]).status == 65)
    #expect(syscage(["diff", Self.docker, dir.appendingPathComponent("missing.json").path]).status == 65)
    #expect(syscage(["merge", Self.docker, bad, "-o", dir.appendingPathComponent("out.json").path]).status == 65)
  }

  @Test func mergeUnionAndIntersection() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let a = try write(Self.a, "a.json", in: dir), b = try write(Self.b, "b.json", in: dir)
    let union = dir.appendingPathComponent("union.json").path
    let u = syscage(["merge", a, b, "-o", union])
    #expect(u.status == 0, "\(u.stderr)")
    // The union allows socket(38) (a does) and denies socket(40) (both do): it decides as a.
    #expect(syscage(["diff", a, union]).status == 0)
    let text = try String(contentsOfFile: union, encoding: .utf8)
    #expect(text.contains("syscage merge (union)"))
    let inter = dir.appendingPathComponent("inter.json").path
    #expect(syscage(["merge", a, b, "--intersect", "-o", inter]).status == 0)
    #expect(syscage(["diff", b, inter]).status == 0)
    let d = syscage(["diff", union, inter])
    #expect(d.stdout.contains("socket: a0 in [38, 38]: ALLOW → ERRNO(1)"))
    // Docker's default with itself: the merged profile decides as Docker's on every ABI.
    let self2 = dir.appendingPathComponent("docker2.json").path
    let m = syscage(["merge", Self.docker, Self.docker, "-o", self2])
    #expect(m.status == 0, "\(m.stderr)")
    #expect(syscage(["diff", Self.docker, self2]).status == 0)
    // Never overwrite an input.
    #expect(syscage(["merge", a, b, "-o", a]).status == 64)
  }

  static let threeA = #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read", "write", "close"], "action": "SCMP_ACT_ALLOW"}]}"#
  static let threeB = #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["futex", "nanosleep", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}"#

  @Test func twoSmallAllowListsMergeIntoOneEntryAndDiffByTheirNames() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let a = try write(Self.threeA, "a.json", in: dir), b = try write(Self.threeB, "b.json", in: dir)
    for (flag, names) in [([String](), 6), (["--intersect"], 0)] {
      let out = dir.appendingPathComponent("m\(flag.count).json").path
      let m = syscage(["merge", a, b, "-o", out] + flag)
      #expect(m.status == 0, "\(m.stderr)")
      let obj = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
      let entries = (obj["syscalls"] as? [[String: Any]]) ?? []
      #expect(entries.count == (names == 0 ? 0 : 1), "\(entries)")
      #expect(entries.first.map { ($0["names"] as? [String])?.count == names } ?? true)
    }
    let d = syscage(["diff", a, b])
    #expect(d.status == 1)
    let lines = d.stdout.split(separator: "\n")
    #expect(lines.count == 7, "\(d.stdout)")
    #expect(lines.contains("+ x86_64: nanosleep: ERRNO(1) → ALLOW"))
    #expect(!d.stdout.contains("ERRNO(38) →"), "\(d.stdout)")
    #expect(lines.last == "! x86_64: under runc: numbers 4–230 now get ERRNO(1) instead of ENOSYS: the highest named syscall moved from close (3) to exit_group (231)")
  }

  @Test func anExplicitDenyEqualToTheDefaultIsOneNoteNotSeventyNineNumbers() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let a = try write(Self.threeA, "a.json", in: dir)
    let mkdir = try write(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read", "write", "close"], "action": "SCMP_ACT_ALLOW"}, {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#, "mkdir.json", in: dir)
    let d = syscage(["diff", a, mkdir])
    #expect(d.status == 0, "\(d.stdout)")
    #expect(d.stdout == "! x86_64: under runc: numbers 4–82 now get ERRNO(1) instead of ENOSYS: the highest named syscall moved from close (3) to mkdir (83)\n")
    let runc = syscage(["diff", a, mkdir, "--runtime", "runc"])
    #expect(runc.status == 1)
    #expect(runc.stdout.contains("~ x86_64: numbers 4–82"), "\(runc.stdout)")
    let j = syscage(["diff", a, mkdir, "--json"])
    #expect(j.stdout.contains(#""kind":"runtime-boundary""#))
  }

  @Test func reorderedAndSplitEntriesAreNoDifference() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let text = try String(contentsOfFile: Self.docker, encoding: .utf8)
    var obj = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    let entries = try #require(obj["syscalls"] as? [[String: Any]])
    obj["syscalls"] = entries.reversed().flatMap { e -> [[String: Any]] in
      ((e["names"] as? [String]) ?? []).reversed().map { n in
        var one = e
        one["names"] = [n]
        return one
      }
    }
    let split = dir.appendingPathComponent("split.json").path
    try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: split))
    let d = syscage(["diff", Self.docker, split])
    #expect(d.status == 0 && d.stdout.isEmpty, "\(d.stdout)")
  }
}
