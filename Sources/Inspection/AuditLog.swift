import Host
import Profiles
import Seccomp
import Syscalls

/// One kernel seccomp audit record (`type=1326`, auditd's `type=SECCOMP`): a call that a
/// filter logged, denied or killed.
public struct SeccompAuditRecord: Hashable, Sendable, CustomStringConvertible {
  /// Where the record came from: the file (nil for standard input or memory) and its 1-based line.
  public var file: String?
  public var line: Int
  /// `audit(SECONDS.MILLIS:SERIAL)`: the event's time (seconds since the epoch) and serial.
  public var timestamp: Double?
  public var serial: UInt64?
  public var pid: Int?
  public var uid: UInt32?
  public var gid: UInt32?
  /// The login uid; 4294967295 (unset) is nil.
  public var auid: UInt32?
  public var comm: String?
  public var exe: String?
  /// The signal the action sends (31, SIGSYS, for kills; 0 otherwise).
  public var signal: Int?
  /// `arch=`: the `AUDIT_ARCH_*` value.
  public var auditArch: UInt32?
  /// The ABI the call was made in (x86_64 with bit 30 set in the number is x32); nil when
  /// syscage does not know the audit value.
  public var arch: Arch?
  /// `syscall=`: the number as the filter saw it (x32 bit and MIPS base included).
  public var number: Int32?
  /// The syscall's name in `arch`, when the table has one.
  public var syscall: String?
  /// `compat=1`: a 32-bit call on a 64-bit kernel.
  public var compat: Bool?
  public var ip: UInt64?
  /// `code=`: the action the filter returned; the kernel logs it without its data.
  public var action: SeccompAction?
  /// Every `key=value` field as written (quotes removed, hex-encoded strings decoded).
  public var fields: [String: String]

  public init(file: String? = nil, line: Int = 0, fields: [String: String] = [:]) {
    self.file = file
    self.line = line
    self.fields = fields
  }

  /// The action as the record shows it. The kernel logs the action without its data
  /// (`code=0x50000` for every ERRNO, whatever the errno), so ERRNO and TRACE with zero
  /// data are named without it, not as ERRNO(0) (a call that "fails" with errno 0).
  public var actionName: String {
    guard let action else { return "?" }
    switch action.kind {
    case .errno: return action.data == 0 ? "ERRNO" : action.description
    case .trace: return action.data == 0 ? "TRACE" : action.description
    default: return action.description
    }
  }

  /// `mkdir (83, x86_64) by pid 1234 comm="mkdir" exe="/usr/bin/mkdir": ERRNO`
  public var description: String {
    let call = syscall ?? number.map { "syscall \($0)" } ?? "?"
    let at = "\(number.map(String.init) ?? "?"), \(arch?.name ?? auditArch.map { "arch 0x" + String($0, radix: 16) } ?? "?")"
    var who = pid.map { "pid \($0)" } ?? "pid ?"
    if let comm { who += " comm=\"\(comm)\"" }
    if let exe { who += " exe=\"\(exe)\"" }
    return "\(call) (\(at)) by \(who): \(actionName)"
  }
}

/// Kernel seccomp audit records read from logs: dmesg (`[  123.456] audit: type=1326 ...`,
/// also `dmesg -T` and raw /dev/kmsg records), syslog and kern.log (`Nov 14 12:00:00 host
/// kernel: [ 1.2] audit: ...`, RFC 3339 stamps too), journalctl (`... kernel: audit:
/// type=1326 audit(...)`), and auditd's audit.log (`type=SECCOMP msg=audit(...): ...`,
/// raw or enriched, and `ausearch -i`'s interpreted form with names instead of numbers).
///
/// Lines that are not seccomp records are ignored (logs are full of other lines). A seccomp
/// record without `syscall=` or `arch=`, or with a value that does not parse, is a warning
/// naming its file and line and is skipped; so are unknown audit arches and numbers the
/// table does not name (those records are kept). With `strict`, warnings are errors.
public struct AuditLog: Sendable {
  public var strict: Bool
  /// The records, in reading order.
  public private(set) var records: [SeccompAuditRecord] = []
  public private(set) var diagnostics: [Diagnostic] = []
  public private(set) var lineCount = 0
  /// Seccomp record lines skipped as malformed.
  public private(set) var skippedLines = 0

  public init(strict: Bool = false) { self.strict = strict }

