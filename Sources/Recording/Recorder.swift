import BPF
import CLinux
import Processes
import Foundation
import Host
import Profiles
import Seccomp
import Syscalls

/// What one syscall cost in a recording.
public struct SyscallStatistics: Hashable, Sendable, Codable {
  /// Entries seen (exit and exit_group included: they are counted at entry).
  public var calls: Int
  /// Exits with an error return (-4095...-1); 0 unless timing was on.
  public var errors: Int
  /// Time between entry and exit stops, summed, in nanoseconds; 0 unless timing was on.
  public var nanoseconds: UInt64

  public init(calls: Int = 0, errors: Int = 0, nanoseconds: UInt64 = 0) {
    self.calls = calls
    self.errors = errors
    self.nanoseconds = nanoseconds
  }

  public var seconds: Double { Double(nanoseconds) / 1e9 }

  public static func + (a: SyscallStatistics, b: SyscallStatistics) -> SyscallStatistics {
    SyscallStatistics(calls: a.calls + b.calls, errors: a.errors + b.errors, nanoseconds: a.nanoseconds + b.nanoseconds)
  }
}

/// Everything one recorded run saw.
public struct RecordedRun: Sendable {
  /// One row: a syscall of one ABI and what it cost.
  public struct Entry: Hashable, Sendable {
    public var arch: Arch
    public var number: SyscallNumber
    /// The table's name, or `syscall_N` when the table has none for this number.
    public var name: String
    public var statistics: SyscallStatistics
    /// Whether the syscall table knows this number in this ABI.
    public var isKnown: Bool

    public init(arch: Arch, number: SyscallNumber, name: String, statistics: SyscallStatistics, isKnown: Bool = true) {
      self.arch = arch
      self.number = number
      self.name = name
      self.statistics = statistics
      self.isKnown = isKnown
    }
  }

  /// Every syscall seen, per ABI, by number.
  public var entries: [Entry]
  public var termination: Termination
  /// The program's pid.
  public var pid: Int32
  /// Whether errors and times were recorded.
  public var timing: Bool
  /// Entries whose ABI or number the tracer could not place.
  public var unplaced: Int
  /// Processes and threads traced.
  public var tracees: Int
  /// Whether the recording stopped once per call (seccomp stops) rather than at entry and exit.
  public var oneStop: Bool
  /// Whether an attached recording ended by detaching (the processes run on; `termination`
  /// is then meaningless).
  public var detached: Bool
  /// The program asked for seccomp strict mode in a one-stop recording, where the kernel
  /// refuses it because of the recorder's filter: that run was ended and this recording
  /// made again from the start with two stops and no filter (`oneStop` is false).
  public var strictModeRequest: StrictModeRequest?

  public init(
    entries: [Entry], termination: Termination, pid: Int32 = 0, timing: Bool = false, unplaced: Int = 0, tracees: Int = 1,
    oneStop: Bool = false, detached: Bool = false
  ) {
    self.oneStop = oneStop
    self.detached = detached
    self.entries = entries
    self.termination = termination
    self.pid = pid
    self.timing = timing
    self.unplaced = unplaced
    self.tracees = tracees
  }

  /// The ABIs seen, 64-bit first (`ProfileBuilder.order`).
  public var arches: [Arch] { ProfileBuilder.order(Array(Set(entries.map(\.arch)))) }

  /// Per ABI, per syscall name, its statistics (numbers the table does not name apart).
  public var statistics: [Arch: [String: SyscallStatistics]] {
    var result: [Arch: [String: SyscallStatistics]] = [:]
    for e in entries where e.isKnown {
      result[e.arch, default: [:]][e.name, default: SyscallStatistics()] =
        result[e.arch]?[e.name].map { $0 + e.statistics } ?? e.statistics
    }
    return result
  }

  /// Per ABI, per syscall name, its call count: what `ProfileBuilder.build` takes.
  public var syscallsByArch: [Arch: [String: Int]] { statistics.mapValues { $0.mapValues(\.calls) } }

  /// The entries the syscall table cannot name (they cannot go into a profile).
  public var unnamed: [Entry] { entries.filter { !$0.isKnown } }

  /// The allow-list profile for what was seen: architectures exactly the ABIs seen.
  public func profile(_ builder: ProfileBuilder = ProfileBuilder()) -> Profile {
    builder.build(syscallsByArch)
  }
}

/// One call the tracer saw, with its arguments (for a `CallObserver`).
public struct TracedCall: Hashable, Sendable {
  public var thread: Int32
  public var arch: Arch
  /// The number in `arch` (x32's bit 30 removed).
  public var number: SyscallNumber
  public var arguments: [UInt64]

  /// The syscall's name in `arch`, if the table has one.
  public var name: String? { arch.name(of: number) }
}

