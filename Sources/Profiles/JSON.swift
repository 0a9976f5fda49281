/// A JSON value as read from a file: numbers keep their text, so 64-bit integers stay
/// exact, object members keep their file order and their duplicates, and every value
/// knows the 1-based line where it starts (equality compares lines too).
public struct JSONValue: Equatable, Sendable {
  public enum Kind: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number exactly as written (its lexeme), e.g. `18446744073709551615` or `1e3`.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in file order, duplicate keys included.
    case object([Member])
  }

  /// One `"key": value` of an object.
  public struct Member: Equatable, Sendable {
    public var key: String
    /// The 1-based line of the key.
    public var line: Int
    public var value: JSONValue
    public init(key: String, line: Int = 0, value: JSONValue) {
      self.key = key
      self.line = line
      self.value = value
    }
  }

  public var kind: Kind
  /// The 1-based line where the value starts; 0 for values not read from text.
  public var line: Int

  public init(_ kind: Kind, line: Int = 0) {
    self.kind = kind
    self.line = line
  }

  /// The deepest nesting of arrays and objects `parse` accepts by default.
  public static let defaultMaxDepth = 512

  /// Parses one JSON text (RFC 8259, strictly: no comments, no trailing commas, no byte
  /// order mark, valid UTF-8 only). Never traps, whatever the bytes; nesting deeper than
  /// `maxDepth` is an error rather than a stack overflow.
  public static func parse(
    _ bytes: [UInt8], maxDepth: Int = defaultMaxDepth
  ) throws(JSONSyntaxError) -> JSONValue {
    var result: Result<JSONValue, JSONSyntaxError> = .failure(
      JSONSyntaxError(line: 1, column: 1, message: "empty input"))
    bytes.withUnsafeBufferPointer { buffer in
      var parser = JSONParser(buffer, maxDepth: maxDepth)
      result = parser.parseDocument()
    }
    return try result.get()
  }

  /// The members of an object whose key already appeared earlier in it (empty for
  /// other values).
  public var duplicateMembers: [Member] {
    guard case .object(let members) = kind else { return [] }
    var seen = Set<String>()
    return members.filter { !seen.insert($0.key).inserted }
  }

  /// The value of the last member named `key` (the one Go's encoding/json keeps), or nil.
  public subscript(key: String) -> JSONValue? {
    guard case .object(let members) = kind else { return nil }
    return members.last(where: { $0.key == key })?.value
  }
}

/// Why a text is not JSON: where (1-based line and column, counted in characters) and
/// what was expected there.
public struct JSONSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
  public var line: Int
  public var column: Int
  public var message: String
  public init(line: Int, column: Int, message: String) {
    self.line = line
    self.column = column
    self.message = message
  }
  public var description: String { "line \(line), column \(column): \(message)" }
}

// MARK: - Parser

/// An iterative (explicit-stack) parser, so that depth costs heap, not stack.
private struct JSONParser {
  let bytes: UnsafeBufferPointer<UInt8>
  let maxDepth: Int
  var pos = 0
  var line = 1
  var lineStart = 0

  init(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
    self.bytes = bytes
    self.maxDepth = maxDepth
  }

  /// An open array or object. Mutated in place on the stack, so appending never copies.
  private struct Frame {
    var isObject: Bool
    var line: Int
    var items: [JSONValue] = []
    var members: [JSONValue.Member] = []
    /// The key whose value is being read (objects only).
    var key = ""
    var keyLine = 0
  }

  typealias Failure = JSONSyntaxError

