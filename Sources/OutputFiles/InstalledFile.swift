#if canImport(Glibc)
import Glibc
#endif

/// A file put where a program reads it (a kubelet's seccomp root, the containers tools'
/// default profile): written atomically as an `OutputFile` (never into a device, FIFO or
/// directory; a link keeps pointing where it did), then read back and compared.
public enum InstalledFile {
  /// Writes `bytes` to `path` (creating `createDirectories`, each inside the previous
  /// one's existing parent, when missing) and reads the file back: a file that does not
  /// hold exactly `bytes` afterwards is an error.
  ///
  /// - Returns: the file written (the link's target when `path` is a link).
  @discardableResult
  public static func install(_ bytes: [UInt8], at path: String, createDirectories: [String] = []) throws(OutputError) -> String {
    for dir in createDirectories {
      var st = stat()
      if stat(dir, &st) == 0 { continue }
      try OutputFile.requireWritableDirectory(OutputFile.directory(of: dir), output: dir, action: "create")
      if mkdir(dir, 0o755) != 0 && errno != EEXIST {
        throw OutputError(path: dir, action: "create", problem: .system(errno))
      }
    }
    let output = try OutputFile(path)
    guard case .file = output.kind else {
      throw OutputError(path: path, action: "install", problem: .notRegularFile(output.target))
    }
    try output.write(bytes)
    let back = try readBack(output.target)
    guard back == bytes else {
      throw OutputError(path: output.target, action: "verify", problem: .differs)
    }
    return output.target
  }

  /// The whole content of `path`.
  static func readBack(_ path: String) throws(OutputError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw OutputError(path: path, action: "read back", problem: .system(errno)) }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw OutputError(path: path, action: "read back", problem: .system(errno))
      }
      if n == 0 { return out }
      out.append(contentsOf: chunk[0..<n])
    }
  }
}

/// Where the containers tools (podman, buildah, CRI-O through containers/common) read
/// the seccomp profile a container gets without `--security-opt seccomp=...`.
///
/// containers/common (0.50 here) takes `seccomp_profile` from containers.conf when it is
/// set; else `/etc/containers/seccomp.json` when that exists (the override, no
/// package's file); else `/usr/share/containers/seccomp.json` (the package's own).
public enum ContainersDefaultProfile {
  /// The override path: installing there replaces no package file and takes effect.
  public static let overridePath = "/etc/containers/seccomp.json"
  /// The package's profile, used when the override is missing.
  public static let packagePath = "/usr/share/containers/seccomp.json"
  /// The containers.conf files read, system-wide, in order (later ones win).
  public static let configFiles = [
    "/usr/share/containers/containers.conf", "/etc/containers/containers.conf",
  ]

  /// The `seccomp_profile = "..."` settings in containers.conf files (and their
  /// `containers.conf.d` drop-ins), which win over both paths: (file, value).
  public static func configuredProfiles(configFiles: [String] = configFiles) -> [(file: String, value: String)] {
    var files: [String] = []
    for file in configFiles {
      files.append(file)
      let dropins = file + ".d"
      if let dir = opendir(dropins) {
        var names: [String] = []
        while let entry = readdir(dir) {
          let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
          if name.hasSuffix(".conf") { names.append(name) }
        }
        closedir(dir)
        files += names.sorted().map { dropins + "/" + $0 }
      }
    }
    var out: [(String, String)] = []
    for file in files {
      guard let bytes = try? InstalledFile.readBack(file) else { continue }
      for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
        let t = line.drop { $0 == " " || $0 == "\t" }
        guard t.hasPrefix("seccomp_profile"), let eq = t.firstIndex(of: "=") else { continue }
        guard t[..<eq].trimmingSpaces == "seccomp_profile" else { continue }
        let value = t[t.index(after: eq)...].trimmingSpaces.trimmingQuotes
        out.append((file, value))
      }
    }
    return out
  }
}

extension Substring {
  fileprivate var trimmingSpaces: Substring {
    var s = self
    while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
    while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
    return s
  }
  fileprivate var trimmingQuotes: String {
    var s = self
    if s.count >= 2, let f = s.first, f == "\"" || f == "'", s.last == f { s = s.dropFirst().dropLast() }
    return String(s)
  }
}