/// Sees chosen calls of a recording while their thread is stopped, on the tracing
/// thread; keep the work small, the traced program waits for it.
public final class CallObserver: @unchecked Sendable {
  /// The calls to see, per ABI (nil: every call).
  public let calls: [Arch: Set<SyscallNumber>]?
  let onCall: (TracedCall) -> Void
  let onExec: ((Int32) -> Void)?

  /// `onCall` gets each call in `calls` (every call when nil); `onExec` is called once,
  /// when the launched program's first execve has completed.
  public init(
    calls: [Arch: Set<SyscallNumber>]? = nil, onCall: @escaping (TracedCall) -> Void = { _ in },
    onExec: ((Int32) -> Void)? = nil
  ) {
    self.calls = calls
    self.onCall = onCall
    self.onExec = onExec
  }

  /// The C tracer's mask: a byte per (slot, number).
  var mask: [UInt8]? {
    guard let calls else { return nil }
    var mask = [UInt8](repeating: 0, count: Int(CLINUX_TRACE_ABIS) * Int(CLINUX_TRACE_NRS))
    for (slot, abi) in Recorder.slots.enumerated() {
      for number in calls[abi.arch] ?? [] {
        let nr = Int(number.rawValue - abi.base)
        if nr >= 0 && nr < Int(CLINUX_TRACE_NRS) { mask[slot * Int(CLINUX_TRACE_NRS) + nr] = 1 }
      }
    }
    return mask
  }

  /// Calls `body` with the C hooks for this observer (nil observer: no hooks).
  static func withHooks<R>(_ observer: CallObserver?, _ body: (UnsafePointer<clinux_trace_hooks>?) -> R) -> R {
    guard let observer else { return body(nil) }
    let mask = observer.mask
    let ctx = Unmanaged.passUnretained(observer).toOpaque()
    return withExtendedLifetime(observer) {
      func call(_ maskPointer: UnsafePointer<UInt8>?) -> R {
        var hooks = clinux_trace_hooks(
          on_call: { ctx, tid, arch, nr, args in
            guard let ctx, let args else { return }
            let observer = Unmanaged<CallObserver>.fromOpaque(ctx).takeUnretainedValue()
            let abi = Arch(auditArch: arch, number: Int64(bitPattern: nr)) ?? .x86_64
            observer.onCall(
              TracedCall(
                thread: tid, arch: abi, number: SyscallNumber(Int32(truncatingIfNeeded: nr)),
                arguments: (0..<6).map { args[$0] }))
          },
          call_mask: maskPointer,
          on_exec: observer.onExec == nil
            ? nil
            : { ctx, pid in
              guard let ctx else { return }
              Unmanaged<CallObserver>.fromOpaque(ctx).takeUnretainedValue().onExec?(pid)
            },
          ctx: ctx)
        return body(&hooks)
      }
      if let mask { return mask.withUnsafeBufferPointer { call($0.baseAddress) } }
      return call(nil)
    }
  }
}

/// The counters the C tracer fills: calls, errors and times per (slot, number).
final class TraceCounters {
  static let size = Int(CLINUX_TRACE_ABIS) * Int(CLINUX_TRACE_NRS)
  var calls = [UInt64](repeating: 0, count: size)
  var errors = [UInt64](repeating: 0, count: size)
  var nanoseconds = [UInt64](repeating: 0, count: size)
  var unknown: UInt64 = 0

  /// Calls `body` with C counts over these arrays, and keeps what the tracer did not put in them.
  func withCounts<R>(_ body: (inout clinux_trace_counts) -> R) -> R {
    calls.withUnsafeMutableBufferPointer { c in
      errors.withUnsafeMutableBufferPointer { e in
        nanoseconds.withUnsafeMutableBufferPointer { n in
          var counts = clinux_trace_counts(
            calls: c.baseAddress, errors: e.baseAddress, nanoseconds: n.baseAddress, unknown: 0, stops: 0)
          let result = body(&counts)
          unknown = counts.unknown
          return result
        }
      }
    }
  }

  /// The table's rows for nonzero counts.
  var entries: [RecordedRun.Entry] {
    var entries: [RecordedRun.Entry] = []
    for (slot, abi) in Recorder.slots.enumerated() {
      for nr in 0..<Int(CLINUX_TRACE_NRS) {
        let i = slot * Int(CLINUX_TRACE_NRS) + nr
        guard calls[i] > 0 else { continue }
        let number = SyscallNumber(Int32(nr) + abi.base)
        let name = abi.arch.name(of: number)
        entries.append(
          RecordedRun.Entry(
            arch: abi.arch, number: number, name: name ?? "syscall_\(nr)",
            statistics: SyscallStatistics(calls: Int(calls[i]), errors: Int(errors[i]), nanoseconds: nanoseconds[i]),
            isKnown: name != nil))
      }
    }
    return entries
  }
}