  mutating func parseDocument() -> Result<JSONValue, Failure> {
    do throws(Failure) {
      if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
        throw fail("the text starts with a UTF-8 byte order mark (EF BB BF); JSON must not")
      }
      skipWhitespace()
      if pos == bytes.count {
        throw fail(bytes.isEmpty ? "the input is empty; expected a JSON value" : "expected a JSON value, found only whitespace")
      }
      let value = try parseValues()
      skipWhitespace()
      if pos < bytes.count {
        throw fail("expected the end of the input after the JSON value, found \(describeByte(at: pos))")
      }
      return .success(value)
    } catch {
      return .failure(error)
    }
  }

  private mutating func parseValues() throws(Failure) -> JSONValue {
    var stack: [Frame] = []
    while true {
      // A value is expected at `pos` (whitespace skipped).
      skipWhitespace()
      guard pos < bytes.count else { throw fail("unexpected end of input; expected a value") }
      let startLine = line
      var value: JSONValue
      switch bytes[pos] {
      case UInt8(ascii: "{"):
        guard stack.count < maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
        pos += 1
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") {
          pos += 1
          value = JSONValue(.object([]), line: startLine)
        } else {
          let (key, keyLine) = try parseKey(first: true)
          stack.append(Frame(isObject: true, line: startLine, key: key, keyLine: keyLine))
          continue
        }
      case UInt8(ascii: "["):
        guard stack.count < maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
        pos += 1
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
          pos += 1
          value = JSONValue(.array([]), line: startLine)
        } else {
          stack.append(Frame(isObject: false, line: startLine))
          continue
        }
      case UInt8(ascii: "\""):
        value = JSONValue(.string(try parseString()), line: startLine)
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        value = JSONValue(.number(try parseNumber()), line: startLine)
      case UInt8(ascii: "t"):
        try expectLiteral("true")
        value = JSONValue(.bool(true), line: startLine)
      case UInt8(ascii: "f"):
        try expectLiteral("false")
        value = JSONValue(.bool(false), line: startLine)
      case UInt8(ascii: "n"):
        try expectLiteral("null")
        value = JSONValue(.null, line: startLine)
      default:
        throw fail("expected a value (object, array, string, number, true, false or null), found \(describeByte(at: pos))")
      }

      // Attach the finished value to its containers, closing those that end here.
      while true {
        guard !stack.isEmpty else { return value }
        let top = stack.count - 1
        skipWhitespace()
        let next: UInt8? = pos < bytes.count ? bytes[pos] : nil
        if stack[top].isObject {
          stack[top].members.append(JSONValue.Member(key: stack[top].key, line: stack[top].keyLine, value: value))
          if next == UInt8(ascii: ",") {
            pos += 1
            (stack[top].key, stack[top].keyLine) = try parseKey(first: false)
            break
          } else if next == UInt8(ascii: "}") {
            pos += 1
            let frame = stack.removeLast()
            value = JSONValue(.object(frame.members), line: frame.line)
          } else {
            throw fail("expected ',' or '}' after an object member, found \(describeByte(at: pos))")
          }
        } else {
          stack[top].items.append(value)
          if next == UInt8(ascii: ",") {
            pos += 1
            break
          } else if next == UInt8(ascii: "]") {
            pos += 1
            let frame = stack.removeLast()
            value = JSONValue(.array(frame.items), line: frame.line)
          } else {
            throw fail("expected ',' or ']' after an array element, found \(describeByte(at: pos))")
          }
        }
      }
    }
  }

  /// Reads `"key" :` and leaves `pos` at the value.
  private mutating func parseKey(first: Bool) throws(Failure) -> (String, Int) {
    skipWhitespace()
    guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
      let what = first ? "a string key or '}'" : "a string key after ','"
      throw fail("expected \(what), found \(describeByte(at: pos))")
    }
    let keyLine = line
    let key = try parseString()
    skipWhitespace()
    guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else {
      throw fail("expected ':' after an object key, found \(describeByte(at: pos))")
    }
    pos += 1
    return (key, keyLine)
  }

  private mutating func skipWhitespace() {
    while pos < bytes.count {
      switch bytes[pos] {
      case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
        pos += 1
      case UInt8(ascii: "\n"):
        pos += 1
        line += 1
        lineStart = pos
      default:
        return
      }
    }
  }

  private mutating func expectLiteral(_ word: String) throws(Failure) {
    for (i, expected) in word.utf8.enumerated() where pos + i >= bytes.count || bytes[pos + i] != expected {
      pos += i
      throw fail("invalid literal; expected \(word), found \(describeByte(at: pos))")
    }
    pos += word.utf8.count
  }

  private mutating func parseNumber() throws(Failure) -> String {
    let start = pos
    func isDigit(_ i: Int) -> Bool { i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 }
    if bytes[pos] == UInt8(ascii: "-") {
      pos += 1
      guard isDigit(pos) else { throw fail("expected a digit after '-', found \(describeByte(at: pos))") }
    }
    if bytes[pos] == UInt8(ascii: "0") {
      pos += 1
      if isDigit(pos) { throw fail("a number must not have leading zeros") }
    } else {
      while isDigit(pos) { pos += 1 }
    }
    if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
      pos += 1
      guard isDigit(pos) else { throw fail("expected a digit after '.', found \(describeByte(at: pos))") }
      while isDigit(pos) { pos += 1 }
    }
    if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
      pos += 1
      if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
      guard isDigit(pos) else { throw fail("expected a digit in the exponent, found \(describeByte(at: pos))") }
      while isDigit(pos) { pos += 1 }
    }
    return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
  }

  private mutating func parseString() throws(Failure) -> String {
    pos += 1  // opening quote
    var out: [UInt8] = []
    while true {
      guard pos < bytes.count else { throw fail("unterminated string; expected '\"' before the end of input") }
      let b = bytes[pos]
      switch b {
      case UInt8(ascii: "\""):
        pos += 1
        return String(decoding: out, as: UTF8.self)
      case UInt8(ascii: "\\"):
        try parseEscape(into: &out)
      case 0..<0x20:
        throw fail("control character \(hexByte(b)) in a string; write it as an escape such as \\n or \\u00\(hexDigits(b))")
      case 0x20..<0x80:
        out.append(b)
        pos += 1
      default:
        guard let n = validUTF8Length(at: pos) else {
          throw fail("invalid UTF-8 byte \(hexByte(b)) in a string")
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[pos..<pos + n]))
        pos += n
      }
    }
  }

  private mutating func parseEscape(into out: inout [UInt8]) throws(Failure) {
    pos += 1
    guard pos < bytes.count else { throw fail("unterminated escape at the end of input") }
    let c = bytes[pos]
    pos += 1
    let simple: UInt8?
    switch c {
    case UInt8(ascii: "\""): simple = 0x22
    case UInt8(ascii: "\\"): simple = 0x5C
    case UInt8(ascii: "/"): simple = 0x2F
    case UInt8(ascii: "b"): simple = 0x08
    case UInt8(ascii: "f"): simple = 0x0C
    case UInt8(ascii: "n"): simple = 0x0A
    case UInt8(ascii: "r"): simple = 0x0D
    case UInt8(ascii: "t"): simple = 0x09
    case UInt8(ascii: "u"): simple = nil
    default:
      pos -= 1
      throw fail("invalid escape '\\' followed by \(describeByte(at: pos)); expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX")
    }
    if let simple {
      out.append(simple)
      return
    }
    var scalar = try hex4()
    if (0xDC00...0xDFFF).contains(scalar) {
      throw fail("\\u\(hex4Text(scalar)) is a lone low surrogate")
    }
    if (0xD800...0xDBFF).contains(scalar) {
      guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
        throw fail("\\u\(hex4Text(scalar)) is a high surrogate not followed by a low surrogate escape")
      }
      pos += 2
      let low = try hex4()
      guard (0xDC00...0xDFFF).contains(low) else {
        throw fail("\\u\(hex4Text(scalar)) is a high surrogate followed by \\u\(hex4Text(low)), not a low surrogate")
      }
      scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
    }
    // Encode the scalar as UTF-8 (surrogates are excluded above, so it is valid).
    switch scalar {
    case 0..<0x80:
      out.append(UInt8(scalar))
    case 0x80..<0x800:
      out.append(UInt8(0xC0 | (scalar >> 6)))
      out.append(UInt8(0x80 | (scalar & 0x3F)))
    case 0x800..<0x10000:
      out.append(UInt8(0xE0 | (scalar >> 12)))
      out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
      out.append(UInt8(0x80 | (scalar & 0x3F)))
    default:
      out.append(UInt8(0xF0 | (scalar >> 18)))
      out.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
      out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
      out.append(UInt8(0x80 | (scalar & 0x3F)))
    }
  }

  private mutating func hex4() throws(Failure) -> UInt32 {
    var v: UInt32 = 0
    for _ in 0..<4 {
      guard pos < bytes.count else { throw fail("expected four hex digits after \\u, found the end of input") }
      let b = bytes[pos]
      let d: UInt8
      switch b {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - 0x30
      case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - 0x61 + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - 0x41 + 10
      default: throw fail("expected four hex digits after \\u, found \(describeByte(at: pos))")
      }
      v = v << 4 | UInt32(d)
      pos += 1
    }
    return v
  }

  /// The length of the well-formed UTF-8 sequence at `i` (overlong forms, surrogates
  /// and values above U+10FFFF are ill-formed), or nil.
  private func validUTF8Length(at i: Int) -> Int? {
    let b0 = bytes[i]
    func cont(_ k: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool {
      i + k < bytes.count && range.contains(bytes[i + k])
    }
    switch b0 {
    case 0xC2...0xDF: return cont(1) ? 2 : nil
    case 0xE0: return cont(1, 0xA0...0xBF) && cont(2) ? 3 : nil
    case 0xE1...0xEC, 0xEE...0xEF: return cont(1) && cont(2) ? 3 : nil
    case 0xED: return cont(1, 0x80...0x9F) && cont(2) ? 3 : nil
    case 0xF0: return cont(1, 0x90...0xBF) && cont(2) && cont(3) ? 4 : nil
    case 0xF1...0xF3: return cont(1) && cont(2) && cont(3) ? 4 : nil
    case 0xF4: return cont(1, 0x80...0x8F) && cont(2) && cont(3) ? 4 : nil
    default: return nil
    }
  }

  private func describeByte(at i: Int) -> String {
    guard i < bytes.count else { return "the end of input" }
    let b = bytes[i]
    switch b {
    case 0x21...0x7E: return "'\(Character(Unicode.Scalar(b)))'"
    case 0x00: return "a NUL byte (0x00)"
    case 0x20: return "' '"
    default:
      if b >= 0x80, let n = validUTF8Length(at: i) {
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<i + n]), as: UTF8.self)
        return "'\(text)'"
      }
      return "byte \(hexByte(b))"
    }
  }

  private func fail(_ message: String) -> Failure {
    // Column in characters: count the bytes of this line that start a UTF-8 sequence.
    var column = 1
    var i = lineStart
    while i < min(pos, bytes.count) {
      if bytes[i] & 0xC0 != 0x80 { column += 1 }
      i += 1
    }
    return JSONSyntaxError(line: line, column: column, message: message)
  }
}

