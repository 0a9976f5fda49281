import CLinux

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The live kernel as an oracle for a seccomp BPF program: what does this kernel do with one
/// system call under one filter, without the call ever running.
///
/// The method (C in `Sources/CLinux/probe.c`, nothing in Swift between fork and exit): a forked
/// child starts a supervisor thread, then its main thread stacks two filters: first one that
/// returns `SECCOMP_RET_USER_NOTIF` for every call (its listener goes to the supervisor), then the
/// filter under test (that install is itself notified, and the supervisor lets it proceed with
/// `SECCOMP_USER_NOTIF_FLAG_CONTINUE`). The main thread then makes the one call under test. The
/// kernel runs every filter and acts on the most restrictive result
/// (KILL_PROCESS < KILL_THREAD < TRAP < ERRNO < USER_NOTIF < TRACE < LOG < ALLOW), so:
///
/// - a call the filter under test denies comes back without a notification, and how it came back
///   is the answer: a return value (ERRNO), a SIGSYS with `si_code` SYS_SECCOMP (TRAP), the
///   calling thread gone (KILL_THREAD: the kernel clears its `set_tid_address` word), the whole
///   child dead of SIGSYS (KILL_PROCESS);
/// - a call it lets through (ALLOW, LOG, TRACE) reaches the supervisor as a notification, which is
///   failed with a marker errno: nothing runs. The notification shows the `seccomp_data` the
///   kernel built (nr, arch, arguments).
///
/// When the filter under test itself returns USER_NOTIF it wins the tie with the notify-everything
/// filter (of equal actions the newest filter counts), finds no listener and fails the call with
/// ENOSYS. So an ENOSYS answer is checked again with the filter under test alone holding the
/// listener; that is safe because the filter sees the same data and must again return USER_NOTIF
/// or ERRNO(ENOSYS).
///
/// The child inherits the caller's own filters: inside a container the answer includes the
/// container's filter, and a caller that already has a listening filter cannot probe (EBUSY).
/// Root is not needed (the child sets no_new_privs). x86_64 Linux only. A probe costs about 0.35 ms
/// from a small process and about 1 ms from the test runner: fork and exit of the caller's address
/// space dominate (an ENOSYS answer costs two).
public enum FilterProbe {
  /// How the call under test enters the kernel.
  public enum CallABI: Sendable, Hashable {
    /// The x86_64 `syscall` instruction (arch `AUDIT_ARCH_X86_64`); `nr` goes to rax as given, so
    /// `nr | 0x40000000` is an x32 call.
    case native
    /// `int $0x80` from 64-bit code (arch `AUDIT_ARCH_I386`; needs CONFIG_IA32_EMULATION). The
    /// arguments go to rbx, rcx, rdx, rsi, rdi and rbp as given, all 64 bits: the kernel shows the
    /// filter the upper halves too. Pass values below 2^32 to model a 32-bit program.
    case ia32
  }

  /// What the kernel did with the call.
  public enum Outcome: Equatable, Sendable, CustomStringConvertible {
    /// The filter under test let it through (ALLOW, LOG or TRACE): the call reached the user
    /// notification, which carried this `seccomp_data`.
    case allowed(nr: UInt32, arch: UInt32, args: [UInt64])
    /// The filter under test returned USER_NOTIF: the call would go to its supervisor.
    case userNotification(nr: UInt32, arch: UInt32, args: [UInt64])
    /// The call returned -errno without running (SECCOMP_RET_ERRNO; 0 is possible, and the
    /// kernel clamps the data to 4095).
    case errno(Int32)
    /// The whole process died of `signal` (SECCOMP_RET_KILL_PROCESS, or an unknown action).
    case killedProcess(signal: Int32)
    /// Only the calling thread died (SECCOMP_RET_KILL_THREAD).
    case killedThread
    /// SIGSYS with `si_code` SYS_SECCOMP: `data` is `si_errno` (the TRAP data), `nr` and `arch`
    /// are `si_syscall` and `si_arch`.
    case trapped(data: Int32, nr: UInt32, arch: UInt32)
    /// A step before the call failed (`step` is "pipe", "fork", "setup", "no_new_privs",
    /// "listener", "continue" or "filter"; "filter" with EINVAL is a program the kernel rejects).
    case loadFailed(step: String, errno: Int32)
    /// No outcome within the time limit.
    case timedOut
    /// Anything else (e.g. SIGSEGV from `int $0x80` on a kernel without ia32 emulation).
    case unexpected(String)

