import CLinux
import Glibc
import SystemPackage

extension Tracer {
  /// Why running processes could not be attached.
  public struct AttachFailure: Error, Sendable, CustomStringConvertible {
    /// The pid of the first failure.
    public var pid: Int32
    public var errno: Errno

    public init(pid: Int32, errno: Errno) {
      self.pid = pid
      self.errno = errno
    }

    public var description: String {
      let reason = String(cString: strerror(errno.rawValue))
      switch errno {
      case .noSuchProcess: return "no process \(pid)"
      case .notPermitted:
        return "cannot attach to process \(pid): \(reason) (attaching needs CAP_SYS_PTRACE or the same user and kernel.yama.ptrace_scope 0, and a process that no other tracer is tracing)"
      default: return "cannot attach to process \(pid): \(reason)"
      }
    }
  }

  /// Attaches to the running processes `pids`, every thread of each (PTRACE_SEIZE without
  /// EXITKILL, following their new children and threads), and counts their syscalls at
  /// entry (and times them with `timing`) until all have ended, or until this process gets
  /// SIGINT, SIGTERM or SIGHUP: then it interrupts and detaches every tracee, leaving it
  /// running (`Outcome.detached`). Fails when no process could be attached (the errno of
  /// the first failure, and the pid it failed on).
  ///
  /// SIGINT, SIGTERM, SIGHUP and SIGCHLD are blocked on the calling thread meanwhile (the
  /// tracing thread inherits the mask) and restored after, so that none of them runs its
  /// action on either thread. The tracing thread waits for a stop with
  /// `waitpid(__WALL | __WNOTHREAD | WNOHANG)` and, when there is none, for a signal
  /// on a signalfd of those four, read on that thread: SIGCHLD wakes it at a stop,
  /// SIGINT, SIGTERM or SIGHUP makes it detach. A signalfd, not a handler, because the
  /// tracer has to wake from its wait for either a stop or a signal, and reading the
  /// signals on its own thread touches no process-wide state. Another thread of the
  /// process that takes SIGCHLD first (a dispatch source, a thread that leaves it
  /// unblocked) could leave the tracer asleep: it waits with a timeout, from 1 ms after
  /// a stop growing to 100 ms while the tracees are idle, so such a stop is only late.
  public static func attach(pids: [Int32], timing: Bool = false, hooks: Hooks = Hooks(), counts: TraceCounts)
    throws(AttachFailure) -> Outcome
  {
    #if arch(x86_64)
      var waitSet = sigset_t()
      var saved = sigset_t()
      sigemptyset(&waitSet)
      for signal in [SIGCHLD, SIGINT, SIGTERM, SIGHUP] { sigaddset(&waitSet, signal) }
      pthread_sigmask(SIG_BLOCK, &waitSet, &saved)
      defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
      let result = onOwnThread { () -> Result<Outcome, AttachFailure> in
        withMask(hooks.mask) { mask in
          var session = TraceSession(
            seccomp: false, timing: timing, attached: true, verifying: false, errnos: UnsafeBufferPointer(start: nil, count: 0),
            denials: nil, mask: mask, hooks: hooks, counts: counts, placement: .anywhere)
          defer { session.finish(counts: counts, denials: nil) }
          return session.attach(pids, waitSet: waitSet)
        }
      }
      return try result.get()
    #else
      throw AttachFailure(pid: pids.first ?? 0, errno: .noFunction)
    #endif
  }
}

extension TraceSession {
  /// The signalfd the attached tracer waits on, and its wait with a growing timeout.
  struct SignalWait {
    let fd: Int32
    /// Room for one read of every signal of the set (standard signals are pending once at most).
    let buffer = UnsafeMutablePointer<signalfd_siginfo>.allocate(capacity: 4)
    /// Milliseconds of the next wait: 1 after a stop, doubling to 100 while nothing happens.
    var timeout: Int32 = 1

    func deallocate() { buffer.deallocate() }

    /// Waits until a signal of the set is pending, or the timeout passed. Returns the
    /// signals read (SIGCHLD's bit included), a bit per number; 0 when none came.
    mutating func wait() -> UInt64 {
      var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      if poll(&pfd, 1, timeout) <= 0 {
        timeout = min(timeout * 2, 100)
        return 0
      }
      let size = MemoryLayout<signalfd_siginfo>.stride
      let got = read(fd, buffer, 4 * size)
      var seen: UInt64 = 0
      var i = 0
      while got > 0 && i < got / size {
        let number = buffer[i].ssi_signo
        if number < 64 { seen |= 1 << UInt64(number) }
        i += 1
      }
      return seen
    }
  }

  static let detachSignals: UInt64 = 1 << UInt64(SIGINT) | 1 << UInt64(SIGTERM) | 1 << UInt64(SIGHUP)

