import Foundation

/// The capability sets of processes, from /proc.
public enum Capabilities {
  /// Capability names by bit (linux/capability.h).
  public static let names = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
  ]

  /// The names of the bits set in a hexadecimal capability mask.
  public static func names(ofMask hex: String) -> [String] {
    guard let mask = UInt64(hex, radix: 16) else { return [] }
    return names.enumerated().filter { mask & (1 << UInt64($0.offset)) != 0 }.map(\.element)
  }

  /// The bounding set of process `pid` ("self" for this one), as the Docker expansion wants it.
  public static func bounding(pid: String = "self") -> [String] {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return [] }
    for line in status.split(separator: "\n") where line.hasPrefix("CapBnd:") {
      return names(ofMask: line.dropFirst("CapBnd:".count).trimmingCharacters(in: .whitespaces))
    }
    return []
  }
}
