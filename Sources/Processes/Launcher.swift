import BPF
import CLinux
import Foundation
import Seccomp
import Syscalls

/// The syscall a thread was making when seccomp killed it (read at its exit with ptrace).
public struct SeccompKill: Hashable, Sendable {
  public var arch: Arch
  public var number: SyscallNumber
  public var thread: Int32
  /// Its six arguments as the filter saw them.
  public var arguments: [UInt64] = []
  /// The syscall's name in its ABI, if known.
  public var name: String? { arch.name(of: number) }

  public init(arch: Arch, number: SyscallNumber, thread: Int32, arguments: [UInt64] = []) {
    self.arch = arch
    self.number = number
    self.thread = thread
    self.arguments = arguments
  }
}

/// How a program asked for seccomp strict mode, which the kernel refuses (EINVAL) once a
/// filter is installed: under syscage's filter the program runs past that point.
public enum StrictModeRequest: String, Hashable, Sendable, CustomStringConvertible {
  /// `prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT)`
  case prctl
  /// `seccomp(SECCOMP_SET_MODE_STRICT, 0, NULL)`
  case seccomp

  public var description: String {
    switch self {
    case .prctl: "prctl PR_SET_SECCOMP, SECCOMP_MODE_STRICT"
    case .seccomp: "seccomp SECCOMP_SET_MODE_STRICT"
    }
  }

  /// The request an audit record of `Launcher.loggedStrictModeDetector` shows: LOG for
  /// prctl or seccomp of x86_64, x32 or ia32. nil for any other record.
  public init?(auditedArch arch: Arch?, number: Int32?, action: SeccompAction?) {
    guard let arch, let number, action?.kind == .log else { return nil }
    let nr = Int64(number) & ~Int64(SyscallNumber.x32Bit)
    switch (arch, nr) {
    case (.x86_64, 157), (.x32, 157), (.x86, 172): self = .prctl
    case (.x86_64, 317), (.x32, 317), (.x86, 354): self = .seccomp
    default: return nil
    }
  }
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
    /// Watch the program's threads for their exit with ptrace, to name the syscall of a seccomp
    /// kill, and note a request for strict mode (`strictModeDetector` is stacked below `program`).
    public var watchForKill: Bool
    /// Stack a strict-mode detector below `program` (false: `program` alone): with
    /// `watchForKill` `strictModeDetector`, whose stops note the request in the outcome;
    /// without, `loggedStrictModeDetector`, so the request is in the audit log only (see
    /// `StrictModeRequest.init?(auditedArch:number:action:)`).
    public var detectStrictMode: Bool

    public init(
      executable: String, arguments: [String], environment: [String]? = nil, program: [BPFInstruction],
      flags: UInt32 = 0, noNewPrivileges: Bool = true, watchForKill: Bool = true, detectStrictMode: Bool = true
    ) {
      self.detectStrictMode = detectStrictMode
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
    /// The program asked for strict mode, and the kernel refused it because of the filter
    /// (seen by `strictModeDetector`; the first request).
    public var strictModeRequest: StrictModeRequest?
  }

  /// The SECCOMP_RET_DATA of `strictModeDetector`'s TRACE.
  public static let strictModeData = UInt16(CLINUX_RUN_STRICT_DATA)

  /// A filter stacked below the program's when the launcher traces it (`watchForKill`):
  /// SECCOMP_RET_TRACE for a request for strict mode (prctl(PR_SET_SECCOMP,
  /// SECCOMP_MODE_STRICT) and seccomp(SECCOMP_SET_MODE_STRICT), of x86_64, x32 and ia32),
  /// ALLOW for everything else. It reads arguments only for prctl and seccomp, so every
  /// other call stays in the kernel's seccomp cache; a call of another ABI is allowed.
  public static let strictModeDetector = strictModeDetector(returning: .trace(strictModeData))

  /// `strictModeDetector` returning LOG instead of TRACE, for a program run without a
  /// tracer: the kernel logs the request to the audit log and then refuses it (EINVAL), as
  /// it does under any filter.
  public static let loggedStrictModeDetector = strictModeDetector(returning: .log)

  static func strictModeDetector(returning noted: SeccompAction) -> [BPFInstruction] {
    let x32 = UInt32(SyscallNumber.x32Bit)
    func arg(_ i: Int, high: Bool = false) -> BPFInstruction {
      .load(SeccompDataLayout.argument(i, high: high, endianness: .little))
    }
    return [
      .load(SeccompDataLayout.arch),  // 0
      .jump(BPF.jeq, Arch.x86_64.auditArch.rawValue, 0, 6),
      .load(SeccompDataLayout.nr),
      .jump(BPF.jeq, 157, 9, 0),  // prctl
      .jump(BPF.jeq, x32 | 157, 8, 0),
      .jump(BPF.jeq, 317, 13, 0),  // seccomp
      .jump(BPF.jeq, x32 | 317, 12, 0),
      .ret(SeccompAction.allow),
      .jump(BPF.jeq, Arch.x86.auditArch.rawValue, 0, 3),  // 8
      .load(SeccompDataLayout.nr),
      .jump(BPF.jeq, 172, 2, 0),  // ia32 prctl
      .jump(BPF.jeq, 354, 7, 0),  // ia32 seccomp
      .ret(SeccompAction.allow),
      arg(0),  // 13: prctl(PR_SET_SECCOMP (22), SECCOMP_MODE_STRICT (1))
      .jump(BPF.jeq, 22, 0, 6),
      arg(1),
      .jump(BPF.jeq, 1, 0, 4),
      arg(1, high: true),
      .jump(BPF.jeq, 0, 3, 2),
      arg(0),  // 19: seccomp(SECCOMP_SET_MODE_STRICT (0), ...)
      .jump(BPF.jeq, 0, 1, 0),
      .ret(SeccompAction.allow),  // 21
      .ret(noted),
    ]
  }

  /// The environment as `NAME=value` strings: `given`, or this process's own when nil.
  public static func environment(_ given: [String]?) -> [String] {
    given ?? ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
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
  /// The child's steps (no_new_privs, the filters, execve) run in C after the fork. The
  /// program is forked from a thread of its own, which traces it (`watchForKill`) and
  /// waits for it and its threads only (`waitpid(-1, __WALL | __WNOTHREAD)` from that
  /// thread): other children of the calling process are left to their owners.
  public static func run(_ request: Request) throws(Failure) -> Outcome {
    let env = environment(request.environment)
    let detectorProgram = request.watchForKill ? strictModeDetector : loggedStrictModeDetector
    let result = onOwnThread(blocking: forwardedSignals) {
      withCStrings(request.arguments) { argv in
        withCStrings(env) { envp in
          request.program.withUnsafeBytes { program in
            detectorProgram.withUnsafeBytes { detector in
              RunSupervisor.run(
                path: request.executable, argv: argv, envp: envp, detector: detector,
                detectorCount: request.detectStrictMode ? detectorProgram.count : 0, program: program,
                programCount: request.program.count, flags: request.flags, noNewPrivileges: request.noNewPrivileges,
                trace: request.watchForKill)
            }
          }
        }
      }
    }
    return try result.get()
  }
}
