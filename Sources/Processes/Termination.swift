import Glibc

/// How a program ended.
public enum Termination: Hashable, Sendable, CustomStringConvertible {
  case exited(Int32)
  case signaled(Int32)

  /// From a wait(2) status.
  public init(waitStatus status: Int32) {
    self = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
  }

  /// The status a shell reports: the exit code, or 128 + the signal.
  public var shellStatus: Int32 {
    switch self {
    case .exited(let code): code
    case .signaled(let sig): 128 + sig
    }
  }

  public var description: String {
    switch self {
    case .exited(let code): "exited with \(code)"
    case .signaled(let sig): "killed by signal \(sig) (\(String(cString: strsignal(sig))))"
    }
  }
}
