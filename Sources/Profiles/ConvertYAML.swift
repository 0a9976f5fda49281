import Yams

/// A YAML value of the few shapes the Kubernetes converters write: mappings with keys in
/// the order given, sequences, strings, unsigned integers and booleans.
public indirect enum YAMLValue: Equatable, Sendable {
  case string(String)
  case integer(UInt64)
  case bool(Bool)
  case sequence([YAMLValue])
  case mapping([YAMLPair])

  /// One `key: value` of a mapping.
  public struct YAMLPair: Equatable, Sendable {
    public var key: String
    public var value: YAMLValue
    public init(_ key: String, _ value: YAMLValue) {
      self.key = key
      self.value = value
    }
  }

  /// A mapping from pairs, in order.
  public static func map(_ pairs: [(String, YAMLValue)]) -> YAMLValue {
    .mapping(pairs.map { YAMLPair($0.0, $0.1) })
  }

  /// A sequence of strings.
  public static func strings(_ items: [String]) -> YAMLValue { .sequence(items.map { .string($0) }) }
}

extension YAMLValue {
  /// The value as a block-style YAML document written by Yams (libyaml's emitter: two-space
  /// indentation, sequences at their key's indentation as kubectl writes them, no line
  /// folding), preceded by `# comment` lines, ending with a newline. Strings are plain
  /// only when they are identifiers or paths (`isSafePlain`), double-quoted otherwise.
  public func yamlDocument(comments: [String] = []) -> String {
    let body: String
    do {
      body = try Yams.serialize(node: node, indent: 2, width: -1, allowUnicode: true)
    } catch {
      // libyaml refuses nothing these values hold; should it, JSON is YAML too.
      body = json.prettyPrinted(indent: "  ") + "\n"
    }
    let lines = comments.map(YAMLValue.commentLine)
    return (lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n") + body
  }

  /// `# text`, with line breaks in the text turned into spaces.
  public static func commentLine(_ text: String) -> String {
    let flat = String(text.map { $0.isNewline ? " " : $0 })
    return flat.isEmpty ? "#" : "# " + flat
  }

  /// The value as a Yams node, every scalar's tag and style fixed so that a reader takes
  /// it back as the same type.
  var node: Node {
    switch self {
    case .string(let s):
      return .scalar(Node.Scalar(s, Tag(.str), YAMLValue.isSafePlain(s) ? .plain : .doubleQuoted))
    case .integer(let n): return .scalar(Node.Scalar(String(n), Tag(.int), .plain))
    case .bool(let b): return .scalar(Node.Scalar(b ? "true" : "false", Tag(.bool), .plain))
    case .sequence(let items): return .sequence(Node.Sequence(items.map(\.node), Tag(.seq), .block))
    case .mapping(let pairs):
      return .mapping(Node.Mapping(pairs.map { (YAMLValue.string($0.key).node, $0.value.node) }, Tag(.map), .block))
    }
  }

  /// The same value as JSON.
  var json: JSONValue {
    switch self {
    case .string(let s): JSONValue(.string(s))
    case .integer(let n): JSONValue(.number(String(n)))
    case .bool(let b): JSONValue(.bool(b))
    case .sequence(let items): JSONValue(.array(items.map(\.json)))
    case .mapping(let pairs): JSONValue(.object(pairs.map { JSONValue.Member(key: $0.key, value: $0.value.json) }))
    }
  }

  /// Words YAML 1.1 or 1.2 read as booleans or null when plain.
  private static let reserved: Set<String> = [
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
  ]

  /// Whether a string is written plain: only identifiers and paths (a letter, `_` or `/`
  /// first, then letters, digits and `_ . / -`) that no YAML 1.1 or 1.2 reader takes for
  /// a boolean or null.
  public static func isSafePlain(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, s.unicodeScalars.count <= 1024 else { return false }
    func letter(_ c: Unicode.Scalar) -> Bool { (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") }
    func digit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
    guard letter(first) || first == "_" || first == "/" else { return false }
    for c in s.unicodeScalars where !(letter(c) || digit(c) || c == "_" || c == "." || c == "/" || c == "-") {
      return false
    }
    return !reserved.contains(s.lowercased())
  }
}