/// Where a recorded program and the tracer run. A ptrace stop between two CPUs needs a
/// wake-up of the other CPU; on one CPU it is a plain context switch, several times
/// cheaper (much more so in a VM).
public enum CPUPlacement: String, CaseIterable, Sendable {
  /// On the tracer's CPU until the program starts a second process or thread, or asks
  /// for its CPUs (sched_getaffinity): from then on on every CPU it had, so it never
  /// sees fewer (a program reading Cpus_allowed in /proc before that would).
  case auto
  /// On the tracer's CPU for the whole run: the program sees one CPU.
  case one
  /// Wherever the scheduler puts them.
  case all

  var c: Int32 {
    switch self {
    case .auto: Int32(CLINUX_TRACE_PIN_AUTO)
    case .one: Int32(CLINUX_TRACE_PIN_ALWAYS)
    case .all: Int32(CLINUX_TRACE_PIN_NONE)
    }
  }
}

/// Records the syscalls of a program, its children and its threads with ptrace.
public enum Recorder {
  /// A step before the program ran failed (the steps and exit statuses of `Launcher`).
  public typealias Failure = Launcher.Failure

  /// The ABI slots of the C tracer, in order.
  static let slots: [(arch: Arch, base: Int32)] = [(.x86_64, 0), (.x86, 0), (.x32, SyscallNumber.x32Bit)]

  /// Runs `executable` with `arguments` (argv, argv[0] included) and records every syscall
  /// it and its descendants make until all of them have ended. With `timing`, also the
  /// errors and the time per call (the clock runs from entry stop to exit stop, as
  /// `strace -c -w` measures). The ptrace requests all come from the calling thread,
  /// which blocks until then; the calling process must not wait for children of its own
  /// meanwhile.
  ///
  /// Without `timing` the default is one stop per call (`oneStop`): the child sets
  /// no_new_privs and loads `filter` (by default `traceAll`, which returns
  /// SECCOMP_RET_TRACE for every call) before its execve, and the tracer stops only at
  /// those seccomp stops: a filter that allows some calls (`baselineFilter`) leaves them
  /// unseen and uncounted. Timing needs the exit stop as well, so `timing` always uses two
  /// stops (`oneStop` and `filter` are ignored). `observer` sees the calls it asks for;
  /// `cpus` says where the program runs.
  ///
  /// A program that asks for seccomp strict mode cannot get it under a filter (EINVAL) and
  /// would run on where it would die unwrapped: in one-stop mode every request stops
  /// (`stoppingAtStrictMode`), the run is ended there (every process killed), and the
  /// program is recorded again from the start with two stops and no filter, so that it
  /// behaves as it does unwrapped (`RecordedRun.strictModeRequest`); `notice` is told so
  /// before the second run starts. What the first run did (its output, its files) happens
  /// twice.
  public static func record(
    executable: String, arguments: [String], environment: [String]? = nil, timing: Bool = false,
    oneStop: Bool? = nil, filter: [BPFInstruction] = Recorder.traceAll, observer: CallObserver? = nil,
    cpus: CPUPlacement = .auto, notice: ((String) -> Void)? = nil
  ) throws(Failure) -> RecordedRun {
    let seccomp = !timing && (oneStop ?? true)
    #if arch(x86_64)
      let counters = TraceCounters()
      var result = clinux_trace_result()
      let env = Launcher.environment(environment)
      let rc = withCStrings(arguments) { argv in
        withCStrings(env) { envp in
          CallObserver.withHooks(observer) { hooks in
            counters.withCounts { counts in
              if seccomp {
                let stopping = stoppingAtStrictMode(filter)
                return stopping.withUnsafeBytes { prog in
                  clinux_trace_seccomp(
                    executable, argv, envp, prog.baseAddress, UInt32(stopping.count), 1, nil, 0, cpus.c, hooks, &counts,
                    nil, &result)
                }
              }
              return clinux_trace(executable, argv, envp, timing ? 1 : 0, cpus.c, hooks, &counts, &result)
            }
          }
        }
      }
      if rc != 0 {
        throw Failure(step: Launcher.Step(rawValue: result.failed_step), errno: result.error)
      }
      if seccomp, result.strict_request != 0 {
        let request: StrictModeRequest = result.strict_request == 1 ? .prctl : .seccomp
        notice?(
          "the program asked for seccomp strict mode (\(request)), which the kernel refuses under the recorder's "
            + "filter (EINVAL): recording it again from the start with two stops and no filter, so that it runs as "
            + "it does unwrapped (what it did up to there happens twice)")
        var again = try record(
          executable: executable, arguments: arguments, environment: environment, timing: false, oneStop: false,
          observer: observer, cpus: cpus)
        again.strictModeRequest = request
        return again
      }
      return RecordedRun(
        entries: counters.entries, termination: Termination(waitStatus: result.wait_status),
        pid: result.pid, timing: timing, unplaced: Int(counters.unknown), tracees: Int(result.tracees),
        oneStop: seccomp)
    #else
      throw Failure(step: .trace, errno: ENOSYS)
    #endif
  }

