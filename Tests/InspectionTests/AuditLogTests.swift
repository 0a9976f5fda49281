import Foundation
import Inspection
import Profiles
import Seccomp
import Syscalls
import TestSupport
import Testing

/// Kernel seccomp audit records in the places they turn up.
@Suite struct AuditLogTests {
  static let fields =
    #"auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=1234 comm="mkdir" exe="/usr/bin/mkdir" sig=0 arch=c000003e syscall=83 compat=0 ip=0x7f5ff31f3c47 code=0x50000"#

  @Test func dmesgLine() throws {
    let log = AuditLog.parse("[  123.456789] audit: type=1326 audit(1700000000.123:42): \(Self.fields)\n")
    #expect(log.diagnostics.isEmpty)
    let r = try #require(log.records.first)
    #expect(r.line == 1)
    #expect(r.timestamp == 1_700_000_000.123)
    #expect(r.serial == 42)
    #expect(r.pid == 1234)
    #expect(r.uid == 0 && r.gid == 0)
    #expect(r.auid == nil)  // 4294967295: unset
    #expect(r.comm == "mkdir")
    #expect(r.exe == "/usr/bin/mkdir")
    #expect(r.signal == 0)
    #expect(r.auditArch == 0xc000_003e)
    #expect(r.arch == .x86_64)
    #expect(r.number == 83)
    #expect(r.syscall == "mkdir")
    #expect(r.compat == false)
    #expect(r.ip == 0x7f5f_f31f_3c47)
    #expect(r.action == .errno(0))  // the kernel logs the action without its data
    #expect(r.fields["subj"] == "unconfined")
    #expect(r.description == #"mkdir (83, x86_64) by pid 1234 comm="mkdir" exe="/usr/bin/mkdir": ERRNO"#)
  }

  @Test func everyLogForm() throws {
    let lines = [
      // dmesg, dmesg -T, raw /dev/kmsg
      "[ 4189.187066] audit: type=1326 audit(1795383462.781:508): \(Self.fields)",
      "[Tue Nov 14 22:13:20 2023] audit: type=1326 audit(1700000000.123:43): \(Self.fields)",
      "5,1234,4189187066,-;audit: type=1326 audit(1700000000.123:44): \(Self.fields)",
      // syslog / kern.log, classic and RFC 3339 stamps
      "Nov 14 22:13:20 host kernel: [  123.456789] audit: type=1326 audit(1700000000.123:45): \(Self.fields)",
      "2023-11-14T22:13:20.123456+00:00 host kernel: audit: type=1326 audit(1700000000.123:46): \(Self.fields)",
      // journalctl
      "Nov 14 22:13:20 host kernel: audit: type=1326 audit(1700000000.123:47): \(Self.fields)",
      // audit.log, raw and enriched
      "type=SECCOMP msg=audit(1700000000.123:48): \(Self.fields)",
      "type=SECCOMP msg=audit(1700000000.123:49): \(Self.fields)\u{1d}AUID=\"unset\" UID=\"root\" GID=\"root\" ARCH=x86_64 SYSCALL=mkdir",
    ]
    let log = AuditLog.parse(lines.joined(separator: "\n"), file: "mixed.log")
    #expect(log.diagnostics.isEmpty, "\(log.diagnostics)")
    #expect(log.records.count == lines.count)
    #expect(log.records.map(\.line) == Array(1...lines.count))
    for r in log.records {
      #expect(r.syscall == "mkdir" && r.arch == .x86_64 && r.pid == 1234 && r.exe == "/usr/bin/mkdir", "\(r)")
      #expect(r.action == .errno(0))
    }
    #expect(log.records.map(\.serial) == [508, 43, 44, 45, 46, 47, 48, 49])
    #expect(log.syscallsByArch == [.x86_64: ["mkdir": lines.count]])
  }

