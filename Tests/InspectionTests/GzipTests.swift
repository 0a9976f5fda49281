import Foundation
import Inspection
import Testing
import TestSupport

/// `Gzip` decompresses in process with the system's libz.so.1.
@Suite struct GzipTests {
  func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-gzip-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  /// Compresses `text` with gzip(1) into `path`.
  func gzip(_ text: String, to path: String) throws {
    let r = run("/bin/sh", ["-c", "gzip -c > \(path)"], stdin: text)
    try #require(r.status == 0, "gzip: \(r.stderr)")
  }

  @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip") || FileManager.default.isExecutableFile(atPath: "/bin/gzip") || isCI, "needs gzip(1) to make the test files"))
  func decompressesWhatGzipWrites() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    // Larger than one output chunk, like a kernel config.
    let text = (0..<20000).map { "CONFIG_OPTION_\($0)=y\n" }.joined()
    let path = dir.appendingPathComponent("config.gz").path
    try gzip(text, to: path)
    #expect(String(decoding: try Gzip.decompress(path: path), as: UTF8.self) == text)

    // Two members one after the other, as `cat a.gz b.gz` makes: both.
    let second = dir.appendingPathComponent("second.gz").path
    try gzip("CONFIG_SECCOMP=y\n", to: second)
    let joined = dir.appendingPathComponent("joined.gz").path
    try Data(try Gzip.readFile(path) + Gzip.readFile(second)).write(to: URL(fileURLWithPath: joined))
    #expect(String(decoding: try Gzip.decompress(path: joined), as: UTF8.self) == text + "CONFIG_SECCOMP=y\n")

    // What fails is said.
    let bytes = try Gzip.readFile(path)
    #expect(throws: Gzip.Problem.self) { try Gzip.decompress(Array(bytes.prefix(bytes.count / 2))) }
    do {
      _ = try Gzip.decompress(Array(bytes.prefix(bytes.count / 2)))
    } catch {
      #expect(error.description.contains("truncated"), "\(error)")
    }
    do {
      _ = try Gzip.decompress(Array("plain text".utf8))
    } catch {
      #expect(error.description.contains("not gzip"), "\(error)")
    }
    var corrupt = bytes
    for i in 20..<60 { corrupt[i] ^= 0x5a }
    #expect(throws: Gzip.Problem.self) { try Gzip.decompress(corrupt) }
    do {
      _ = try Gzip.decompress(path: dir.appendingPathComponent("missing.gz").path)
    } catch {
      #expect(error.description.contains("No such file"), "\(error)")
    }
  }

  /// The running kernel's /proc/config.gz, when it has one, reads in process.
  @Test(.enabled(if: FileManager.default.isReadableFile(atPath: "/proc/config.gz"), "this kernel has no /proc/config.gz (CONFIG_IKCONFIG_PROC)"))
  func readsTheKernelsConfig() throws {
    let text = String(decoding: try Gzip.decompress(path: "/proc/config.gz"), as: UTF8.self)
    #expect(text.contains("CONFIG_SECCOMP=y"))
  }
}