private func hexDigits(_ b: UInt8) -> String {
  let digits = Array("0123456789ABCDEF")
  return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
}

private func hexByte(_ b: UInt8) -> String { "0x" + hexDigits(b) }

private func hex4Text(_ v: UInt32) -> String {
  hexDigits(UInt8((v >> 8) & 0xFF)) + hexDigits(UInt8(v & 0xFF))
}

// MARK: - Writer

extension JSONValue {
  /// The value as indented JSON, one member or element per line and object keys in the
  /// order given, the way Go's `json.MarshalIndent(v, "", "\t")` lays out Docker's
  /// `default.json`. No trailing newline.
  public func prettyPrinted(indent: String = "\t") -> String {
    var out: [UInt8] = []
    out.reserveCapacity(4096)
    write(to: &out, indent: Array(indent.utf8), level: 0)
    return String(decoding: out, as: UTF8.self)
  }

  private func write(to out: inout [UInt8], indent: [UInt8], level: Int) {
    func newline(_ level: Int) {
      out.append(0x0A)
      for _ in 0..<level { out.append(contentsOf: indent) }
    }
    switch kind {
    case .null: out.append(contentsOf: "null".utf8)
    case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
    case .number(let lexeme): out.append(contentsOf: lexeme.utf8)
    case .string(let s): JSONValue.writeString(s, to: &out)
    case .array(let items):
      out.append(UInt8(ascii: "["))
      guard !items.isEmpty else { return out.append(UInt8(ascii: "]")) }
      for (i, item) in items.enumerated() {
        if i > 0 { out.append(UInt8(ascii: ",")) }
        newline(level + 1)
        item.write(to: &out, indent: indent, level: level + 1)
      }
      newline(level)
      out.append(UInt8(ascii: "]"))
    case .object(let members):
      out.append(UInt8(ascii: "{"))
      guard !members.isEmpty else { return out.append(UInt8(ascii: "}")) }
      for (i, member) in members.enumerated() {
        if i > 0 { out.append(UInt8(ascii: ",")) }
        newline(level + 1)
        JSONValue.writeString(member.key, to: &out)
        out.append(contentsOf: ": ".utf8)
        member.value.write(to: &out, indent: indent, level: level + 1)
      }
      newline(level)
      out.append(UInt8(ascii: "}"))
    }
  }

