/// Sets `linux.seccomp` in an OCI bundle's `config.json` text, keeping every other byte
/// of the file: the other keys, their order, numbers as written, whitespace and layout.
public enum OCIBundleEditor {
  /// The config text with `linux.seccomp` replaced (or inserted, creating `linux` when
  /// absent or null). The new value is laid out like the file (its indentation unit, or
  /// compact when the file is on one line).
  ///
  /// - Throws: an `InputError` naming `file`, when the text is not JSON, is not an
  ///   object, or its `linux` is neither an object nor null.
  public static func settingSeccomp(
    _ seccomp: JSONValue, inConfig bytes: [UInt8], file: String?
  ) throws(InputError) -> [UInt8] {
    let root: JSONValue
    do {
      root = try JSONValue.parse(bytes)
    } catch {
      throw InputError(
        Diagnostic(
          .error, file: file, line: error.line,
          "invalid JSON at column \(error.column): \(error.message); expected the bundle's runtime-spec configuration"))
    }
    guard case .object = root.kind else {
      throw InputError(
        Diagnostic(
          .error, file: file, line: root.line, "expected an object (the runtime-spec configuration), found \(kindName(root))"))
    }
    if let linux = root["linux"] {
      switch linux.kind {
      case .object, .null: break
      default:
        throw InputError(
          Diagnostic(
            .error, file: file, path: "linux", line: linux.line,
            "expected an object (the Linux-specific configuration), found \(kindName(linux))"))
      }
    }
    let spliced = Splicer(bytes).setting(seccomp)
    if let parsed = try? JSONValue.parse(spliced), keepsEverythingElse(original: root, edited: parsed, seccomp: seccomp) {
      return spliced
    }
    // Not expected; rebuild the whole document rather than write something wrong.
    return Array(rebuilt(root, seccomp: seccomp).prettyPrinted().utf8) + [0x0A]
  }

  /// Whether `edited` is `original` with only `linux.seccomp` set to `seccomp`.
  static func keepsEverythingElse(original: JSONValue, edited: JSONValue, seccomp: JSONValue) -> Bool {
    sameIgnoringLines(rebuilt(original, seccomp: seccomp), edited)
  }

  /// The document with `linux.seccomp` set, as a value.
  static func rebuilt(_ root: JSONValue, seccomp: JSONValue) -> JSONValue {
    guard case .object(var members) = root.kind else { return root }
    let member = JSONValue.Member(key: "seccomp", value: seccomp)
    if let i = members.lastIndex(where: { $0.key == "linux" }) {
      if case .object(var linux) = members[i].value.kind {
        if let j = linux.lastIndex(where: { $0.key == "seccomp" }) {
          linux[j].value = seccomp
        } else {
          linux.append(member)
        }
        members[i].value = .object(linux)
      } else {
        members[i].value = .object([member])
      }
    } else {
      members.append(JSONValue.Member(key: "linux", value: .object([member])))
    }
    return .object(members)
  }

  /// Structural equality that ignores the lines values were read from.
  static func sameIgnoringLines(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a.kind, b.kind) {
    case (.null, .null): return true
    case (.bool(let x), .bool(let y)): return x == y
    case (.number(let x), .number(let y)): return x == y
    case (.string(let x), .string(let y)): return x == y
    case (.array(let x), .array(let y)):
      return x.count == y.count && zip(x, y).allSatisfy { sameIgnoringLines($0, $1) }
    case (.object(let x), .object(let y)):
      return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && sameIgnoringLines($0.value, $1.value) }
    default: return false
    }
  }

  static func kindName(_ v: JSONValue) -> String {
    switch v.kind {
    case .null: "null"
    case .bool: "a boolean"
    case .number(let n): "the number \(n)"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
  }
}

/// Finds byte ranges in a text already known to be valid JSON, and splices into it.
private struct Splicer {
  let b: [UInt8]
  init(_ bytes: [UInt8]) { b = bytes }

  struct Member {
    var key: String
    var keyStart: Int
    var valueStart: Int
    var valueEnd: Int
  }

