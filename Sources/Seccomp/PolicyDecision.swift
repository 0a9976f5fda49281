import Syscalls

/// The outcome of one call under a policy, and what made it.
public struct Decision: Hashable, Sendable, CustomStringConvertible {
  public enum Reason: Hashable, Sendable {
    /// The call's ABI is not in the policy.
    case badArch
    /// An x86_64 call with the x32 bit set, and x32 is not in the policy.
    case x32Rejected
    /// A call without the x32 bit on an x86_64 kernel (an x86_64 call), and x86_64 is not
    /// in the policy while x32 is.
    case x86_64Rejected
    /// The number is above every number the profile names (runc's ENOSYS stub).
    case enosysStub
    /// Rule `index` of the ABI's policy matched and was the most restrictive match.
    case rule(Int)
    case defaultAction
  }

  public var action: SeccompAction
  public var reason: Reason
  /// The ABI policy that decided; nil for a bad arch.
  public var arch: Arch?

  public var description: String {
    switch reason {
    case .badArch: "\(action) (arch not in the policy)"
    case .x32Rejected: "\(action) (x32 call, x32 not in the policy)"
    case .x86_64Rejected: "\(action) (x86_64 call, only x32 in the policy)"
    case .enosysStub: "\(action) (newer than every syscall the profile names)"
    case .rule(let i): "\(action) (rule \(i))"
    case .defaultAction: "\(action) (default action)"
    }
  }
}

extension Policy {
  /// The specification of what a policy means: the action the kernel takes for
  /// a call with `seccomp_data` {nr, arch, args}.
  ///
  /// Among matching rules the most restrictive action wins (the kernel's order);
  /// among equally restrictive ones, the first in file order.
  public func decide(auditArch: AuditArch, nr: UInt32, args: [UInt64] = []) -> Decision {
    let args = args + Array(repeating: 0, count: max(0, 6 - args.count))
    let candidates = arches.filter { $0.arch.auditArch == auditArch }
    guard !candidates.isEmpty else { return Decision(action: badArchAction, reason: .badArch, arch: nil) }
    var chosen = candidates[0]
    if candidates.count > 1 || candidates[0].arch == .x86_64 || candidates[0].arch == .x32 {
      let x32Bit = nr & UInt32(SyscallNumber.x32Bit) != 0 && nr != 0xffff_ffff
      let x32 = candidates.first { $0.arch == .x32 }
      let x64 = candidates.first { $0.arch == .x86_64 }
      switch (x32Bit, x64, x32) {
      case (true, _, let p?): chosen = p
      case (true, _, nil): return Decision(action: badArchAction, reason: .x32Rejected, arch: nil)
      case (false, let p?, _): chosen = p
      case (false, nil, let p?):
        if nr != 0xffff_ffff { return Decision(action: badArchAction, reason: .x86_64Rejected, arch: nil) }
        chosen = p
      default: break
      }
    }
    return chosen.decide(nr: nr, args: args)
  }

  /// `decide` for a call of `arch` with number `number`.
  public func decide(arch: Arch, number: SyscallNumber, args: [UInt64] = []) -> Decision {
    decide(auditArch: arch.auditArch, nr: number.word, args: args)
  }
}

extension ArchPolicy {
  /// The decision for a call known to be of this ABI.
  public func decide(nr: UInt32, args: [UInt64]) -> Decision {
    let number = SyscallNumber(Int32(bitPattern: nr))
    var best: (Int, SeccompAction)? = nil
    if nr != 0xffff_ffff {
      for (i, rule) in rules.enumerated() where rule.number == number && rule.matches(args) {
        if best == nil || rule.action.kind < best!.1.kind { best = (i, rule.action) }
      }
    }
    if let (i, action) = best { return Decision(action: action, reason: .rule(i), arch: arch) }
    if let stub = enosysAbove, nr != 0xffff_ffff,
      nr > stub.word || (nr == 0 && (arch == .s390 || arch == .s390x))
    {
      return Decision(action: .errno(SeccompAction.enosys), reason: .enosysStub, arch: arch)
    }
    return Decision(action: defaultAction, reason: .defaultAction, arch: arch)
  }
}

extension Policy {
  /// The rule that made `decision`, when a rule did.
  public func rule(of decision: Decision) -> Rule? {
    guard case .rule(let i) = decision.reason, let arch = decision.arch, let p = policy(for: arch), p.rules.indices.contains(i)
    else { return nil }
    return p.rules[i]
  }

  /// What made `decision` for a call of `arch`, said the one way every command says it
  /// (`check`, `run`, `watch`): "default action", "syscalls[2]: write(a0 == 0x1) -> KILL_PROCESS",
  /// "x86 is not an ABI of this filter", ...
  public func explanation(of decision: Decision, arch: Arch?) -> String {
    switch decision.reason {
    case .badArch: return "\(arch.map { "\($0)" } ?? "this ABI") is not an ABI of this filter"
    case .x32Rejected: return "x32 calls are not allowed by this filter"
    case .x86_64Rejected:
      return "without the x32 bit (0x40000000) the kernel takes the number as an x86_64 call, and x86_64 is not an ABI of this filter"
    case .enosysStub: return "the number is above every syscall the profile names (ENOSYS, so libc can fall back)"
    case .defaultAction: return "default action"
    case .rule(let i):
      guard var rule = rule(of: decision) else { return "rule \(i)" }
      let source = rule.source
      rule.source = ""
      return source.isEmpty ? "\(rule)" : "\(source): \(rule)"
    }
  }
}
