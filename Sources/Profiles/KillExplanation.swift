import Seccomp
import Syscalls

extension Policy {
  /// What decided a call seccomp killed, for `run`'s message: the decision for its
  /// arguments (`PROFILE says ACTION (why)`); without them (an audit record has none),
  /// when rules with conditions name the call, the rules and default that kill it.
  public func killExplanation(arch: Arch, number: SyscallNumber, arguments: [UInt64], profile: String) -> String {
    let rules = arches.first { $0.arch == arch }?.rules(for: number) ?? []
    guard arguments.isEmpty, rules.contains(where: { !$0.conditions.isEmpty }) else {
      let decision = decide(arch: arch, number: number, args: arguments)
      return "\(profile) says \(decision.action) (\(explanation(of: decision, arch: arch)))"
    }
    var killing = rules.filter { $0.action.kind <= .trap }.map { rule in
      var unsourced = rule
      unsourced.source = ""
      return rule.source.isEmpty ? "\(unsourced)" : "\(rule.source): \(unsourced)"
    }
    if let d = arches.first(where: { $0.arch == arch })?.defaultAction, d.kind <= .trap {
      killing.append("the default action \(d)")
    }
    return "\(profile) decides it by its arguments; what kills it: \(killing.joined(separator: " or "))"
  }
}