  /// Why running processes could not be attached.
  public struct AttachFailure: Error, Sendable, CustomStringConvertible {
    public var pid: Int32
    public var errno: Int32

    public var description: String {
      let reason = String(cString: strerror(errno))
      switch errno {
      case ESRCH: return "no process \(pid)"
      case EPERM:
        return "cannot attach to process \(pid): \(reason) (attaching needs CAP_SYS_PTRACE or the same user and kernel.yama.ptrace_scope 0, and a process that no other tracer is tracing)"
      default: return "cannot attach to process \(pid): \(reason)"
      }
    }
  }

  /// Attaches to the running processes `pids` (every thread of each, and what they start
  /// from then on) and records their syscalls at entry, with errors and times when
  /// `timing`, until they have all ended or this process gets SIGINT, SIGTERM or SIGHUP:
  /// then every tracee is detached and runs on (`RecordedRun.detached`). Calls made before
  /// the attach are not seen, and an attached process cannot get a filter, so this always
  /// stops twice per call. Blocks the calling thread (which must not wait for children of
  /// its own meanwhile); SIGINT, SIGTERM, SIGHUP and SIGCHLD are blocked on it meanwhile.
  public static func attach(pids: [Int32], timing: Bool = false, observer: CallObserver? = nil)
    throws(AttachFailure) -> RecordedRun
  {
    #if arch(x86_64)
      let counters = TraceCounters()
      var result = clinux_trace_result()
      var ended: Int32 = 0
      let rc = CallObserver.withHooks(observer) { hooks in
        counters.withCounts { counts in
          clinux_trace_attach(pids, UInt32(pids.count), timing ? 1 : 0, hooks, &counts, &result, &ended)
        }
      }
      if rc != 0 { throw AttachFailure(pid: result.pid, errno: result.error) }
      return RecordedRun(
        entries: counters.entries, termination: Termination(waitStatus: result.wait_status), pid: result.pid,
        timing: timing, unplaced: Int(counters.unknown), tracees: Int(result.tracees), oneStop: false,
        detached: ended == Int32(CLINUX_TRACE_DETACHED))
    #else
      throw AttachFailure(pid: pids.first ?? 0, errno: ENOSYS)
    #endif
  }

  /// `filter` with a request for strict mode (`Launcher.strictModeDetector`'s calls) sent to
  /// the tracer first, as SECCOMP_RET_TRACE with `Launcher.strictModeData`, whatever
  /// `filter` says; every other call goes on to `filter`, which must load before it reads
  /// the accumulator (syscage's filters start with a load or a `ret`; an `ld #0` would
  /// cost the kernel's cache). Calls other than prctl and seccomp stay as cacheable as in
  /// `filter`.
  public static func stoppingAtStrictMode(_ filter: [BPFInstruction]) -> [BPFInstruction] {
    let detector = Launcher.strictModeDetector
    let allow = BPFInstruction.ret(SeccompAction.allow)
    let prefix: [BPFInstruction] = detector.enumerated().map { i, insn in
      insn == allow ? .jump(UInt32(detector.count - i - 1)) : insn  // to the filter's first instruction
    }
    return prefix + filter
  }

  /// The filter of one-stop recording: every call, of every ABI, goes to the tracer.
  public static let traceAll: [BPFInstruction] = [
    .ret(SeccompAction.trace(0))
  ]

  /// The filter of recording against a baseline: the calls `baseline` allows
  /// unconditionally run without a stop, and every other call (arguments-dependent ones
  /// and numbers past the baseline's highest included: no ENOSYS stub) goes to the
  /// tracer; ABIs the baseline does not list go to the tracer too, and so do the calls
  /// named in `tracing` (whose arguments are being collected) and sched_getaffinity (at
  /// which a program pinned by `CPUPlacement.auto` gets its CPUs back).
  public static func baselineFilter(_ baseline: Profile, tracing: Set<String> = []) throws(CompileError)
    -> [BPFInstruction]
  {
    var policy = Policy(profile: baseline, options: PolicyOptions(context: HostFacts.dockerDefault()))
    let trace = SeccompAction.trace(0)
    policy.badArchAction = trace
    let traced = tracing.union(["sched_getaffinity"])
    for i in policy.arches.indices {
      policy.arches[i].defaultAction = trace
      policy.arches[i].enosysAbove = nil
      policy.arches[i].rules = policy.arches[i].rules.compactMap { rule in
        guard rule.action == .allow, rule.conditions.isEmpty, !traced.contains(rule.name) else { return nil }
        return rule
      }
    }
    policy.flags = []
    return try Compiler.compile(policy)
  }
}
