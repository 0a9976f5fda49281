import CLinux
import Foundation

/// What kind of file a standard descriptor is.
public enum StdioKind: String, Sendable {
  case closed, regularFile = "file", pipe, socket, terminal, null = "/dev/null", device, directory

  /// The kind of descriptor `fd`.
  public static func of(_ fd: Int32) -> StdioKind {
    var st = stat()
    guard fstat(fd, &st) == 0 else { return .closed }
    switch st.st_mode & S_IFMT {
    case S_IFREG: return .regularFile
    case S_IFIFO: return .pipe
    case S_IFSOCK: return .socket
    case S_IFDIR: return .directory
    case S_IFCHR:
      if isatty(fd) != 0 { return .terminal }
      var null = stat()
      if stat("/dev/null", &null) == 0 && null.st_rdev == st.st_rdev { return .null }
      return .device
    default: return .device
    }
  }
}

/// Gives a program's later runs (`record --runs`, `--verify`) the conditions of its first
/// run: the same standard input and a standard output of the same kind.
///
/// Standard input: a pipe or socket is read by syscage, which passes it to the first run
/// through a pipe and keeps the bytes (up to `limit`); each later run reads the same bytes
/// from a new pipe. A regular file is read again from the offset it had. A terminal
/// cannot be replayed: later runs get /dev/null. /dev/null and other devices stay.
/// Standard output: a regular file becomes a new temporary file, a pipe or socket a pipe
/// syscage drains, a terminal a pseudo-terminal syscage drains, /dev/null stays. The
/// program's output of later runs is discarded. Work on descriptors 0 and 1 of this
/// process: one at a time, while no other thread uses them.
public final class ReplayConditions: @unchecked Sendable {
  /// The most standard input kept for later runs.
  public static let limit = 64 << 20

  public let stdinKind: StdioKind
  public let stdoutKind: StdioKind
  let fileOffset: off_t
  let lock = NSLock()
  var saved: [UInt8] = []
  /// Bytes of standard input passed on beyond `limit` (not replayed).
  public private(set) var truncated = 0
  var pump: Worker?

  public init() {
    stdinKind = StdioKind.of(0)
    stdoutKind = StdioKind.of(1)
    fileOffset = stdinKind == .regularFile ? lseek(0, 0, SEEK_CUR) : 0
  }

  /// What later runs get, for the user (nil when they get what the first run got).
  public var notes: [String] {
    var notes: [String] = []
    if stdinKind == .terminal {
      notes.append("standard input is a terminal, which cannot be replayed: later runs read /dev/null")
    }
    if truncated > 0 {
      notes.append("standard input was longer than \(Self.limit >> 20) MiB: later runs read only its first \(Self.limit >> 20) MiB")
    }
    if stdinKind == .socket { notes.append("standard input is a socket: the program reads it through a pipe") }
    return notes
  }

  /// Whether the first run's input is read through syscage.
  var capturing: Bool { stdinKind == .pipe || stdinKind == .socket }

  /// Runs `body` as the first run: a piped standard input passes through syscage, which keeps it.
  public func first<R>(_ body: () throws -> R) rethrows -> R {
    guard capturing else { return try body() }
    var fds: [Int32] = [0, 0]
    guard cloexecPipe(&fds) else { return try body() }
    let original = fcntl(0, F_DUPFD_CLOEXEC, 10)
    guard original >= 0 else {
      close(fds[0])
      close(fds[1])
      return try body()
    }
    dup2(fds[0], 0)
    close(fds[0])
    _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
    let writeEnd = fds[1]
    let worker = Worker()
    worker.start { [self] in
      blockSIGPIPE()
      var buf = [UInt8](repeating: 0, count: 65536)
      loop: while !worker.stopping {
        var p = pollfd(fd: original, events: Int16(POLLIN), revents: 0)
        if poll(&p, 1, 50) <= 0 { continue }
        let n = buf.withUnsafeMutableBytes { read(original, $0.baseAddress, 65536) }
        if n <= 0 { break }
        lock.lock()
        let room = max(0, Self.limit - saved.count)
        saved += buf.prefix(min(n, room))
        truncated += max(0, n - room)
        lock.unlock()
        if !writeAll(buf[..<n], to: writeEnd, worker: worker) { break loop }
      }
      close(writeEnd)
    }
    defer {
      dup2(original, 0)
      close(original)
      worker.stop()
    }
    return try body()
  }

