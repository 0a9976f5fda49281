#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// An output named on the command line, examined once before any work and then written
/// without ever replacing what is not a regular file:
/// - `-`: standard output;
/// - one of this process's descriptors by path (`/dev/stdout`, `/dev/fd/N`,
///   `/proc/self/fd/N`, a shell's `>(...)`): written straight into the descriptor;
/// - a character device, FIFO (or a link to one): opened and written straight into;
/// - a regular file, new or existing (or a link to one): replaced atomically (a temporary
///   file in the same directory, synced, then renamed over it), keeping an existing
///   file's mode (and owner, for root); a link stays a link and its target gets the bytes.
///
/// No directory is created. A block device, a directory, a missing or read-only
/// directory, and a path that names one of `inputs` are refused.
public struct OutputFile: Sendable, CustomStringConvertible {
  /// How the output is written.
  public enum Kind: Sendable, Equatable {
    /// `-`.
    case standardOutput
    /// This descriptor of the process, written straight into.
    case descriptor(Int32)
    /// A character device or FIFO, opened and written straight into.
    case stream
    /// A regular file replaced atomically; `existing` holds the mode, owner and group to keep.
    case file(existing: Ownership?)
  }

  /// The mode bits and owner of an existing regular file.
  public struct Ownership: Sendable, Equatable {
    public var mode: mode_t
    public var uid: uid_t
    public var gid: gid_t
  }

  /// The output as it was named.
  public let path: String
  /// The file written: the path with every symbolic link resolved (for `.file` and `.stream`).
  public let target: String
  /// How it is written.
  public let kind: Kind

  public var description: String { path }

  /// Examines `path`: its kind, that it can be created or replaced, and that it is none of `inputs`.
  public init(_ path: String, inputs: [String] = []) throws(OutputError) {
    self.path = path
    if path == "-" {
      (target, kind) = ("-", .standardOutput)
      return
    }
    guard !path.isEmpty else { throw OutputError(path: path, action: "create", problem: .system(ENOENT)) }
    (target, kind) = try Self.resolve(path)
    if case .file = kind { try Self.refuseInputs(inputs, output: path, target: target) }
  }

  /// `-`: standard output.
  public static let standardOutput = OutputFile(path: "-", target: "-", kind: .standardOutput)

  /// Writes `bytes` as the whole content of the output.
  public func write(_ bytes: [UInt8]) throws(OutputError) {
    switch kind {
    case .standardOutput:
      try writeAll(1, bytes, file: "standard output")
    case .descriptor(let fd):
      try writeAll(fd, bytes, file: path)
    case .stream:
      let fd = try openStream()
      defer { close(fd) }
      try writeAll(fd, bytes, file: target)
    case .file(let existing):
      try replace(with: bytes, keeping: existing)
    }
  }

