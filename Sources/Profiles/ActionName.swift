import Seccomp

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

extension ActionName {
  /// The action this name means, with `errnoRet` for ERRNO and TRACE (EPERM when
  /// absent, as runc does; the data field keeps the low 16 bits).
  public func action(errnoRet: UInt32?) -> SeccompAction {
    let data = UInt16(truncatingIfNeeded: errnoRet ?? 1)
    switch self {
    case .kill, .killThread: return .killThread
    case .killProcess: return .killProcess
    case .trap: return .trap()
    case .errno: return .errno(data)
    case .trace: return .trace(data)
    case .allow: return .allow
    case .log: return .log
    case .notify: return .userNotif
    }
  }
}

extension SeccompAction {
  /// The action as a profile spells it, with its errno when it has one.
  public var profileAction: (name: ActionName, errnoRet: UInt32?) {
    switch kind {
    case .killProcess: (.killProcess, nil)
    case .killThread: (.killThread, nil)
    case .trap: (.trap, nil)
    case .errno: (.errno, UInt32(data))
    case .userNotif: (.notify, nil)
    case .trace: (.trace, UInt32(data))
    case .log: (.log, nil)
    case .allow: (.allow, nil)
    }
  }
}
