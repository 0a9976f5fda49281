import Seccomp
import Syscalls

/// An LXC seccomp policy file (`lxc.seccomp.profile`) read as LXC 5 reads it on one host,
/// as a profile with the same decisions.
///
/// Version 1: `1`, a line containing `allowlist` (LXC 5 refuses `whitelist` there), then one
/// syscall number of the native ABI per line (text after the number is ignored): those are
/// allowed, everything else is killed (SCMP_ACT_KILL, the calling thread), on the native ABI only.
///
/// Version 2: `2`, then `allowlist`/`whitelist` or `denylist`/`blacklist`, optionally followed
/// by the default action (`kill`, `errno N`, `allow`, `trap`, `notify`; an allow-list kills by
/// default, a deny-list allows), then lines `name [action] [index,value,op(,mask)]...`. A line
/// starting with `#` is a comment; `[x86_64]`-style sections say on which hosts the lines that
/// follow are read; every line read applies to each ABI of the host (`LXCPolicyArch`). A name that
/// is no syscall is skipped (LXC says so only in its log), `reject_force_umount` refuses
/// `umount2(..., MNT_FORCE)` with EACCES, and when one name has several lines without
/// arguments, the first wins. What makes LXC refuse the file is an error here too: an
/// unknown action word or section, a bad argument, a line whose action is the default
/// (libseccomp's EACCES), two conditions on one argument (EINVAL).
public struct LXCPolicyImport: Sendable {
  /// The profile: `architectures` the ABIs LXC's filter covers on the host.
  public var profile: Profile
  /// 1 or 2.
  public var version: Int
  /// Warnings (errors are thrown).
  public var diagnostics: [Diagnostic]
  /// Names that are no syscall on any ABI the filter covers, with the first line of each, in file order.
  public var unknown: [(name: String, line: Int)]
  /// Lines read (rules and skipped lines alike).
  public var lineCount: Int

  /// Reads `text` (the file `file`, nil for standard input) as LXC does on a host whose
  /// native ABI is `host`.
  public init(text: String, file: String?, host: Arch) throws(InputError) {
    var p = Parser(file: file, host: LXCPolicyArch.host(for: host))
    try p.parse(text)
    profile = p.profile()
    version = p.version
    diagnostics = p.diagnostics
    unknown = p.unknown
    lineCount = p.lineCount
  }

  struct Parser {
    let file: String?
    let host: Arch
    var version = 2
    var diagnostics: [Diagnostic] = []
    var unknown: [(name: String, line: Int)] = []
    var lineCount = 0
    var defaultAction: SeccompAction = .killThread
    var ruleAction: SeccompAction = .allow
    /// The profile's entries in file order.
    var entries: [SyscallEntry] = []
    /// The first line of each name given without arguments.
    var unconditional: [String: Int] = [:]

    init(file: String?, host: Arch) {
      self.file = file
      self.host = host
    }

    func error(_ line: Int, _ message: String) -> InputError {
      InputError(Diagnostic(.error, file: file, line: line, message))
    }

    mutating func warn(_ line: Int, _ message: String) {
      diagnostics.append(Diagnostic(.warning, file: file, line: line, message))
    }