  /// Opens the output for appending lines to it (a regular file is created if missing,
  /// never replaced); the caller owns the descriptor.
  public func openForAppending() throws(OutputError) -> Int32 {
    let fd: Int32
    switch kind {
    case .standardOutput: fd = fcntl(1, F_DUPFD_CLOEXEC, 3)
    case .descriptor(let n): fd = fcntl(n, F_DUPFD_CLOEXEC, 3)
    case .stream: return try openStream()
    case .file: fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0o666)
    }
    guard fd >= 0 else { throw failure("open", errno, file: target) }
    return fd
  }

  /// Saves `bytes` in a new file `PREFIX-XXXXXX.SUFFIX` (mode 0600) in `$TMPDIR`, else /tmp,
  /// and returns its path: where a result goes when its output failed after the work was done.
  public static func saveInTemporaryDirectory(_ bytes: [UInt8], prefix: String, suffix: String) throws(OutputError) -> String {
    let dir = temporaryDirectory
    let ext = suffix.isEmpty ? "" : "." + suffix
    var template = Array("\(dir)/\(prefix)-XXXXXX\(ext)".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, Int32(ext.utf8.count)) }
    let name = string(template)
    guard fd >= 0 else { throw OutputError(path: name, action: "create", problem: .system(errno)) }
    defer { close(fd) }
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    let file = OutputFile(path: name, target: name, kind: .descriptor(fd))
    try file.write(bytes)
    if fsync(fd) != 0 { throw file.failure("sync", errno, file: name) }
    return name
  }

  /// `$TMPDIR` when it is set and not empty, else /tmp.
  public static var temporaryDirectory: String {
    let dir = ProcessInfo.processInfo.environment["TMPDIR"] ?? ""
    return dir.isEmpty ? "/tmp" : (dir.count > 1 && dir.hasSuffix("/") ? String(dir.dropLast()) : dir)
  }

  init(path: String, target: String, kind: Kind) {
    self.path = path
    self.target = target
    self.kind = kind
  }

  // MARK: - Examining

  /// Follows `path`'s symbolic links to what it names: a descriptor of this process, a
  /// stream, an existing regular file, or a new file in an existing, writable directory.
  static func resolve(_ path: String) throws(OutputError) -> (String, Kind) {
    var current = path
    for _ in 0..<40 {
      if let fd = descriptorNamed(by: current) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw OutputError(path: path, action: "write", problem: .system(errno), file: current) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw OutputError(path: path, action: "write", problem: .isADirectory) }
        return (current, .descriptor(fd))
      }
      var st = stat()
      if lstat(current, &st) != 0 {
        let e = errno
        if e == ENOENT { return try newFile(current, output: path) }
        if e == ENOTDIR { throw OutputError(path: path, action: "create", problem: .notADirectory(firstNonDirectory(current))) }
        throw OutputError(path: path, action: "examine", problem: .system(e), file: current)
      }
      switch st.st_mode & S_IFMT {
      case S_IFLNK:
        guard let link = readLink(current) else {
          throw OutputError(path: path, action: "read the link", problem: .system(errno), file: current)
        }
        current = link.hasPrefix("/") ? link : directory(of: current) + "/" + link
      case S_IFREG:
        let resolved = canonical(current) ?? current
        try requireWritableDirectory(directory(of: resolved), output: path, action: "replace")
        return (resolved, .file(existing: Ownership(mode: st.st_mode & 0o7777, uid: st.st_uid, gid: st.st_gid)))
      case S_IFDIR:
        throw OutputError(path: path, action: "write", problem: .isADirectory)
      case S_IFCHR, S_IFIFO:
        if access(current, W_OK) != 0 { throw OutputError(path: path, action: "open", problem: .system(errno), file: current) }
        return (canonical(current) ?? current, .stream)
      case S_IFSOCK:
        throw OutputError(path: path, action: "open", problem: .socket)
      default:
        throw OutputError(path: path, action: "write", problem: .blockDevice)
      }
    }
    throw OutputError(path: path, action: "open", problem: .linkLoop)
  }

  /// A file that does not exist yet: its directory must exist and be writable.
  static func newFile(_ file: String, output: String) throws(OutputError) -> (String, Kind) {
    if file.hasSuffix("/") { throw OutputError(path: output, action: "create", problem: .missingDirectory(file)) }
    let dir = directory(of: file)
    try requireWritableDirectory(dir, output: output, action: "create")
    let resolvedDir = canonical(dir) ?? dir
    return ((resolvedDir == "/" ? "" : resolvedDir) + "/" + baseName(of: file), .file(existing: nil))
  }

  static func requireWritableDirectory(_ dir: String, output: String, action: String) throws(OutputError) {
    var st = stat()
    guard stat(dir, &st) == 0 else {
      let e = errno
      if e == ENOENT { throw OutputError(path: output, action: action, problem: .missingDirectory(dir)) }
      if e == ENOTDIR { throw OutputError(path: output, action: action, problem: .notADirectory(firstNonDirectory(dir))) }
      throw OutputError(path: output, action: action, problem: .system(e), file: dir)
    }
    guard (st.st_mode & S_IFMT) == S_IFDIR else {
      throw OutputError(path: output, action: action, problem: .notADirectory(dir))
    }
    if access(dir, W_OK | X_OK) != 0 {
      throw OutputError(path: output, action: action, problem: .system(errno), file: dir)
    }
  }

  /// The first prefix of `path` that exists and is not a directory.
  static func firstNonDirectory(_ path: String) -> String {
    var prefix = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
      prefix = prefix.isEmpty ? "/" + part : prefix + "/" + part
      var st = stat()
      if stat(prefix, &st) == 0 && (st.st_mode & S_IFMT) != S_IFDIR {
        return prefix.hasPrefix("./") ? String(prefix.dropFirst(2)) : prefix
      }
    }
    return path
  }

  /// The descriptor `path` names when it is one of this process's (`/dev/fd/N`, `/dev/stdout`,
  /// `/proc/self/fd/N`, `/proc/thread-self/fd/N`) and is open.
  static func descriptorNamed(by path: String) -> Int32? {
    let name = baseName(of: path)
    guard !name.isEmpty, name.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int32(name) else { return nil }
    guard let dir = canonical(directory(of: path)) else { return nil }
    let pid = getpid()
    let own = dir == "/proc/\(pid)/fd"
      || (dir.hasPrefix("/proc/\(pid)/task/") && dir.hasSuffix("/fd"))
    guard own, fcntl(n, F_GETFD) >= 0 else { return nil }
    return n
  }

  /// Refuses an output that is one of `inputs`: the same resolved path or the same file.
  static func refuseInputs(_ inputs: [String], output: String, target: String) throws(OutputError) {
    var out = stat()
    let outExists = stat(target, &out) == 0
    for input in inputs where input != "-" && !input.isEmpty {
      var st = stat()
      let same: Bool
      if stat(input, &st) == 0 {
        same = (outExists && st.st_dev == out.st_dev && st.st_ino == out.st_ino) || canonical(input) == target
      } else {
        same = absolute(input) == absolute(output)
      }
      if same { throw OutputError(path: output, action: "write", problem: .isInput(input)) }
    }
  }

  // MARK: - Writing

  func openStream() throws(OutputError) -> Int32 {
    let fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)
    guard fd >= 0 else { throw failure("open", errno, file: target) }
    var st = stat()
    if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG {
      close(fd)  // it was replaced by a regular file since it was examined
      throw failure("open", EEXIST, file: target)
    }
    return fd
  }

  /// Writes a temporary file next to the target, syncs it, and renames it over the target.
  func replace(with bytes: [UInt8], keeping existing: Ownership?) throws(OutputError) {
    let dir = Self.directory(of: target)
    let name = Self.baseName(of: target)
    var st = stat()
    if lstat(target, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
      // Something else took its place since it was examined: never rename over it.
      throw failure("replace", EEXIST, file: target)
    }
    var fd: Int32 = -1
    var temp = ""
    for _ in 0..<100 {
      temp = "\(dir == "/" ? "" : dir)/.\(name).syscage-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
      fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, existing?.mode ?? 0o666)
      if fd >= 0 || errno != EEXIST { break }
    }
    guard fd >= 0 else { throw failure("create a file in", errno, file: dir) }
    var failed: OutputError?
    do {
      try writeAll(fd, bytes, file: temp)
    } catch {
      failed = error
    }
    if failed == nil, let existing {
      if geteuid() == 0 { _ = fchown(fd, existing.uid, existing.gid) }
      if fchmod(fd, existing.mode) != 0 { failed = failure("set the mode of", errno, file: temp) }
    }
    if failed == nil, fsync(fd) != 0 { failed = failure("write", errno, file: temp) }
    if close(fd) != 0, failed == nil { failed = failure("write", errno, file: temp) }
    if failed == nil, rename(temp, target) != 0 { failed = failure("replace", errno, file: target) }
    if let failed {
      unlink(temp)
      throw failed
    }
    let dirFD = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dirFD >= 0 {
      _ = fsync(dirFD)
      close(dirFD)
    }
  }

  func writeAll(_ fd: Int32, _ bytes: [UInt8], file: String) throws(OutputError) {
    var offset = 0
    while offset < bytes.count {
      let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        let e = errno
        if e == EINTR { continue }
        if e == EAGAIN {
          var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
          _ = poll(&p, 1, -1)
          continue
        }
        throw failure("write", e, file: file)
      }
      offset += n
    }
  }

  func failure(_ action: String, _ e: Int32, file: String) -> OutputError {
    OutputError(path: path, action: action, problem: .system(e), file: file)
  }

  // MARK: - Paths

  /// A NUL-terminated C string as a String.
  static func string(_ chars: [CChar]) -> String {
    String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  static func readLink(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink(path, &buffer, buffer.count - 1)
    guard n >= 0 else { return nil }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  static func canonical(_ path: String) -> String? {
    guard let p = realpath(path, nil) else { return nil }
    defer { free(p) }
    return String(cString: p)
  }

  static func absolute(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
  }

  /// The directory part of a path ("." for a bare name, "/" for a name in the root).
  static func directory(of path: String) -> String {
    var p = Substring(path)
    while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
    guard let slash = p.lastIndex(of: "/") else { return "." }
    let dir = p[..<slash]
    return dir.isEmpty ? "/" : String(dir)
  }

  /// The last component of a path, trailing slashes ignored.
  static func baseName(of path: String) -> String {
    var p = Substring(path)
    while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
    return p.lastIndex(of: "/").map { String(p[p.index(after: $0)...]) } ?? String(p)
  }
}
