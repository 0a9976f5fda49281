#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Why an output cannot be written: the path, what was being done, and the cause.
public struct OutputError: Error, CustomStringConvertible, Sendable, Equatable {
  /// The cause.
  public enum Problem: Sendable, Equatable {
    /// The output names this input (directly, through a link, or as the same file).
    case isInput(String)
    /// This directory, which would hold the output, does not exist.
    case missingDirectory(String)
    /// This path, which would hold the output, is not a directory.
    case notADirectory(String)
    /// The output is a directory.
    case isADirectory
    /// The output is a block device.
    case blockDevice
    /// A socket that is not one of this process's descriptors (it cannot be opened).
    case socket
    /// Too many symbolic links.
    case linkLoop
    /// A system call failed with this errno.
    case system(Int32)
    /// An installed file must be a regular file; this is something else (a device, a FIFO).
    case notRegularFile(String)
    /// The file read back after writing it does not hold what was written.
    case differs
  }

  /// The output as it was named.
  public var path: String
  /// What was being done: "create", "write", "replace", "open", ...
  public var action: String
  /// The cause.
  public var problem: Problem
  /// The file the failed call was made on, when it is not `path` (a temporary file, a link's target).
  public var file: String?

  public init(path: String, action: String, problem: Problem, file: String? = nil) {
    self.path = path
    self.action = action
    self.problem = problem
    self.file = file
  }

  /// The errno of a failed call, if that is the cause.
  public var errno: Int32? {
    if case .system(let e) = problem { return e }
    return nil
  }

  /// Whether the output names an input (a usage error, not a file that cannot be created).
  public var namesAnInput: Bool {
    if case .isInput = problem { return true }
    return false
  }

  public var description: String {
    switch problem {
    case .isInput(let input):
      return "refusing to overwrite the input \(input) with the output \(path)"
    case .missingDirectory(let dir):
      return "cannot \(action) \(path): the directory \(dir) does not exist (syscage creates no directories)"
    case .notADirectory(let dir):
      return "cannot \(action) \(path): \(dir) is not a directory"
    case .isADirectory:
      return "cannot \(action) \(path): it is a directory; name a file"
    case .blockDevice:
      return "cannot \(action) \(path): it is a block device; syscage writes regular files, character devices, FIFOs and its own descriptors"
    case .socket:
      return "cannot \(action) \(path): it is a socket; name one of syscage's descriptors (/dev/stdout, /dev/fd/N) to write into a socket"
    case .linkLoop:
      return "cannot \(action) \(path): too many levels of symbolic links"
    case .notRegularFile(let target):
      return "cannot \(action) \(path): \(target) is not a regular file; an installed profile must be one"
    case .differs:
      return "cannot \(action) \(path): read back, it does not hold what was written"
    case .system(let e):
      let on = file.map { $0 == path ? "" : " (\($0))" } ?? ""
      return "cannot \(action) \(path)\(on): \(String(cString: strerror(e)))"
    }
  }
}
