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
  /// The value as a block-style YAML document (two-space indentation, sequences at their
  /// key's indentation as kubectl writes them), preceded by `# comment` lines, ending
  /// with a newline. Strings are quoted whenever a plain scalar could be read as
  /// something else (a number, a boolean, null, an indicator).
  public func yamlDocument(comments: [String] = []) -> String {
    var lines = comments.map(YAMLValue.commentLine)
    switch self {
    case .mapping(let pairs) where !pairs.isEmpty: lines += YAMLValue.render(self, indent: 0)
    case .sequence(let items) where !items.isEmpty: lines += YAMLValue.render(self, indent: 0)
    default: lines.append(YAMLValue.inline(self))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// `# text`, with line breaks in the text turned into spaces.
  public static func commentLine(_ text: String) -> String {
    let flat = String(text.map { $0.isNewline ? " " : $0 })
    return flat.isEmpty ? "#" : "# " + flat
  }

  /// Whether a value is written on its key's line (scalars and empty collections).
  private var isInline: Bool {
    switch self {
    case .string, .integer, .bool: true
    case .sequence(let items): items.isEmpty
    case .mapping(let pairs): pairs.isEmpty
    }
  }

  private static func inline(_ v: YAMLValue) -> String {
    switch v {
    case .string(let s): return scalar(s)
    case .integer(let n): return String(n)
    case .bool(let b): return b ? "true" : "false"
    case .sequence: return "[]"
    case .mapping: return "{}"
    }
  }

  /// The lines of a non-empty collection whose lines start at column `indent`.
  private static func render(_ v: YAMLValue, indent: Int) -> [String] {
    let pad = String(repeating: " ", count: indent)
    var lines: [String] = []
    switch v {
    case .mapping(let pairs):
      for pair in pairs {
        let key = scalar(pair.key)
        if pair.value.isInline {
          lines.append("\(pad)\(key): \(inline(pair.value))")
        } else if case .sequence = pair.value {
          lines.append("\(pad)\(key):")
          lines += render(pair.value, indent: indent)
        } else {
          lines.append("\(pad)\(key):")
          lines += render(pair.value, indent: indent + 2)
        }
      }
    case .sequence(let items):
      for item in items {
        if item.isInline {
          lines.append("\(pad)- \(inline(item))")
        } else {
          // Render the item two columns in, then put the dash into the first line's margin.
          var sub = render(item, indent: indent + 2)
          sub[0] = pad + "- " + sub[0].dropFirst(indent + 2)
          lines += sub
        }
      }
    default:
      lines.append(pad + inline(v))
    }
    return lines
  }

  /// Words YAML 1.1 or 1.2 read as booleans or null when plain.
  private static let reserved: Set<String> = [
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
  ]

  /// A string as a plain scalar when that is unambiguous, else double-quoted.
  public static func scalar(_ s: String) -> String {
    isSafePlain(s) ? s : quoted(s)
  }

  /// Plain only for identifiers and paths: a letter, `_` or `/` first, then letters,
  /// digits and `_ . / -`, and not a word YAML reads as a boolean or null.
  static func isSafePlain(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, s.unicodeScalars.count <= 1024 else { return false }
    func letter(_ c: Unicode.Scalar) -> Bool { (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") }
    func digit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
    guard letter(first) || first == "_" || first == "/" else { return false }
    for c in s.unicodeScalars where !(letter(c) || digit(c) || c == "_" || c == "." || c == "/" || c == "-") {
      return false
    }
    return !reserved.contains(s.lowercased())
  }

  /// A double-quoted YAML scalar: backslash, quote, control characters and the Unicode
  /// line breaks escaped; everything else as written.
  public static func quoted(_ s: String) -> String {
    var out = "\""
    for c in s.unicodeScalars {
      switch c {
      case "\\": out += "\\\\"
      case "\"": out += "\\\""
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      case "\0": out += "\\0"
      case "\u{85}": out += "\\N"
      case "\u{2028}": out += "\\L"
      case "\u{2029}": out += "\\P"
      case "\u{FEFF}": out += "\\uFEFF"
      default:
        if c.value < 0x20 || c.value == 0x7F || (c.value >= 0x80 && c.value < 0xA0) {
          out += "\\x" + (c.value < 0x10 ? "0" : "") + String(c.value, radix: 16, uppercase: true)
        } else {
          out.unicodeScalars.append(c)
        }
      }
    }
    return out + "\""
  }
}
