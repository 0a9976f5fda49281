import Syscalls

/// The one internal form of a profile: for each ABI a filter will meet, a default
/// action and the rules in file order, every name resolved to a number.
///
/// `decide` gives the meaning; the compiler, `check`, `diff` and `lint` all agree with it.
public struct Policy: Hashable, Sendable {
  /// One ABI's rules. Native first.
  public var arches: [ArchPolicy]
  /// The action for a call from an ABI the policy does not list.
  public var badArchAction: SeccompAction
  public var flags: [FilterFlag]
  /// What the Docker expansion assumed (capabilities, kernel, native arch).
  public var context: ExpansionContext

  public init(
    arches: [ArchPolicy], badArchAction: SeccompAction = .killProcess, flags: [FilterFlag] = [],
    context: ExpansionContext
  ) {
    self.arches = arches
    self.badArchAction = badArchAction
    self.flags = flags
    self.context = context
  }

  /// The policy of one ABI, if listed.
  public func policy(for arch: Arch) -> ArchPolicy? { arches.first { $0.arch == arch } }
}

/// The rules of one ABI.
public struct ArchPolicy: Hashable, Sendable {
  public var arch: Arch
  public var defaultAction: SeccompAction
  /// Rules in file order; several may name one syscall.
  public var rules: [Rule]
  /// runc's ENOSYS stub: numbers above this (and nr 0 on s390/s390x) return
  /// ERRNO(ENOSYS), so that libc's fallbacks for newer calls work. nil: no stub.
  public var enosysAbove: SyscallNumber?

  public init(arch: Arch, defaultAction: SeccompAction, rules: [Rule] = [], enosysAbove: SyscallNumber? = nil) {
    self.arch = arch
    self.defaultAction = defaultAction
    self.rules = rules
    self.enosysAbove = enosysAbove
  }

  /// The rules for one syscall number, in file order.
  public func rules(for number: SyscallNumber) -> [Rule] { rules.filter { $0.number == number } }

  /// Every syscall number some rule names.
  public var numbers: Set<SyscallNumber> { Set(rules.map(\.number)) }
}

/// One rule: when every condition holds for a call of `number`, `action`.
public struct Rule: Hashable, Sendable, CustomStringConvertible {
  public var name: String
  public var number: SyscallNumber
  public var action: SeccompAction
  /// ANDed; empty means the rule always matches.
  public var conditions: [Condition]
  /// Where the rule came from, e.g. `syscalls[3]` (a rule made for a
  /// socketcall/ipc multiplexer names its source rule too).
  public var source: String

  public init(name: String, number: SyscallNumber, action: SeccompAction, conditions: [Condition] = [], source: String = "") {
    self.name = name
    self.number = number
    self.action = action
    self.conditions = conditions
    self.source = source
  }

  public var description: String {
    let conds = conditions.map(\.description).joined(separator: " && ")
    return "\(name)\(conds.isEmpty ? "" : "(\(conds))") -> \(action)" + (source.isEmpty ? "" : " [\(source)]")
  }

  /// Whether every condition holds for these arguments.
  public func matches(_ args: [UInt64]) -> Bool {
    conditions.allSatisfy { $0.holds(for: args[$0.index]) }
  }
}

/// One argument comparison, made as the kernel sees the argument: both the
/// argument and the datums are cut to the argument's declared width, and compared unsigned.
public struct Condition: Hashable, Sendable, CustomStringConvertible {
  public var index: Int
  public var op: ComparisonOperator
  /// The datum (for MASKED_EQ, the mask), already cut to `width`.
  public var value: UInt64
  /// For MASKED_EQ, the expected value, already masked by `value`.
  public var valueTwo: UInt64
  /// The mask of the bits the kernel keeps of this argument (0xffff, 0xffffffff, all ones).
  public var width: UInt64

  public init(index: Int, op: ComparisonOperator, value: UInt64, valueTwo: UInt64 = 0, width: UInt64 = .max) {
    self.index = index
    self.op = op
    self.width = width
    self.value = value & width
    self.valueTwo = op == .maskedEqual ? valueTwo & value & width : valueTwo & width
  }

  /// Whether the comparison holds for a raw 64-bit argument register.
  public func holds(for raw: UInt64) -> Bool {
    let a = raw & width
    switch op {
    case .notEqual: return a != value
    case .lessThan: return a < value
    case .lessOrEqual: return a <= value
    case .equal: return a == value
    case .greaterOrEqual: return a >= value
    case .greaterThan: return a > value
    case .maskedEqual: return a & value == valueTwo
    }
  }

  public var description: String {
    let v = "0x" + String(value, radix: 16)
    switch op {
    case .notEqual: return "a\(index) != \(v)"
    case .lessThan: return "a\(index) < \(v)"
    case .lessOrEqual: return "a\(index) <= \(v)"
    case .equal: return "a\(index) == \(v)"
    case .greaterOrEqual: return "a\(index) >= \(v)"
    case .greaterThan: return "a\(index) > \(v)"
    case .maskedEqual: return "a\(index) & \(v) == 0x" + String(valueTwo, radix: 16)
    }
  }
}

extension Policy {
  /// Whether the policy may return LOG for a call of one of `names` on some ABI (its
  /// default action or a rule naming it).
  public func mayLog(_ names: [String]) -> Bool {
    arches.contains { ap in
      ap.defaultAction.kind == .log
        || names.contains { name in
          guard let nr = ap.arch.number(of: name) else { return false }
          return ap.rules(for: nr).contains { $0.action.kind == .log }
        }
    }
  }
}
