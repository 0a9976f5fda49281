import Foundation

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
      configSeccomp: nil, configSeccompFilter: nil, configCheckpointRestore: nil, configSource: nil,
      actionsAvailable: words("/proc/sys/kernel/seccomp/actions_avail"),
      actionsLogged: words("/proc/sys/kernel/seccomp/actions_logged"), release: release)
    var config: String? = nil
    if let text = gunzip("/proc/config.gz") {
      config = text
      support.configSource = "/proc/config.gz"
    } else if let text = try? String(contentsOfFile: "/boot/config-\(release)", encoding: .utf8) {
      config = text
      support.configSource = "/boot/config-\(release)"
    }
    if let config {
      let lines = Set(config.split(separator: "\n").map(String.init))
      support.configSeccomp = lines.contains("CONFIG_SECCOMP=y")
      support.configSeccompFilter = lines.contains("CONFIG_SECCOMP_FILTER=y")
      support.configCheckpointRestore = lines.contains("CONFIG_CHECKPOINT_RESTORE=y")
    }
    return support
  }

  /// The text of a gzip file, decompressed by `gzip -dc` (nil when it cannot be read).
  static func gunzip(_ path: String) -> String? {
    guard FileManager.default.isReadableFile(atPath: path) else { return nil }
    for gzip in ["/usr/bin/gzip", "/bin/gzip"] where FileManager.default.isExecutableFile(atPath: gzip) {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: gzip)
      p.arguments = ["-dc", path]
      let out = Pipe()
      p.standardOutput = out
      p.standardError = FileHandle.nullDevice
      guard (try? p.run()) != nil else { return nil }
      let data = out.fileHandleForReading.readDataToEndOfFile()
      p.waitUntilExit()
      return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }
    return nil
  }
}
