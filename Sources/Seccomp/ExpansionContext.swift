import Syscalls

/// The host a profile is expanded for: moby evaluates `includes`/`excludes`
/// against the native arch, the container's bounding capability set and the kernel.
public struct ExpansionContext: Hashable, Sendable, CustomStringConvertible {
  /// The arch whose `dockerName` `includes.arches` match, and whose archMap entry applies.
  public var native: Arch
  /// Capability names, upper case with the `CAP_` prefix.
  public var capabilities: Set<String>
  public var kernel: KernelVersion

  public init(native: Arch, capabilities: some Sequence<String>, kernel: KernelVersion) {
    self.native = native
    self.capabilities = Set(capabilities.map(ExpansionContext.normalize))
    self.kernel = kernel
  }

  /// `CAP_SYS_ADMIN` from `sys_admin`, `SYS_ADMIN` or `CAP_SYS_ADMIN`.
  public static func normalize(_ cap: String) -> String {
    let up = cap.uppercased()
    return up.hasPrefix("CAP_") ? up : "CAP_" + up
  }

  public var description: String {
    "\(native), kernel \(kernel), capabilities \(capabilities.sorted().joined(separator: ","))"
  }
}

/// A kernel version as moby compares it: major and minor only.
public struct KernelVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
  public var major: Int
  public var minor: Int
  public init(major: Int, minor: Int) {
    self.major = major
    self.minor = minor
  }
  /// Parses "X.Y" and also a uname release ("6.18.0-1-amd64"), reading major and minor.
  public init?(release: String) {
    let digits = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
    guard digits.count == 2 else { return nil }
    self.init(major: digits[0], minor: digits[1])
  }
  public static func < (a: KernelVersion, b: KernelVersion) -> Bool {
    (a.major, a.minor) < (b.major, b.minor)
  }
  public var description: String { "\(major).\(minor)" }
}
