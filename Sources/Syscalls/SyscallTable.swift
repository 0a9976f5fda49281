/// Name-to-number and number-to-name lookup over the generated syscall table
/// (libseccomp's `syscalls.csv`, Linux 7.1-rc4, 508 syscalls, 18 ABIs).
public enum SyscallTable {
  /// Every syscall name the table knows, sorted.
  public static var allNames: [String] { GeneratedSyscallTable.names }

  /// The table's own version line.
  public static var version: String { GeneratedSyscallTable.version }

  static let indexByName: [String: Int] = {
    var d: [String: Int] = [:]
    for (i, n) in GeneratedSyscallTable.names.enumerated() { d[n] = i }
    return d
  }()

  static let byNumber: [SyscallABI: [Int32: [Int]]] = {
    var result: [SyscallABI: [Int32: [Int]]] = [:]
    for abi in SyscallABI.allCases {
      var m: [Int32: [Int]] = [:]
      for (i, raw) in GeneratedSyscallTable.numbers(abi).enumerated() where raw >= 0 {
        m[raw + abi.numberBase, default: []].append(i)
      }
      result[abi] = m
    }
    return result
  }()

  /// The position of `name` in `allNames`: resolve a name once, then number it in
  /// every ABI with `number(at:in:)`.
  public static func index(of name: String) -> Int? { indexByName[name] }

  /// The number of the syscall at `index` of `allNames` in `abi`, or nil when absent there.
  public static func number(at index: Int, in abi: SyscallABI) -> SyscallNumber? {
    let raw = GeneratedSyscallTable.numbers(abi)[index]
    return raw < 0 ? nil : SyscallNumber(raw + abi.numberBase)
  }

  /// Whether any ABI has a syscall of this name.
  public static func isKnown(_ name: String) -> Bool { indexByName[name] != nil }

  /// The number of `name` in `abi`, with the ABI's base or x32 bit applied; nil
  /// when the syscall does not exist there.
  public static func number(of name: String, in abi: SyscallABI) -> SyscallNumber? {
    guard let i = indexByName[name] else { return nil }
    let raw = GeneratedSyscallTable.numbers(abi)[i]
    return raw < 0 ? nil : SyscallNumber(raw + abi.numberBase)
  }

  /// All names that `number` has in `abi` (a few numbers carry two names).
  public static func names(of number: SyscallNumber, in abi: SyscallABI) -> [String] {
    (byNumber[abi]?[number.rawValue] ?? []).map { GeneratedSyscallTable.names[$0] }
  }

  /// Every syscall of `abi` with its number, by number.
  public static func entries(in abi: SyscallABI) -> [(name: String, number: SyscallNumber)] {
    let nums = GeneratedSyscallTable.numbers(abi)
    return GeneratedSyscallTable.names.indices.compactMap { i -> (String, SyscallNumber)? in
      nums[i] < 0 ? nil : (GeneratedSyscallTable.names[i], SyscallNumber(nums[i] + abi.numberBase))
    }.sorted { $0.1 < $1.1 }
  }

  /// The highest number of `abi`.
  public static func maxNumber(in abi: SyscallABI) -> SyscallNumber {
    SyscallNumber((byNumber[abi]?.keys.max()) ?? 0)
  }

  /// Known names nearest to `name` by edit distance, best first, for "did you mean".
  public static func suggestions(for name: String, limit: Int = 3) -> [String] {
    let q = Array(name.lowercased().utf8)
    let cutoff = max(2, q.count / 3)
    // The distance is at least the difference in length: far longer words are not compared.
    let scored = GeneratedSyscallTable.names.compactMap { n -> (String, Int, Bool)? in
      let bytes = Array(n.utf8)
      guard q.count <= bytes.count + cutoff else { return nil }
      // The exact distance matters only for names kept; the rest stop once past the cutoff.
      let contains = containsBytes(bytes, q)
      return (n, contains ? editDistance(q, bytes) : editDistance(q, bytes, limit: cutoff), contains)
    }
    return scored.filter { $0.1 <= cutoff || $0.2 }
      .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
      .prefix(limit).map(\.0)
  }
}

extension Arch {
  /// The number of syscall `name` in this ABI, or nil when it does not exist here.
  public func number(of name: String) -> SyscallNumber? { SyscallTable.number(of: name, in: abi) }

  /// The name of syscall `number` in this ABI, or nil.
  public func name(of number: SyscallNumber) -> String? {
    SyscallTable.names(of: number, in: abi).first
  }
}

/// Whether `needle` occurs in `haystack`.
func containsBytes(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
  guard !needle.isEmpty, needle.count <= haystack.count else { return needle.isEmpty }
  for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
    if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
  }
  return false
}
