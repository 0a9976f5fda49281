import BPF

/// What a seccomp filter returns for a call: an action and 16 bits of data
/// (the errno of ERRNO, the message of TRACE and TRAP).
public struct SeccompAction: Hashable, Sendable, CustomStringConvertible {
  /// The action kinds, most restrictive first: the kernel's precedence.
  public enum Kind: Int, Hashable, Sendable, Comparable, CaseIterable {
    case killProcess, killThread, trap, errno, userNotif, trace, log, allow

    public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }

    /// The `SECCOMP_RET_*` value with zero data.
    public var base: UInt32 {
      switch self {
      case .killProcess: 0x8000_0000
      case .killThread: 0x0000_0000
      case .trap: 0x0003_0000
      case .errno: 0x0005_0000
      case .userNotif: 0x7fc0_0000
      case .trace: 0x7ff0_0000
      case .log: 0x7ffc_0000
      case .allow: 0x7fff_0000
      }
    }
  }

  public var kind: Kind
  public var data: UInt16

  public init(_ kind: Kind, data: UInt16 = 0) {
    self.kind = kind
    self.data = data
  }

  public static let allow = SeccompAction(.allow)
  public static let log = SeccompAction(.log)
  public static let killProcess = SeccompAction(.killProcess)
  public static let killThread = SeccompAction(.killThread)
  public static let userNotif = SeccompAction(.userNotif)
  public static func errno(_ e: UInt16) -> SeccompAction { SeccompAction(.errno, data: e) }
  public static func trace(_ msg: UInt16) -> SeccompAction { SeccompAction(.trace, data: msg) }
  public static func trap(_ data: UInt16 = 0) -> SeccompAction { SeccompAction(.trap, data: data) }

  /// EPERM and ENOSYS, the errnos profiles use most.
  public static let eperm: UInt16 = 1
  public static let enosys: UInt16 = 38

  /// The 32-bit value a filter's `ret` returns.
  public var returnValue: UInt32 { kind.base | UInt32(data) }

  /// Decodes a filter's return value the way the kernel does (an unknown action
  /// kills the process).
  public init(returnValue r: UInt32) {
    let data = UInt16(r & 0xffff)
    switch r & 0xffff_0000 {
    case 0x8000_0000: self.init(.killProcess)
    case 0x0000_0000: self.init(.killThread)
    case 0x0003_0000: self.init(.trap, data: data)
    case 0x0005_0000: self.init(.errno, data: data)
    case 0x7fc0_0000: self.init(.userNotif)
    case 0x7ff0_0000: self.init(.trace, data: data)
    case 0x7ffc_0000: self.init(.log)
    case 0x7fff_0000: self.init(.allow)
    default: self.init(.killProcess)
    }
  }

  /// The errno a denied call sees: the kernel caps ERRNO data at 4095.
  public var effectiveErrno: Int32? { kind == .errno ? Int32(min(data, 4095)) : nil }

  /// True for actions that let the call run without a supervisor or tracer deciding.
  public var permits: Bool { kind == .allow || kind == .log }

  public var description: String {
    switch kind {
    case .killProcess: "KILL_PROCESS"
    case .killThread: "KILL_THREAD"
    case .trap: data == 0 ? "TRAP" : "TRAP(\(data))"
    case .errno: "ERRNO(\(data))"
    case .userNotif: "USER_NOTIF"
    case .trace: "TRACE(\(data))"
    case .log: "LOG"
    case .allow: "ALLOW"
    }
  }
}

extension BPFInstruction {
  /// `ret` of an action.
  public static func ret(_ action: SeccompAction) -> BPFInstruction { .ret(action.returnValue) }
}

extension Interpreter.Result {
  /// The return value as the kernel reads it.
  public var action: SeccompAction { SeccompAction(returnValue: returnValue) }
}