  /// Parses one log held in memory.
  public static func parse(_ text: String, file: String? = nil, strict: Bool = false) -> AuditLog {
    var log = AuditLog(strict: strict)
    log.read(Array(text.utf8), file: file)
    return log
  }

  /// Reads each file (`-` for standard input).
  /// - Throws: an `InputError` for a file that cannot be read.
  public static func load(paths: [String], strict: Bool = false) throws(InputError) -> AuditLog {
    var log = AuditLog(strict: strict)
    for path in paths {
      let bytes = try readInputFile(path)
      log.read(bytes, file: path == "-" ? nil : path)
    }
    return log
  }

  /// Reads one log's bytes.
  public mutating func read(_ bytes: [UInt8], file: String?) {
    var number = 0
    var start = 0
    while start < bytes.count {
      var end = start
      while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
      number += 1
      read(line: String(decoding: bytes[start..<end], as: UTF8.self), number: number, file: file)
      start = end + 1
    }
  }

  /// Reads one line (for a reader that follows a log as it grows).
  /// - Returns: the record, when the line held a usable one.
  @discardableResult
  public mutating func read(line: String, number: Int, file: String?) -> SeccompAuditRecord? {
    lineCount += 1
    switch AuditLog.record(in: line, file: file, line: number) {
    case .notARecord:
      return nil
    case .malformed(let why):
      skippedLines += 1
      diagnostics.append(Diagnostic(strict ? .error : .warning, file: file, line: number, "\(why); skipped: \(excerpt(Array(line.utf8)[...]))"))
      return nil
    case .record(let r):
      if r.arch == nil {
        diagnostics.append(
          Diagnostic(strict ? .error : .warning, file: file, line: number,
            "unknown audit arch \(r.fields["arch"] ?? "?"); the syscall cannot be named"))
      } else if r.syscall == nil, let n = r.number, let arch = r.arch {
        diagnostics.append(
          Diagnostic(strict ? .error : .warning, file: file, line: number, "syscall \(n) is not in the table for \(arch.name)"))
      }
      records.append(r)
      return r
    }
  }

  /// Throws when a diagnostic is an error (with `strict`, every problem is).
  public func validate() throws(InputError) {
    if diagnostics.contains(where: { $0.severity == .error }) { throw InputError(diagnostics) }
  }

  /// What one line holds.
  public enum LineContent: Hashable, Sendable {
    case notARecord
    case malformed(String)
    case record(SeccompAuditRecord)
  }

