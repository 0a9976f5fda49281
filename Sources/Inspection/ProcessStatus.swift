import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The seccomp state of a process, read from /proc.
public struct ProcessSeccompStatus: Hashable, Sendable {
  /// seccomp's mode for a process.
  public enum Mode: Int, Hashable, Sendable, CustomStringConvertible {
    case disabled = 0, strict = 1, filter = 2
    public var description: String {
      switch self {
      case .disabled: "0 (disabled)"
      case .strict: "1 (strict)"
      case .filter: "2 (filter)"
      }
    }
  }

  public var pid: Int32
  public var comm: String
  public var mode: Mode?
  /// How many filters are attached (`Seccomp_filters`, Linux 5.9+).
  public var filters: Int?
  public var noNewPrivileges: Bool?
  /// The unified (v2) cgroup path, or the first v1 path that is not "/".
  public var cgroup: String?

  /// Reads `/proc/PID/status` and `/proc/PID/cgroup`; nil when the process is gone or unreadable.
  public static func read(pid: Int32, procRoot: String = "/proc") -> ProcessSeccompStatus? {
    guard let status = try? String(contentsOfFile: "\(procRoot)/\(pid)/status", encoding: .utf8) else { return nil }
    var result = ProcessSeccompStatus(pid: pid, comm: "")
    for line in status.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 1)
      guard parts.count == 2 else { continue }
      let value = parts[1].trimmingCharacters(in: .whitespaces)
      switch parts[0] {
      case "Name": result.comm = value
      case "Seccomp": result.mode = Int(value).flatMap(Mode.init(rawValue:))
      case "Seccomp_filters": result.filters = Int(value)
      case "NoNewPrivs": result.noNewPrivileges = value == "1"
      default: break
      }
    }
    if let cg = try? String(contentsOfFile: "\(procRoot)/\(pid)/cgroup", encoding: .utf8) {
      let lines = cg.split(separator: "\n")
      let unified = lines.first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
      let v1 = lines.compactMap { l -> String? in
        let f = l.split(separator: ":", maxSplits: 2)
        return f.count == 3 && f[2] != "/" ? String(f[2]) : nil
      }.first
      result.cgroup = (unified != nil && unified != "/") ? unified : (v1 ?? unified)
    }
    return result
  }

  /// Every process id in `/proc`, ascending.
  public static func allPids(procRoot: String = "/proc") -> [Int32] {
    ((try? FileManager.default.contentsOfDirectory(atPath: procRoot)) ?? []).compactMap { Int32($0) }.sorted()
  }

  init(pid: Int32, comm: String) {
    self.pid = pid
    self.comm = comm
  }
}

/// What the kernel supports for seccomp.
public struct KernelSeccompSupport: Hashable, Sendable {
  /// CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER, from /proc/config.gz or /boot/config-*; nil when no config is readable.
  public var configSeccomp: Bool?
  public var configSeccompFilter: Bool?
  /// CONFIG_CHECKPOINT_RESTORE, which PTRACE_SECCOMP_GET_FILTER needs.
  public var configCheckpointRestore: Bool?
  /// Where the config was read from.
  public var configSource: String?
  /// Why no config could be read (each place tried and what failed); nil when one was.
  public var configProblem: String?
  /// /proc/sys/kernel/seccomp/actions_avail and actions_logged.
  public var actionsAvailable: [String]
  public var actionsLogged: [String]
  public var release: String

  /// Reads the running kernel's support.
  public static func read() -> KernelSeccompSupport {
    var u = utsname()
    uname(&u)
    let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    func words(_ path: String) -> [String] {
      ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
    }
    var support = KernelSeccompSupport(
      configSeccomp: nil, configSeccompFilter: nil, configCheckpointRestore: nil, configSource: nil, configProblem: nil,
      actionsAvailable: words("/proc/sys/kernel/seccomp/actions_avail"),
      actionsLogged: words("/proc/sys/kernel/seccomp/actions_logged"), release: release)
    var config: String? = nil
    var problems: [String] = []
    let fm = FileManager.default
    if fm.fileExists(atPath: "/proc/config.gz") {
      do {
        config = String(decoding: try Gzip.decompress(path: "/proc/config.gz"), as: UTF8.self)
        support.configSource = "/proc/config.gz"
      } catch {
        problems.append("/proc/config.gz: \(error)")
      }
    } else {
      problems.append("no /proc/config.gz")
    }
    let boot = "/boot/config-\(release)"
    if config == nil {
      if fm.fileExists(atPath: boot) {
        do {
          config = String(decoding: try Gzip.readFile(boot), as: UTF8.self)
          support.configSource = boot
        } catch {
          problems.append("\(boot): \(error)")
        }
      } else {
        problems.append("no \(boot)")
      }
    }
    if config == nil { support.configProblem = problems.joined(separator: "; ") }
    if let config {
      let lines = Set(config.split(separator: "\n").map(String.init))
      support.configSeccomp = lines.contains("CONFIG_SECCOMP=y")
      support.configSeccompFilter = lines.contains("CONFIG_SECCOMP_FILTER=y")
      support.configCheckpointRestore = lines.contains("CONFIG_CHECKPOINT_RESTORE=y")
    }
    return support
  }
}

