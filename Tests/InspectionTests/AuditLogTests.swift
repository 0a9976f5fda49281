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

/// `SeccompAuditRecord.jsonLine` (what `audit --json` prints) against Foundation's
/// `JSONSerialization`, which printed those lines before: the same bytes.
@Suite struct AuditRecordJSONTests {
  /// The object `audit --json` gave `JSONSerialization` for a record.
  static func foundationLine(_ r: SeccompAuditRecord) throws -> String {
    var o: [String: Any] = [:]
    if let v = r.pid { o["pid"] = v }
    if let v = r.comm { o["comm"] = v }
    if let v = r.exe { o["exe"] = v }
    if let v = r.arch { o["arch"] = v.name }
    if let v = r.number { o["number"] = Int(v) }
    if let v = r.syscall { o["syscall"] = v }
    if r.action != nil { o["action"] = r.actionName }
    if let v = r.timestamp, v.isFinite { o["time"] = v }
    if let v = r.serial, let n = Int(exactly: v) { o["serial"] = n }
    if let v = r.uid { o["uid"] = Int(v) }
    if let f = r.file { o["file"] = f }
    o["line"] = r.line
    return String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
  }

  @Test func sameBytesAsJSONSerialization() throws {
    var rng = SplitMix64(seed: 1326)
    // Every ASCII byte (controls, quote, backslash, slash, DEL), and UTF-8 of 2, 3 and 4 bytes.
    let pieces: [[UInt8]] = (0..<0x80).map { [UInt8($0)] } + ["é", "\u{2028}", "\u{2029}", "\u{FFFD}", "😀", "名"].map { Array($0.utf8) }
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02X", $0) }.joined() }
    var text = ""
    for i in 0..<2000 {
      var comm: [UInt8] = [], exe: [UInt8] = []
      for _ in 0..<rng.below(12) { comm += rng.pick(pieces) }
      for _ in 0..<rng.below(24) { exe += rng.pick(pieces) }
      if comm.isEmpty { comm = Array("a".utf8) }
      if exe.isEmpty { exe = Array("/b".utf8) }
      let seconds = [String(rng.below(2_000_000_000)), String(rng.next() >> UInt64(rng.below(64))), "0"][rng.below(3)]
      let fraction = String(rng.next() % 1_000_000_000_0).prefix(1 + rng.below(9))
      let stamp = rng.below(4) == 0 ? seconds : "\(seconds).\(fraction)"
      let arch = ["c000003e", "40000003", "c00000b7", "12345678"][rng.below(4)]
      let syscall = [String(rng.below(500)), String(Int32.min), "-1", String(0x4000_0000 + rng.below(600))][rng.below(4)]
      let code = ["0x7ffc0000", "0x50001", "0x80000000", "0x7fc00000", "0x30000"][rng.below(5)]
      let uid = rng.below(3) == 0 ? "" : " uid=\(rng.next() % 4_294_967_296)"
      text += "type=1326 audit(\(stamp):\(rng.next() % 4_294_967_296)): pid=\(rng.below(Int(Int32.max)))\(uid) comm=\(hex(comm)) exe=\(hex(exe)) arch=\(arch) syscall=\(syscall) code=\(code)\n"
      if i % 7 == 0 { text += "type=1326 audit(1.5:1): arch=c000003e syscall=1\n" }  // no pid, no action, no comm
    }
    let log = AuditLog.parse(text, file: rng.below(2) == 0 ? nil : "/var/log/a\"u\\dit.log")
    #expect(log.records.count > 2000)
    var differing: [String] = []
    for r in log.records where r.jsonLine != (try Self.foundationLine(r)) {
      differing.append("\(r.jsonLine)\n  JSONSerialization: \(try Self.foundationLine(r))")
    }
    #expect(differing.isEmpty, "\(differing.count) differ, the first: \(differing.first ?? "")")
  }

  @Test func timesAsJSONSerializationWritesThem() throws {
    for t in [0, 1e-9, 0.000001, 0.0001, 1700000000.123, 1700000000, 1e16, 1e17, 123456789012345678.1, 9.223372036854776e18, 0.1, 1e21] {
      var r = SeccompAuditRecord(file: "f", line: 3)
      r.timestamp = t
      #expect(r.jsonLine == (try Self.foundationLine(r)))
    }
  }
}

/// `LogLineReader`: a log's lines, across reads, and as the file grows.
@Suite struct LogLineReaderTests {
  @Test func linesAcrossReadsAndAsTheFileGrows() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID().uuidString).log").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    // Lines of many lengths, more than one read's worth (64 KiB), then a partial line.
    var lines: [String] = []
    for i in 0..<3000 { lines.append(String(repeating: "é", count: i % 97) + "line \(i)") }
    try Data((lines.joined(separator: "\n") + "\n" + "par").utf8).write(to: URL(fileURLWithPath: path))
    let reader = try LogLineReader(path: path)
    #expect(reader.displayName == path)
    var got: [String] = []
    while let (line, number) = reader.nextLine() {
      #expect(number == got.count + 1)
      got.append(line)
    }
    #expect(got == lines)
    // The partial line comes when its newline does.
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    handle.seekToEndOfFile()
    handle.write(Data("tial\nnext\n".utf8))
    try handle.close()
    #expect(reader.nextLine()! == ("partial", 3001))
    #expect(reader.nextLine()! == ("next", 3002))
    #expect(reader.nextLine() == nil)
  }

  @Test func aFileThatCannotBeOpenedIsNamed() {
    #expect(throws: InputError.self) { try LogLineReader(path: "/nonexistent/\(UUID().uuidString)") }
    do {
      _ = try LogLineReader(path: "/nonexistent/x.log")
    } catch {
      #expect("\(error)".contains("/nonexistent/x.log") && "\(error)".contains("cannot open"))
    }
  }
}

/// ASCII lines are searched as bytes, others by characters: both read a record alike.
@Suite struct AuditLineSearchTests {
  @Test func asciiAndUnicodeLinesReadAlike() {
    var rng = SplitMix64(seed: 1327)
    let seeds = [
      "[  1.5] audit: type=1326 audit(1700000000.123:42): pid=7 comm=\"a\" exe=\"/b\" arch=c000003e syscall=83 code=0x50000",
      "type=SECCOMP msg=audit(1795383691.5:535): pid=2000 comm=617070 arch=40000003 syscall=102 code=0x80000000\u{1d}ARCH=x86",
      "x;type=UNKNOWN[1326] audit(1.0:9): pid=1 arch=c000003e syscall=1 code=0x7ffc0000",
      "type=13260 type=1326: audit(2.0:3) arch=c000003e syscall=0",
    ]
    let tokens = ["type=1326", "type=SECCOMP", "type=UNKNOWN[1326]", " ", ":", ";", "(", ")", "audit(", "\u{1d}", "=", "\"", "x"]
    var records = 0
    for _ in 0..<3000 {
      var line = Array(rng.pick(seeds).utf8)
      for _ in 0..<(1 + rng.below(4)) {
        let at = rng.below(line.count + 1)
        switch rng.below(3) {
        case 0 where at < line.count: line.remove(at: at)
        default: line.insert(contentsOf: Array(rng.pick(tokens).utf8), at: at)
        }
      }
      let ascii = String(decoding: line, as: UTF8.self)
      // A non-ASCII word and a space before it: the same record, read by characters.
      let unicode = "é " + ascii
      let a = AuditLog.record(in: ascii, file: "f", line: 1), u = AuditLog.record(in: unicode, file: "f", line: 1)
      #expect(a == u, "\(ascii)")
      if case .record = a { records += 1 }
    }
    #expect(records > 300)
  }
}
