import CLinux
import Glibc
import Syscalls

extension Launcher {
  /// The parent's side of `run`, on the thread that forked the program (its tracer):
  /// waits for the program and its threads only (`__WNOTHREAD`), never for another
  /// child of this process, and restarts every stop.
  struct RunSupervisor {
    let pid: pid_t
    let traced: Bool
    var waitStatus: Int32 = 0
    var kill: SeccompKill? = nil
    /// The kill was at a syscall's entry (seccomp), not a SIGSYS elsewhere.
    var killAtEntry = false
    var strictModeRequest: StrictModeRequest? = nil

    /// Starts `path` (C forks and runs the child's steps), traces it if `trace`, and waits
    /// until the program's process has ended.
    static func run(
      path: UnsafePointer<CChar>, argv: UnsafePointer<UnsafeMutablePointer<CChar>?>,
      envp: UnsafePointer<UnsafeMutablePointer<CChar>?>, detector: UnsafeRawBufferPointer, detectorCount: Int,
      program: UnsafeRawBufferPointer, programCount: Int, flags: UInt32, noNewPrivileges: Bool, trace: Bool
    ) -> Result<Outcome, Failure> {
      var spawn = clinux_spawn()
      var step: Int32 = 0
      var error: Int32 = 0
      if clinux_spawn_start_stacked(
        path, argv, envp, noNewPrivileges ? 1 : 0, detector.baseAddress, UInt32(detectorCount), program.baseAddress,
        UInt32(programCount), flags, &spawn, &step, &error) != 0
      {
        return .failure(Failure(step: Step(rawValue: step), errno: error))
      }
      clinux_spawn_forward_signals(&spawn)
      var traced = false
      if trace {
        var options = PTRACE_O_TRACEEXIT.rawValue | PTRACE_O_TRACECLONE.rawValue
        if detectorCount > 0 { options |= PTRACE_O_TRACESECCOMP.rawValue }
        traced = Ptrace.seize(spawn.pid, options: options) == 0
      }
      // A TRACE detector only with a tracer to stop at (without one its calls would fail
      // with ENOSYS); untraced, the caller's detector returns LOG, read from the audit log.
      let stacked = detectorCount > 0 && (traced || !trace)
      clinux_spawn_release_with(&spawn, CChar(stacked ? CLINUX_SPAWN_GO_STACKED : CLINUX_SPAWN_GO))
      let failed = clinux_spawn_exec_status(&spawn, &step, &error) != 0
      var supervisor = RunSupervisor(pid: spawn.pid, traced: traced)
      supervisor.waitForProgram()
      clinux_spawn_end(&spawn)
      if failed { return .failure(Failure(step: Step(rawValue: step), errno: error)) }
      return .success(
        Outcome(
          termination: Termination(waitStatus: supervisor.waitStatus),
          seccompKill: supervisor.killAtEntry ? supervisor.kill : nil, pid: spawn.pid,
          strictModeRequest: supervisor.strictModeRequest))
    }

    /// Handles every report of this thread's children and tracees until the program's
    /// process has been reaped.
    mutating func waitForProgram() {
      while true {
        var raw: Int32 = 0
        guard case .success(let w) = retryingInterrupts({ waitpid(-1, &raw, __WALL | __WNOTHREAD) }) else { return }
        let status = WaitStatus(rawValue: raw)
        if status.exited || status.signaled {
          if w == pid {
            waitStatus = raw
            return
          }
          continue
        }
        guard status.stopped else { continue }
        let signal = status.stopSignal
        guard traced else {
          // Untraced, the program may still have made this thread its tracer
          // (PTRACE_TRACEME): let it go, with the signal it stopped at (not the SIGTRAP of
          // its next execve).
          Ptrace.detach(w, signal: signal == SIGTRAP ? 0 : signal)
          continue
        }
        switch status.event {
        case PTRACE_EVENT_EXIT.rawValue:
          exitStop(w)
          Ptrace.cont(w)
        case PTRACE_EVENT_SECCOMP.rawValue:
          seccompStop(w)
          Ptrace.cont(w)
        case PTRACE_EVENT_STOP.rawValue:
          if signal == SIGSTOP || signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU {
            Ptrace.listen(w)  // group-stop: stay stopped until SIGCONT
          } else {
            Ptrace.cont(w)
          }
        case 0:
          Ptrace.cont(w, signal: signal)  // signal-delivery-stop: pass the signal on
        default:
          Ptrace.cont(w)
        }
      }
    }

    /// A thread's PTRACE_EVENT_EXIT: if SIGSYS killed it at a syscall's entry (seccomp's
    /// KILL or an unhandled TRAP), the call it was making, from its registers.
    mutating func exitStop(_ w: pid_t) {
      #if arch(x86_64)
        guard let message = Ptrace.eventMessage(w) else { return }
        let exit = WaitStatus(rawValue: Int32(truncatingIfNeeded: message))
        guard exit.signaled, exit.terminationSignal == SIGSYS else { return }
        var regs = user_regs_struct()
        guard Ptrace.getRegisters(w, &regs), Int64(bitPattern: regs.orig_rax) != -1 else { return }
        // seccomp rolls the registers back to the syscall's entry: rax == orig_rax.
        let atEntry = regs.rax == regs.orig_rax
        guard kill == nil || (atEntry && !killAtEntry) else { return }
        var auditArch = regs.cs == 0x23 ? Arch.x86.auditArch.rawValue : Arch.x86_64.auditArch.rawValue
        // int 0x80 from 64-bit code keeps a 64-bit cs: ask the kernel for the call's arch.
        var info = clinux_syscall_info()
        if Ptrace.syscallInfo(w, &info) > 0, info.arch != 0 { auditArch = info.arch }
        // The arguments as the filter saw them (entry registers, kept at the kill).
        let arguments: [UInt64] =
          auditArch == Arch.x86.auditArch.rawValue
          ? [regs.rbx, regs.rcx, regs.rdx, regs.rsi, regs.rdi, regs.rbp].map { $0 & 0xffff_ffff }
          : [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9]
        let nr = Int64(bitPattern: regs.orig_rax)
        kill = SeccompKill(
          arch: Arch(auditArch: auditArch, number: nr) ?? Arch.native,
          number: SyscallNumber(Int32(truncatingIfNeeded: nr)), thread: w, arguments: arguments)
        killAtEntry = atEntry
      #endif
    }

    /// A seccomp stop: the strict-mode detector's (note the first request; the call goes
    /// on and the kernel refuses it), or a TRACE of the program's own filter, which fails
    /// with ENOSYS as it does without a tracer.
    mutating func seccompStop(_ w: pid_t) {
      #if arch(x86_64)
        var info = clinux_syscall_info()
        if Ptrace.syscallInfo(w, &info) > 0, info.op == 3 /* PTRACE_SYSCALL_INFO_SECCOMP */,
          info.ret_data == UInt32(Launcher.strictModeData)
        {
          if strictModeRequest == nil {
            let nr = info.nr & ~UInt64(SyscallNumber.x32Bit)
            strictModeRequest = nr == 157 || nr == 172 ? .prctl : .seccomp  // prctl (x86_64/x32, ia32)
          }
          return
        }
        var regs = user_regs_struct()
        if Ptrace.getRegisters(w, &regs) {
          regs.orig_rax = UInt64(bitPattern: -1)
          regs.rax = UInt64(bitPattern: Int64(-ENOSYS))
          Ptrace.setRegisters(w, &regs)
        }
      #endif
    }
  }
}
