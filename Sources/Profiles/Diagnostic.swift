/// One finding about an input: where it is (file, JSON path or line) and what was expected.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
  public enum Severity: String, Hashable, Sendable, Comparable {
    case warning, error
    public static func < (a: Severity, b: Severity) -> Bool { a == .warning && b == .error }
  }

  public var severity: Severity
  /// The file, or nil for standard input or an in-memory value.
  public var file: String?
  /// A JSON path such as `syscalls[12].args[0].op`, or empty for the whole document.
  public var path: String
  /// 1-based line of the offending text, when known.
  public var line: Int?
  public var message: String

  public init(_ severity: Severity, file: String? = nil, path: String = "", line: Int? = nil, _ message: String) {
    self.severity = severity
    self.file = file
    self.path = path
    self.line = line
    self.message = message
  }

  /// `file:line: error: syscalls[3].action: message`
  public var description: String {
    var where_ = file ?? "<stdin>"
    if let line { where_ += ":\(line)" }
    let at = path.isEmpty ? "" : "\(path): "
    return "\(where_): \(severity.rawValue): \(at)\(message)"
  }
}

/// An input that cannot be used; carries every error found (and the warnings).
public struct InputError: Error, Sendable, CustomStringConvertible {
  public var diagnostics: [Diagnostic]
  public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
  public init(_ d: Diagnostic) { self.diagnostics = [d] }
  public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
