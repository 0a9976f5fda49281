import BPF
import Seccomp

extension FilterProbe {
  /// What the kernel does with one call under a compiled program.
  public static func run(
    _ program: [BPFInstruction], abi: CallABI = .native, nr: UInt32, args: [UInt64] = [],
    timeout: Duration = .seconds(5)
  ) -> Outcome {
    run(program: program.map { Instruction(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) }, abi: abi, nr: nr, args: args, timeout: timeout)
  }
}

extension FilterProbe.Outcome {
  /// Whether the kernel's outcome is what `action` means for a call that reached it:
  /// ALLOW, LOG and TRACE reach the notification; ERRNO returns the (capped) errno;
  /// KILL_PROCESS kills with SIGSYS; KILL_THREAD kills the thread; TRAP raises SIGSYS
  /// with the data in si_errno; USER_NOTIF goes to the filter's own listener.
  public func matches(_ action: SeccompAction) -> Bool {
    switch (self, action.kind) {
    case (.allowed, .allow), (.allowed, .log), (.allowed, .trace): return true
    case (.errno(let e), .errno): return e == action.effectiveErrno
    case (.killedProcess(let s), .killProcess): return s == 31  // SIGSYS
    case (.killedThread, .killThread): return true
    case (.trapped(let d, _, _), .trap): return d == Int32(action.data)
    case (.userNotification, .userNotif): return true
    default: return false
    }
  }
}
