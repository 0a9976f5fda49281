import CLinux
import Enforcement
import Foundation
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
public struct Recording: Sendable {
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

  public init(
    entries: [Entry], termination: Termination, pid: Int32 = 0, timing: Bool = false, unplaced: Int = 0, tracees: Int = 1,
    oneStop: Bool = false
  ) {
    self.oneStop = oneStop
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
  /// no_new_privs and loads a filter that returns SECCOMP_RET_TRACE for every call before
  /// its execve, and the tracer stops only at those seccomp stops. Timing needs the exit
  /// stop as well, so `timing` always uses two stops (`oneStop` is ignored).
  public static func record(
    executable: String, arguments: [String], environment: [String]? = nil, timing: Bool = false,
    oneStop: Bool? = nil
  ) throws(Failure) -> Recording {
    let seccomp = !timing && (oneStop ?? true)
    #if arch(x86_64)
      let size = Int(CLINUX_TRACE_ABIS) * Int(CLINUX_TRACE_NRS)
      var calls = [UInt64](repeating: 0, count: size)
      var errors = [UInt64](repeating: 0, count: size)
      var nanoseconds = [UInt64](repeating: 0, count: size)
      var result = clinux_trace_result()
      var unknown: UInt64 = 0
      let env = environment ?? ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
      let rc = withCStrings(arguments) { argv in
        withCStrings(env) { envp in
          calls.withUnsafeMutableBufferPointer { c in
            errors.withUnsafeMutableBufferPointer { e in
              nanoseconds.withUnsafeMutableBufferPointer { n in
                var counts = clinux_trace_counts(
                  calls: c.baseAddress, errors: e.baseAddress, nanoseconds: n.baseAddress, unknown: 0, stops: 0)
                let rc: Int32
                if seccomp {
                  rc = traceAll.withUnsafeBytes { prog in
                    clinux_trace_seccomp(
                      executable, argv, envp, prog.baseAddress, UInt32(traceAll.count), 1, nil, 0, &counts, nil,
                      &result)
                  }
                } else {
                  rc = clinux_trace(executable, argv, envp, timing ? 1 : 0, &counts, &result)
                }
                unknown = counts.unknown
                return rc
              }
            }
          }
        }
      }
      if rc != 0 {
        throw Failure(step: Failure.Step(rawValue: result.failed_step) ?? .fork, errno: result.error)
      }
      return Recording(
        entries: entries(calls, errors, nanoseconds), termination: Termination(waitStatus: result.wait_status),
        pid: result.pid, timing: timing, unplaced: Int(unknown), tracees: Int(result.tracees), oneStop: seccomp)
    #else
      throw Failure(step: .trace, errno: ENOSYS)
    #endif
  }

  /// The filter of one-stop recording: every call, of every ABI, goes to the tracer.
  public static let traceAll: [BPFInstruction] = [
    .ret(SeccompAction.trace(0))
  ]

  /// The table's rows for nonzero counts.
  static func entries(_ calls: [UInt64], _ errors: [UInt64], _ nanoseconds: [UInt64]) -> [Recording.Entry] {
      var entries: [Recording.Entry] = []
      for (slot, abi) in slots.enumerated() {
        for nr in 0..<Int(CLINUX_TRACE_NRS) {
          let i = slot * Int(CLINUX_TRACE_NRS) + nr
          guard calls[i] > 0 else { continue }
          let number = SyscallNumber(Int32(nr) + abi.base)
          let name = abi.arch.name(of: number)
          entries.append(
            Recording.Entry(
              arch: abi.arch, number: number, name: name ?? "syscall_\(nr)",
              statistics: SyscallStatistics(calls: Int(calls[i]), errors: Int(errors[i]), nanoseconds: nanoseconds[i]),
              isKnown: name != nil))
        }
      }
      return entries
  }
}

/// Calls `body` with a NULL-terminated C array of the strings.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
  var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
  pointers.append(nil)
  defer { for p in pointers { free(p) } }
  return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
