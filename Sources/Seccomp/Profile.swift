import Syscalls

/// A seccomp profile in Docker's JSON schema (a superset of the OCI runtime-spec
/// `linux.seccomp` object), as written: nothing is expanded or resolved here.
///
/// Optional fields stay nil when absent so that a profile encodes back to what it was.
public struct Profile: Hashable, Sendable {
  public var defaultAction: ActionName?
  /// The errno of an ERRNO or TRACE default action; EPERM when absent.
  public var defaultErrnoRet: UInt32?
  /// `architectures`; mutually exclusive with `archMap`.
  public var architectures: [Arch]?
  public var archMap: [ArchMapEntry]?
  public var syscalls: [SyscallEntry]?
  public var flags: [FilterFlag]?
  public var listenerPath: String?
  public var listenerMetadata: String?

  public init(
    defaultAction: ActionName? = nil, defaultErrnoRet: UInt32? = nil, architectures: [Arch]? = nil,
    archMap: [ArchMapEntry]? = nil, syscalls: [SyscallEntry]? = nil, flags: [FilterFlag]? = nil,
    listenerPath: String? = nil, listenerMetadata: String? = nil
  ) {
    self.defaultAction = defaultAction
    self.defaultErrnoRet = defaultErrnoRet
    self.architectures = architectures
    self.archMap = archMap
    self.syscalls = syscalls
    self.flags = flags
    self.listenerPath = listenerPath
    self.listenerMetadata = listenerMetadata
  }

  /// moby's rule: no default action and no syscalls means no seccomp at all.
  public var isDisabled: Bool { defaultAction == nil && (syscalls ?? []).isEmpty }
}

/// One `archMap` entry: a native arch and the ABIs its processes can also use.
public struct ArchMapEntry: Hashable, Sendable {
  public var architecture: Arch
  /// nil when written as `null`, which Docker's own profile does.
  public var subArchitectures: [Arch]?
  public init(architecture: Arch, subArchitectures: [Arch]?) {
    self.architecture = architecture
    self.subArchitectures = subArchitectures
  }
}

/// One `syscalls[]` entry: names, an action, and argument conditions that must all hold.
public struct SyscallEntry: Hashable, Sendable {
  public var names: [String]
  /// True when the file used the deprecated single `name` field.
  public var usesNameField: Bool
  public var action: ActionName
  public var errnoRet: UInt32?
  public var args: [ArgumentCondition]?
  public var comment: String?
  public var includes: EntryFilter?
  public var excludes: EntryFilter?

  public init(
    names: [String], usesNameField: Bool = false, action: ActionName, errnoRet: UInt32? = nil,
    args: [ArgumentCondition]? = nil, comment: String? = nil, includes: EntryFilter? = nil,
    excludes: EntryFilter? = nil
  ) {
    self.names = names
    self.usesNameField = usesNameField
    self.action = action
    self.errnoRet = errnoRet
    self.args = args
    self.comment = comment
    self.includes = includes
    self.excludes = excludes
  }
}

/// One argument condition: `args[index] op value` (for MASKED_EQ,
/// `args[index] & value == valueTwo`).
public struct ArgumentCondition: Hashable, Sendable {
  public var index: Int
  public var value: UInt64
  /// nil when absent; Docker omits it when zero.
  public var valueTwo: UInt64?
  public var op: ComparisonOperator
  public init(index: Int, value: UInt64, valueTwo: UInt64? = nil, op: ComparisonOperator) {
    self.index = index
    self.value = value
    self.valueTwo = valueTwo
    self.op = op
  }
}

/// Docker's `includes` / `excludes`: conditions on the host under which an entry applies.
public struct EntryFilter: Hashable, Sendable {
  public var caps: [String]?
  public var arches: [String]?
  public var minKernel: KernelVersion?
  public init(caps: [String]? = nil, arches: [String]? = nil, minKernel: KernelVersion? = nil) {
    self.caps = caps
    self.arches = arches
    self.minKernel = minKernel
  }
  public var isEmpty: Bool { (caps ?? []).isEmpty && (arches ?? []).isEmpty && minKernel == nil }
}

/// A kernel version as moby compares it: major and minor only.
public struct KernelVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
  public var major: Int
  public var minor: Int
  public init(major: Int, minor: Int) {
    self.major = major
    self.minor = minor
  }
  /// Parses "X.Y" and also a uname release ("6.18.0-1-amd64"), reading major and minor.
  public init?(release: String) {
    let digits = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
    guard digits.count == 2 else { return nil }
    self.init(major: digits[0], minor: digits[1])
  }
  public static func < (a: KernelVersion, b: KernelVersion) -> Bool {
    (a.major, a.minor) < (b.major, b.minor)
  }
  public var description: String { "\(major).\(minor)" }
}

/// An action as a profile spells it. `SCMP_ACT_KILL` and `SCMP_ACT_KILL_THREAD`
/// mean the same and both are kept, so that a profile encodes back as written.
public enum ActionName: String, CaseIterable, Hashable, Sendable {
  case kill = "SCMP_ACT_KILL"
  case killThread = "SCMP_ACT_KILL_THREAD"
  case killProcess = "SCMP_ACT_KILL_PROCESS"
  case trap = "SCMP_ACT_TRAP"
  case errno = "SCMP_ACT_ERRNO"
  case trace = "SCMP_ACT_TRACE"
  case allow = "SCMP_ACT_ALLOW"
  case log = "SCMP_ACT_LOG"
  case notify = "SCMP_ACT_NOTIFY"

  /// Whether `errnoRet` means anything for this action.
  public var takesErrno: Bool { self == .errno || self == .trace }
}

/// A comparison operator of an argument condition.
public enum ComparisonOperator: String, CaseIterable, Hashable, Sendable {
  case notEqual = "SCMP_CMP_NE"
  case lessThan = "SCMP_CMP_LT"
  case lessOrEqual = "SCMP_CMP_LE"
  case equal = "SCMP_CMP_EQ"
  case greaterOrEqual = "SCMP_CMP_GE"
  case greaterThan = "SCMP_CMP_GT"
  case maskedEqual = "SCMP_CMP_MASKED_EQ"
}

/// A `SECCOMP_FILTER_FLAG_*` a profile may ask for.
public enum FilterFlag: String, CaseIterable, Hashable, Sendable {
  case tsync = "SECCOMP_FILTER_FLAG_TSYNC"
  case log = "SECCOMP_FILTER_FLAG_LOG"
  case specAllow = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
  case waitKillableRecv = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"

  /// The kernel's bit for this flag.
  public var bit: UInt32 {
    switch self {
    case .tsync: 1
    case .log: 2
    case .specAllow: 4
    case .waitKillableRecv: 32
    }
  }
}
