/// How the kernel reads one syscall argument: how many low bits of the register
/// it keeps, and whether it treats them as signed.
///
/// seccomp sees the whole register, the kernel only the declared type: an `int`
/// argument of 0x1_00000028 is 40 to the kernel.
public struct ArgumentType: Hashable, Sendable, CustomStringConvertible {
  /// The C declaration, as tracefs prints it (`int fd`), or empty when unknown.
  public let declaration: String
  /// Bits the kernel keeps: 16, 32 or 64.
  public let bits: Int
  public let isSigned: Bool

  public var description: String { declaration.isEmpty ? "\(bits)-bit" : declaration }

  /// The mask of the bits the kernel keeps.
  public var mask: UInt64 { bits >= 64 ? .max : (1 << UInt64(bits)) - 1 }

  /// The type of a C declaration on an ABI with `wordBits`-bit words.
  public init(declaration: String, wordBits: Int) {
    self.declaration = declaration
    let (kind, signed) = ArgumentType.classify(declaration)
    switch kind {
    case .bits16: bits = 16
    case .bits32: bits = 32
    case .word: bits = wordBits
    }
    isSigned = signed
  }

  /// An argument whose declaration is unknown: the full word, unsigned.
  public static func word(_ wordBits: Int) -> ArgumentType {
    ArgumentType(declaration: "", wordBits: wordBits)
  }

  enum Kind { case bits16, bits32, word }

  static let signed32: Set<String> = [
    "int", "pid_t", "__s32", "s32", "key_serial_t", "key_t", "mqd_t", "clockid_t", "timer_t",
    "rwf_t", "enum",
  ]
  static let unsigned32: Set<String> = [
    "unsigned int", "unsigned", "u32", "__u32", "uid_t", "gid_t", "qid_t",
  ]
  static let signedWord: Set<String> = ["long", "loff_t", "off_t", "ssize_t", "__kernel_old_time_t"]

  static func classify(_ declaration: String) -> (Kind, Bool) {
    if declaration.isEmpty || declaration.contains("*") { return (.word, false) }
    // Drop the parameter name and qualifiers: "const unsigned int flags" -> "unsigned int".
    var words = declaration.split(separator: " ").map(String.init)
    if words.count > 1 { words.removeLast() }
    words.removeAll { $0 == "const" || $0 == "volatile" }
    if words.first == "enum" { return (.bits32, true) }
    let type = words.joined(separator: " ")
    if type == "umode_t" { return (.bits16, false) }
    if signed32.contains(type) { return (.bits32, true) }
    if unsigned32.contains(type) { return (.bits32, false) }
    if signedWord.contains(type) { return (.word, true) }
    return (.word, false)
  }
}

extension Arch {
  /// The type of argument `index` (0...5) of syscall `name` on this ABI.
  ///
  /// Declarations come from the x86_64 kernel; on other ABIs the same rule applies
  /// with this ABI's word size. Unknown arguments are the full word, unsigned.
  public func argumentType(of name: String, index: Int) -> ArgumentType {
    guard let decls = GeneratedSyscallTable.signatures[name], index < decls.count, index >= 0 else {
      return .word(wordBits)
    }
    return ArgumentType(declaration: decls[index], wordBits: wordBits)
  }

  /// The declared arguments of syscall `name`, or nil when the table has no signature.
  public func argumentTypes(of name: String) -> [ArgumentType]? {
    GeneratedSyscallTable.signatures[name].map { $0.map { ArgumentType(declaration: $0, wordBits: wordBits) } }
  }
}
