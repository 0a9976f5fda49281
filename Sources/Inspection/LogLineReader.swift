import Profiles
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The lines of a log as it grows: a file, standard input (`-`), or /dev/kmsg, where each
/// read returns one record (a newline is added when the kernel leaves it out, and records
/// overwritten before they were read are skipped). A read interrupted by a signal returns
/// no line once `StopSignals.requested` is set, so a follower can stop.
public final class LogLineReader {
  /// The path as diagnostics name it (`<stdin>` for `-`).
  public let displayName: String
  private let fd: Int32
  private let isKmsg: Bool
  /// Read but not yet returned: `buffer[start...]`.
  private var buffer: [UInt8] = []
  private var start = 0
  private var lineNumber = 0

  /// Opens `path` (`-`: standard input); `kmsg` reads it as /dev/kmsg, without blocking.
  /// - Throws: an `InputError` naming the file and why it cannot be opened.
  public init(path: String, kmsg: Bool = false) throws(InputError) {
    displayName = path == "-" ? "<stdin>" : path
    isKmsg = kmsg
    if path == "-" {
      fd = 0
    } else {
      fd = open(path, O_RDONLY | O_CLOEXEC | (kmsg ? O_NONBLOCK : 0))
      if fd < 0 {
        let code = errno
        let reason = String(cString: strerror(code))
        throw InputError(Diagnostic(.error, file: path, "cannot open: \(reason)" + (kmsg && code == EACCES ? " (reading /dev/kmsg needs root or CAP_SYSLOG)" : "")))
      }
    }
  }

  deinit { if fd > 0 { close(fd) } }

  /// The next complete line and its 1-based number, or nil when none is available now
  /// (the end of the file so far, or an interrupted read after a stop request).
  public func nextLine() -> (line: String, number: Int)? {
    var searched = start
    while true {
      if let nl = buffer[searched...].firstIndex(of: 10) {
        let line = String(decoding: buffer[start..<nl], as: UTF8.self)
        start = nl + 1
        lineNumber += 1
        return (line, lineNumber)
      }
      searched = buffer.count
      // Drop what was returned before reading more, so the buffer holds one partial line.
      if start > 0 {
        buffer.removeSubrange(..<start)
        searched -= start
        start = 0
      }
      let old = buffer.count
      buffer.append(contentsOf: repeatElement(0, count: 65536))
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + old, 65536) }
      let code = errno
      buffer.removeSubrange((old + max(n, 0))...)
      if n > 0 {
        // A /dev/kmsg read returns one record without a trailing newline guarantee.
        if isKmsg && buffer.last != 10 { buffer.append(10) }
        continue
      }
      if n < 0 && code == EINTR {
        if StopSignals.requested { return nil }
        continue
      }
      if n < 0 && code == EPIPE && isKmsg { continue }  // records overwritten before we read them
      return nil
    }
  }
}

/// SIGINT and SIGTERM as a request to stop a live read: the first sets `requested` (and
/// interrupts a blocked read), a second ends the process at once with 128 + the signal.
public enum StopSignals {
  private static let flag = Atomic<Bool>(false)

  /// Whether SIGINT or SIGTERM arrived since `install()`.
  public static var requested: Bool { flag.load(ordering: .relaxed) }

  /// Unblocks SIGINT and SIGTERM (a parent may have left them blocked; a process inherits
  /// its mask) and handles them without SA_RESTART, so a blocked read returns EINTR.
  public static func install() {
    var unblock = sigset_t()
    sigemptyset(&unblock)
    sigaddset(&unblock, SIGINT)
    sigaddset(&unblock, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { signal in
      if StopSignals.flag.exchange(true, ordering: .relaxed) { _exit(128 + signal) }
    }
    sigemptyset(&action.sa_mask)
    action.sa_flags = 0
    sigaction(SIGINT, &action, nil)
    sigaction(SIGTERM, &action, nil)
  }
}