    mutating func parse(_ text: String) throws(InputError) {
      // getline() keeps the newline; LXC strips it from rule lines only.
      var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      if lines.last == "" { lines.removeLast() }
      lineCount = lines.count
      // fscanf("%d\n"): the number, then any white space (blank lines included).
      var i = 0
      while i < lines.count && lines[i].allSatisfy(\.isWhitespace) { i += 1 }
      guard i < lines.count else { throw error(1, "an empty file; an LXC seccomp policy starts with its version, 1 or 2") }
      let first = lines[i].drop { $0 == " " || $0 == "\t" }
      let digits = first.prefix { $0.isASCII && $0.isNumber }
      let rest = first.dropFirst(digits.count)
      guard let v = Int(digits), v == 1 || v == 2 else {
        throw error(i + 1, "LXC's policy version must be 1 or 2, not '\(lines[i])'")
      }
      version = v
      var policyLine: String
      var policyLineNumber: Int
      if rest.allSatisfy(\.isWhitespace) {
        i += 1
        while i < lines.count && lines[i].allSatisfy(\.isWhitespace) { i += 1 }
        guard i < lines.count else { throw error(lines.count, "no policy line (allowlist or denylist) after the version") }
        policyLine = lines[i]
        policyLineNumber = i + 1
      } else {
        policyLine = String(rest.drop { $0 == " " || $0 == "\t" })
        policyLineNumber = i + 1
      }
      if policyLine.contains("debug") {
        throw error(policyLineNumber, "LXC refuses 'debug' in the policy line (\"Debug not yet implemented\")")
      }
      if version == 1 {
        guard policyLine.contains("allowlist") else {
          throw error(
            policyLineNumber,
            "version 1 policies must say 'allowlist' (LXC 5 refuses '\(policyLine)'\(policyLine.contains("whitelist") ? "; 'whitelist' is read in version 2 only" : ""))")
        }
        defaultAction = .killThread
        for n in (policyLineNumber)..<lines.count {
          try readNumber(lines[n], line: n + 1)
        }
        return
      }
      try readPolicyLine(policyLine + (policyLineNumber < lines.count || text.hasSuffix("\n") ? "\n" : ""), line: policyLineNumber)
      var reading = LXCPolicyArch.section(forHost: host) != nil  // before any section: every host LXC knows
      for n in policyLineNumber..<lines.count {
        let line = lines[n]
        if line.hasPrefix("#") || line.isEmpty { continue }
        if line.hasPrefix("[") {
          guard let hosts = LXCPolicyArch.hosts(readingSection: line) else {
            throw error(n + 1, "LXC does not know the section '\(line)' (\"Unsupported architecture\"); sections are [all], [x86_64], [x86], [x32], [arm64], [arm], [ppc64le], [ppc64], [ppc], [mips64], [mips64n32], [mips], [mipsel64], [mipsel64n32], [mipsel], [s390x], [s390], each in lower or upper case, alone on the line")
          }
          reading = hosts.contains(host.name)
          continue
        }
        if !reading { continue }
        try readRule(line, line: n + 1)
      }
    }

    mutating func readNumber(_ text: String, line: Int) throws(InputError) {
      // sscanf("%d"): leading white space, a sign, digits; the rest is ignored.
      let t = text.drop { $0 == " " || $0 == "\t" }
      var digits = String(t.prefix { $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "+") })
      if digits.hasPrefix("+") { digits.removeFirst() }
      guard let nr = Int32(digits) else {
        throw error(line, "version 1 wants one syscall number per line, not '\(text)' (LXC refuses the file)")
      }
      let number = SyscallNumber(nr)
      guard let name = SyscallTable.names(of: number, in: host.abi).first else {
        warn(line, "\(nr) is no \(host) syscall syscage knows; left out")
        return
      }
      addRule(name, action: .allow, conditions: [], line: line)
    }

    /// `allowlist [ACTION]` / `denylist [ACTION]` (and the old words).
    mutating func readPolicyLine(_ text: String, line: Int) throws(InputError) {
      let denylist = text.hasPrefix("denylist") || text.hasPrefix("blacklist")
      guard denylist || text.hasPrefix("allowlist") || text.hasPrefix("whitelist") else {
        throw error(line, "the policy line must start with allowlist or denylist (LXC: \"Bad seccomp policy style\"), not '\(text.trimmingSuffixNewline)'")
      }
      var explicit: SeccompAction? = nil
      if let space = text.firstIndex(of: " ") {
        switch Self.action(text[text.index(after: space)...]) {
        case .invalid(let why): throw error(line, why)
        case .action(let a): explicit = a
        case .none: break
        }
      }
      if denylist {
        defaultAction = explicit ?? .allow
        ruleAction = .killThread
      } else {
        defaultAction = explicit ?? .killThread
        ruleAction = .allow
      }
    }

    enum ParsedAction {
      case action(SeccompAction)
      case none
      case invalid(String)
    }

