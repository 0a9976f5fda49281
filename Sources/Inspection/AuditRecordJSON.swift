import Syscalls

extension SeccompAuditRecord {
  /// The record as one JSON object (no newline) with the keys `audit --json` prints, in
  /// sorted order: `action`, `arch`, `comm`, `exe`, `file`, `line`, `number`, `pid`,
  /// `serial`, `syscall`, `time`, `uid` (each only when the record has it).
  ///
  /// The text is what Foundation's `JSONSerialization` with `.sortedKeys` writes for the
  /// same object: `/` escaped as `\/`, control characters as `\b \t \n \f \r` or `\u00xx`
  /// (lowercase hex), every other character as UTF-8; integers in decimal; the time as
  /// Swift's shortest round-trip form without a trailing `.0`.
  public var jsonLine: String {
    var out: [UInt8] = []
    writeJSON(to: &out)
    return String(decoding: out, as: UTF8.self)
  }

  /// Appends `jsonLine`'s bytes to `out`.
  public func writeJSON(to out: inout [UInt8]) {
    var first = true
    func key(_ k: StaticString) {
      out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
      first = false
      out.append(UInt8(ascii: "\""))
      k.withUTF8Buffer { out.append(contentsOf: $0) }
      out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }
    func string(_ k: StaticString, _ v: String) {
      key(k)
      AuditJSON.writeString(v, to: &out)
    }
    func integer(_ k: StaticString, _ v: some BinaryInteger) {
      key(k)
      AuditJSON.writeInteger(v, to: &out)
    }
    if action != nil { string("action", actionName) }
    if let arch { string("arch", arch.name) }
    if let comm { string("comm", comm) }
    if let exe { string("exe", exe) }
    if let file { string("file", file) }
    integer("line", line)
    if let number { integer("number", number) }
    if let pid { integer("pid", pid) }
    if let serial, serial <= UInt64(Int.max) { integer("serial", serial) }
    if let syscall { string("syscall", syscall) }
    if let timestamp, timestamp.isFinite {
      key("time")
      var text = timestamp.description
      if text.hasSuffix(".0") { text.removeLast(2) }
      out.append(contentsOf: text.utf8)
    }
    if let uid { integer("uid", uid) }
    out.append(UInt8(ascii: "}"))
  }
}

/// The pieces of Foundation-compatible JSON text `SeccompAuditRecord.writeJSON` is made of.
enum AuditJSON {
  /// Writes `s` quoted, escaped the way `JSONSerialization` escapes it.
  static func writeString(_ s: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    var s = s
    s.withUTF8 { bytes in
      var mark = 0
      for (i, b) in bytes.enumerated() {
        let escape: StaticString
        switch b {
        case UInt8(ascii: "\""): escape = #"\""#
        case UInt8(ascii: "\\"): escape = #"\\"#
        case UInt8(ascii: "/"): escape = #"\/"#
        case 0x08: escape = #"\b"#
        case 0x09: escape = #"\t"#
        case 0x0A: escape = #"\n"#
        case 0x0C: escape = #"\f"#
        case 0x0D: escape = #"\r"#
        case 0..<0x20: escape = #"\u00"#
        default: continue
        }
        out.append(contentsOf: bytes[mark..<i])
        escape.withUTF8Buffer { out.append(contentsOf: $0) }
        if escape.utf8CodeUnitCount > 2 {  // \u00 and two lowercase hex digits
          out.append(hexDigit(b >> 4))
          out.append(hexDigit(b & 0xf))
        }
        mark = i + 1
      }
      out.append(contentsOf: bytes[mark...])
    }
    out.append(UInt8(ascii: "\""))
  }

  static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? UInt8(ascii: "0") + v : UInt8(ascii: "a") + v - 10 }

  /// Writes `v` in decimal.
  static func writeInteger(_ v: some BinaryInteger, to out: inout [UInt8]) {
    if v < 0 { out.append(UInt8(ascii: "-")) }
    var magnitude = v.magnitude
    let start = out.count
    repeat {
      out.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
      magnitude /= 10
    } while magnitude > 0
    out[start...].reverse()
  }
}
