import Syscalls

/// What a container runtime adds on top of a profile's own decisions when it loads it.
///
/// runc answers ERRNO(ENOSYS) for numbers above the highest syscall a profile names on
/// an ABI (and nr 0 on s390/s390x), so that libc's fallbacks for newer calls work; it adds
/// nothing when the default action is ALLOW, LOG or TRACE, or is already ERRNO(ENOSYS).
/// The answer is not part of what the profile decides: it moves whenever the highest
/// named syscall moves. `merge` and `diff` work on the own decisions; `run`, `compile`
/// and `diff --subset` include the layer, as a node would load the profile.
public enum RuntimeLayer: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
  case runc

  public var description: String { rawValue }

  /// The number above which this runtime answers ENOSYS on an ABI with these rules and
  /// this default; nil when it adds no answer.
  public func enosysBoundary(defaultAction: SeccompAction, rules: [Rule]) -> SyscallNumber? {
    if [.allow, .log, .trace].contains(defaultAction.kind) { return nil }
    if defaultAction == .errno(SeccompAction.enosys) { return nil }
    return rules.map(\.number).max()
  }
}

extension ArchPolicy {
  /// The ABI's own decisions, without a runtime's ENOSYS answer.
  public var ownDecisions: ArchPolicy {
    var p = self
    p.enosysAbove = nil
    return p
  }

  /// The ABI as `runtime` loads it: the own decisions and the runtime's answer on top.
  public func loaded(by runtime: RuntimeLayer) -> ArchPolicy {
    var p = self
    p.enosysAbove = runtime.enosysBoundary(defaultAction: defaultAction, rules: rules)
    return p
  }

  /// The highest syscall number a rule names, with its name.
  public var highestNamed: (name: String, number: SyscallNumber)? {
    guard let n = rules.map(\.number).max() else { return nil }
    return (arch.name(of: n) ?? rules.first { $0.number == n }?.name ?? "#\(n.rawValue)", n)
  }
}

extension Policy {
  /// The profile's own decisions on every ABI, without a runtime's ENOSYS answer.
  public var ownDecisions: Policy {
    var p = self
    p.arches = arches.map(\.ownDecisions)
    return p
  }

  /// The policy as `runtime` loads it: the own decisions and the runtime's answer on top.
  public func loaded(by runtime: RuntimeLayer) -> Policy {
    var p = self
    p.arches = arches.map { $0.loaded(by: runtime) }
    return p
  }
}