/// gzip decompression in process, with the system's zlib (libz.so.1, loaded at run time).
public enum Gzip {
  /// Why a file could not be read or decompressed.
  public struct Problem: Error, Sendable, CustomStringConvertible {
    public var description: String
  }

  /// The whole content of a file.
  public static func readFile(_ path: String) throws(Problem) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw Problem(description: "cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw Problem(description: "cannot read: \(String(cString: strerror(errno)))")
      }
      if n == 0 { return out }
      out += chunk[0..<n]
    }
  }

  /// The decompressed content of a gzip file (concatenated members joined).
  public static func decompress(path: String) throws(Problem) -> [UInt8] {
    try decompress(try readFile(path))
  }

  typealias InflateInit2 = @convention(c) (UnsafeMutableRawPointer, Int32, UnsafePointer<CChar>, Int32) -> Int32
  typealias Inflate = @convention(c) (UnsafeMutableRawPointer, Int32) -> Int32
  typealias InflateEnd = @convention(c) (UnsafeMutableRawPointer) -> Int32
  typealias Version = @convention(c) () -> UnsafePointer<CChar>

  /// zlib's functions, from libz.so.1.
  struct Library: @unchecked Sendable {
    var inflateInit2: InflateInit2
    var inflate: Inflate
    var inflateEnd: InflateEnd
    var version: Version
  }

  static let library: Result<Library, Problem> = {
    guard let handle = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL) else {
      let why = dlerror().map { String(cString: $0) } ?? "not found"
      return .failure(Problem(description: "cannot load zlib (libz.so.1, Debian's zlib1g): \(why)"))
    }
    func symbol<T>(_ name: String, _ type: T.Type) -> T? {
      dlsym(handle, name).map { unsafeBitCast($0, to: type) }
    }
    guard let i = symbol("inflateInit2_", InflateInit2.self), let f = symbol("inflate", Inflate.self),
      let e = symbol("inflateEnd", InflateEnd.self), let v = symbol("zlibVersion", Version.self)
    else { return .failure(Problem(description: "libz.so.1 lacks inflateInit2_, inflate, inflateEnd or zlibVersion")) }
    return .success(Library(inflateInit2: i, inflate: f, inflateEnd: e, version: v))
  }()

  /// Decompresses gzip data (every member of it).
  public static func decompress(_ input: [UInt8]) throws(Problem) -> [UInt8] {
    let z: Library
    switch library {
    case .success(let l): z = l
    case .failure(let p): throw p
    }
    guard input.count >= 2, input[0] == 0x1f, input[1] == 0x8b else {
      throw Problem(description: "not gzip data (no 1f 8b header)")
    }
    // z_stream, laid out as C does on Linux (long is pointer-sized): 14 words.
    let word = MemoryLayout<UInt>.size
    let stream = UnsafeMutableRawPointer.allocate(byteCount: 14 * word, alignment: word)
    defer { stream.deallocate() }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    var offset = 0
    return try input.withUnsafeBufferPointer { (inBuf) throws(Problem) -> [UInt8] in
      while offset < input.count {
        stream.initializeMemory(as: UInt8.self, repeating: 0, count: 14 * word)
        stream.storeBytes(of: UnsafeRawPointer(inBuf.baseAddress! + offset), toByteOffset: 0, as: UnsafeRawPointer.self)
        stream.storeBytes(of: UInt32(input.count - offset), toByteOffset: word, as: UInt32.self)
        // windowBits 16 + 15: a gzip wrapper, the largest window.
        let initResult = z.inflateInit2(stream, 16 + 15, z.version(), Int32(14 * word))
        guard initResult == 0 else { throw Problem(description: "zlib's inflateInit2 failed (\(initResult))") }
        defer { _ = z.inflateEnd(stream) }
        var result: Int32 = 0
        repeat {
          let produced: Int = chunk.withUnsafeMutableBytes { buf in
            stream.storeBytes(of: buf.baseAddress!, toByteOffset: 3 * word, as: UnsafeMutableRawPointer.self)
            stream.storeBytes(of: UInt32(buf.count), toByteOffset: 4 * word, as: UInt32.self)
            result = z.inflate(stream, 0)
            return buf.count - Int(stream.load(fromByteOffset: 4 * word, as: UInt32.self))
          }
          out += chunk[0..<produced]
          if result != 0 && result != 1 {
            let message = stream.load(fromByteOffset: 6 * word, as: UnsafePointer<CChar>?.self).map { String(cString: $0) }
            let what = result == -5 ? "truncated gzip data" : "corrupt gzip data"
            throw Problem(description: what + (message.map { " (\($0))" } ?? " (zlib error \(result))"))
          }
        } while result != 1
        let consumed = Int(stream.load(fromByteOffset: 2 * word, as: UInt.self))
        offset += consumed
        // Another member follows only if it starts with the magic; trailing zeros end it.
        if offset + 1 >= input.count || input[offset] != 0x1f || input[offset + 1] != 0x8b { break }
      }
      return out
    }
  }
}