  @Test func archesAndActions() throws {
    let log = AuditLog.parse(
      """
      audit: type=1326 audit(1.0:1): pid=1 comm="a" exe="/a" sig=31 arch=c000003e syscall=1073742028 compat=0 ip=0x1 code=0x80000000
      audit: type=1326 audit(1.0:2): pid=2 comm="b" exe="/b" sig=31 arch=40000003 syscall=20 compat=1 ip=0x2 code=0x0
      audit: type=1326 audit(1.0:3): pid=3 comm="c" exe="/c" sig=0 arch=c00000b7 syscall=56 compat=0 ip=0x3 code=0x7ffc0000
      audit: type=1326 audit(1.0:4): pid=4 comm="d" exe="/d" sig=0 arch=c000003e syscall=35 compat=0 ip=0x4 code=0x50026
      audit: type=1326 audit(1.0:5): pid=5 comm="e" exe="/e" sig=0 arch=c000003e syscall=39 compat=0 ip=0x5 code=0x30005
      """)
    #expect(log.diagnostics.isEmpty)
    let r = log.records
    #expect(r.map(\.arch) == [.x32, .x86, .aarch64, .x86_64, .x86_64])
    #expect(r.map(\.syscall) == ["sched_getaffinity", "getpid", "openat", "nanosleep", "getpid"])
    #expect(r[0].number == 1_073_742_028)  // 0x40000000 | 204
    #expect(r[1].compat == true)
    #expect(r.map(\.action) == [.killProcess, .killThread, .log, .errno(38), .trap(5)])
    #expect(AuditLog.arch(auditArch: 0xc000_003e, number: 0x4000_0000) == .x32)
    #expect(AuditLog.arch(auditArch: 0x4000_0028, number: 1) == .arm)
  }

  @Test func hexEncodedCommAndExe() throws {
    // The kernel writes untrusted strings with spaces or quotes in hex, unquoted.
    let log = AuditLog.parse(
      "audit: type=1326 audit(1.0:1): pid=9 comm=6D7920617070 exe=2F746D702F6D79206170702F62696E sig=0 arch=c000003e syscall=0 compat=0 ip=0x0 code=0x7ffc0000")
    let r = try #require(log.records.first)
    #expect(r.comm == "my app")
    #expect(r.exe == "/tmp/my app/bin")
    #expect(r.syscall == "read")
  }

  @Test func interpretedAusearchForm() throws {
    let log = AuditLog.parse(
      "type=SECCOMP msg=audit(11/14/2023 22:13:20.123:42) : auid=unset uid=root gid=root ses=unset pid=1234 comm=mkdir exe=/usr/bin/mkdir sig=SIGSYS arch=x86_64 syscall=mkdir compat=0 ip=0x7f5ff31f3c47 code=kill")
    #expect(log.diagnostics.isEmpty, "\(log.diagnostics)")
    let r = try #require(log.records.first)
    #expect(r.arch == .x86_64 && r.syscall == "mkdir" && r.number == 83 && r.action == .killThread)
  }

  @Test func otherLinesAreIgnoredAndMalformedRecordsReported() {
    let log = AuditLog.parse(
      """
      [    0.000000] Linux version 6.18.44 (gcc version 12.2.0)
      Nov 14 22:13:20 host systemd[1]: Started session.
      type=SYSCALL msg=audit(1700000000.123:41): arch=c000003e syscall=83 success=no exit=-13
      type=13260 not a seccomp record
      audit: type=1326 audit(1.0:1): pid=1 comm="a" exe="/a" sig=0 arch=c000003e compat=0 ip=0x1 code=0x50000
      audit: type=1326 audit(1.0:2): pid=1 comm="a" exe="/a" sig=0 syscall=1 compat=0 ip=0x1 code=0x50000
      audit: type=1326 audit(1.0:3): pid=1 comm="a" exe="/a" sig=0 arch=zz syscall=1 compat=0 ip=0x1 code=0x50000
      audit: type=1326 audit(1.0:4): pid=1 comm="a" exe="/a" sig=0 arch=c000003e syscall=one compat=0 ip=0x1 code=0x50000
      audit: type=1326 audit(1.0:5): pid=1 comm="a" exe="/a" sig=0 arch=c000003e syscall=1 compat=0 ip=0x1 code=bogus
      audit: type=1326 audit(1.0:6): pid=1 comm="a" exe="/a" sig=0 arch=deadbeef syscall=1 compat=0 ip=0x1 code=0x50000
      audit: type=1326 audit(1.0:7): pid=1 comm="a" exe="/a" sig=0 arch=c000003e syscall=4000 compat=0 ip=0x1 code=0x50000
      audit: type=1326 audit(1.0:8): pid=1 comm="a" exe="/a" sig=0 arch=c000003e syscall=1 compat=0 ip=0x1 code=0x7fff0000
      """, file: "kern.log")
    #expect(log.lineCount == 12)
    #expect(log.diagnostics.map(\.line) == [5, 6, 7, 8, 9, 10, 11])
    #expect(log.diagnostics.allSatisfy { $0.severity == .warning && $0.file == "kern.log" })
    #expect(log.diagnostics[0].description.hasPrefix("kern.log:5: warning: a seccomp record without syscall="))
    #expect(log.skippedLines == 5)
    // Unknown arch and unnamed numbers are kept as records, with warnings.
    #expect(log.records.map(\.line) == [10, 11, 12])
    #expect(log.records[0].arch == nil && log.records[0].auditArch == 0xdead_beef)
    #expect(log.syscallsByArch == [.x86_64: ["write": 1]])

    let strict = AuditLog.parse("audit: type=1326 audit(1.0:1): pid=1 arch=c000003e code=0x0", strict: true)
    #expect(throws: InputError.self) { try strict.validate() }
  }

