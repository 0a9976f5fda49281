import Foundation
import Syscalls

/// Watches a recording for the executables it starts (execve, execveat: for
/// `LanguageRuntime.detect`) and, when asked, for the calls that change files (open for
/// writing or creating, truncate, unlink, rename, mkdir, rmdir, link, symlink): a later
/// run of the program sees those changes. Paths are read from the stopped thread's memory
/// (/proc/TID/mem) and made absolute with its working directory or directory descriptor.
public final class RunObserver: @unchecked Sendable {
  /// The executables the program asked to run, absolute, in the order first seen (a
  /// failed execve of a PATH search included: `detect` skips what is not a file).
  public private(set) var executables: [String] = []
  /// Files the program changed or opened for writing, absolute, in the order first seen
  /// (at most `keep`; /dev, /proc and /sys left out).
  public private(set) var changedFiles: [String] = []
  /// How many file-changing calls were seen in all.
  public private(set) var changeCount = 0
  let watchChanges: Bool
  static let keep = 64

  /// The calls whose path a change is about: name → (index of the directory descriptor or
  /// nil for the working directory, index of the path, index of open's flags or nil).
  static let changing: [String: (dirfd: Int?, path: Int, flags: Int?)] = [
    "open": (nil, 0, 1), "openat": (0, 1, 2), "creat": (nil, 0, nil), "truncate": (nil, 0, nil),
    "unlink": (nil, 0, nil), "unlinkat": (0, 1, nil), "rename": (nil, 0, nil), "renameat": (0, 1, nil),
    "renameat2": (0, 1, nil), "mkdir": (nil, 0, nil), "mkdirat": (0, 1, nil), "rmdir": (nil, 0, nil),
    "link": (nil, 1, nil), "linkat": (2, 3, nil), "symlink": (nil, 1, nil), "symlinkat": (1, 2, nil),
    "mknod": (nil, 0, nil), "mknodat": (0, 1, nil),
  ]
  static let execs: [String: (dirfd: Int?, path: Int)] = ["execve": (nil, 0), "execveat": (0, 1)]
  /// O_WRONLY | O_RDWR | O_CREAT | O_TRUNC.
  static let writeFlags: UInt64 = 0o1 | 0o2 | 0o100 | 0o1000

  public init(watchChanges: Bool) {
    self.watchChanges = watchChanges
  }

  /// The call names this observer needs to see.
  public var callNames: Set<String> {
    Set(Self.execs.keys).union(watchChanges ? Set(Self.changing.keys) : [])
  }

  /// The observer for the recorder, on these ABIs.
  public func observer(arches: [Arch] = [.x86_64, .x86, .x32]) -> CallObserver {
    CallObserver(calls: Self.numbers(callNames, arches)) { [self] call in see(call) }
  }

  /// Per ABI, the numbers of `names`.
  static func numbers(_ names: Set<String>, _ arches: [Arch]) -> [Arch: Set<SyscallNumber>] {
    var out: [Arch: Set<SyscallNumber>] = [:]
    for arch in arches { out[arch] = Set(names.compactMap { arch.number(of: $0) }) }
    return out
  }

  func see(_ call: TracedCall) {
    guard let name = call.name else { return }
    if let e = Self.execs[name] {
      if let path = path(of: call, dirfd: e.dirfd, at: e.path), !executables.contains(path) { executables.append(path) }
      return
    }
    guard watchChanges, let c = Self.changing[name] else { return }
    if let f = c.flags, call.arguments[f] & Self.writeFlags == 0 { return }
    guard let path = path(of: call, dirfd: c.dirfd, at: c.path) else { return }
    if path.hasPrefix("/dev/") || path.hasPrefix("/proc/") || path.hasPrefix("/sys/") || path == "/dev" { return }
    changeCount += 1
    if changedFiles.count < Self.keep && !changedFiles.contains(path) { changedFiles.append(path) }
  }

  /// The absolute path argument `index` of a stopped call, nil when it cannot be read.
  func path(of call: TracedCall, dirfd: Int?, at index: Int) -> String? {
    guard let raw = Self.string(thread: call.thread, address: call.arguments[index]), !raw.isEmpty else { return nil }
    if raw.hasPrefix("/") { return raw }
    var base = "/proc/\(call.thread)/cwd"
    if let dirfd {
      let fd = Int32(truncatingIfNeeded: call.arguments[dirfd])
      if fd != AT_FDCWD { base = "/proc/\(call.thread)/fd/\(fd)" }
    }
    guard let dir = try? FileManager.default.destinationOfSymbolicLink(atPath: base) else { return nil }
    return (dir as NSString).appendingPathComponent(raw)
  }

  /// A NUL-terminated string of up to 4096 bytes at `address` in the thread's memory.
  static func string(thread: Int32, address: UInt64) -> String? {
    guard address != 0 else { return nil }
    let fd = open("/proc/\(thread)/mem", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 256)
    var at = address
    while bytes.count < 4096 {
      let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 256, off_t(Int64(bitPattern: at))) }
      guard n > 0 else { break }
      if let end = buf.prefix(n).firstIndex(of: 0) {
        bytes += buf[..<end]
        return String(decoding: bytes, as: UTF8.self)
      }
      bytes += buf.prefix(n)
      at += UInt64(n)
    }
    return nil
  }
}

extension CallObserver {
  /// One observer that passes each call to every observer that asked for it.
  public static func combined(_ observers: [CallObserver]) -> CallObserver {
    if observers.count == 1 { return observers[0] }
    var calls: [Arch: Set<SyscallNumber>]? = [:]
    for o in observers {
      guard let c = o.calls else {
        calls = nil
        break
      }
      for (arch, numbers) in c { calls?[arch, default: []].formUnion(numbers) }
    }
    let exec = observers.compactMap(\.onExec)
    return CallObserver(
      calls: calls,
      onCall: { call in
        for o in observers where o.calls == nil || o.calls?[call.arch]?.contains(call.number) == true { o.onCall(call) }
      },
      onExec: exec.isEmpty ? nil : { pid in for e in exec { e(pid) } })
  }
}
