import Seccomp
import Syscalls

/// What a policy must allow for a program to start, checked before running it.
public enum Preflight {
  /// A call the program needs that the policy does not allow.
  public struct Finding: Hashable, Sendable, CustomStringConvertible {
    public var syscall: String
    public var arch: Arch
    public var decision: Decision
    /// True when the program cannot start at all (execve refused).
    public var isFatal: Bool

    public var description: String { "\(syscall) on \(arch): \(decision)" }
  }

  /// Calls a dynamically linked program makes before `main` (the loader and libc's
  /// start-up); any one refused usually ends it before it prints anything.
  /// (Calls libc tolerates failing, such as rseq or access, are left out.)
  public static let startupCalls = [
    "brk", "mmap", "mprotect", "munmap", "openat", "read", "close", "newfstatat", "arch_prctl",
    "set_tid_address", "exit_group",
  ]

  /// The calls of `startupCalls` and execve that `policy` refuses on the native ABI.
  public static func check(_ policy: Policy, arch: Arch = .native) -> [Finding] {
    var findings: [Finding] = []
    for name in ["execve"] + startupCalls {
      guard let n = arch.number(of: name) else { continue }
      let d = policy.decide(arch: arch, number: n)
      // The loader's calls carry arguments; a rule that allows some of them is not refusal.
      let conditional = policy.policy(for: arch)?.rules(for: n).contains { !$0.conditions.isEmpty && $0.action.permits } ?? false
      if !d.action.permits && !conditional {
        findings.append(Finding(syscall: name, arch: arch, decision: d, isFatal: name == "execve"))
      }
    }
    return findings
  }
}
