import Inspection
import Profiles
import Seccomp
import Syscalls
import Testing

/// Every number read from an audit or strace log is range-checked: out of range is a
/// warning with the file and line, and the record is skipped, never a trap.
@Suite struct LogNumberRangeTests {
  static func line(_ stamp: String = "1.0:9", _ fields: String) -> String {
    "type=1326 audit(\(stamp)): \(fields)"
  }
  static let good = "pid=1 uid=0 gid=0 auid=4294967295 sig=0 arch=c000003e syscall=1 compat=0 ip=0x7f code=0x7ffc0000"

  @Test(arguments: [
    ("1.0:9223372036854775808", good, "audit serial 9223372036854775808"),
    ("1.0:4294967296", good, "audit serial 4294967296"),
    ("1.0:99999999999999999999999", good, "audit serial"),
    ("1e999:9", good, "audit time 1e999"),
    ("99999999999999999999.0:9", good, "audit time"),
    ("1.0:9", "pid=9223372036854775808 arch=c000003e syscall=1 code=0x7ffc0000", "pid=9223372036854775808 is out of range"),
    ("1.0:9", "pid=2147483648 arch=c000003e syscall=1 code=0x7ffc0000", "pid=2147483648 is out of range"),
    ("1.0:9", "pid=-1 arch=c000003e syscall=1 code=0x7ffc0000", "pid=-1 is out of range"),
    ("1.0:9", "pid=1 uid=4294967296 arch=c000003e syscall=1 code=0x7ffc0000", "uid=4294967296 is out of range"),
    ("1.0:9", "pid=1 gid=-5 arch=c000003e syscall=1 code=0x7ffc0000", "gid=-5 is out of range"),
    ("1.0:9", "pid=1 sig=9223372036854775808 arch=c000003e syscall=1 code=0x7ffc0000", "sig=9223372036854775808 is out of range"),
    ("1.0:9", "pid=1 compat=7 arch=c000003e syscall=1 code=0x7ffc0000", "compat=7 is not 0 or 1"),
    ("1.0:9", "pid=1 arch=1c000003e syscall=1 code=0x7ffc0000", "arch=1c000003e is out of range"),
    ("1.0:9", "pid=1 arch=c000003e syscall=2147483648 code=0x7ffc0000", "syscall=2147483648 is out of range"),
    ("1.0:9", "pid=1 arch=c000003e syscall=-9223372036854775809 code=0x7ffc0000", "syscall=-9223372036854775809 is out of range"),
    ("1.0:9", "pid=1 arch=c000003e syscall=1 ip=0x10000000000000000 code=0x7ffc0000", "ip=0x10000000000000000"),
    ("1.0:9", "pid=1 arch=c000003e syscall=1 code=0x100000000", "code=0x100000000"),
  ])
  func outOfRangeAuditNumbers(_ stamp: String, _ fields: String, _ expected: String) {
    let text = "first line\n" + Self.line(stamp, fields) + "\n"
    let log = AuditLog.parse(text, file: "audit.log")
    #expect(log.records.isEmpty, "\(log.records)")
    #expect(log.skippedLines == 1)
    let d = log.diagnostics.first
    #expect(d?.severity == .warning)
    #expect(d?.description.contains("audit.log:2") == true, "\(String(describing: d))")
    #expect(d?.message.contains(expected) == true, "\(String(describing: d))")
    #expect(AuditLog.parse(text, file: "audit.log", strict: true).diagnostics.first?.severity == .error)
  }

  @Test func largestInRangeValuesAreKept() throws {
    let fields = "pid=2147483647 uid=4294967294 gid=4294967295 auid=4294967295 sig=64 arch=c000003e syscall=-1 compat=1 ip=0xffffffffffffffff code=0x7ffc0000"
    let log = AuditLog.parse(Self.line("9223372036854775807.999:4294967295", fields) + "\n")
    #expect(log.diagnostics.allSatisfy { !$0.message.contains("range") }, "\(log.diagnostics)")
    let r = try #require(log.records.first)
    #expect(r.serial == 4_294_967_295)
    #expect(r.pid == 2_147_483_647)
    #expect(r.uid == 4_294_967_294 && r.gid == 4_294_967_295 && r.auid == nil)
    #expect(r.signal == 64 && r.compat == true && r.ip == .max && r.number == -1)
  }

  @Test func interpretedNamesAreNotNumbers() throws {
    // ausearch -i writes names for ids: they are not range-checked numbers.
    let log = AuditLog.parse(Self.line("1.0:9", "pid=1 uid=root gid=root auid=unset arch=x86_64 syscall=write code=allow") + "\n")
    let r = try #require(log.records.first)
    #expect(r.uid == nil && r.syscall == "write")
  }

  @Test(arguments: [
    "[pid 9223372036854775809] write(1, \"x\", 1) = 1",
    "[pid 2147483648] write(1, \"x\", 1) = 1",
    "99999999999999999999 write(1, \"x\", 1) = 1",
    "[ Process PID=99999999999999999999999 runs in 32 bit mode. ]",
  ])
  func outOfRangeStracePids(_ line: String) {
    let log = StraceLog.parse("write(1, \"x\", 1) = 1\n" + line + "\n", file: "trace.log")
    #expect(log.calls.values.reduce(0) { $0 + $1.values.reduce(0, +) } == 1)
    #expect(log.diagnostics.contains { $0.description.contains("trace.log:2") }, "\(log.diagnostics)")
  }

  @Test func hugeSummaryCountsDoNotOverflow() {
    let header = "% time     seconds  usecs/call     calls    errors syscall\n------ ----------- ----------- --------- --------- ----------------\n"
    let row = " 50.00    0.000001           1 4294967295           read\n"
    let huge = " 50.00    0.000001           1 9223372036854775807           read\n"
    // Rows summed past Int.max stop there instead of trapping.
    let log = StraceLog.parse(header + String(repeating: row, count: 3) + huge + "100.00    0.000002                     3           total\n", file: "c.log")
    #expect(log.summaries[.x86_64]?["read"] == 3 * 4_294_967_295)
    #expect(log.diagnostics.contains { $0.description.contains("c.log:6") && $0.message.contains("out of range") }, "\(log.diagnostics)")
  }
}