  /// `s` as a JSON string literal, quotes included.
  public static func quoted(_ s: String) -> String {
    var out: [UInt8] = []
    writeString(s, to: &out)
    return String(decoding: out, as: UTF8.self)
  }

  /// Writes `s` as a JSON string: quote, backslash and control characters escaped, and
  /// U+2028/U+2029 as Go writes them; everything else as UTF-8.
  static func writeString(_ s: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    let utf8 = Array(s.utf8)
    var i = 0
    while i < utf8.count {
      let b = utf8[i]
      i += 1
      switch b {
      case 0x22: out.append(contentsOf: #"\""#.utf8)
      case 0x5C: out.append(contentsOf: #"\\"#.utf8)
      case 0x0A: out.append(contentsOf: #"\n"#.utf8)
      case 0x0D: out.append(contentsOf: #"\r"#.utf8)
      case 0x09: out.append(contentsOf: #"\t"#.utf8)
      case 0x08: out.append(contentsOf: #"\b"#.utf8)
      case 0x0C: out.append(contentsOf: #"\f"#.utf8)
      case 0..<0x20:
        out.append(contentsOf: #"\u00"#.utf8)
        out.append(contentsOf: hexDigits(b).utf8)
      case 0xE2 where i + 1 < utf8.count && utf8[i] == 0x80 && (utf8[i + 1] == 0xA8 || utf8[i + 1] == 0xA9):
        // U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR
        out.append(contentsOf: (utf8[i + 1] == 0xA8 ? #"\u2028"# : #"\u2029"#).utf8)
        i += 2
      default: out.append(b)
      }
    }
    out.append(UInt8(ascii: "\""))
  }
}