  /// Seizes every thread of `pids` and traces them (see `Tracer.attach`).
  mutating func attach(_ pids: [Int32], waitSet: sigset_t) -> Result<Tracer.Outcome, Tracer.AttachFailure> {
    started = true
    var set = waitSet
    let fd = signalfd(-1, &set, Int32(SFD_CLOEXEC) | Int32(SFD_NONBLOCK))
    defer { if fd >= 0 { close(fd) } }
    var firstFailure: Tracer.AttachFailure? = nil
    var attachedCount = 0
    for target in pids {
      switch seizeProcess(target) {
      case .failure(let error):
        if firstFailure == nil { firstFailure = Tracer.AttachFailure(pid: target, errno: error) }
      case .success:
        if attachedCount == 0 { pid = target }
        attachedCount += 1
      }
    }
    if attachedCount == 0 {
      return .failure(firstFailure ?? Tracer.AttachFailure(pid: pids.first ?? 0, errno: .noSuchProcess))
    }
    var signals = SignalWait(fd: fd)
    defer { signals.deallocate() }
    var detached = false
    var raw: Int32 = 0
    while true {
      let w = waitpid(-1, &raw, __WALL | __WNOTHREAD | WNOHANG)
      if w < 0 {
        if Glibc.errno == EINTR { continue }
        break  // ECHILD: every tracee has ended
      }
      if w == 0 {
        if fd < 0 {
          usleep(1000)  // no signalfd: poll (a detach then needs SIGKILL)
          continue
        }
        if signals.wait() & Self.detachSignals != 0 {
          detachAll(&signals)
          detached = true
          break
        }
        continue
      }
      signals.timeout = 1
      handle(w, raw)
    }
    // Drop the SIGCHLDs this trace caused before the mask is restored.
    var chld = sigset_t()
    sigemptyset(&chld)
    sigaddset(&chld, SIGCHLD)
    var zero = timespec(tv_sec: 0, tv_nsec: 0)
    while sigtimedwait(&chld, nil, &zero) > 0 {}
    var result = outcome
    result.detached = detached
    return .success(result)
  }

  /// Seizes every thread of `target` and interrupts it, re-reading /proc/PID/task until no
  /// thread is new. Returns the threads seized.
  mutating func seizeProcess(_ target: pid_t) -> Result<Int, Errno> {
    let dir = "/proc/\(target)/task"
    var seized = 0
    var firstError: Errno? = nil
    for _ in 0..<100 {
      guard let d = opendir(dir) else {
        if seized == 0 {
          let error = Errno(rawValue: Glibc.errno)
          return .failure(error == .noSuchFileOrDirectory ? .noSuchProcess : error)  // no such process
        }
        break
      }
      var fresh = 0
      while let entry = readdir(d) {
        let tid = withUnsafeBytes(of: entry.pointee.d_name) { name in
          pid_t(truncatingIfNeeded: atoi(name.baseAddress!.assumingMemoryBound(to: CChar.self)))
        }
        if tid <= 0 || tracees.find(tid) >= 0 { continue }
        if Ptrace.seize(tid, options: Self.traceOptions) != 0 {
          if firstError == nil { firstError = Errno(rawValue: Glibc.errno) }
          continue
        }
        Ptrace.interrupt(tid)
        _ = tracees.findOrAdd(tid)
        seized += 1
        fresh += 1
      }
      closedir(d)
      if fresh == 0 { break }
    }
    if seized == 0 { return .failure(firstError ?? .noSuchProcess) }
    traced += Int32(seized)
    return .success(seized)
  }

  /// Interrupts every tracee; one that is gone (ESRCH: e.g. a zombie thread group leader)
  /// is dropped rather than waited for.
  mutating func interruptAll() {
    var i = 0
    while i < tracees.count {
      if Ptrace.interrupt(tracees[i].tid) != 0 && Glibc.errno == ESRCH {
        tracees.remove(at: i)
        continue
      }
      i += 1
    }
  }

  /// Interrupts and detaches every tracee; they run on as if never traced.
  mutating func detachAll(_ signals: inout SignalWait) {
    interruptAll()
    var idle = 0
    var raw: Int32 = 0
    while tracees.count > 0 && idle < 50 {
      let w = waitpid(-1, &raw, __WALL | __WNOTHREAD | WNOHANG)
      if w < 0 { break }
      if w == 0 {
        signals.timeout = 100
        if signals.fd < 0 || signals.wait() == 0 {
          idle += 1
          interruptAll()  // a tracee that never stopped is asked again
        }
        continue
      }
      idle = 0
      let status = WaitStatus(rawValue: raw)
      if status.exited || status.signaled {
        tracees.remove(w)
        if w == pid { waitStatus = raw }
        continue
      }
      guard status.stopped else { continue }
      let signal = status.stopSignal
      let event = status.event
      if event == PTRACE_EVENT_FORK.rawValue || event == PTRACE_EVENT_VFORK.rawValue
        || event == PTRACE_EVENT_CLONE.rawValue, let child = Ptrace.eventMessage(w), child != 0
      {
        _ = tracees.findOrAdd(pid_t(truncatingIfNeeded: child))
      }
      // A signal-delivery-stop (event 0, not a syscall stop: TRACESYSGOOD marks those)
      // keeps its signal, SIGTRAP included; every other stop detaches with none.
      let deliver = event == 0 && signal != SIGTRAP | 0x80 ? signal : 0
      Ptrace.detach(w, signal: deliver)
      tracees.remove(w)
    }
  }
}
