import Seccomp
import Syscalls

/// What a conversion expands a profile for: the host Docker's `includes`/`excludes` are
/// evaluated against (native arch, capability set, kernel) and the ABIs the filter covers.
public struct ConversionTarget: Hashable, Sendable, CustomStringConvertible {
  public var context: ExpansionContext
  /// The ABIs to cover; nil means the profile's own for the native arch
  /// (`architectures`, or its archMap entry), native first.
  public var arches: [Arch]?

  public init(context: ExpansionContext, arches: [Arch]? = nil) {
    self.context = context
    self.arches = arches
  }

  /// The ABIs the converted filter covers for `profile`.
  public func filterArches(of profile: Profile) -> [Arch] {
    if let arches, !arches.isEmpty { return arches }
    return profile.filterArches(native: context.native)
  }

  /// What an expanded output of `profile` leaves out and why, as one list (a line, then
  /// the names on indented lines of at most 80 columns), or nil when it keeps every name.
  public func leftOutNote(for profile: Profile) -> String? {
    let names = profile.namesWithoutRule(for: self)
    guard !names.isEmpty else { return nil }
    let elsewhere = names.filter(SyscallTable.isKnown)
    let unknown = names.filter { !SyscallTable.isKnown($0) }
    var lists: [LintList] = []
    if !elsewhere.isEmpty { lists.append(LintList("only on other ABIs", elsewhere)) }
    if !unknown.isEmpty { lists.append(LintList("not a syscall on any ABI", unknown)) }
    let abis = filterArches(of: profile).map(\.name).joined(separator: ", ")
    let head = "left out \(names.count) name\(names.count == 1 ? "" : "s") that make\(names.count == 1 ? "s" : "") no rule on \(abis) "
      + "(runc skips \(names.count == 1 ? "it" : "them") too):"
    return ([head] + lists.map { $0.wrapped(columns: 80, indent: 4) }).joined(separator: "\n")
  }

  /// Options that build the same policy from the original profile.
  public var policyOptions: PolicyOptions {
    PolicyOptions(context: context, arches: arches.flatMap { $0.isEmpty ? nil : $0 })
  }

  /// `x86_64 (ABIs x86_64, x86, x32), kernel 6.18, capabilities CAP_CHOWN,...` for `profile`.
  public func describe(for profile: Profile) -> String {
    let abis = filterArches(of: profile).map(\.name).joined(separator: ", ")
    return "\(context.native) (ABIs \(abis)), kernel \(context.kernel), capabilities "
      + context.capabilities.sorted().joined(separator: ",")
  }

  public var description: String {
    "\(context.native)\(arches.map { " (ABIs \($0.map(\.name).joined(separator: ", ")))" } ?? ""), kernel \(context.kernel)"
  }
}

extension Profile {
  /// The profile fully expanded for `target`, in the OCI runtime-spec shape: only the
  /// entries that apply there, `architectures` resolved (native first), no `archMap`,
  /// `includes`, `excludes` or comments, every `name` folded into `names`, and no name
  /// that makes no rule on those ABIs (`namesWithoutRule`).
  ///
  /// Its policy under the same target is the original's: `Policy.decide` agrees on every call.
  public func ociExpanded(for target: ConversionTarget) -> Profile {
    var p = expanded(for: target.context)
    p.architectures = target.filterArches(of: self)
    p.syscalls = p.syscalls?.map { e in
      var e = e
      e.comment = nil
      return e
    }
    return p.withoutNamesWithoutRule(on: p.architectures ?? [])
  }

  /// The names of the entries that apply for `target` that make no rule on any ABI it
  /// covers (no number there, and no socketcall or ipc route), sorted: the expanded
  /// outputs leave them out, and runc skips them.
  public func namesWithoutRule(for target: ConversionTarget) -> [String] {
    let arches = target.filterArches(of: self)
    let names = (syscalls ?? []).filter { Profile.entryApplies($0, in: target.context) }.flatMap(\.names)
    return Set(names.filter { !Profile.makesRule($0, on: arches) }).sorted()
  }

  /// Whether `name` makes a rule on one of `arches`: a number there, or a socketcall/ipc route.
  static func makesRule(_ name: String, on arches: [Arch]) -> Bool {
    arches.contains { $0.number(of: name) != nil || Multiplexer.route(name, on: $0) != nil }
  }

  /// The profile without the names that make no rule on `arches`, and without entries
  /// left with no name.
  func withoutNamesWithoutRule(on arches: [Arch]) -> Profile {
    var p = self
    p.syscalls = syscalls?.compactMap { e in
      var e = e
      e.names = e.names.filter { Profile.makesRule($0, on: arches) }
      return e.names.isEmpty ? nil : e
    }
    return p
  }
}
