import BPF
import CLinux
import Processes
import Foundation
import Seccomp
import Syscalls

/// Records the syscalls of a program, its children and its threads by counting them in
/// the kernel (`EBPFSyscallCounter`) instead of stopping the program at each one.
///
/// The tracepoint carries no ABI, so the program runs under `nonNativeFilter`: a seccomp
/// filter (loaded by the launcher before its execve) that sends every non-native call
/// (ia32 through `int 0x80` or a 32-bit program, x32 through bit 30) to the ptrace
/// tracer as a seccomp stop and allows native x86_64 calls, which never stop. ptrace
/// counts the non-native calls under their ABIs; eBPF counts the native ones. A call
/// the tracer counted is left out of the eBPF counts: at its seccomp stop, while the
/// thread is stopped, the thread's mark in the traced map is set to "skip the next
/// call". This relies on the kernel's order in `syscall_trace_enter`
/// (kernel/entry/common.c): seccomp runs first, then the sys_enter tracepoint of the
/// same call; a call seccomp refuses never reaches the tracepoint, and a thread killed
/// at its stop leaves the map at its exit. Counting starts at the program's first
/// execve (at its exec event, while it is stopped); that execve itself is added by
/// hand, as a native call (the launcher that makes it is a 64-bit process).
///
/// Costs: the native calls run at nearly full speed, but the sys_enter program runs for
/// every syscall of every thread on the system while the recording lasts. Pids are the
/// initial pid namespace's: run syscage in that namespace.
public enum EBPFRecorder {
  /// Why a recording could not be made.
  public struct Failure: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable {
      /// Neither root nor CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN), or tracefs is not readable.
      case privileges
      /// No tracefs, or a tracepoint or field it should have.
      case tracefs
      /// The kernel has no bpf(2) or no BPF events (CONFIG_BPF_SYSCALL, CONFIG_BPF_EVENTS).
      case noBPF
      /// The verifier refused a program; its log.
      case verifier(log: String, errno: Errno)
      /// Another kernel call failed.
      case kernel(errno: Errno)
      /// The program could not be run under ptrace.
      case launch(Recorder.Failure)
      /// A program could not be assembled (a bug in syscage).
      case assembly(EBPFAssembler.Error)
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
      self.reason = reason
      self.message = message
    }

    static func reason(for error: Errno) -> Reason {
      switch error {
      case .notPermitted, .permissionDenied: .privileges
      case .noFunction: .noBPF
      default: .kernel(errno: error)
      }
    }

    /// The launch failure, when the program itself could not be started.
    public var launchFailure: Launcher.Failure? {
      if case .launch(let failure) = reason { return failure }
      return nil
    }

