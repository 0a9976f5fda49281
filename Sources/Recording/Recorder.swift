import BPF
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

  /// The tracer's mask: a flag per (ABI slot, number).
  var mask: [Bool]? {
    guard let calls else { return nil }
    var mask = [Bool](repeating: false, count: TraceABI.entries)
    for abi in TraceABI.allCases {
      for number in calls[abi.arch] ?? [] {
        let nr = Int(number.rawValue - abi.base)
        if nr >= 0 && nr < TraceABI.numbers { mask[abi.index(nr)] = true }
      }
    }
    return mask
  }

  /// The tracer's hooks for this observer (nil observer: none).
  static func hooks(_ observer: CallObserver?) -> Tracer.Hooks {
    guard let observer else { return Tracer.Hooks() }
    let onCall = observer.onCall
    let onExec = observer.onExec
    return Tracer.Hooks(
      mask: observer.mask,
      onCall: { call in
        let abi = Arch(auditArch: call.auditArch, number: Int64(bitPattern: call.number)) ?? .x86_64
        let a = call.arguments
        onCall(
          TracedCall(
            thread: call.thread, arch: abi, number: SyscallNumber(Int32(truncatingIfNeeded: call.number)),
            arguments: [a.0, a.1, a.2, a.3, a.4, a.5]))
      },
      onExec: onExec.map { onExec in { pid in onExec(pid) } })
  }
}

extension TraceCounts {
  /// The table's rows for what was counted.
  var entries: [RecordedRun.Entry] {
    rows.map { row in
      let name = row.abi.arch.name(of: row.number)
      return RecordedRun.Entry(
        arch: row.abi.arch, number: row.number, name: name ?? "syscall_\(row.number.rawValue - row.abi.base)",
        statistics: SyscallStatistics(calls: Int(row.calls), errors: Int(row.errors), nanoseconds: row.nanoseconds),
        isKnown: name != nil)
    }
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

  var placement: Tracer.Placement {
    switch self {
    case .auto: .tracerCPUUntilShared
    case .one: .tracerCPU
    case .all: .anywhere
    }
  }
}

/// Records the syscalls of a program, its children and its threads with ptrace.
public enum Recorder {
  /// A step before the program ran failed (the steps and exit statuses of `Launcher`).
  public typealias Failure = Launcher.Failure

  /// Runs `executable` with `arguments` (argv, argv[0] included) and records every syscall
  /// it and its descendants make until all of them have ended. With `timing`, also the
  /// errors and the time per call (the clock runs from entry stop to exit stop, as
  /// `strace -c -w` measures). The calling thread blocks until then; the program is
  /// forked and traced from a thread of its own (`Tracer`), which waits only for its own
  /// children and tracees: other children of the calling process are left alone.
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
    let counts = TraceCounts()
    let outcome = try Tracer.trace(
      executable: executable, arguments: arguments, environment: environment,
      stops: seccomp ? .one(filter: stoppingAtStrictMode(filter), noNewPrivileges: true) : .two(timing: timing),
      placement: cpus.placement, hooks: CallObserver.hooks(observer), counts: counts)
    if seccomp, let request = outcome.strictModeRequest {
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
      entries: counts.entries, termination: outcome.termination, pid: outcome.pid, timing: timing,
      unplaced: Int(counts.unknown), tracees: outcome.tracees, oneStop: seccomp)
  }

  /// Why running processes could not be attached (the pid of the first failure, its errno).
  public typealias AttachFailure = Tracer.AttachFailure

  /// Attaches to the running processes `pids` (every thread of each, and what they start
  /// from then on) and records their syscalls at entry, with errors and times when
  /// `timing`, until they have all ended or this process gets SIGINT, SIGTERM or SIGHUP:
  /// then every tracee is detached and runs on (`RecordedRun.detached`). Calls made before
  /// the attach are not seen, and an attached process cannot get a filter, so this always
  /// stops twice per call. Blocks the calling thread; SIGINT, SIGTERM, SIGHUP and SIGCHLD
  /// are blocked on it meanwhile (`Tracer.attach`).
  public static func attach(pids: [Int32], timing: Bool = false, observer: CallObserver? = nil)
    throws(AttachFailure) -> RecordedRun
  {
    let counts = TraceCounts()
    let outcome = try Tracer.attach(pids: pids, timing: timing, hooks: CallObserver.hooks(observer), counts: counts)
    return RecordedRun(
      entries: counts.entries, termination: outcome.termination, pid: outcome.pid, timing: timing,
      unplaced: Int(counts.unknown), tracees: outcome.tracees, oneStop: false, detached: outcome.detached)
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
