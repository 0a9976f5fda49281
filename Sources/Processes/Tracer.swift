import BPF
import CLinux
import Glibc
import SystemPackage

/// Records every syscall a program (with its children and threads) makes, with ptrace, the
/// strace way, or those of running processes it attaches to.
///
/// A launched program is forked from a thread of the tracer's own (C runs only the child's
/// side: reset caught signals, wait on a go-pipe, no_new_privs and the filter when asked,
/// execve); that thread seizes it, traces it and every process and thread it starts
/// (TRACEFORK, TRACEVFORK, TRACECLONE, TRACEEXEC, TRACEEXIT, EXITKILL), and waits only for
/// its own children and tracees (`waitpid(-1, __WALL | __WNOTHREAD)`): another child of
/// the calling process is neither reaped nor signalled, so the tracer runs inside any
/// process. Each call is read with PTRACE_GET_SYSCALL_INFO and counted in `TraceCounts`
/// per (AUDIT_ARCH, number) in the three x86 slots of `TraceABI`; the stop loop never
/// allocates (the counts, the tracee table and the call mask are allocated before the
/// program starts).
///
/// Two stops per call (`Stops.two`): PTRACE_SYSCALL from stop to stop, counting at entry
/// (exit and exit_group included; strace counts at exit and misses them) from the
/// program's first execve on, so the launcher's own calls are not counted; with `timing`
/// also the errors and the time from entry stop to exit stop. One stop per call
/// (`Stops.one`): the child loads a filter whose SECCOMP_RET_TRACE sends calls to the
/// tracer, which restarts with PTRACE_CONT and counts at the seccomp stops.
///
/// While a launched program runs, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 sent
/// to this process by another process are forwarded to it; those from the terminal reach
/// its process group directly and are ignored here. That forwarding is the launchers'
/// handler (`clinux_spawn_forward_signals`, as `Launcher.run` uses it): a handler with
/// SA_RESTART leaves the tracer in one blocking waitpid per stop, where a signalfd would
/// need a second wait (a poll) at every stop.
public enum Tracer {
  /// Where the tracer and a launched program run. A ptrace stop between two CPUs needs a
  /// wake-up of the other CPU; on one CPU it is a plain context switch, several times
  /// cheaper (much more so in a VM).
  public enum Placement: Sendable, Hashable {
    /// Wherever the scheduler puts them.
    case anywhere
    /// On the tracer's CPU until the program starts a second process or thread or asks
    /// for its CPUs (sched_getaffinity): from then on on every CPU it had, before it can
    /// tell.
    case tracerCPUUntilShared
    /// On the tracer's CPU for the whole run.
    case tracerCPU
  }

  /// How a launched program is stopped.
  public enum Stops: Sendable {
    /// At each call's entry and exit (PTRACE_SYSCALL); with `timing`, errors and times are
    /// counted too.
    case two(timing: Bool)
    /// Once per call the filter sends to the tracer (SECCOMP_RET_TRACE): the child sets
    /// no_new_privs (if asked) and loads `filter` before its execve; the filter is inherited
    /// by every child and thread. A stop with SECCOMP_RET_DATA `Launcher.strictModeData`
    /// (a request for strict mode, which the kernel refuses under a filter) ends the run:
    /// every tracee is killed, and `Outcome.strictModeRequest` says how the program asked.
    case one(filter: [BPFInstruction], noNewPrivileges: Bool)
  }

  /// A call at its stop (entry, or seccomp), while its thread is stopped.
  public struct Call: Sendable {
    public var thread: Int32
    /// AUDIT_ARCH_* of the call.
    public var auditArch: UInt32
    /// The number as the kernel saw it (x32's bit 30 included).
    public var number: UInt64
    /// The six arguments.
    public var arguments: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
  }

  /// What a trace calls while it runs, on the tracing thread: keep the work small, the
  /// traced program waits for it.
  public struct Hooks {
    /// The calls `onCall` sees, a flag per entry (`TraceABI.index(_:)`, `TraceABI.entries`
    /// flags); nil: every counted call.
    public var mask: [Bool]?
    /// Called for each counted call of `mask`: at its entry stop (two stops) or its
    /// seccomp stop (one stop).
    public var onCall: ((Call) -> Void)?
    /// Called once, when the launched program's first execve has completed (at its
    /// PTRACE_EVENT_EXEC stop, the program stopped), with its pid.
    public var onExec: ((Int32) -> Void)?

    public init(mask: [Bool]? = nil, onCall: ((Call) -> Void)? = nil, onExec: ((Int32) -> Void)? = nil) {
      self.mask = mask
      self.onCall = onCall
      self.onExec = onExec
    }
  }

  /// How a trace ended.
  public struct Outcome: Sendable {
    /// The program's wait(2) status (0 when an attached trace detached).
    public var waitStatus: Int32
    /// The launched program's pid, or the first attached one.
    public var pid: Int32
    /// Threads and processes traced in all.
    public var tracees: Int
    /// One-stop recording only: the program asked for strict mode, and every tracee was killed.
    public var strictModeRequest: StrictModeRequest?
    /// The thread that asked for strict mode.
    public var strictModeThread: Int32
    /// An attached trace detached on SIGINT, SIGTERM or SIGHUP: the processes run on.
    public var detached: Bool

