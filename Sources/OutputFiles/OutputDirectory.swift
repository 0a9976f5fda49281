#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A directory of outputs (Kubernetes' pod.yaml and profiles/NAME.json): it may be
/// created, and so may the subdirectories its files name, but its parent must exist.
public struct OutputDirectory: Sendable, CustomStringConvertible {
  /// The directory as it was named.
  public let path: String
  /// The files it will hold, relative to it (`pod.yaml`, `profiles/app.json`).
  public let files: [String]
  /// The inputs none of its files may be.
  public let inputs: [String]

  public var description: String { path }

  /// Examines `path` before any work: an existing writable directory (whose files, when
  /// their directory exists, must be writable outputs and none of `inputs`), or a new one
  /// in an existing writable directory.
  public init(_ path: String, files: [String], inputs: [String] = []) throws(OutputError) {
    self.path = path
    self.files = files
    self.inputs = inputs
    var st = stat()
    if stat(path, &st) == 0 {
      guard (st.st_mode & S_IFMT) == S_IFDIR else {
        throw OutputError(path: path, action: "write into", problem: .notADirectory(path))
      }
      try OutputFile.requireWritableDirectory(path, output: path, action: "write into")
      for file in files {
        let full = self.path(of: file)
        var parent = stat()
        if stat(OutputFile.directory(of: full), &parent) == 0 { _ = try OutputFile(full, inputs: inputs) }
      }
    } else if errno == ENOENT {
      try OutputFile.requireWritableDirectory(OutputFile.directory(of: path), output: path, action: "create")
    } else if errno == ENOTDIR {
      throw OutputError(path: path, action: "create", problem: .notADirectory(OutputFile.firstNonDirectory(path)))
    } else {
      throw OutputError(path: path, action: "examine", problem: .system(errno))
    }
  }

  /// `file` inside the directory.
  public func path(of file: String) -> String {
    (path.hasSuffix("/") ? path : path + "/") + file
  }

  /// Creates the directory and its files' subdirectories when missing, and writes each
  /// file (`contents` in the order of `files`); returns the paths written.
  @discardableResult
  public func write(_ contents: [[UInt8]]) throws(OutputError) -> [String] {
    try Self.makeDirectory(path)
    var written: [String] = []
    for (file, bytes) in zip(files, contents) {
      let full = path(of: file)
      try Self.makeDirectory(OutputFile.directory(of: full))
      try OutputFile(full, inputs: inputs).write(bytes)
      written.append(full)
    }
    return written
  }

  /// A new directory `PREFIX-XXXXXX` in `$TMPDIR` (else /tmp) for `files`: where they go
  /// when writing them failed after the work was done.
  public static func temporary(prefix: String, files: [String]) throws(OutputError) -> OutputDirectory {
    var template = Array("\(OutputFile.temporaryDirectory)/\(prefix)-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    let name = OutputFile.string(template)
    guard made != nil else { throw OutputError(path: name, action: "create", problem: .system(errno)) }
    return try OutputDirectory(name, files: files)
  }

  static func makeDirectory(_ dir: String) throws(OutputError) {
    if mkdir(dir, 0o777) == 0 { return }
    let e = errno
    var st = stat()
    if e == EEXIST, stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return }
    if e == ENOENT { throw OutputError(path: dir, action: "create", problem: .missingDirectory(OutputFile.directory(of: dir))) }
    throw OutputError(path: dir, action: "create", problem: e == EEXIST ? .notADirectory(dir) : .system(e))
  }
}
