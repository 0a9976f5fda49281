import Foundation
import Inspection
import Profiles
import Seccomp
import Syscalls
import TestSupport
import Testing

/// Seccomp records read from the kernel's audit netlink multicast group.
@Suite struct AuditNetlinkTests {
  static let seccompText =
    #"audit(1700000000.123:456): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=1234 comm="mkdir" exe="/usr/bin/mkdir" sig=0 arch=c000003e syscall=83 compat=0 ip=0x7f5ff31f3c47 code=0x50001"#

  /// A netlink message as the kernel writes it: nlmsghdr (length, type, flags, seq, pid),
  /// the payload, padding to 4 bytes. `length` overrides nlmsg_len.
  static func message(type: UInt16, _ text: String, nul: Bool = false, length: UInt32? = nil) -> [UInt8] {
    var payload = Array(text.utf8)
    if nul { payload.append(0) }
    var bytes: [UInt8] = []
    func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v) { bytes += $0 } }
    put(length ?? UInt32(16 + payload.count))
    put(type)
    put(UInt16(0))
    put(UInt32(0))
    put(UInt32(0))
    bytes += payload
    while bytes.count % 4 != 0 { bytes.append(0) }
    return bytes
  }

  @Test func messagesOfADatagram() throws {
    let syscallRecord = #"audit(1700000000.123:457): arch=c000003e syscall=83 success=no exit=-1"#
    let datagram = Self.message(type: 1326, Self.seccompText, nul: true) + Self.message(type: 1300, syscallRecord)
    let messages = AuditNetlink.messages(in: datagram)
    #expect(messages.map(\.type) == [1326, 1300])
    #expect(messages[0].text == Self.seccompText)  // the NUL and padding gone
    #expect(messages[1].text == syscallRecord)
    // The unicast quirk: nlmsg_len without the header runs short; a length past the end
    // is cut to the datagram.
    let long = AuditNetlink.messages(in: Self.message(type: 1326, Self.seccompText, length: 4096))
    #expect(long.map(\.text) == [Self.seccompText])
    #expect(AuditNetlink.messages(in: [1, 2, 3]).isEmpty)
    #expect(AuditNetlink.messages(in: Self.message(type: 1326, "x", length: 0)).count == 1)  // no endless loop
  }

  @Test func seccompMessagesBecomeTheLogParsersRecords() throws {
    let message = AuditNetlink.Message(type: AuditNetlink.seccompType, text: Self.seccompText)
    #expect(AuditNetlink.logLine(for: message) == "type=1326 " + Self.seccompText)
    guard case .record(let r) = AuditNetlink.record(in: message, number: 3) else {
      Issue.record("no record in \(message)")
      return
    }
    #expect(r.syscall == "mkdir" && r.arch == .x86_64 && r.number == 83)
    #expect(r.action == .errno(1))
    #expect(r.pid == 1234 && r.comm == "mkdir" && r.exe == "/usr/bin/mkdir")
    #expect(r.serial == 456 && r.timestamp == 1_700_000_000.123)
    #expect(r.file == AuditNetlink.source && r.line == 3)
    // The same record as a log line gives the same fields.
    let fromLog = try #require(AuditLog.parse("type=SECCOMP msg=" + Self.seccompText).records.first)
    #expect(fromLog.fields == r.fields && fromLog.action == r.action && fromLog.syscall == r.syscall)
    // Other types are skipped.
    #expect(AuditNetlink.record(in: .init(type: 1300, text: "audit(1.0:1): arch=c000003e syscall=83")) == nil)
    #expect(AuditNetlink.record(in: .init(type: 1320, text: "audit(1.0:1): ")) == nil)
  }

  @Test func serialGaps() {
    var gaps = AuditNetlink.SerialGaps()
    for serial in [10, 11, 11, 14, 12] {
      gaps.note(.init(type: 1326, text: "audit(1.0:\(serial)): pid=1"))
    }
    #expect(gaps.missing == 1)  // 13
    #expect(AuditNetlink.serial(of: "audit(1700000000.123:456): x") == 456)
    #expect(AuditNetlink.serial(of: "pid=1") == nil)
  }

  /// Measured: 200 calls under a LOG rule, all of them over netlink; /dev/kmsg gets what
  /// printk's rate limit lets through (10 on a quiet machine).
  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func everyRecordArrivesOverNetlink() throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
    let listener = try AuditNetlink.Listener()
    let dir = try Containers.temporaryDirectory("syscage-nl")
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("log.json").path
    try Data(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chdir"], "action": "SCMP_ACT_LOG"}]}"#.utf8)
      .write(to: URL(fileURLWithPath: profile))
    // A copy of the shell under a name of its own, so its records are told from others'.
    let shell = dir.appendingPathComponent("sh-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.copyItem(atPath: URL(fileURLWithPath: "/bin/sh").resolvingSymlinksInPath().path, toPath: shell)
    let calls = 200
    let r = run(syscageExecutable, ["run", "--profile", profile, "--", shell, "-c", "i=0; while [ $i -lt \(calls) ]; do cd /; i=$((i+1)); done"])
    #expect(r.status == 0, "\(r.stderr)")

    var records: [SeccompAuditRecord] = []
    var overruns = 0
    let deadline = Date().addingTimeInterval(15)
    while records.count < calls && Date() < deadline {
      switch try listener.receive(timeoutMilliseconds: 200) {
      case .nothing: continue
      case .overrun: overruns += 1
      case .messages(let messages):
        for m in messages {
          if case .record(let record) = AuditNetlink.record(in: m), record.exe == shell { records.append(record) }
        }
      }
    }
    #expect(overruns == 0)
    #expect(records.count == calls)
    for record in records.prefix(3) {
      #expect(record.syscall == "chdir" && record.arch == .x86_64 && record.action == .log, "\(record)")
      #expect(record.comm == URL(fileURLWithPath: shell).lastPathComponent)
    }
    let dmesg = run("/bin/dmesg", [])
    let kmsg = AuditLog.parse(dmesg.stdout).records.filter { $0.exe == shell }.count
    print("200 LOG calls: \(records.count) records over netlink, \(kmsg) in the kernel log (printk rate limit)")
    #expect(kmsg <= records.count)
  }
}
