import CLinux
import Profiles
import Seccomp
import Syscalls

/// The facts about this host that a profile's Docker expansion depends on, read here so
/// that Seccomp and Profiles never read the host: they take an `ExpansionContext`.
public enum HostFacts {
  /// The running kernel's major and minor version (0.0 if uname fails).
  public static var kernel: KernelVersion {
    var buf = [CChar](repeating: 0, count: 256)
    guard clinux_kernel_release(&buf, buf.count) == 0 else { return KernelVersion(major: 0, minor: 0) }
    let release = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return KernelVersion(release: release) ?? KernelVersion(major: 0, minor: 0)
  }

  /// This process: the native ABI, its own bounding capability set (`CapBnd` of
  /// /proc/self/status) and the running kernel. A program this process starts keeps
  /// that bounding set unless it drops capabilities.
  public static func thisProcess() -> ExpansionContext {
    ExpansionContext(native: .native, capabilities: Capabilities.bounding(), kernel: kernel)
  }

  /// Docker's default container on this host: the native ABI (or `native`), Docker's
  /// default capability set and the running kernel.
  public static func dockerDefault(native: Arch = .native) -> ExpansionContext {
    .dockerDefault(native: native, kernel: kernel)
  }
}

extension KernelVersion {
  /// The running kernel's major and minor version (0.0 if uname fails).
  public static var running: KernelVersion { HostFacts.kernel }
}