  @Test func groupingFilteringAndDuplicates() {
    let log = AuditLog.parse(
      """
      audit: type=1326 audit(1.0:1): pid=10 comm="mkdir" exe="/usr/bin/mkdir" sig=0 arch=c000003e syscall=83 compat=0 ip=0x1 code=0x50001
      audit: type=1326 audit(1.0:2): pid=11 comm="rmdir" exe="/usr/bin/rmdir" sig=31 arch=c000003e syscall=84 compat=0 ip=0x1 code=0x80000000
      audit: type=1326 audit(1.0:3): pid=10 comm="mkdir" exe="/usr/bin/mkdir" sig=0 arch=c000003e syscall=258 compat=0 ip=0x1 code=0x50001
      Nov 14 22:13:20 host kernel: audit: type=1326 audit(1.0:3): pid=10 comm="mkdir" exe="/usr/bin/mkdir" sig=0 arch=c000003e syscall=258 compat=0 ip=0x1 code=0x50001
      """)
    let byExe = log.grouped(by: .exe)
    #expect(byExe.map(\.key) == ["/usr/bin/mkdir", "/usr/bin/rmdir"])
    #expect(byExe[0].records.count == 3)
    #expect(log.grouped(by: .pid).map(\.key) == ["10", "11"])
    #expect(log.grouped(by: .comm).map(\.key) == ["mkdir", "rmdir"])
    #expect(log.uniqued().records.count == 3)
    #expect(log.filtered(exe: ["rmdir"]).records.map(\.pid) == [11])
    #expect(log.filtered(exe: ["/usr/bin/mkdir"]).records.count == 3)
    #expect(log.filtered(comm: ["mkdir"], pids: [11]).records.isEmpty)
    #expect(log.uniqued().syscallsByArch == [.x86_64: ["mkdir": 1, "rmdir": 1, "mkdirat": 1]])
  }

  /// Records this kernel writes: a LOG rule under `syscage run`, read back from the kernel log.
  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func recordsFromThisKernel() throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("log.json").path
    try Data(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"}]}"#.utf8)
      .write(to: URL(fileURLWithPath: profile))
    let started = Date().timeIntervalSince1970 - 2
    // The printk path is rate-limited (a burst, then about 10 records per 5 seconds, shared
    // with every other test that makes the kernel log): make the call again until one of
    // its records gets through.
    var found: SeccompAuditRecord?
    for attempt in 0..<10 where found == nil {
      let target = dir.appendingPathComponent("made-\(attempt)").path
      let r = run(syscageExecutable, ["run", "--profile", profile, "--", "mkdir", target])
      #expect(r.status == 0, "\(r.stderr)")
      for _ in 0..<8 where found == nil {
        let dmesg = run("/bin/dmesg", [])
        if dmesg.status != 0 {
          #expect(!isCI, "dmesg cannot read the kernel log here: \(dmesg.stderr)")
          return
        }
        let log = AuditLog.parse(dmesg.stdout, file: "dmesg")
        found = log.records.last {
          $0.exe?.hasSuffix("/mkdir") == true && $0.action == .log && ($0.timestamp ?? 0) >= started
        }
        if found == nil { usleep(200_000) }
      }
    }
    guard let record = found else {
      // No auditd listener and the printk limit hit: the kernel may drop a record.
      #expect(!isCI, "no LOG record for mkdir reached the kernel log")
      return
    }
    #expect(record.arch == .x86_64 || record.arch == .aarch64)
    #expect(record.syscall == "mkdir" || record.syscall == "mkdirat")
    #expect(record.comm == "mkdir")
  }
}