  /// Runs `body` as a later run: the first run's input again, and standard output of the
  /// same kind (discarded).
  public func again<R>(_ body: () throws -> R) rethrows -> R {
    var restore: [(fd: Int32, saved: Int32)] = []
    var workers: [Worker] = []
    var cleanup: [() -> Void] = []
    func replace(_ fd: Int32, with new: Int32) {
      guard new >= 0 else { return }
      let saved = fcntl(fd, F_DUPFD_CLOEXEC, 10)
      dup2(new, fd)
      close(new)
      restore.append((fd, saved))
    }
    switch stdinKind {
    case .pipe, .socket:
      var fds: [Int32] = [0, 0]
      if cloexecPipe(&fds) {
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        replace(0, with: fds[0])
        lock.lock()
        let bytes = saved
        lock.unlock()
        let writeEnd = fds[1]
        let worker = Worker()
        worker.start {
          blockSIGPIPE()
          _ = writeAll(bytes[...], to: writeEnd, worker: worker)
          close(writeEnd)
        }
        workers.append(worker)
      }
    case .regularFile:
      let offset = fileOffset
      lseek(0, offset, SEEK_SET)
    case .terminal:
      replace(0, with: open("/dev/null", O_RDONLY | O_CLOEXEC))
    default:
      break
    }
    switch stdoutKind {
    case .regularFile:
      var template = Array((NSTemporaryDirectory() + "/syscage-stdout-XXXXXX").utf8CString)
      let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
      if fd >= 0 {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        replace(1, with: fd)
        cleanup.append { unlink(path) }
      }
    case .pipe, .socket:
      var fds: [Int32] = [0, 0]
      if cloexecPipe(&fds) {
        replace(1, with: fds[1])
        workers.append(Self.drain(fds[0]))
      }
    case .terminal:
      let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
      var unlock: Int32 = 0
      var number: UInt32 = 0
      // TIOCSPTLCK (unlockpt) and TIOCGPTN (ptsname's number).
      if master >= 0, ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 {
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0 { _ = ioctl(slave, UInt(TIOCSWINSZ), &size) }
        replace(1, with: slave)
        workers.append(Self.drain(master))
      } else if master >= 0 {
        close(master)
        replace(1, with: open("/dev/null", O_WRONLY | O_CLOEXEC))
      }
    case .device:
      replace(1, with: open("/dev/null", O_WRONLY | O_CLOEXEC))
    default:
      break
    }
    defer {
      for r in restore.reversed() where r.saved >= 0 {
        dup2(r.saved, r.fd)
        close(r.saved)
      }
      for w in workers { w.stop() }
      for c in cleanup { c() }
    }
    return try body()
  }

  /// Reads `fd` until end of file or `stop`, discarding it; closes it.
  static func drain(_ fd: Int32) -> Worker {
    let worker = Worker()
    worker.start {
      var buf = [UInt8](repeating: 0, count: 65536)
      while true {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = poll(&p, 1, 50)
        if r == 0 {
          if worker.stopping { break }
          continue
        }
        if r < 0 { if errno == EINTR { continue } else { break } }
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
        if n <= 0 { break }
      }
      close(fd)
    }
    return worker
  }
}

/// pipe(2) with both ends close-on-exec.
private func cloexecPipe(_ fds: inout [Int32]) -> Bool {
  guard pipe(&fds) == 0 else { return false }
  _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
  _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
  return true
}

/// SIGPIPE blocked on the calling thread: a write to a closed pipe fails with EPIPE there
/// instead of ending syscage (the program's own disposition is untouched).
private func blockSIGPIPE() {
  var set = sigset_t()
  sigemptyset(&set)
  sigaddset(&set, SIGPIPE)
  pthread_sigmask(SIG_BLOCK, &set, nil)
}

/// A thread that runs one closure and can be asked to stop.
/// Writes `bytes` to the non-blocking `fd`, waiting while the pipe is full; false when
/// the worker is stopped or the write fails (the reader is gone).
func writeAll(_ bytes: ArraySlice<UInt8>, to fd: Int32, worker: Worker) -> Bool {
  var off = bytes.startIndex
  while off < bytes.endIndex {
    if worker.stopping { return false }
    let w = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
    if w > 0 {
      off += w
    } else if w < 0 && errno == EAGAIN {
      var q = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
      _ = poll(&q, 1, 50)
    } else {
      return false
    }
  }
  return true
}

final class Worker: @unchecked Sendable {
  private let done = DispatchSemaphore(value: 0)
  private let flag = NSLock()
  private var stopRequested = false

  var stopping: Bool {
    flag.lock()
    defer { flag.unlock() }
    return stopRequested
  }

  func start(_ body: @escaping @Sendable () -> Void) {
    let t = Thread { [done] in
      body()
      done.signal()
    }
    t.start()
  }

  /// Asks the closure to stop and waits for it.
  func stop() {
    flag.lock()
    stopRequested = true
    flag.unlock()
    done.wait()
  }
}
