import Glibc
import SystemPackage

/// The one funnel of Processes' raw calls: runs `call` (a libc call that returns -1 and
/// sets errno on failure) again while it fails with EINTR, and returns its result or
/// its errno.
@inline(__always)
func retryingInterrupts<T: FixedWidthInteger>(_ call: () -> T) -> Result<T, Errno> {
  while true {
    let result = call()
    if result != -1 { return .success(result) }
    let error = Errno(rawValue: Glibc.errno)
    if error != .interrupted { return .failure(error) }
  }
}

/// Calls `body` with a NULL-terminated C array of copies of the strings (argv, envp).
public func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
  var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
  pointers.append(nil)
  defer { for p in pointers { free(p) } }
  return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