    /// How the program ended (meaningless when `detached`).
    public var termination: Termination { Termination(waitStatus: waitStatus) }
  }

  /// One call the verification filter sent to the tracer and the tracer failed.
  public struct Denial: Sendable {
    public var thread: Int32
    /// AUDIT_ARCH_* of the call.
    public var auditArch: UInt32
    /// The number as the filter saw it (x32's bit 30 included).
    public var number: UInt64
    var args: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    /// The filter's SECCOMP_RET_DATA.
    public var code: UInt32
    /// What the call was failed with.
    public var errno: Errno

    /// The six arguments.
    public var arguments: [UInt64] { [args.0, args.1, args.2, args.3, args.4, args.5] }
  }

  /// Where a verification puts the calls it failed: the first `capacity` with their
  /// arguments (allocated once, before the program starts), and how many in all.
  public final class Denials: @unchecked Sendable {
    let items: UnsafeMutableBufferPointer<Denial>
    /// Calls failed in all (may exceed `capacity`).
    public internal(set) var count = 0

    public init(capacity: Int) {
      items = .allocate(capacity: max(capacity, 0))
    }

    deinit { items.deallocate() }

    public var capacity: Int { items.count }

    /// The denials kept, in the order they happened.
    public var kept: [Denial] { Array(items.prefix(min(count, items.count))) }
  }

  /// Runs `executable` with `arguments` (argv, argv[0] included) and `environment` (nil:
  /// this process's) under ptrace and counts its syscalls into `counts` until every tracee
  /// has ended. Blocks the calling thread meanwhile; the tracing runs on a thread of its own.
  public static func trace(
    executable: String, arguments: [String], environment: [String]? = nil, stops: Stops,
    placement: Placement = .tracerCPUUntilShared, hooks: Hooks = Hooks(), counts: TraceCounts
  ) throws(Launcher.Failure) -> Outcome {
    switch stops {
    case .two(let timing):
      return try launch(
        executable, arguments, environment, filter: [], noNewPrivileges: false, seccomp: false, timing: timing,
        errnos: [], denials: nil, placement: placement, hooks: hooks, counts: counts)
    case .one(let filter, let noNewPrivileges):
      return try launch(
        executable, arguments, environment, filter: filter, noNewPrivileges: noNewPrivileges, seccomp: true,
        timing: false, errnos: [], denials: nil, placement: placement, hooks: hooks, counts: counts)
    }
  }

  /// Runs the program with one stop per call under `filter`, whose SECCOMP_RET_TRACE codes
  /// index `errnos`: a call stopped with a code below `errnos.count` is recorded in
  /// `denials`, skipped (orig_rax = -1) and made to return -errnos[code]; every stopped call
  /// is counted in `counts`. A stop with another code lets the call run.
  public static func verify(
    executable: String, arguments: [String], environment: [String]? = nil, filter: [BPFInstruction],
    noNewPrivileges: Bool, errnos: [Errno], denials: Denials, placement: Placement = .anywhere, counts: TraceCounts
  ) throws(Launcher.Failure) -> Outcome {
    try launch(
      executable, arguments, environment, filter: filter, noNewPrivileges: noNewPrivileges, seccomp: true,
      timing: false, errnos: errnos, denials: denials, placement: placement, hooks: Hooks(), counts: counts)
  }

  static func launch(
    _ executable: String, _ arguments: [String], _ environment: [String]?, filter: [BPFInstruction],
    noNewPrivileges: Bool, seccomp: Bool, timing: Bool, errnos: [Errno], denials: Denials?, placement: Placement,
    hooks: Hooks, counts: TraceCounts
  ) throws(Launcher.Failure) -> Outcome {
    #if arch(x86_64)
      let env = Launcher.environment(environment)
      let result = onOwnThread(blocking: forwardedSignals) { () -> Result<Outcome, Launcher.Failure> in
        withCStrings(arguments) { argv in
          withCStrings(env) { envp in
            filter.withUnsafeBytes { program in
              errnos.withUnsafeBufferPointer { errnos in
                withMask(hooks.mask) { mask in
                  var session = TraceSession(
                    seccomp: seccomp, timing: timing, attached: false, verifying: denials != nil, errnos: errnos,
                    denials: denials?.items, mask: mask, hooks: hooks, counts: counts, placement: placement)
                  defer { session.finish(counts: counts, denials: denials) }
                  return session.run(
                    path: executable, argv: argv, envp: envp, program: program, programCount: filter.count,
                    noNewPrivileges: noNewPrivileges)
                }
              }
            }
          }
        }
      }
      return try result.get()
    #else
      throw Launcher.Failure(step: .trace, errno: .noFunction)
    #endif
  }

  /// Calls `body` with the mask's flags (nil without a mask).
  static func withMask<R>(_ mask: [Bool]?, _ body: (UnsafeBufferPointer<Bool>?) -> R) -> R {
    guard let mask else { return body(nil) }
    return mask.withUnsafeBufferPointer { body($0) }
  }
}