    /// Whether the call would have run (ALLOW, LOG or TRACE).
    public var isAllowed: Bool {
      if case .allowed = self { return true }
      return false
    }

    public var description: String {
      switch self {
      case .allowed(let nr, let arch, let args):
        return "allowed (nr \(nr), arch \(hex(arch)), args \(args.map(hex).joined(separator: ", ")))"
      case .userNotification(let nr, let arch, _):
        return "user notification (nr \(nr), arch \(hex(arch)))"
      case .errno(let e): return "errno \(e)\(errnoName(e).map { " (\($0))" } ?? "")"
      case .killedProcess(let s): return "process killed by signal \(s)"
      case .killedThread: return "thread killed"
      case .trapped(let data, let nr, let arch): return "SIGSYS, data \(data) (nr \(nr), arch \(hex(arch)))"
      case .loadFailed(let step, let e): return "failed at \(step): errno \(e)\(errnoName(e).map { " (\($0))" } ?? "")"
      case .timedOut: return "timed out"
      case .unexpected(let what): return "unexpected: \(what)"
      }
    }
  }

  /// What a probe found, and how long it took.
  public struct Report: Sendable {
    public var outcome: Outcome
    /// Wall time from fork to reap (both passes when there were two).
    public var duration: Duration
    /// The call's raw return value, when it returned.
    public var returnValue: Int64
    /// The instruction pointer the kernel reported (notification or SIGSYS), 0 otherwise.
    public var instructionPointer: UInt64
  }