  func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }

  func skipSpace(_ i: Int) -> Int {
    var i = i
    while i < b.count, isSpace(b[i]) { i += 1 }
    return i
  }

  /// `i` at an opening quote; the index after the closing one.
  func endOfString(_ i: Int) -> Int {
    var i = i + 1
    while i < b.count {
      if b[i] == UInt8(ascii: "\\") {
        i += 2
      } else if b[i] == UInt8(ascii: "\"") {
        return i + 1
      } else {
        i += 1
      }
    }
    return i
  }

  /// `i` at the first byte of a value; the index after it.
  func endOfValue(_ i: Int) -> Int {
    guard i < b.count else { return i }
    switch b[i] {
    case UInt8(ascii: "\""): return endOfString(i)
    case UInt8(ascii: "{"), UInt8(ascii: "["):
      var depth = 0
      var j = i
      while j < b.count {
        switch b[j] {
        case UInt8(ascii: "\""):
          j = endOfString(j)
          continue
        case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
          depth -= 1
          if depth == 0 { return j + 1 }
        default: break
        }
        j += 1
      }
      return j
    default:
      var j = i
      while j < b.count, !isSpace(b[j]), b[j] != UInt8(ascii: ","), b[j] != UInt8(ascii: "}"), b[j] != UInt8(ascii: "]") {
        j += 1
      }
      return j
    }
  }

  /// `open` at `{`: the members and the index of the closing `}`.
  func members(ofObjectAt open: Int) -> (members: [Member], close: Int) {
    var out: [Member] = []
    var i = skipSpace(open + 1)
    while i < b.count, b[i] != UInt8(ascii: "}") {
      let keyStart = i
      let keyEnd = endOfString(i)
      var key = ""
      if let v = try? JSONValue.parse(Array(b[keyStart..<keyEnd])), case .string(let s) = v.kind { key = s }
      i = skipSpace(keyEnd) + 1  // the colon
      let valueStart = skipSpace(i)
      let valueEnd = endOfValue(valueStart)
      out.append(Member(key: key, keyStart: keyStart, valueStart: valueStart, valueEnd: valueEnd))
      i = skipSpace(valueEnd)
      if i < b.count, b[i] == UInt8(ascii: ",") { i = skipSpace(i + 1) }
    }
    return (out, i)
  }

  /// The spaces and tabs that start the line holding `pos`.
  func lineIndent(at pos: Int) -> [UInt8] {
    var start = pos
    while start > 0, b[start - 1] != 0x0A { start -= 1 }
    var end = start
    while end < b.count, b[end] == 0x20 || b[end] == 0x09 { end += 1 }
    return Array(b[start..<end])
  }

  /// Whether an object's members start on their own lines.
  func isMultiline(open: Int, firstKey: Int?) -> Bool {
    guard let firstKey else { return b[open..<endOfValue(open)].contains(0x0A) }
    return b[open..<firstKey].contains(0x0A)
  }

  func setting(_ seccomp: JSONValue) -> [UInt8] {
    let rootOpen = skipSpace(0)
    let (rootMembers, rootClose) = members(ofObjectAt: rootOpen)
    let compact = !b[rootOpen...min(rootClose, b.count - 1)].contains(0x0A)
    var unit: [UInt8] = Array("\t".utf8)
    if let first = rootMembers.first, isMultiline(open: rootOpen, firstKey: first.keyStart) {
      let indent = lineIndent(at: first.keyStart)
      if !indent.isEmpty { unit = indent }
    }

    func render(_ v: JSONValue, lineIndent: [UInt8]) -> [UInt8] {
      if compact { return compactJSON(v) }
      var out: [UInt8] = []
      for c in v.prettyPrinted(indent: String(decoding: unit, as: UTF8.self)).utf8 {
        out.append(c)
        if c == 0x0A { out += lineIndent }
      }
      return out
    }
    func memberText(_ key: String, _ v: JSONValue, lineIndent: [UInt8]) -> [UInt8] {
      var out: [UInt8] = []
      JSONValue.writeString(key, to: &out)
      out += compact ? Array(":".utf8) : Array(": ".utf8)
      return out + render(v, lineIndent: lineIndent)
    }
    /// Inserts `key: v` as the last member of the object at `open`...`close`.
    func insert(_ key: String, _ v: JSONValue, open: Int, close: Int, members: [Member]) -> [UInt8] {
      let parentIndent = lineIndent(at: open)
      let multiline = !compact && (members.isEmpty || isMultiline(open: open, firstKey: members[0].keyStart))
      if let last = members.last {
        let indent = multiline ? lineIndent(at: members[0].keyStart) : parentIndent
        let sep: [UInt8] = multiline ? [0x2C, 0x0A] + indent : (compact ? [0x2C] : [0x2C, 0x20])
        return Array(b[..<last.valueEnd]) + sep + memberText(key, v, lineIndent: indent) + Array(b[last.valueEnd...])
      }
      let indent = parentIndent + unit
      let body: [UInt8] =
        compact ? memberText(key, v, lineIndent: []) : [0x0A] + indent + memberText(key, v, lineIndent: indent) + [0x0A] + parentIndent
      return Array(b[...open]) + body + Array(b[close...])
    }
    func replace(_ m: Member, with text: [UInt8]) -> [UInt8] {
      Array(b[..<m.valueStart]) + text + Array(b[m.valueEnd...])
    }

    guard let linux = rootMembers.last(where: { $0.key == "linux" }) else {
      let value = JSONValue.object([JSONValue.Member(key: "seccomp", value: seccomp)])
      return insert("linux", value, open: rootOpen, close: rootClose, members: rootMembers)
    }
    if b[linux.valueStart] == UInt8(ascii: "{") {
      let (linuxMembers, linuxClose) = members(ofObjectAt: linux.valueStart)
      if let existing = linuxMembers.last(where: { $0.key == "seccomp" }) {
        return replace(existing, with: render(seccomp, lineIndent: lineIndent(at: existing.keyStart)))
      }
      return insert("seccomp", seccomp, open: linux.valueStart, close: linuxClose, members: linuxMembers)
    }
    // `"linux": null`
    let value = JSONValue.object([JSONValue.Member(key: "seccomp", value: seccomp)])
    return replace(linux, with: render(value, lineIndent: lineIndent(at: linux.keyStart)))
  }
}

