import CLinux
import Foundation
import Seccomp
import Syscalls

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

/// The syscall a thread was making when seccomp killed it (read at its exit with ptrace).
public struct SeccompKill: Hashable, Sendable {
  public var arch: Arch
  public var number: SyscallNumber
  public var thread: Int32
  /// The syscall's name in its ABI, if known.
  public var name: String? { arch.name(of: number) }
}

/// Runs programs under compiled seccomp filters.
public enum Launcher {
  /// A program to run and the filter to put it under.
  public struct Request: Sendable {
    /// The executable's path (see `resolve`).
    public var executable: String
    /// argv, including argv[0].
    public var arguments: [String]
    /// The environment as `NAME=value` strings; nil inherits syscage's.
    public var environment: [String]?
    public var program: [BPFInstruction]
    /// `SECCOMP_FILTER_FLAG_*` bits for seccomp(2).
    public var flags: UInt32
    /// Set no_new_privs before loading (else the caller needs CAP_SYS_ADMIN, as Docker does).
    public var noNewPrivileges: Bool
    /// Watch the program's threads for their exit with ptrace, to name the syscall of a seccomp kill.
    public var watchForKill: Bool

    public init(
      executable: String, arguments: [String], environment: [String]? = nil, program: [BPFInstruction],
      flags: UInt32 = 0, noNewPrivileges: Bool = true, watchForKill: Bool = true
    ) {
      self.executable = executable
      self.arguments = arguments
      self.environment = environment
      self.program = program
      self.flags = flags
      self.noNewPrivileges = noNewPrivileges
      self.watchForKill = watchForKill
    }
  }

  /// The outcome of a run.
  public struct Outcome: Sendable {
    public var termination: Termination
    /// Set when a thread died of SIGSYS at a syscall's entry: seccomp's KILL or an unhandled TRAP.
    public var seccompKill: SeccompKill?
    public var pid: Int32
  }

  /// A step before the program ran failed.
  public struct Failure: Error, Sendable, CustomStringConvertible {
    public enum Step: Int32, Sendable { case pipe = 1, fork, trace, noNewPrivileges, filter, exec }
    public var step: Step
    public var errno: Int32

    public init(step: Step, errno: Int32) {
      self.step = step
      self.errno = errno
    }

    /// The exit status `env` and `docker run` use for it: 127 not found, 126 not
    /// executable, 125 anything else.
    public var exitStatus: Int32 {
      guard step == .exec else { return 125 }
      return errno == ENOENT || errno == ENOTDIR ? 127 : 126
    }

    public var description: String {
      let reason = String(cString: strerror(errno))
      switch step {
      case .pipe, .fork: return "cannot start the program: \(reason)"
      case .trace:
        if errno == EPERM {
          return "cannot trace the program with ptrace: \(reason) (see /proc/sys/kernel/yama/ptrace_scope, or run with CAP_SYS_PTRACE)"
        }
        return "cannot trace the program with ptrace: \(reason)"
      case .noNewPrivileges: return "cannot set no_new_privs: \(reason)"
      case .filter:
        if errno == EACCES { return "loading the filter needs no_new_privs or CAP_SYS_ADMIN: \(reason)" }
        if errno == EINVAL { return "the kernel refused the filter or its flags: \(reason)" }
        return "cannot load the filter: \(reason)"
      case .exec: return "cannot execute: \(reason)"
      }
    }
  }

  /// Finds `command` the way a shell does: a path with a slash as is, else the first
  /// executable file of that name in `PATH`. nil when there is none.
  public static func resolve(_ command: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
    if command.contains("/") { return command }
    for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
      let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + command
      if access(candidate, X_OK) == 0, !isDirectory(candidate) { return candidate }
    }
    return nil
  }

  static func isDirectory(_ path: String) -> Bool {
    var s = stat()
    return stat(path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR
  }

  /// Runs a program under a filter and waits for it.
  ///
  /// The filter is loaded in the child just before execve, in C. While it waits, the
  /// calling process must not wait for other children of its own (this waits for any
  /// child to follow the program's threads).
  public static func run(_ request: Request) throws(Failure) -> Outcome {
    var result = clinux_run_result()
    let env = request.environment ?? ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
    let rc = withCStrings(request.arguments) { argv in
      withCStrings(env) { envp in
        request.program.withUnsafeBytes { prog in
          clinux_run(
            request.executable, argv, envp, prog.baseAddress, UInt32(request.program.count), request.flags,
            request.noNewPrivileges ? 1 : 0, request.watchForKill ? 1 : 0, &result)
        }
      }
    }
    if rc != 0 {
      throw Failure(step: Failure.Step(rawValue: result.failed_step) ?? .fork, errno: result.error)
    }
    let status = result.wait_status
    let termination = Termination(waitStatus: status)
    var kill: SeccompKill? = nil
    if result.seccomp_kill == 1 {
      let arch = Arch(auditArch: result.arch, number: result.nr) ?? Arch.native
      kill = SeccompKill(arch: arch, number: SyscallNumber(Int32(truncatingIfNeeded: result.nr)), thread: result.tid)
    }
    return Outcome(termination: termination, seccompKill: kill, pid: result.pid)
  }
}

/// Calls `body` with a NULL-terminated C array of the strings.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
  var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
  pointers.append(nil)
  defer { for p in pointers { free(p) } }
  return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
