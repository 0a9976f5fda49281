import CLinux
import Glibc

/// The ptrace requests Processes makes, one line each over `clinux_ptrace` (Swift cannot
/// call the variadic glibc function). Each returns ptrace's result, -1 with errno.
enum Ptrace {
  @inline(__always)
  static func request(_ request: __ptrace_request, _ pid: pid_t, _ addr: UInt = 0, _ data: UInt = 0) -> Int {
    clinux_ptrace(Int32(request.rawValue), pid, UnsafeMutableRawPointer(bitPattern: addr),
      UnsafeMutableRawPointer(bitPattern: data))
  }

  /// PTRACE_SEIZE with `options` (PTRACE_O_* bits).
  static func seize(_ pid: pid_t, options: UInt32) -> Int { request(PTRACE_SEIZE, pid, 0, UInt(options)) }

  /// PTRACE_INTERRUPT: a seized tracee stops (PTRACE_EVENT_STOP).
  @discardableResult
  static func interrupt(_ pid: pid_t) -> Int { request(PTRACE_INTERRUPT, pid) }

  /// PTRACE_CONT, delivering `signal` (0: none).
  @discardableResult
  static func cont(_ pid: pid_t, signal: Int32 = 0) -> Int { request(PTRACE_CONT, pid, 0, UInt(signal)) }

  /// PTRACE_LISTEN: a group-stopped tracee stays stopped until SIGCONT.
  @discardableResult
  static func listen(_ pid: pid_t) -> Int { request(PTRACE_LISTEN, pid) }

  /// PTRACE_DETACH, delivering `signal` (0: none).
  @discardableResult
  static func detach(_ pid: pid_t, signal: Int32 = 0) -> Int { request(PTRACE_DETACH, pid, 0, UInt(signal)) }

  /// PTRACE_GETEVENTMSG: the event's message (a new tracee's pid, an exit status, a former tid).
  static func eventMessage(_ pid: pid_t) -> UInt? {
    var message: UInt = 0
    let rc = withUnsafeMutablePointer(to: &message) {
      clinux_ptrace(Int32(PTRACE_GETEVENTMSG.rawValue), pid, nil, UnsafeMutableRawPointer($0))
    }
    return rc == 0 ? message : nil
  }

  /// PTRACE_GETREGS into `registers`.
  static func getRegisters(_ pid: pid_t, _ registers: inout user_regs_struct) -> Bool {
    withUnsafeMutablePointer(to: &registers) {
      clinux_ptrace(Int32(PTRACE_GETREGS.rawValue), pid, nil, UnsafeMutableRawPointer($0)) == 0
    }
  }

  /// PTRACE_SETREGS from `registers`.
  @discardableResult
  static func setRegisters(_ pid: pid_t, _ registers: inout user_regs_struct) -> Bool {
    withUnsafeMutablePointer(to: &registers) {
      clinux_ptrace(Int32(PTRACE_SETREGS.rawValue), pid, nil, UnsafeMutableRawPointer($0)) == 0
    }
  }

  /// PTRACE_GET_SYSCALL_INFO into `info`: the bytes the kernel has (> 0), or -1.
  static func syscallInfo(_ pid: pid_t, _ info: inout clinux_syscall_info) -> Int {
    info = clinux_syscall_info()
    return clinux_ptrace_syscall_info(pid, &info)
  }
}

/// A wait(2) status (the W* macros, which Swift does not import).
struct WaitStatus {
  var rawValue: Int32

  /// WIFEXITED
  var exited: Bool { rawValue & 0x7f == 0 }
  /// WIFSIGNALED
  var signaled: Bool { rawValue & 0x7f != 0 && rawValue & 0x7f != 0x7f }
  /// WTERMSIG
  var terminationSignal: Int32 { rawValue & 0x7f }
  /// WIFSTOPPED
  var stopped: Bool { rawValue & 0xff == 0x7f }
  /// WSTOPSIG
  var stopSignal: Int32 { (rawValue >> 8) & 0xff }
  /// The PTRACE_EVENT_* of a ptrace event stop (status >> 16), 0 for another stop.
  var event: UInt32 { UInt32(bitPattern: rawValue) >> 16 }
}

/// The signals the launchers forward to a program (spawn.c's list).
let forwardedSignals: [Int32] = [SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2]

/// Runs `body` on a thread of its own and waits for it: a thread that forks and traces
/// there waits (`__WNOTHREAD`) only for its own children and tracees, never for another
/// thread's. Runs `body` on the calling thread if no thread can be created.
///
/// `blocking` signals are blocked on the calling thread while it waits (the new thread
/// starts with the caller's mask from before): a launcher's handler is installed for the
/// launch only, so a signal sent to the process in that time (a terminal's Ctrl-C) must
/// be taken by the launching thread, not by a waiting caller that may run only after the
/// handler is gone.
func onOwnThread<T>(blocking signals: [Int32] = [], _ body: () -> T) -> T {
  var set = sigset_t()
  sigemptyset(&set)
  for signal in signals { sigaddset(&set, signal) }
  var saved = sigset_t()
  pthread_sigmask(SIG_BLOCK, &set, &saved)
  defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
  let mask = saved
  return withoutActuallyEscaping(body) { body in
    var result: T? = nil
    let job = ThreadJob {
      var original = mask
      pthread_sigmask(SIG_SETMASK, &original, nil)
      result = body()
    }
    let context = Unmanaged.passRetained(job).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(
      &thread, nil,
      { context in
        Unmanaged<ThreadJob>.fromOpaque(context!).takeRetainedValue().run()
        return nil
      }, context)
    if rc != 0 {
      Unmanaged<ThreadJob>.fromOpaque(context).release()
      pthread_sigmask(SIG_SETMASK, &saved, nil)
      return body()
    }
    pthread_join(thread, nil)
    return result!
  }
}

/// The work of `onOwnThread`, handed over to the new thread (which the caller joins).
private final class ThreadJob: @unchecked Sendable {
  let run: () -> Void
  init(_ run: @escaping () -> Void) { self.run = run }
}