/// JSON on one line, no spaces.
func compactJSON(_ v: JSONValue) -> [UInt8] {
  var out: [UInt8] = []
  func write(_ v: JSONValue) {
    switch v.kind {
    case .null: out += Array("null".utf8)
    case .bool(let x): out += Array((x ? "true" : "false").utf8)
    case .number(let n): out += Array(n.utf8)
    case .string(let s): JSONValue.writeString(s, to: &out)
    case .array(let items):
      out.append(UInt8(ascii: "["))
      for (i, item) in items.enumerated() {
        if i > 0 { out.append(UInt8(ascii: ",")) }
        write(item)
      }
      out.append(UInt8(ascii: "]"))
    case .object(let members):
      out.append(UInt8(ascii: "{"))
      for (i, m) in members.enumerated() {
        if i > 0 { out.append(UInt8(ascii: ",")) }
        JSONValue.writeString(m.key, to: &out)
        out.append(UInt8(ascii: ":"))
        write(m.value)
      }
      out.append(UInt8(ascii: "}"))
    }
  }
  write(v)
  return out
}

/// What an OCI bundle's `process` says about the filter's surroundings: the
/// noNewPrivileges mode runc loads it in, and the capabilities Docker's includes and
/// excludes are evaluated against.
public struct OCIBundleProcess: Hashable, Sendable {
  /// `process.noNewPrivileges` (absent: false, as runc reads it).
  public var noNewPrivileges: Bool
  /// `process.capabilities.bounding`: what moby's profile expansion keys on, and the
  /// most the container's processes can have. Empty when the bundle gives none.
  public var capabilities: [String]
  /// Where the capabilities came from (`process.capabilities.bounding`, or why none).
  public var capabilitiesSource: String

  /// Reads `process` from a config.json text.
  ///
  /// - Throws: an `InputError` naming `file` and the JSON path when the text is not JSON
  ///   or a member has the wrong type.
  public static func read(config bytes: [UInt8], file: String?) throws(InputError) -> OCIBundleProcess {
    let root: JSONValue
    do {
      root = try JSONValue.parse(bytes)
    } catch {
      throw InputError(
        Diagnostic(.error, file: file, line: error.line, "invalid JSON at column \(error.column): \(error.message); expected the bundle's runtime-spec configuration"))
    }
    func wrong(_ path: String, _ v: JSONValue, _ expected: String) -> InputError {
      InputError(Diagnostic(.error, file: file, path: path, line: v.line, "expected \(expected), found \(OCIBundleEditor.kindName(v))"))
    }
    guard case .object = root.kind else { throw wrong("", root, "an object (the runtime-spec configuration)") }
    guard let process = root["process"], case .object = process.kind else {
      return OCIBundleProcess(noNewPrivileges: false, capabilities: [], capabilitiesSource: "no process in the bundle")
    }
    var noNewPrivileges = false
    if let v = process["noNewPrivileges"] {
      switch v.kind {
      case .bool(let b): noNewPrivileges = b
      case .null: break
      default: throw wrong("process.noNewPrivileges", v, "a boolean")
      }
    }
    guard let caps = process["capabilities"], case .object = caps.kind else {
      return OCIBundleProcess(noNewPrivileges: noNewPrivileges, capabilities: [], capabilitiesSource: "the bundle gives no process.capabilities")
    }
    guard let bounding = caps["bounding"] else {
      return OCIBundleProcess(noNewPrivileges: noNewPrivileges, capabilities: [], capabilitiesSource: "the bundle gives no process.capabilities.bounding")
    }
    var names: [String] = []
    switch bounding.kind {
    case .null: break
    case .array(let items):
      for (i, item) in items.enumerated() {
        guard case .string(let s) = item.kind else { throw wrong("process.capabilities.bounding[\(i)]", item, "a capability name") }
        names.append(s)
      }
    default: throw wrong("process.capabilities.bounding", bounding, "an array of capability names")
    }
    return OCIBundleProcess(noNewPrivileges: noNewPrivileges, capabilities: names, capabilitiesSource: "the bundle's process.capabilities.bounding")
  }
}