  /// One classic BPF instruction (`struct sock_filter`).
  public struct Instruction: Hashable, Sendable {
    public var code: UInt16
    public var jt: UInt8
    public var jf: UInt8
    public var k: UInt32
    public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32) {
      self.code = code
      self.jt = jt
      self.jf = jf
      self.k = k
    }
    /// `struct sock_filter` as one little-endian 64-bit word.
    var word: UInt64 {
      UInt64(code) | UInt64(jt) << 16 | UInt64(jf) << 24 | UInt64(k) << 32
    }
  }

  /// The marker errno notified calls are failed with (EHWPOISON); it decides nothing, the
  /// notification does.
  public static let markerErrno: Int32 = 133

  /// Whether probing works here: x86_64 Linux, the kernel offers SECCOMP_RET_USER_NOTIF, and a
  /// trial probe of `ret ALLOW` comes back allowed (this also catches a seccomp() the caller's
  /// own filters deny, or a listener the caller already has).
  public static var isSupported: Bool { supported }

  /// Whether `int $0x80` reaches the kernel's ia32 entry (a trial probe).
  public static var isIA32Supported: Bool { ia32Supported }

  private static let supported: Bool = {
    #if arch(x86_64) && os(Linux)
    guard clinux_probe_supported() == 1 else { return false }
    return run(program: [Instruction(code: 0x06, k: 0x7fff_0000)], nr: 39).isAllowed
    #else
    return false
    #endif
  }()

  private static let ia32Supported: Bool = {
    guard supported else { return false }
    return run(program: [Instruction(code: 0x06, k: 0x7fff_0000)], abi: .ia32, nr: 20).isAllowed
  }()

  /// What the kernel does with call `nr` (arguments `args`, at most six, missing ones 0), entered
  /// the `abi` way, under the filter `program`.
  public static func run(
    program: [Instruction], abi: CallABI = .native, nr: UInt32, args: [UInt64] = [],
    timeout: Duration = .seconds(5)
  ) -> Outcome {
    probe(program: program, abi: abi, nr: nr, args: args, timeout: timeout).outcome
  }

  /// `run` for instructions written as tuples.
  public static func run(
    program: [(code: UInt16, jt: UInt8, jf: UInt8, k: UInt32)], abi: CallABI = .native,
    nr: UInt32, args: [UInt64] = [], timeout: Duration = .seconds(5)
  ) -> Outcome {
    run(
      program: program.map { Instruction(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) }, abi: abi,
      nr: nr, args: args, timeout: timeout)
  }

  /// `run`, with the time taken and the raw details.
  public static func probe(
    program: [Instruction], abi: CallABI = .native, nr: UInt32, args: [UInt64] = [],
    timeout: Duration = .seconds(5)
  ) -> Report {
    precondition(args.count <= 6, "a system call has at most six arguments")
    guard !program.isEmpty, program.count <= 0xffff else {
      return Report(outcome: .loadFailed(step: "filter", errno: EINVAL), duration: .zero, returnValue: 0,
                    instructionPointer: 0)
    }
    #if arch(x86_64) && os(Linux)
    let words = program.map(\.word)
    let fullArgs = args + Array(repeating: 0, count: 6 - args.count)
    var out = [Int64](repeating: 0, count: ResultWord.count)
    let (seconds, attoseconds) = timeout.components
    let ms = max(1, min(Int64(Int32.max), seconds * 1000 + attoseconds / 1_000_000_000_000_000))
    // The kernel takes nr as an int; sign-extend it the way C's `syscall(long, ...)` callers do.
    let rc = words.withUnsafeBytes { prog in
      fullArgs.withUnsafeBufferPointer { a in
        out.withUnsafeMutableBufferPointer { o in
          clinux_probe_filter(
            prog.baseAddress!, UInt32(program.count), abi == .ia32 ? 1 : 0, Int(Int32(bitPattern: nr)),
            a.baseAddress!, Int32(ms),
            UnsafeMutableRawPointer(o.baseAddress!).assumingMemoryBound(to: clinux_probe_result.self))
        }
      }
    }
    guard rc == 0, out[ResultWord.size] == Int64(ResultWord.count * 8) else {
      return Report(outcome: .unexpected("probe call failed (\(rc))"), duration: .zero, returnValue: 0,
                    instructionPointer: 0)
    }
    return Report(
      outcome: outcome(out), duration: .nanoseconds(out[ResultWord.elapsed]),
      returnValue: out[ResultWord.retval], instructionPointer: UInt64(bitPattern: out[ResultWord.ip]))
    #else
    return Report(outcome: .unexpected("probing needs x86_64 Linux"), duration: .zero, returnValue: 0,
                  instructionPointer: 0)
    #endif
  }

  // MARK: - The C side

  /// Word indices of `struct clinux_probe_result` (every field is 64 bits; see clinux_probe.h).
  enum ResultWord {
    static let size = 0, kind = 1, error = 2, step = 3, signal = 4, detail = 5, nr = 6, arch = 7,
      ip = 8, args = 9, retval = 15, status = 16, elapsed = 17
    static let count = 18
  }

  static func outcome(_ w: [Int64]) -> Outcome {
    let nr = UInt32(truncatingIfNeeded: w[ResultWord.nr])
    let arch = UInt32(truncatingIfNeeded: w[ResultWord.arch])
    let args = (0..<6).map { UInt64(bitPattern: w[ResultWord.args + $0]) }
    let error = Int32(truncatingIfNeeded: w[ResultWord.error])
    switch w[ResultWord.kind] {
    case 1: return .allowed(nr: nr, arch: arch, args: args)
    case 2: return .errno(error)
    case 3: return .killedProcess(signal: Int32(truncatingIfNeeded: w[ResultWord.signal]))
    case 4: return .killedThread
    case 5: return .trapped(data: error, nr: nr, arch: arch)
    case 6:
      let steps = [1: "pipe", 2: "fork", 3: "setup", 4: "no_new_privs", 5: "listener", 6: "continue", 7: "filter"]
      return .loadFailed(step: steps[Int(w[ResultWord.step])] ?? "step \(w[ResultWord.step])", errno: error)
    case 7: return .timedOut
    case 9: return .userNotification(nr: nr, arch: arch, args: args)
    default:
      switch w[ResultWord.detail] {
      case 1: return .unexpected("the probe process died of signal \(w[ResultWord.signal])")
      case 2: return .unexpected("the probe process exited (wait status \(hex(UInt64(bitPattern: w[ResultWord.status]))))")
      case 3: return .unexpected("the call returned \(w[ResultWord.retval])")
      case 4: return .unexpected("unexpected notification: nr \(nr), arch \(hex(arch)), args \(args.map(hex))")
      case 5: return .unexpected("SIGSYS with si_code \(error)")
      default: return .unexpected("no result from the probe process (wait status \(w[ResultWord.status]))")
      }
    }
  }
}

private func hex<T: BinaryInteger>(_ v: T) -> String { "0x" + String(v, radix: 16) }

private func errnoName(_ e: Int32) -> String? {
  guard e > 0, let s = strerror(e) else { return nil }
  return String(cString: s)
}

/// One classic BPF instruction for `FilterProbe` (the same as `FilterProbe.Instruction`).
public typealias ProbeInstruction = FilterProbe.Instruction
