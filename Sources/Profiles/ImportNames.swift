import Syscalls

/// A plain list of syscall names, as Docker's old contrib/mkseccomp.sample wrote them: one
/// or more names per line, separated by white space, with C comments (`/* ... */`, across
/// lines too) and `//` comments. A line starting with `#` (a C preprocessor line, which
/// mkseccomp.pl left to cpp) is skipped with a warning. A name may be listed more than once.
public struct SyscallNameList: Sendable {
  /// The names in first-seen order, each with the line it first appears on.
  public var names: [(name: String, line: Int)]
  /// Warnings (errors are thrown).
  public var diagnostics: [Diagnostic]
  /// Lines read.
  public var lineCount: Int

  /// Reads `text` (the file `file`, nil for standard input).
  public init(text: String, file: String?) throws(InputError) {
    var names: [(String, Int)] = []
    var seen: Set<String> = []
    var diagnostics: [Diagnostic] = []
    var errors: [Diagnostic] = []
    var inComment = false
    var commentStart = 0
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    lineCount = text.hasSuffix("\n") ? lines.count - 1 : lines.count
    for (i, raw) in lines.enumerated() {
      let lineNumber = i + 1
      var kept = ""
      var rest = Substring(raw)
      while !rest.isEmpty {
        if inComment {
          guard let end = Self.find("*/", in: rest) else {
            rest = ""
            break
          }
          rest = rest[end.upperBound...]
          inComment = false
          kept += " "
          continue
        }
        let open = Self.find("/*", in: rest)
        let line = Self.find("//", in: rest)
        if let line, open.map({ line.lowerBound < $0.lowerBound }) ?? true {
          kept += rest[..<line.lowerBound]
          rest = ""
        } else if let open {
          kept += rest[..<open.lowerBound]
          kept += " "
          rest = rest[open.upperBound...]
          inComment = true
          commentStart = lineNumber
        } else {
          kept += rest
          rest = ""
        }
      }
      let trimmed = kept.drop { $0 == " " || $0 == "\t" }
      if trimmed.hasPrefix("#") {
        diagnostics.append(Diagnostic(.warning, file: file, line: lineNumber, "a preprocessor line ('\(trimmed)'): skipped; every name in the file is read, whatever #if says"))
        continue
      }
      for token in kept.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\u{0C}" || $0 == "\u{0B}" }) {
        guard token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }), token.first.map({ !$0.isNumber }) ?? false else {
          errors.append(Diagnostic(.error, file: file, line: lineNumber, "'\(token)' is not a syscall name (letters, digits and _, not starting with a digit)"))
          continue
        }
        let name = String(token)
        if seen.insert(name).inserted { names.append((name, lineNumber)) }
      }
    }
    if inComment {
      errors.append(Diagnostic(.error, file: file, line: commentStart, "a /* comment that is never closed"))
    }
    if !errors.isEmpty { throw InputError(errors + diagnostics) }
    self.names = names
    self.diagnostics = diagnostics
  }

  /// The first place `pattern` (two characters) occurs in `s`.
  static func find(_ pattern: String, in s: Substring) -> Range<Substring.Index>? {
    let p = Array(pattern)
    var i = s.startIndex
    while i < s.endIndex {
      let j = s.index(after: i)
      if s[i] == p[0], j < s.endIndex, s[j] == p[1] { return i..<s.index(after: j) }
      i = j
    }
    return nil
  }

  /// The names that are no syscall on any ABI, in file order.
  public var unknown: [String] { names.map(\.name).filter { !SyscallTable.isKnown($0) } }

  /// The names that are syscalls somewhere but not on `arch`, in file order.
  public func missing(on arch: Arch) -> [String] {
    names.map(\.name).filter { SyscallTable.isKnown($0) && arch.number(of: $0) == nil }
  }

  /// The names that are syscalls on `arch`, sorted.
  public func present(on arch: Arch) -> [String] {
    names.map(\.name).filter { arch.number(of: $0) != nil }.sorted()
  }
}
