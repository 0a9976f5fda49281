import Inspection
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport


/// Mutation corpora of strace and audit logs, read in process: no input traps, every
/// record kept has its numbers in range, and every skipped line is a diagnostic with its line.
@Suite struct LogFuzzTests {
  static let tokens = [
    " ", "\n", "\r", "\t", "=", "\"", "(", ")", "[", "]", "<", ">", ":", ".", "-", "0x", "-1", "0", "9223372036854775808",
    "18446744073709551616", "4294967296", "2147483648", "99999999999999999999999", "1e999", "nan", "\u{0}", "\u{1d}", "é",
    "syscall=", "arch=", "pid=", "uid=", "code=", "sig=", "compat=", "ip=", "audit(", "type=1326", "type=SECCOMP",
    "[pid ", "<unfinished ...>", "<... ", " resumed>", "+++ exited with 0 +++", "--- SIGCHLD", "[ Process PID=",
    " runs in 32 bit mode. ]", "% time     seconds  usecs/call     calls    errors syscall", "total", "syscall_0x40000001",
  ].map { Array($0.utf8) }

  static func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix64) {
    let at = bytes.isEmpty ? 0 : rng.below(bytes.count)
    switch rng.below(7) {
    case 0 where !bytes.isEmpty: bytes[at] ^= UInt8(1) << UInt8(rng.below(8))
    case 1 where !bytes.isEmpty: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
    case 2 where !bytes.isEmpty: bytes.removeSubrange(at..<min(bytes.count, at + 1 + rng.below(24)))
    case 3 where !bytes.isEmpty:
      let end = min(bytes.count, at + 1 + rng.below(120))
      bytes.insert(contentsOf: bytes[at..<end], at: rng.below(bytes.count))
    case 4: bytes.insert(contentsOf: Array(String(rng.next() >> UInt64(rng.below(64))).utf8), at: at)
    default: bytes.insert(contentsOf: rng.pick(tokens), at: at)
    }
  }

  static let auditSeeds = [
    "[  123.456789] audit: type=1326 audit(1700000000.123:42): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=1234 comm=\"mkdir\" exe=\"/usr/bin/mkdir\" sig=0 arch=c000003e syscall=83 compat=0 ip=0x7f5ff31f3c47 code=0x50000\n",
    "Nov 22 21:00:01 host kernel: [ 4410.1] audit: type=1326 audit(1795383690.001:534): auid=1000 uid=1000 gid=1000 ses=2 pid=2000 comm=\"app\" exe=\"/usr/bin/app\" sig=0 arch=40000003 syscall=102 compat=1 ip=0xf7f1 code=0x50001\n",
    "type=SECCOMP msg=audit(1795383691.5:535): auid=1000 uid=1000 gid=1000 ses=2 pid=2000 comm=617070 exe=\"/usr/bin/app\" sig=31 arch=c000003e syscall=1073741825 compat=0 ip=0x7f00 code=0x80000000\u{1d}ARCH=x86_64 SYSCALL=write\n",
    "type=SECCOMP msg=audit(11/22/2026 21:00:01.500:536) : auid=unset uid=root gid=root ses=unset pid=2000 comm=app exe=/usr/bin/app sig=SIGSYS arch=x86_64 syscall=write compat=0 ip=0x7f00 code=kill\n",
  ]
  static let straceSeeds = [
    "1234  execve(\"/bin/true\", [\"true\"], 0x7ffd /* 20 vars */) = 0\n1234  openat(AT_FDCWD, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = 3\n[pid  1235] 21:38:33.880537 write(1, \"x\", 1) = 1\n1234  read(3, <unfinished ...>\n1235  exit_group(0) = ?\n1234  <... read resumed>\"\", 10) = 0\n1235  +++ exited with 0 +++\n",
    "[ Process PID=77 runs in 32 bit mode. ]\n77 socketcall(SYS_SOCKET, [1, 1, 0]) = 3\n77 syscall_0x1b5(0x1, 0x2) = -1 ENOSYS (Function not implemented)\n--- SIGSEGV {si_signo=SIGSEGV} ---\n",
    "% time     seconds  usecs/call     calls    errors syscall\n------ ----------- ----------- --------- --------- ----------------\n 52.00    0.000013           1        13           mmap\n 48.00    0.000012           2         6         1 openat\n------ ----------- ----------- --------- --------- ----------------\n100.00    0.000025           1        19         1 total\nSystem call usage summary for 32 bit mode:\n% time     seconds  usecs/call     calls    errors syscall\n100.00    0.000001           1         2           read\n",
  ]

  @Test func mutatedAuditLogs() {
    var rng = SplitMix64(seed: 1326)
    var records = 0
    for round in 0..<1500 {
      var bytes = Array(rng.pick(Self.auditSeeds).utf8) + Array(rng.pick(Self.auditSeeds).utf8)
      for _ in 0...rng.below(5) { Self.mutate(&bytes, &rng) }
      var log = AuditLog()
      log.read(bytes, file: "fuzz.log")
      records += log.records.count
      for r in log.records {
        #expect(r.serial.map { $0 <= UInt64(UInt32.max) } ?? true, "round \(round): serial \(String(describing: r.serial))")
        #expect(r.pid.map { (0...Int(Int32.max)).contains($0) } ?? true, "round \(round)")
        #expect(r.timestamp.map { $0.isFinite && $0 >= 0 } ?? true, "round \(round)")
        #expect(r.signal.map { (0...64).contains($0) } ?? true, "round \(round)")
        _ = r.description
      }
      #expect(log.diagnostics.allSatisfy { $0.file == "fuzz.log" && $0.line != nil && !$0.message.isEmpty }, "round \(round): \(log.diagnostics)")
      #expect(log.diagnostics.filter { $0.message.contains("skipped") }.count == log.skippedLines, "round \(round)")
      var strict = AuditLog(strict: true)
      strict.read(bytes, file: "fuzz.log")
      #expect(strict.diagnostics.allSatisfy { $0.severity == .error })
      _ = log.uniqued().grouped(by: .exe)
      _ = log.syscallsByArch
    }
    #expect(records > 600, "the mutations should leave many records intact")
  }

  @Test func mutatedStraceLogs() {
    var rng = SplitMix64(seed: 2718)
    var calls = 0
    for round in 0..<2500 {
      var bytes = Array(rng.pick(Self.straceSeeds).utf8)
      for _ in 0...rng.below(5) { Self.mutate(&bytes, &rng) }
      var log = StraceLog(native: .x86_64)
      log.read(bytes, file: rng.below(4) == 0 ? "trace.\(rng.next())" : "trace.log")
      calls += log.calls.values.reduce(0) { $0 + $1.count }
      #expect(log.diagnostics.allSatisfy { $0.line != nil && !$0.message.isEmpty }, "round \(round): \(log.diagnostics)")
      for (_, counts) in log.summaries { #expect(counts.values.allSatisfy { $0 >= 0 }, "round \(round)") }
      for (arch, names) in log.summaries { for name in names.keys { #expect(arch.number(of: name) != nil, "round \(round): \(name)") } }
    }
    #expect(calls > 1000)
  }
}
