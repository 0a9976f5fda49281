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
