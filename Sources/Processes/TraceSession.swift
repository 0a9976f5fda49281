import CLinux
import Glibc
import SystemPackage

/// A tracee's state between a syscall's entry stop and its exit stop.
struct TraceeState {
  var tid: pid_t
  /// The entry (`TraceABI.index`) of the call in progress, -1 when none.
  var index: Int
  /// CLOCK_MONOTONIC nanoseconds at its entry stop (timing).
  var start: UInt64
}

/// The tracees a session knows, in one buffer allocated before the program starts and
/// searched linearly (a trace has few live tracees at once). It grows, doubling, only when
/// more are alive at once than it holds.
struct TraceeTable {
  private(set) var items: UnsafeMutablePointer<TraceeState>
  private(set) var count = 0
  private var capacity: Int

  init(capacity: Int = 512) {
    self.capacity = capacity
    items = .allocate(capacity: capacity)
  }

  func deallocate() { items.deallocate() }

  subscript(_ i: Int) -> TraceeState {
    get { items[i] }
    nonmutating set { items[i] = newValue }
  }

  /// The slot of `tid`, -1 when it is not in the table.
  @inline(__always)
  func find(_ tid: pid_t) -> Int {
    var i = 0
    while i < count {
      if items[i].tid == tid { return i }
      i &+= 1
    }
    return -1
  }

  /// The slot of `tid`, added (no call in progress) when it is new.
  @inline(__always)
  mutating func findOrAdd(_ tid: pid_t) -> Int {
    let i = find(tid)
    if i >= 0 { return i }
    if count == capacity { grow() }
    items[count] = TraceeState(tid: tid, index: -1, start: 0)
    count &+= 1
    return count &- 1
  }

  private mutating func grow() {
    let larger = UnsafeMutablePointer<TraceeState>.allocate(capacity: capacity * 2)
    larger.moveInitialize(from: items, count: count)
    items.deallocate()
    items = larger
    capacity *= 2
  }

  /// Drops the entry in slot `i` (the last one takes its place).
  @inline(__always)
  mutating func remove(at i: Int) {
    count &-= 1
    items[i] = items[count]
  }

  @inline(__always)
  mutating func remove(_ tid: pid_t) {
    let i = find(tid)
    if i >= 0 { remove(at: i) }
  }
}

/// One trace: what it counts, how it stops, and the tracees it knows. Every buffer it
/// writes at a stop is allocated before the program starts; `handle` allocates nothing.
struct TraceSession {
  let seccomp: Bool  // one stop per call (PTRACE_CONT, seccomp stops)
  let timing: Bool
  let attached: Bool
  let verifying: Bool
  let errnos: UnsafeBufferPointer<Errno>
  let denials: UnsafeMutableBufferPointer<Tracer.Denial>?
  var denialCount = 0
  let calls: UnsafeMutablePointer<UInt64>
  let errors: UnsafeMutablePointer<UInt64>
  let nanoseconds: UnsafeMutablePointer<UInt64>
  var unknown: UInt64 = 0
  var stops: UInt64 = 0
  let mask: UnsafeBufferPointer<Bool>?
  let onCall: ((Tracer.Call) -> Void)?
  let onExec: ((Int32) -> Void)?
  /// Every live tracee (attached, and one-stop recording), or those with state (two stops).
  var tracees = TraceeTable()
  /// The launched program, or the first attached pid.
  var pid: pid_t = 0
  /// The program's first execve was seen.
  var started = false
  var execReported = false
  var traced: Int32 = 0
  /// A recording that met a request for strict mode: every tracee is killed.
  var killing = false
  let placement: Tracer.Placement
  /// The program still runs on the tracer's CPU only.
  var pinned = false
  /// The tracer's CPUs before pinning: the program's again after.
  var cpus = cpu_set_t()
  var waitStatus: Int32 = 0
  var strictModeRequest: StrictModeRequest? = nil
  var strictModeThread: Int32 = 0
  /// The launched program's spawn, until its initial interrupt released it.
  var spawn: UnsafeMutablePointer<clinux_spawn>? = nil
  var goSent = false

  init(
    seccomp: Bool, timing: Bool, attached: Bool, verifying: Bool, errnos: UnsafeBufferPointer<Errno>,
    denials: UnsafeMutableBufferPointer<Tracer.Denial>?, mask: UnsafeBufferPointer<Bool>?, hooks: Tracer.Hooks,
    counts: TraceCounts, placement: Tracer.Placement
  ) {
    self.seccomp = seccomp
    self.timing = timing
    self.attached = attached
    self.verifying = verifying
    self.errnos = errnos
    self.denials = denials
    self.mask = mask
    onCall = hooks.onCall
    onExec = hooks.onExec
    calls = counts.calls.baseAddress!
    errors = counts.errors.baseAddress!
    nanoseconds = counts.nanoseconds.baseAddress!
    self.placement = placement
  }