  /// Reads one line: not a seccomp record, a malformed one (and why), or a record.
  public static func record(in line: String, file: String? = nil, line number: Int = 0) -> LineContent {
    let text = Substring(line)
    // In ASCII, characters are bytes: searched as bytes, much faster.
    let ascii = text.utf8.allSatisfy { $0 < 0x80 }
    guard let marker = ascii ? asciiSeccompMarker(in: text) : seccompMarker(in: text) else { return .notARecord }
    var body = text[marker...]
    // Enriched audit.log: the interpreted fields follow a GS (0x1d) byte.
    if let gs = ascii ? body.utf8.firstIndex(of: 0x1d) : body.firstIndex(of: "\u{1d}") { body = body[..<gs] }
    var r = SeccompAuditRecord(file: file, line: number)
    if let open = ascii ? asciiFirstRange(of: "audit(", in: body) : body.firstRange(of: "audit("),
      let close = ascii ? body[open.upperBound...].utf8.firstIndex(of: UInt8(ascii: ")")) : body[open.upperBound...].firstIndex(of: ")")
    {
      let stamp = body[open.upperBound..<close]
      if let colon = stamp.lastIndex(of: ":") {
        let serialText = stamp[stamp.index(after: colon)...]
        guard let serial = decimal(serialText, max: UInt64(UInt32.max)) else {
          return .malformed("audit serial \(serialText) is not a number from 0 to \(UInt32.max) (the kernel's serials are 32-bit)")
        }
        r.serial = serial
        let timeText = stamp[..<colon]
        // ausearch -i writes a date instead (`11/14/2023 22:13:20.123`): no timestamp then.
        if timeText.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }) {
          guard let time = timestamp(timeText) else {
            return .malformed("audit time \(timeText) is not SECONDS.MILLIS with seconds from 0 to \(Int64.max)")
          }
          r.timestamp = time
        }
      }
      body = body[body.index(after: close)...]
    }
    r.fields = fields(in: body)
    let f = r.fields
    guard let syscallText = f["syscall"] else { return .malformed("a seccomp record without syscall=") }
    guard let archText = f["arch"] else { return .malformed("a seccomp record without arch=") }

    // arch: hex AUDIT_ARCH, or a name (ausearch -i).
    var namedArch: Arch?
    if let value = UInt32(archText, radix: 16) {
      r.auditArch = value
    } else if archText.allSatisfy(\.isHexDigit) {
      return .malformed("arch=\(archText) is out of range (an AUDIT_ARCH value has 32 bits)")
    } else if let a = Arch(named: archText) {
      namedArch = a
      r.auditArch = a.auditArch.rawValue
    } else if archText.lowercased() == "unknown-elf-type" || archText.hasPrefix("unknown") {
      r.auditArch = nil
    } else {
      return .malformed("arch=\(archText) is neither an AUDIT_ARCH value in hex nor an arch name")
    }
    // syscall: decimal, or a name (ausearch -i).
    if let n = Int32(syscallText) {
      r.number = n
    } else if isInteger(syscallText) {
      return .malformed("syscall=\(syscallText) is out of range (the number a filter sees is 32-bit, \(Int32.min) to \(Int32.max))")
    } else if namedArch != nil, syscallText.first?.isLetter == true {
      r.syscall = syscallText
    } else {
      return .malformed("syscall=\(syscallText) is not a number")
    }
    if let a = namedArch {
      r.arch = a
      if r.number == nil, let name = r.syscall { r.number = a.number(of: name)?.rawValue }
    } else if let value = r.auditArch {
      r.arch = arch(auditArch: value, number: r.number)
    }
    if let arch = r.arch {
      if r.syscall == nil, let n = r.number { r.syscall = arch.name(of: SyscallNumber(n)) }
    }

    if let pid = f["pid"] {
      guard isInteger(pid) else { return .malformed("pid=\(pid) is not a number") }
      guard let p = decimal(pid, max: UInt64(Int32.max)) else { return .malformed("pid=\(pid) is out of range (0 to \(Int32.max))") }
      r.pid = Int(p)
    }
    // uid, gid, auid: numbers, or names in ausearch -i's interpreted form.
    for key in ["uid", "gid", "auid"] {
      guard let text = f[key], isInteger(text) else { continue }
      guard let v = decimal(text, max: UInt64(UInt32.max)) else {
        return .malformed("\(key)=\(text) is out of range (0 to \(UInt32.max))")
      }
      switch key {
      case "uid": r.uid = UInt32(v)
      case "gid": r.gid = UInt32(v)
      default: r.auid = v == UInt64(UInt32.max) ? nil : UInt32(v)
      }
    }
    r.comm = f["comm"].flatMap { $0 == "(null)" || $0 == "?" ? nil : $0 }
    r.exe = f["exe"].flatMap { $0 == "(null)" || $0 == "?" ? nil : $0 }
    if let sig = f["sig"], isInteger(sig) {
      guard let v = decimal(sig, max: 64) else { return .malformed("sig=\(sig) is out of range (a signal number, 0 to 64)") }
      r.signal = Int(v)
    }
    if let compat = f["compat"] {
      guard let v = decimal(compat, max: 1) else { return .malformed("compat=\(compat) is not 0 or 1") }
      r.compat = v != 0
    }
    if let ip = f["ip"] {
      guard let v = hex64(ip) else { return .malformed("ip=\(ip) is not an address of at most 64 bits in hex") }
      r.ip = v
    }
    if let code = f["code"] {
      if let value = hex64(code).flatMap({ UInt32(exactly: $0) }) {
        r.action = SeccompAction(returnValue: value)
      } else if let action = interpretedAction(code) {
        r.action = action
      } else {
        return .malformed("code=\(code) is not a seccomp action value")
      }
    }
    return .record(r)
  }

  /// The ABI of an audit value; x86_64 calls with the x32 bit are x32.
  public static func arch(auditArch value: UInt32, number: Int32?) -> Arch? {
    Arch(auditArch: value, number: Int64(number ?? 0))
  }

  static let markers = ["type=1326", "type=SECCOMP", "type=UNKNOWN[1326]"]

  /// `seccompMarker(in:)` for text known to be ASCII, over its bytes.
  private static func asciiSeccompMarker(in text: Substring) -> Substring.Index? {
    let utf8 = text.utf8
    guard let at = utf8.withContiguousStorageIfAvailable({ bytes -> Int? in
      for marker in markers {
        var from = 0
        while let k = firstOffset(of: marker, in: bytes, from: from) {
          let end = k + marker.utf8.count
          let before = k == 0 ? UInt8(ascii: " ") : bytes[k - 1]
          let after = end == bytes.count ? UInt8(ascii: " ") : bytes[end]
          if (before == UInt8(ascii: " ") || before == UInt8(ascii: ";") || before == UInt8(ascii: ":"))
            && (after == UInt8(ascii: " ") || after == UInt8(ascii: ":"))
          {
            return k
          }
          from = end
        }
      }
      return nil
    }) else { return seccompMarker(in: text) }  // not contiguous: the general search
    return at.map { utf8.index(utf8.startIndex, offsetBy: $0) }
  }

  /// The first range of `pattern` in ASCII `text`, over its bytes.
  private static func asciiFirstRange(of pattern: String, in text: Substring) -> Range<Substring.Index>? {
    let utf8 = text.utf8
    guard let at = utf8.withContiguousStorageIfAvailable({ firstOffset(of: pattern, in: $0, from: 0) }) else {
      return text.firstRange(of: pattern)
    }
    return at.map { utf8.index(utf8.startIndex, offsetBy: $0)..<utf8.index(utf8.startIndex, offsetBy: $0 + pattern.utf8.count) }
  }

  /// Where `pattern` (not empty) first occurs in `bytes` at or after `from`.
  private static func firstOffset(of pattern: String, in bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
    var pattern = pattern
    return pattern.withUTF8 { p -> Int? in
      guard p.count <= bytes.count else { return nil }
      var k = from
      while k + p.count <= bytes.count {
        if bytes[k] == p[0] {
          var j = 1
          while j < p.count && bytes[k + j] == p[j] { j += 1 }
          if j == p.count { return k }
        }
        k += 1
      }
      return nil
    }
  }

  /// The index where `type=1326`, `type=SECCOMP` or `type=UNKNOWN[1326]` starts, as a whole word.
  private static func seccompMarker(in text: Substring) -> Substring.Index? {
    for marker in markers {
      var search = text[...]
      while let range = search.firstRange(of: marker) {
        let before = range.lowerBound == text.startIndex ? " " : text[text.index(before: range.lowerBound)]
        let after = range.upperBound == text.endIndex ? " " : text[range.upperBound]
        if (before == " " || before == ";" || before == ":") && (after == " " || after == ":") {
          return range.lowerBound
        }
        search = text[range.upperBound...]
      }
    }
    return nil
  }

  /// `key=value` pairs; values quoted (`"..."`), hex-encoded for `comm`, `exe` and other
  /// untrusted strings, or plain words.
  static func fields(in body: Substring) -> [String: String] {
    // Over UTF-8 bytes: every delimiter is ASCII, and a Character view would pay for
    // grapheme breaking on every step.
    let bytes = Array(body.utf8)
    func text(_ from: Int, _ to: Int) -> String { String(decoding: bytes[from..<to], as: UTF8.self) }
    let space = UInt8(ascii: " "), colon = UInt8(ascii: ":"), equals = UInt8(ascii: "="), quote = UInt8(ascii: "\"")
    var result: [String: String] = [:]
    result.reserveCapacity(16)  // a kernel record has about 14 fields
    var i = 0
    let n = bytes.count
    while true {
      while i < n && (bytes[i] == space || bytes[i] == colon) { i += 1 }
      guard i < n else { break }
      var eq = i
      var spaceBefore = false
      while eq < n && bytes[eq] != equals {
        if bytes[eq] == space { spaceBefore = true }
        eq += 1
      }
      guard eq < n, !spaceBefore else {
        while i < n && bytes[i] != space { i += 1 }
        continue
      }
      let key = text(i, eq)
      i = eq + 1
      var value: String
      if i < n && bytes[i] == quote {
        let inner = i + 1
        var close = inner
        while close < n && bytes[close] != quote { close += 1 }
        value = text(inner, close)
        i = close < n ? close + 1 : close
      } else {
        var end = i
        while end < n && bytes[end] != space { end += 1 }
        value = text(i, end)
        i = end
        if key == "comm" || key == "exe" || key == "cmd" || key == "proctitle", let decoded = hexDecoded(value) {
          value = decoded
        }
      }
      result[key] = value
    }
    return result
  }

  private static func hexDecoded(_ s: String) -> String? {
    let chars = Array(s.utf8)
    guard chars.count >= 2, chars.count % 2 == 0 else { return nil }
    var bytes: [UInt8] = []
    var i = 0
    while i < chars.count {
      guard let b = UInt8(String(decoding: chars[i..<(i + 2)], as: UTF8.self), radix: 16) else { return nil }
      bytes.append(b)
      i += 2
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Whether `s` is an optionally signed run of decimal digits.
  static func isInteger(_ s: some StringProtocol) -> Bool {
    let digits = s.first == "-" || s.first == "+" ? s.dropFirst() : s[...]
    return !digits.isEmpty && digits.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
  }

  /// A decimal number from 0 to `max`, or nil (not digits, or out of range).
  static func decimal(_ s: some StringProtocol, max: UInt64) -> UInt64? {
    guard !s.isEmpty, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = UInt64(s), v <= max else { return nil }
    return v
  }

  /// `SECONDS.MILLIS` (the fraction optional) as seconds since the epoch, or nil.
  static func timestamp(_ s: some StringProtocol) -> Double? {
    let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard decimal(parts[0], max: UInt64(Int64.max)) != nil else { return nil }
    if parts.count == 2 {
      guard (1...9).contains(parts[1].count), decimal(parts[1], max: UInt64.max) != nil else { return nil }
    }
    return Double(String(s))
  }

  private static func hex64(_ s: String) -> UInt64? {
    let t = s.lowercased()
    return t.hasPrefix("0x") ? UInt64(t.dropFirst(2), radix: 16) : UInt64(t, radix: 16)
  }

  /// `ausearch -i` writes the action's name instead of its value (the data is lost).
  private static func interpretedAction(_ s: String) -> SeccompAction? {
    switch s.lowercased() {
    case "kill", "kill-thread", "kill_thread": .killThread
    case "kill-process", "kill_process": .killProcess
    case "trap": .trap()
    case "errno": .errno(SeccompAction.eperm)
    case "trace": .trace(0)
    case "log": .log
    case "allow": .allow
    case "notify", "user_notif", "user-notif": .userNotif
    default: nil
    }
  }

  // MARK: - Selecting and grouping

  /// What records can be grouped by.
  public enum Grouping: String, CaseIterable, Sendable {
    case exe, comm, pid
  }

  /// The key of a record for a grouping (`?` when the record lacks the field).
  public static func key(of r: SeccompAuditRecord, by grouping: Grouping) -> String {
    switch grouping {
    case .exe: r.exe ?? "?"
    case .comm: r.comm ?? "?"
    case .pid: r.pid.map(String.init) ?? "?"
    }
  }

  /// Records grouped by exe, comm or pid, in the order each key first appears.
  public func grouped(by grouping: Grouping) -> [(key: String, records: [SeccompAuditRecord])] {
    var order: [String] = []
    var groups: [String: [SeccompAuditRecord]] = [:]
    for r in records {
      let k = AuditLog.key(of: r, by: grouping)
      if groups[k] == nil { order.append(k) }
      groups[k, default: []].append(r)
    }
    return order.map { ($0, groups[$0]!) }
  }

  /// The records of the processes wanted: each non-empty criterion must match (`exe`
  /// matches the whole path or its last component).
  public func filtered(comm: [String] = [], exe: [String] = [], pids: [Int] = []) -> AuditLog {
    var copy = self
    copy.records = records.filter { r in
      (comm.isEmpty || r.comm.map(comm.contains) == true)
        && (exe.isEmpty || r.exe.map { e in exe.contains { $0 == e || $0 == e.split(separator: "/").last.map(String.init) } } == true)
        && (pids.isEmpty || r.pid.map(pids.contains) == true)
    }
    return copy
  }

  /// The records with one copy of each event (the same `audit(time:serial)` read from
  /// both dmesg and syslog, say).
  public func uniqued() -> AuditLog {
    var seen: Set<String> = []
    var copy = self
    copy.records = records.filter { r in
      guard let t = r.timestamp, let s = r.serial else { return true }
      return seen.insert("\(t):\(s):\(r.pid ?? -1):\(r.number ?? -1)").inserted
    }
    return copy
  }

  /// Named calls per ABI, with counts (records with an unknown ABI or number left out).
  public var syscallsByArch: [Arch: [String: Int]] {
    var result: [Arch: [String: Int]] = [:]
    for r in records {
      guard let arch = r.arch, let name = r.syscall, arch.number(of: name) != nil else { continue }
      result[arch, default: [:]][name, default: 0] += 1
    }
    return result
  }
}
