import CLinux
import Glibc
import SystemPackage

extension Launcher {
  /// A step of starting a program, over the C launchers' `clinux_launch_step` (one list for
  /// C and Swift: the child reports the step that failed with its errno).
  public struct Step: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    init(_ step: clinux_launch_step) { rawValue = Int32(step.rawValue) }

    /// pipe2 in the launcher.
    public static let pipe = Step(CLINUX_LAUNCH_STEP_PIPE)
    /// fork in the launcher (or the child died before it could report).
    public static let fork = Step(CLINUX_LAUNCH_STEP_FORK)
    /// PTRACE_SEIZE or PTRACE_INTERRUPT of the child.
    public static let trace = Step(CLINUX_LAUNCH_STEP_TRACE)
    /// prctl(PR_SET_NO_NEW_PRIVS) in the child.
    public static let noNewPrivileges = Step(CLINUX_LAUNCH_STEP_NO_NEW_PRIVS)
    /// Loading a seccomp filter in the child.
    public static let filter = Step(CLINUX_LAUNCH_STEP_FILTER)
    /// execve in the child.
    public static let exec = Step(CLINUX_LAUNCH_STEP_EXEC)
    /// Taking the filter's listener from the child (a watch).
    public static let listener = Step(CLINUX_LAUNCH_STEP_LISTENER)

    /// What was being done, e.g. "loading the seccomp filter".
    public var description: String {
      switch self {
      case .pipe: "creating the launch pipes"
      case .fork: "forking"
      case .trace: "tracing the program with ptrace"
      case .noNewPrivileges: "setting no_new_privs"
      case .filter: "loading the seccomp filter"
      case .exec: "executing the program"
      case .listener: "taking the filter's listener"
      default: "launch step \(rawValue)"
      }
    }

    /// The exit status `env` and `docker run` use for a failed launch: 127 when `exec`
    /// found no such file, 126 when it could not execute it, 125 for every other step.
    public func exitStatus(errno: Errno) -> Int32 {
      guard self == .exec else { return 125 }
      return errno == .noSuchFileOrDirectory || errno == .notDirectory ? 127 : 126
    }
  }

  /// A step before the program ran failed: which one, and its errno.
  public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
    public var step: Step
    public var errno: Errno

    public init(step: Step, errno: Errno) {
      self.step = step
      self.errno = errno
    }

    /// From an errno value as C reports it.
    public init(step: Step, errno code: Int32) {
      self.init(step: step, errno: Errno(rawValue: code))
    }

    /// The exit status `env` and `docker run` use for it: 127 not found, 126 not
    /// executable, 125 anything else.
    public var exitStatus: Int32 { step.exitStatus(errno: errno) }

    public var description: String {
      let reason = String(cString: strerror(errno.rawValue))
      switch step {
      case .trace:
        if errno == .notPermitted {
          return "cannot trace the program with ptrace: \(reason) (see /proc/sys/kernel/yama/ptrace_scope, or run with CAP_SYS_PTRACE)"
        }
        return "cannot trace the program with ptrace: \(reason)"
      case .noNewPrivileges: return "cannot set no_new_privs: \(reason)"
      case .filter:
        if errno == .resourceBusy {
          return "the kernel refused a second listener (EBUSY): this process already runs under a filter with a "
            + "user-notification listener (another `syscage watch`, a container runtime's seccomp agent). A process "
            + "can have only one; run the watch outside that supervisor"
        }
        if errno == .permissionDenied { return "loading the filter needs no_new_privs or CAP_SYS_ADMIN: \(reason)" }
        if errno == .invalidArgument { return "the kernel refused the filter or its flags (a user-notification listener needs Linux 5.0): \(reason)" }
        return "cannot load the filter: \(reason)"
      case .listener:
        return "cannot take the listener from the program (pidfd_open/pidfd_getfd, Linux 5.6, ptrace access to the child): \(reason)"
      case .exec: return "cannot execute: \(reason)"
      default: return "cannot start the program: \(reason)"
      }
    }
  }
}
