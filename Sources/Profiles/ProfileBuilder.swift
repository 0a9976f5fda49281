import Seccomp
import Syscalls

/// Builds an allow-list profile from the syscalls a program was seen to make, per ABI.
///
/// The profile: `defaultAction` (ERRNO with `defaultErrnoRet` 1, EPERM, unless told
/// otherwise), `architectures` exactly the ABIs seen (64-bit first, then in the table's
/// order), one ALLOW entry with the calls seen plus the guard rails, sorted, and one
/// ERRNO(ENOSYS) entry for the calls libc probes and falls back from only on ENOSYS
/// (`clone3`, `faccessat2`, `fchmodat2`, `openat2`) when they were not seen. A name is
/// written only when it exists on at least one listed ABI.
///
/// The guard rails are always allowed: `exit`, `exit_group` (strace never counts them: it
/// counts at syscall exit), `rt_sigreturn`, `restart_syscall`, and `clock_gettime`,
/// `gettimeofday`, `time`, `getcpu`, which the vDSO usually answers without a syscall, so
/// a recording misses them until the vDSO is unavailable.
public struct ProfileBuilder: Hashable, Sendable {
  public static let guardRails = [
    "exit", "exit_group", "rt_sigreturn", "restart_syscall",
    "clock_gettime", "gettimeofday", "time", "getcpu",
  ]
  public static let enosysFallbacks = ["clone3", "faccessat2", "fchmodat2", "openat2"]

  public var defaultAction: ActionName
  /// The default action's errno (for ERRNO and TRACE); EPERM when nil.
  public var defaultErrnoRet: UInt32?
  public var guardRails: [String]
  public var enosysFallbacks: [String]

  public init(
    defaultAction: ActionName = .errno, defaultErrnoRet: UInt32? = nil,
    guardRails: [String] = ProfileBuilder.guardRails, enosysFallbacks: [String] = ProfileBuilder.enosysFallbacks
  ) {
    self.defaultAction = defaultAction
    self.defaultErrnoRet = defaultErrnoRet
    self.guardRails = guardRails
    self.enosysFallbacks = enosysFallbacks
  }

  /// The profile for these calls (counts are ignored; only names matter).
  public func build(_ seen: [Arch: [String: Int]]) -> Profile {
    build(seen.mapValues { Set($0.keys) })
  }

  /// The profile for these calls. With no ABI at all, the profile lists none and allows
  /// only the guard rails on the native ABI.
  public func build(_ seen: [Arch: Set<String>]) -> Profile {
    let arches = ProfileBuilder.order(Array(seen.filter { !$0.value.isEmpty }.keys))
    let listed = arches.isEmpty ? [Arch.native] : arches
    func exists(_ name: String) -> Bool { listed.contains { $0.number(of: name) != nil } }

    let observed = Set(seen.values.joined())
    let allowed = observed.union(guardRails).filter(exists).sorted()
    var entries = [SyscallEntry(names: allowed, action: .allow)]

    let errno = defaultAction.takesErrno ? (defaultErrnoRet ?? UInt32(SeccompAction.eperm)) : nil
    let defaultPermits = [.allow, .log].contains(defaultAction)
    let defaultIsEnosys = defaultAction == .errno && errno == UInt32(SeccompAction.enosys)
    let fallbacks = enosysFallbacks.filter { !observed.contains($0) && exists($0) }.sorted()
    if !fallbacks.isEmpty && !defaultPermits && !defaultIsEnosys {
      entries.append(
        SyscallEntry(
          names: fallbacks, action: .errno, errnoRet: UInt32(SeccompAction.enosys),
          comment: "libc tries these first and falls back only on ENOSYS"))
    }
    return Profile(
      defaultAction: defaultAction, defaultErrnoRet: errno,
      architectures: arches.isEmpty ? nil : arches, syscalls: allowed.isEmpty ? nil : entries)
  }

  /// 64-bit ABIs first, then the syscall table's order (x86_64, x32, x86).
  public static func order(_ arches: [Arch]) -> [Arch] {
    arches.sorted {
      let a = Arch.all.firstIndex(of: $0) ?? 0, b = Arch.all.firstIndex(of: $1) ?? 0
      return ($0.wordBits, -a) > ($1.wordBits, -b)
    }
  }
}