  /// Hands what the session counted to `counts` and `denials`, and frees the table.
  func finish(counts: TraceCounts, denials: Tracer.Denials?) {
    counts.unknown += unknown
    counts.stops += stops
    denials?.count = denialCount
    tracees.deallocate()
  }

  var outcome: Tracer.Outcome {
    Tracer.Outcome(
      waitStatus: waitStatus, pid: pid, tracees: Int(traced), strictModeRequest: strictModeRequest,
      strictModeThread: strictModeThread, detached: false)
  }

  static let traceOptions =
    PTRACE_O_TRACESYSGOOD.rawValue | PTRACE_O_TRACEFORK.rawValue | PTRACE_O_TRACEVFORK.rawValue
    | PTRACE_O_TRACECLONE.rawValue | PTRACE_O_TRACEEXEC.rawValue | PTRACE_O_TRACEEXIT.rawValue

  // x86_64's execve, execveat and sched_getaffinity; ia32's sched_getaffinity; prctl
  // (x86_64 and x32, ia32).
  static let execve = 59, execveat = 322, getaffinity = 204, ia32GetAffinity = 242
  static let prctl: UInt64 = 157, ia32Prctl: UInt64 = 172

  @inline(__always)
  static func nowNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
  }

  @inline(__always)
  func resume(_ w: pid_t, signal: Int32 = 0) {
    _ = Ptrace.request(seccomp ? PTRACE_CONT : PTRACE_SYSCALL, w, 0, UInt(signal))
  }

  // MARK: Launching

  /// Pins this thread to its CPU (as `placement` asks) before the fork, so that the child
  /// inherits it, traces the program, and gives this thread its CPUs back.
  mutating func run(
    path: UnsafePointer<CChar>, argv: UnsafePointer<UnsafeMutablePointer<CChar>?>,
    envp: UnsafePointer<UnsafeMutablePointer<CChar>?>, program: UnsafeRawBufferPointer, programCount: Int,
    noNewPrivileges: Bool
  ) -> Result<Tracer.Outcome, Launcher.Failure> {
    let saved = placement != .anywhere && clinux_sched_getaffinity(0, &cpus) == 0
    if saved {
      let cpu = Int(clinux_sched_getcpu())
      if cpu >= 0 && cpu < MemoryLayout<cpu_set_t>.size * 8 {
        var one = cpu_set_t()  // CPU_ZERO, then CPU_SET(cpu)
        withUnsafeMutableBytes(of: &one) { bytes in bytes[cpu / 8] |= UInt8(1) << UInt8(cpu % 8) }
        pinned = clinux_sched_setaffinity(0, &one) == 0
      }
    }
    let result = traceSpawned(
      path: path, argv: argv, envp: envp, program: program, programCount: programCount,
      noNewPrivileges: noNewPrivileges)
    if saved { clinux_sched_setaffinity(0, &cpus) }
    return result
  }

  mutating func traceSpawned(
    path: UnsafePointer<CChar>, argv: UnsafePointer<UnsafeMutablePointer<CChar>?>,
    envp: UnsafePointer<UnsafeMutablePointer<CChar>?>, program: UnsafeRawBufferPointer, programCount: Int,
    noNewPrivileges: Bool
  ) -> Result<Tracer.Outcome, Launcher.Failure> {
    var spawn = clinux_spawn()
    var step: Int32 = 0
    var error: Int32 = 0
    if clinux_spawn_start(
      path, argv, envp, noNewPrivileges ? 1 : 0, program.baseAddress, UInt32(programCount), 0, &spawn, &step, &error)
      != 0
    {
      return .failure(Launcher.Failure(step: Launcher.Step(rawValue: step), errno: error))
    }
    pid = spawn.pid
    traced = 1
    started = seccomp  // the filter sees nothing before the program's execve
    var options = Self.traceOptions | PTRACE_O_EXITKILL.rawValue
    if seccomp { options = (options & ~PTRACE_O_TRACESYSGOOD.rawValue) | PTRACE_O_TRACESECCOMP.rawValue }
    // Seize, then interrupt so the child is in a ptrace-stop and can be restarted with
    // PTRACE_SYSCALL before it execs: its execve is the first call counted.
    if Ptrace.seize(pid, options: options) != 0 || Ptrace.interrupt(pid) != 0 {
      let failure = Launcher.Failure(step: .trace, errno: Errno(rawValue: Glibc.errno))
      clinux_spawn_abort(&spawn)
      clinux_spawn_end(&spawn)
      return .failure(failure)
    }
    clinux_spawn_forward_signals(&spawn)
    withUnsafeMutablePointer(to: &spawn) { spawnPointer in
      self.spawn = spawnPointer
      var raw: Int32 = 0
      while true {
        let w = waitpid(-1, &raw, __WALL | __WNOTHREAD)
        if w < 0 {
          if Glibc.errno == EINTR { continue }
          break  // ECHILD: every tracee has ended
        }
        handle(w, raw)
      }
      self.spawn = nil
    }
    clinux_spawn_end(&spawn)
    if clinux_spawn_exec_status(&spawn, &step, &error) != 0 {
      return .failure(Launcher.Failure(step: Launcher.Step(rawValue: step), errno: error))
    }
    return .success(outcome)
  }

  // MARK: Stops

  /// Handles one wait(2) report of a tracee and restarts it.
  @inline(__always)
  mutating func handle(_ w: pid_t, _ raw: Int32) {
    let status = WaitStatus(rawValue: raw)
    if status.exited || status.signaled {
      tracees.remove(w)
      if w == pid { waitStatus = raw }
      return
    }
    guard status.stopped else { return }
    stops &+= 1
    let signal = status.stopSignal
    let event = status.event
    if killing {  // a tracee not killed yet (new), or one stopped on its way out
      kill(w, SIGKILL)
      Ptrace.cont(w)
      return
    }
    if attached { _ = tracees.findOrAdd(w) }
    if signal == SIGTRAP | 0x80 && event == 0 {
      syscallStop(w)
      resume(w)
    } else if event == PTRACE_EVENT_SECCOMP.rawValue {
      seccompStop(w)
      resume(w)
    } else if event == PTRACE_EVENT_STOP.rawValue {
      if let spawn, w == pid, !goSent {
        // The initial interrupt: let the child go on to execve, stopping at every call.
        resume(w)
        clinux_spawn_release(spawn)
        goSent = true
      } else if signal == SIGSTOP || signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU {
        Ptrace.listen(w)  // group-stop: stay stopped until SIGCONT
      } else {
        resume(w)  // a new tracee's first stop, or an interrupt
      }
    } else if event == PTRACE_EVENT_EXEC.rawValue {
      execStop(w)
      resume(w)
    } else if event == PTRACE_EVENT_FORK.rawValue || event == PTRACE_EVENT_VFORK.rawValue
      || event == PTRACE_EVENT_CLONE.rawValue
    {
      traced &+= 1
      // A one-stop recording knows every tracee too: a request for strict mode kills them all.
      let keep = attached || (seccomp && !verifying)
      if keep || pinned, let message = Ptrace.eventMessage(w), message != 0 {
        let child = pid_t(truncatingIfNeeded: message)
        if keep { _ = tracees.findOrAdd(child) }
        unpin(w, child)
      }
      resume(w)
    } else if event != 0 {
      resume(w)
    } else {
      resume(w, signal: signal)  // signal-delivery-stop: pass the signal on
    }
  }

  /// Gives a pinned program (`tid`, and `child` when nonzero) back every CPU it had.
  mutating func unpin(_ tid: pid_t, _ child: pid_t) {
    guard pinned, placement == .tracerCPUUntilShared else { return }
    pinned = false
    clinux_sched_setaffinity(tid, &cpus)
    if child > 0 { clinux_sched_setaffinity(child, &cpus) }
  }

  /// Whether a call asks for the caller's CPUs (sched_getaffinity, in any x86 ABI).
  @inline(__always)
  static func asksForCPUs(_ index: Int) -> Bool {
    index == TraceABI.x86_64.index(getaffinity) || index == TraceABI.x32.index(getaffinity)
      || index == TraceABI.ia32.index(ia32GetAffinity)
  }

  @inline(__always)
  func count(_ index: Int) -> Bool {
    if index >= 0 {
      calls[index] &+= 1
      return true
    }
    return false
  }

  @inline(__always)
  func report(_ w: pid_t, _ index: Int, _ info: clinux_syscall_info) {
    guard let onCall, index >= 0 else { return }
    if let mask, index >= mask.count || !mask[index] { return }
    onCall(Tracer.Call(thread: w, auditArch: info.arch, number: info.nr, arguments: info.args))
  }

  /// Ends a recording: SIGKILL to every tracee known (the program, and every process and
  /// thread it started); those not seen yet are killed at their first stop.
  mutating func killTracees() {
    killing = true
    kill(pid, SIGKILL)
    for i in 0..<tracees.count { kill(tracees[i].tid, SIGKILL) }
  }

  /// A seccomp stop: count the call; in verification, fail the calls the filter sent with a
  /// known code. In a recording, a request for strict mode (the stop of the detector's data)
  /// ends the run: under the filter the kernel would refuse it.
  mutating func seccompStop(_ w: pid_t) {
    var info = clinux_syscall_info()
    let got = clinux_ptrace_syscall_info(w, &info)
    guard got > 0, info.op == 3 /* PTRACE_SYSCALL_INFO_SECCOMP */ else {
      unknown &+= 1
      return
    }
    if !verifying && info.ret_data == UInt32(CLINUX_RUN_STRICT_DATA) {
      let nr = info.nr & ~TraceABI.x32Bit
      strictModeRequest = nr == Self.prctl || (info.arch == TraceABI.auditI386 && nr == Self.ia32Prctl) ? .prctl : .seccomp
      strictModeThread = w
      killTracees()
      return
    }
    let index = TraceABI.index(auditArch: info.arch, number: info.nr)
    if !count(index) { unknown &+= 1 }
    if pinned && Self.asksForCPUs(index) { unpin(w, 0) }
    report(w, index, info)
    guard verifying, Int(info.ret_data) < errnos.count else { return }
    let e = errnos[Int(info.ret_data)]
    if let denials {
      if denialCount < denials.count {
        denials[denialCount] = Tracer.Denial(
          thread: w, auditArch: info.arch, number: info.nr, args: info.args, code: info.ret_data, errno: e)
      }
      denialCount &+= 1
    }
    #if arch(x86_64)
      // Skip the call (number -1) and make it return -e: the kernel leaves rax alone for a
      // skipped call.
      var regs = user_regs_struct()
      if Ptrace.getRegisters(w, &regs) {
        regs.orig_rax = UInt64(bitPattern: -1)
        regs.rax = UInt64(bitPattern: Int64(-e.rawValue))
        Ptrace.setRegisters(w, &regs)
      }
    #endif
  }

  /// A syscall entry or exit stop (two stops per call).
  @inline(__always)
  mutating func syscallStop(_ w: pid_t) {
    var info = clinux_syscall_info()
    let got = clinux_ptrace_syscall_info(w, &info)
    guard got > 0 else { return }
    if info.op == 1 /* PTRACE_SYSCALL_INFO_ENTRY */ {
      let index = TraceABI.index(auditArch: info.arch, number: info.nr)
      if !started && w == pid && (index == Self.execve || index == Self.execveat) { started = true }
      let t = tracees.findOrAdd(w)
      if pinned && Self.asksForCPUs(index) { unpin(w, 0) }
      if started {
        if !count(index) { unknown &+= 1 }
        report(w, index, info)
      }
      tracees.items[t].index = started ? index : -1
      if timing && started { tracees.items[t].start = Self.nowNanoseconds() }
    } else if info.op == 2 /* PTRACE_SYSCALL_INFO_EXIT */ {
      let t = tracees.find(w)
      guard t >= 0 else { return }
      let index = tracees.items[t].index
      if index >= 0 && timing {
        let now = Self.nowNanoseconds()
        let start = tracees.items[t].start
        nanoseconds[index] &+= now > start ? now - start : 0
        // For an exit stop the kernel's rval is where `nr` is, is_error the low byte of args[0].
        let rval = Int64(bitPattern: info.nr)
        if UInt8(truncatingIfNeeded: info.args.0) != 0 || (rval >= -4095 && rval <= -1) { errors[index] &+= 1 }
      }
      tracees.items[t].index = -1
    }
  }

  /// A non-leader thread exec'd: it now has the leader's tid. Keep its call in progress.
  mutating func execStop(_ w: pid_t) {
    let former = pid_t(truncatingIfNeeded: Ptrace.eventMessage(w) ?? 0)
    if former != w {
      let old = tracees.find(former)
      let index = old >= 0 ? tracees[old].index : -1
      let start = old >= 0 ? tracees[old].start : 0
      if old >= 0 { tracees.remove(at: old) }
      let t = tracees.findOrAdd(w)
      tracees.items[t].index = index
      tracees.items[t].start = start
    }
    if !execReported && !attached, let onExec {
      execReported = true
      onExec(w)
    }
  }
}