    /// LXC's get_v2_default_action: spaces, then a word by its prefix; nothing at all is none.
    static func action(_ s: Substring) -> ParsedAction {
      let t = s.drop { $0 == " " }
      if t.hasPrefix("kill") { return .action(.killThread) }
      if t.hasPrefix("errno") {
        // sscanf(" %d"): white space, a sign, digits.
        let after = t.dropFirst(5).drop { $0 == " " || $0 == "\t" || $0 == "\n" }
        var digits = String(after.prefix { $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "+") })
        if digits.hasPrefix("+") { digits.removeFirst() }
        guard let e = Int32(digits) else { return .invalid("'errno' wants a number after it (LXC: \"Failed to parse errno value\")") }
        return .action(.errno(UInt16(truncatingIfNeeded: e)))
      }
      if t.hasPrefix("allow") { return .action(.allow) }
      if t.hasPrefix("trap") { return .action(.trap()) }
      if t.hasPrefix("notify") { return .action(.userNotif) }
      if t.isEmpty { return .none }
      return .invalid(
        "LXC knows the actions kill, errno N, allow, trap and notify, not '\(String(t).trimmingSuffixNewline)' (\"Unrecognized seccomp action\")")
    }

    mutating func readRule(_ text: String, line: Int) throws(InputError) {
      // get_v2_action: the text after the first space, unless empty or a comment.
      var action = ruleAction
      if let space = text.firstIndex(of: " ") {
        let after = text[text.index(after: space)...].drop { $0 == " " }
        if !after.isEmpty && !after.hasPrefix("#") {
          switch Self.action(after) {
          case .invalid(let why): throw error(line, why)
          case .action(let a): action = a
          case .none: break
          }
        }
      }
      var conditions: [ArgumentCondition] = []
      if text.contains("[") {
        for (i, piece) in text.split(separator: "]", omittingEmptySubsequences: true).enumerated() where i < 6 {
          conditions.append(try argument(piece, line: line))
        }
      }
      let name = String(text.prefix { $0 != " " })
      if name.hasPrefix("reject_force_umount") {
        // LXC: SCMP_ACT_ERRNO(EACCES) for umount2 with MNT_FORCE in its flags, whatever the line says.
        try add("umount2", action: .errno(13), conditions: [ArgumentCondition(index: 1, value: 1, valueTwo: 1, op: .maskedEqual)], line: line)
        return
      }
      guard !name.isEmpty else { return }  // LXC looks up "" and skips it
      guard SyscallTable.isKnown(name) else {
        if !unknown.contains(where: { $0.name == name }) { unknown.append((name, line)) }
        return
      }
      if !LXCPolicyArch.abis(onHost: host).contains(where: { $0.number(of: name) != nil || Multiplexer.route(name, on: $0) != nil }) {
        if !unknown.contains(where: { $0.name == name }) { unknown.append((name, line)) }
        return
      }
      try add(name, action: action, conditions: conditions, line: line)
    }

    /// One `[index,value,op(,mask)]`, as LXC's sscanf("[%i,%23[^,],%30[^0-9^,],%23[^,]") and
    /// lxc_safe_uint64 read it.
    func argument(_ piece: Substring, line: Int) throws(InputError) -> ArgumentCondition {
      guard let open = piece.firstIndex(of: "[") else {
        throw error(line, "'\(piece.trimmingCharacters)' after an argument is not another [index,value,op] (LXC: \"Failed to interpret args\"); a comment cannot follow arguments")
      }
      let fields = piece[piece.index(after: open)...].split(separator: ",", omittingEmptySubsequences: false)
      func bad(_ why: String) -> InputError {
        error(line, "[\(piece[piece.index(after: open)...])]: \(why); LXC wants [index,value,op] or [index,value,SCMP_CMP_MASKED_EQ,mask]")
      }
      guard fields.count >= 3, let index = Self.cInteger(fields[0]), (0..<6).contains(index) else {
        throw bad("the index must be 0 to 5")
      }
      guard let value = Self.unsigned(fields[1]) else { throw bad("'\(fields[1])' is not an unsigned number") }
      let opText = fields[2].prefix { !($0.isASCII && $0.isNumber) && $0 != "^" }
      guard let op = Self.operators[String(opText)] else { throw bad("'\(fields[2])' is not an operator (SCMP_CMP_EQ or ==, ...)") }
      var mask: UInt64 = 0
      if fields.count >= 4, opText.count == fields[2].count {
        guard let m = Self.unsigned(fields[3]) else { throw bad("'\(fields[3])' is not an unsigned mask") }
        mask = m
      }
      if op == .maskedEqual {
        return ArgumentCondition(index: Int(index), value: mask, valueTwo: value, op: op)
      }
      return ArgumentCondition(index: Int(index), value: value, op: op)
    }

    static let operators: [String: ComparisonOperator] = [
      "SCMP_CMP_NE": .notEqual, "!=": .notEqual, "SCMP_CMP_LT": .lessThan, "<": .lessThan,
      "SCMP_CMP_LE": .lessOrEqual, "<=": .lessOrEqual, "SCMP_CMP_EQ": .equal, "==": .equal,
      "SCMP_CMP_GE": .greaterOrEqual, ">=": .greaterOrEqual, "SCMP_CMP_GT": .greaterThan, ">": .greaterThan,
      "SCMP_CMP_MASKED_EQ": .maskedEqual, "&=": .maskedEqual,
    ]

    /// strtoull(s, 0) as lxc_safe_uint64 takes it: leading white space, no sign, the whole text.
    static func unsigned(_ s: Substring) -> UInt64? {
      var t = s.drop { $0 == " " || $0 == "\t" }
      while t.last == " " || t.last == "\t" || t.last == "\n" { t = t.dropLast() }
      if t.hasPrefix("0x") || t.hasPrefix("0X") { return UInt64(t.dropFirst(2), radix: 16) }
      if t.count > 1 && t.hasPrefix("0") { return UInt64(t.dropFirst(), radix: 8) }
      return UInt64(t)
    }

    /// sscanf("%i"): decimal, 0x hex or 0 octal.
    static func cInteger(_ s: Substring) -> Int? {
      unsigned(s).flatMap { $0 < 1 << 31 ? Int($0) : nil }
    }

    mutating func add(_ name: String, action: SeccompAction, conditions: [ArgumentCondition], line: Int) throws(InputError) {
      if action == defaultAction {
        throw error(
          line,
          "\(name): the action \(LXCConversion.word(action)) is the policy's default; LXC refuses the file (libseccomp: \"Permission denied\"); leave the line out")
      }
      if Set(conditions.map(\.index)).count != conditions.count {
        throw error(line, "\(name): two conditions on one argument; LXC refuses the file (libseccomp: \"Invalid argument\")")
      }
      if conditions.isEmpty, let first = unconditional[name] {
        warn(line, "\(name) already has a line without arguments (line \(first)); LXC keeps the first, this one is left out")
        return
      }
      if conditions.isEmpty { unconditional[name] = line }
      addRule(name, action: action, conditions: conditions, line: line)
    }

    mutating func addRule(_ name: String, action: SeccompAction, conditions: [ArgumentCondition], line: Int) {
      let (actionName, errnoRet) = action.profileAction
      if conditions.isEmpty, var last = entries.last, last.args == nil, last.action == actionName, last.errnoRet == errnoRet {
        last.names.append(name)
        entries[entries.count - 1] = last
        return
      }
      entries.append(SyscallEntry(names: [name], action: actionName, errnoRet: errnoRet, args: conditions.isEmpty ? nil : conditions))
    }

    func profile() -> Profile {
      let (name, errnoRet) = defaultAction.profileAction
      let arches = version == 1 ? [host] : LXCPolicyArch.abis(onHost: host)
      return Profile(defaultAction: name, defaultErrnoRet: errnoRet, architectures: arches, syscalls: entries)
    }
  }
}

extension StringProtocol {
  var trimmingSuffixNewline: String {
    var s = String(self)
    while s.hasSuffix("\n") { s.removeLast() }
    return s
  }

  var trimmingCharacters: String {
    String(self.drop { $0 == " " }).trimmingSuffixNewline
  }
}
