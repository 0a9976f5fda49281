import Foundation
import Syscalls
import Testing
import TestSupport

/// `ErrnoNames` against the kernel's own headers (linux-libc-dev's asm-generic errno files).
@Suite struct ErrnoNamesTests {
  static let headers = ["/usr/include/asm-generic/errno-base.h", "/usr/include/asm-generic/errno.h"]
  static var headersPresent: Bool { headers.allSatisfy { FileManager.default.fileExists(atPath: $0) } }
  static let reason = "needs the kernel's asm-generic errno headers (apt-get install linux-libc-dev) or run under CI=true"

  @Test(.enabled(if: isCI || headersPresent, Comment(rawValue: reason)))
  func everyNumberHasTheHeadersFirstName() throws {
    try #require(Self.headersPresent, Comment(rawValue: Self.reason))
    var theirs: [UInt16: String] = [:]
    for path in Self.headers {
      for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
        let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        // `#define EAGAIN 11`; aliases (`#define EWOULDBLOCK EAGAIN`) name no number.
        guard f.count >= 3, f[0] == "#define", f[1].hasPrefix("E"), let n = UInt16(f[2]) else { continue }
        if theirs[n] == nil { theirs[n] = String(f[1]) }
      }
    }
    #expect(theirs.count > 120)
    #expect(ErrnoNames.generic == theirs)
    #expect(ErrnoNames.symbol(1) == "EPERM" && ErrnoNames.symbol(0) == nil && ErrnoNames.symbol(-1) == nil)
    #expect(ErrnoNames.symbol(4096) == nil)
  }
}
