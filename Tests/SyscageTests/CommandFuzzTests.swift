import Foundation
import Synchronization
import Testing
import TestSupport

/// The syscage binary on a seeded sample of mutated profiles, strace logs and audit logs:
/// no run crashes, hangs (over 5 s) or exits outside 0, 1, 64, 65.
@Suite struct CommandFuzzTests {

  static let profile = #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [{"names": ["read", "write", "exit_group", "socket"], "action": "SCMP_ACT_ALLOW"}, {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}, {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#
  static let strace = "1234  openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY) = 3\n[pid  1235] 21:38:33.880537 write(1, \"x\", 1) = 1\n1234  read(3, <unfinished ...>\n1234  <... read resumed>\"\", 10) = 0\n% time     seconds  usecs/call     calls    errors syscall\n 50.00    0.000001           1         3           read\n100.00    0.000002                     3           total\n"
  static let audit = "type=1326 audit(1700000000.123:42): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=7 comm=\"mkdir\" exe=\"/usr/bin/mkdir\" sig=0 arch=c000003e syscall=83 compat=0 ip=0x7f code=0x50000\n[  12.5] audit: type=1326 audit(1.0:9): pid=1 arch=40000003 syscall=102 code=0x7ffc0000\n"
  static let tokens = ["\"", "{", "}", "[", "]", ",", ":", "0x", "-1", "18446744073709551616", "9223372036854775808", "4294967296",
    "=", " ", "\n", "(", ")", "syscall=", "arch=", "pid=", "audit(", "<unfinished ...>", "\u{0}", "é", "1e999", "SCMP_ACT_LOG"]


  @Test func mutatedInputsNeverCrashOrHang() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-fuzz-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var r = SplitMix64(seed: 17)
    var runs: [[String]] = []
    for i in 0..<36 {
      let p = dir.appendingPathComponent("p\(i).json").path
      try Data(mutated(Self.profile, tokens: Self.tokens, &r)).write(to: URL(fileURLWithPath: p))
      runs += [["check", p, "socket", "40"], ["check", p, "0x40000001", "--arch", "x32"], ["lint", p], ["convert", p, "--to", "oci"],
        ["diff", p, p], ["merge", "--intersect", p, p], ["compile", p, "-o", p + ".bpf"]]
      let s = dir.appendingPathComponent("s\(i).log").path
      try Data(mutated(Self.strace, tokens: Self.tokens, &r)).write(to: URL(fileURLWithPath: s))
      runs.append(["import", "--strace", s])
      let a = dir.appendingPathComponent("a\(i).log").path
      try Data(mutated(Self.audit, tokens: Self.tokens, &r)).write(to: URL(fileURLWithPath: a))
      runs += [["audit", "--json", a], ["import", "--audit", a]]
    }
    // The issue's record: a serial above 2^63 - 1.
    let serial = dir.appendingPathComponent("serial.log").path
    try Data("type=1326 audit(1.0:9223372036854775808): pid=1 arch=c000003e syscall=1 code=0x7ffc0000\n".utf8).write(to: URL(fileURLWithPath: serial))
    runs.append(["audit", "--json", serial])
    let results = Mutex<[(args: [String], result: ProcessResult)]>([])
    let work = runs
    DispatchQueue.concurrentPerform(iterations: 2) { worker in
      for k in stride(from: worker, to: work.count, by: 2) {
        let result = run(syscageExecutable, work[k], timeout: 5)
        results.withLock { $0.append((work[k], result)) }
      }
    }
    let all = results.withLock { $0 }
    #expect(all.count == runs.count)
    for (args, result) in all {
      #expect([0, 1, 64, 65].contains(result.status), "syscage \(args.joined(separator: " ")) exited \(result.status == -1 ? "by timeout" : String(result.status)): \(result.stderr.prefix(500))")
    }
    let issue = try #require(all.first { $0.args == ["audit", "--json", serial] }).result
    #expect(issue.status == 0 && issue.stderr.contains("serial.log:1") && issue.stderr.contains("audit serial 9223372036854775808"), "\(issue.stderr)")
  }

  @Test(arguments: [
    (["0x40000001", "--arch", "x32"], "write("),
    (["0x40000001"], "write("),
    (["1073741825"], "write("),
    (["0xffffffff"], "unnamed syscall -1("),
    (["--", "-1"], "unnamed syscall -1("),
    (["0x40001234", "--arch", "x32"], "unnamed syscall 1073746484("),
  ])
  func checkTakesAnyNumberTheKernelSees(_ args: [String], _ expected: String) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-check-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = dir.appendingPathComponent("p.json").path
    try Data(Self.profile.replacingOccurrences(of: #"["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]"#, with: #"["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]"#).utf8).write(to: URL(fileURLWithPath: p))
    let r = run(syscageExecutable, ["check", p] + args)
    #expect([0, 1].contains(r.status), "\(r.stderr)")
    #expect(r.stdout.hasPrefix(expected), "\(r.stdout)")
  }

  @Test func checkRejectsNumbersBeyond32Bits() throws {
    for n in ["4294967296", "0x100000000", "-2147483649"] {
      let r = run(syscageExecutable, ["check", "/nonexistent.json", "--", n])
      #expect(r.status == 64 && r.stderr.contains("out of range"), "\(n): \(r.stderr)")
    }
  }
}