    public var description: String {
      switch reason {
      case .privileges:
        return "\(message): the eBPF backend needs root (or CAP_BPF and CAP_PERFMON, with tracefs readable); use --backend ptrace otherwise"
      case .noBPF:
        return "\(message): this kernel cannot run eBPF tracepoint programs (needs CONFIG_BPF_SYSCALL and CONFIG_BPF_EVENTS); use --backend ptrace"
      case .tracefs: return message
      case .verifier(let log, _):
        let text = log.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? message : "\(message); the verifier's log:\n\(text)"
      case .kernel: return message
      case .launch(let failure): return failure.description
      case .assembly(let error): return "\(message): \(error)"
      }
    }
  }

  /// The seccomp filter of an eBPF recording: non-native calls (another arch, or x32's
  /// bit 30, which -1 also has) go to the tracer; native x86_64 calls are allowed.
  public static let nonNativeFilter: [BPFInstruction] = [
    .load(SeccompDataLayout.arch),
    .jump(BPF.jeq, Arch.x86_64.auditArch.rawValue, 0, 3),
    .load(SeccompDataLayout.nr),
    .jump(BPF.jge, UInt32(SyscallNumber.x32Bit), 1, 0),
    .ret(SeccompAction.allow),
    .ret(SeccompAction.trace(0)),
  ]

  /// Runs `executable` with `arguments` (argv, argv[0] included) and records every
  /// syscall it and its descendants make until all of them have ended, counting native
  /// calls in the kernel with eBPF and the rest with ptrace. The calling thread blocks
  /// meanwhile and the calling process must not wait for children of its own (as
  /// `Recorder.record`). No errors or times: counts only.
  public static func record(
    executable: String, arguments: [String], environment: [String]? = nil, notice: ((String) -> Void)? = nil
  ) throws(Failure) -> RecordedRun {
    try record(
      executable: executable, arguments: arguments, environment: environment, attachment: .rawTracepoint,
      notice: notice)
  }

  /// `record(executable:arguments:environment:)` with the sys_enter program attached as chosen.
  /// A program that asks for seccomp strict mode is recorded again by ptrace alone, with two
  /// stops and no filter (`Recorder.record`; `notice` is told).
  public static func record(
    executable: String, arguments: [String], environment: [String]?, attachment: EBPFSyscallCounter.Attachment,
    notice: ((String) -> Void)? = nil
  ) throws(Failure) -> RecordedRun {
    #if arch(x86_64)
      let counter = try EBPFSyscallCounter(attachment: attachment)
      defer { counter.close() }
      let state = ExecState()
      let observer = CallObserver(
        onCall: { call in counter.skipNextCall(of: call.thread) },
        onExec: { pid in
          state.execed = true
          do throws(Failure) { try counter.trace(pid) } catch { state.failure = error }
        })
      let traced: RecordedRun
      do throws(Recorder.Failure) {
        traced = try Recorder.record(
          executable: executable, arguments: arguments, environment: environment, timing: false, oneStop: true,
          filter: nonNativeFilter, observer: observer, cpus: .all, notice: notice)
      } catch {
        throw Failure(.launch(error), error.description)
      }
      if let failure = state.failure { throw failure }
      // Recorded again with two stops: ptrace saw every call; the counts are the ended run's.
      if traced.strictModeRequest != nil { return traced }
      var counts = try counter.counts()
      counter.close()
      if state.execed { counts[Int(Arch.x86_64.number(of: "execve")?.rawValue ?? 59)] += 1 }
      return merge(traced, native: counts)
    #else
      throw Failure(.noBPF, "the eBPF backend supports x86_64 only")
    #endif
  }

  /// `recording`'s entries with the native counts added as x86_64 calls.
  static func merge(_ recording: RecordedRun, native counts: [UInt64]) -> RecordedRun {
    var byKey: [Int: RecordedRun.Entry] = [:]
    var order: [RecordedRun.Entry] = []
    for entry in recording.entries where entry.arch == .x86_64 { byKey[Int(entry.number.rawValue)] = entry }
    for (nr, count) in counts.enumerated() where count > 0 {
      let number = SyscallNumber(Int32(nr))
      let name = Arch.x86_64.name(of: number)
      var entry =
        byKey[nr]
        ?? RecordedRun.Entry(
          arch: .x86_64, number: number, name: name ?? "syscall_\(nr)", statistics: SyscallStatistics(),
          isKnown: name != nil)
      entry.statistics.calls += Int(count)
      byKey[nr] = entry
    }
    order = byKey.keys.sorted().map { byKey[$0]! }
    order += recording.entries.filter { $0.arch != .x86_64 }
    var merged = recording
    merged.entries = order
    merged.timing = false
    return merged
  }

  /// Whether this process may load and attach tracing programs: CAP_SYS_ADMIN, or CAP_BPF
  /// with CAP_PERFMON, in its effective set (read from /proc/self/status; the check is
  /// skipped when that is unreadable, and the kernel's EPERM says it later).
  static func checkPrivileges() throws(Failure) {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
      let caps = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16)
    else { return }
    let sysAdmin: UInt64 = 1 << 21
    let perfmon: UInt64 = 1 << 38
    let bpf: UInt64 = 1 << 39
    if caps & sysAdmin != 0 || (caps & bpf != 0 && caps & perfmon != 0) { return }
    throw Failure(
      .privileges, geteuid() == 0 ? "root without CAP_SYS_ADMIN or CAP_BPF + CAP_PERFMON" : "not root")
  }
}

/// What the exec hook saw (written on the tracing thread, read after the recording).
private final class ExecState: @unchecked Sendable {
  var execed = false
  var failure: EBPFRecorder.Failure?
}
