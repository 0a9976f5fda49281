import Seccomp
import Syscalls

/// What LXC (5.0) knows of hosts and ABIs when it reads a seccomp policy
/// (`lxc.seccomp.profile`, src/lxc/seccomp.c).
///
/// On a multi-ABI host LXC builds one libseccomp context per ABI (x86_64, x86 and x32 on
/// an x86_64 host) and adds every line to each ABI where the name is a syscall: a
/// `[x86_64]`-style section only says on which hosts its lines are read, not which ABI they
/// apply to. Lines before the first section are read on every host LXC knows, `[all]` on
/// every host.
public enum LXCPolicyArch {
  /// The ABIs LXC's filter covers on a host whose native ABI is `host`, native first.
  public static func abis(onHost host: Arch) -> [Arch] {
    switch host.name {
    case "x86_64", "x32": [.x86_64, .x86, .x32]
    case "aarch64": [.aarch64, .arm]
    case "ppc64": [.ppc64, .ppc]
    case "mips64": [.mips64, .mips64n32, .mips]
    case "mipsel64": [.mipsel64, .mipsel64n32, .mipsel]
    default: [host]
    }
  }

  /// The section naming `host`, as LXC spells it (`[x86_64]`, `[arm64]`); nil for a host
  /// LXC does not know (only `[all]` is read there).
  public static func section(forHost host: Arch) -> String? {
    switch host.name {
    case "x86_64", "x32": "[x86_64]"
    case "x86": "[x86]"
    case "aarch64": "[arm64]"
    case "arm": "[arm]"
    case "ppc64le": "[ppc64le]"
    case "ppc64": "[ppc64]"
    case "ppc": "[ppc]"
    case "mips64", "mips64n32": "[mips64]"
    case "mipsel64", "mipsel64n32": "[mipsel64]"
    case "mips": "[mips]"
    case "mipsel": "[mipsel]"
    case "s390x": "[s390x]"
    case "s390": "[s390]"
    case "loongarch64": "[loongarch64]"
    default: nil
    }
  }

  /// The hosts on which LXC reads the lines of `section` (a line as written, e.g.
  /// `[x86_64]` or `[X86_64]`); nil when LXC refuses the section ("Unsupported architecture").
  public static func hosts(readingSection section: String) -> Set<String>? {
    let known: [String: Set<String>] = [
      "x86": ["x86", "x86_64"], "x32": ["x86_64"], "x86_64": ["x86_64"],
      "arm": ["arm", "aarch64"], "arm64": ["aarch64"], "ppc64le": ["ppc64le"], "ppc64": ["ppc64"],
      "ppc": ["ppc", "ppc64"], "mips64": ["mips64"], "mips64n32": ["mips64"], "mips": ["mips", "mips64"],
      "mipsel64": ["mipsel64"], "mipsel64n32": ["mipsel64"], "mipsel": ["mipsel", "mipsel64"],
      "s390x": ["s390x"], "s390": ["s390"], "loongarch64": ["loongarch64"],
    ]
    guard section.hasPrefix("["), section.hasSuffix("]") else { return nil }
    let inner = String(section.dropFirst().dropLast())
    // LXC accepts each name in lower case or in upper case, not mixed.
    guard inner == inner.lowercased() || inner == inner.uppercased() else { return nil }
    let name = inner.lowercased()
    if name == "all" { return Set(Arch.all.map(\.name)) }
    return known[name]
  }

  /// The host LXC runs on when the profile's native ABI is `native` (x32 runs on x86_64 kernels).
  public static func host(for native: Arch) -> Arch { native == .x32 ? .x86_64 : native }
}

/// A profile as an LXC seccomp policy (`lxc.seccomp.profile`), as LXC 5 reads it.
///
/// Version 2 (the default): `2`, then `allowlist ACTION` (calls not listed get ACTION) or
/// `denylist` (calls not listed are allowed), a `[x86_64]`-style section, and one line per
/// syscall: `name` (allowed, in an allow-list), `name errno N`, `name kill`, `name trap`,
/// `name notify`, `name allow`, with argument rules as `[index,value,SCMP_CMP_OP]` or
/// `[index,value,SCMP_CMP_MASKED_EQ,mask]` (ANDed within a line; lines ORed).
///
/// LXC's semantics, which the conversion follows:
/// - every line applies to each ABI of the host where the name is a syscall (see
///   `LXCPolicyArch`): a profile that answers a name differently per ABI gets its most
///   restrictive answer;
/// - `kill` is SCMP_ACT_KILL (the calling thread), LXC has no log or trace action, and
///   `notify` hands the call to `lxc.seccomp.notify.proxy` (without one the call blocks);
/// - a line whose action is the policy's default, and a line with two conditions on one
///   argument, make LXC refuse the whole file (libseccomp's EACCES and EINVAL): the first
///   is left out (as runc drops such rules), the second is failed closed;
/// - when one name has several lines without arguments, the first wins: one line per name;
///   a line without arguments decides every call of its syscall, whatever the lines with
///   arguments say (a more restrictive argument rule beside it is failed closed).
///
/// Version 1 (`1`, `allowlist`, one syscall number of the native ABI per line) allows the
/// listed calls and kills every other one, on the native ABI only; deny-lists cannot be said.
///
/// Everything LXC cannot say exactly is in `warnings`; a call whose rule cannot be carried
/// gets the most restrictive answer the profile gives its syscall (fail closed).
public struct LXCConversion: Sendable {
  /// The policy language version LXC reads.
  public enum Version: Int, Sendable, CaseIterable {
    case v1 = 1
    case v2 = 2
  }

  /// The profile cannot be written in the requested version at all.
  public struct Refusal: Error, Sendable, CustomStringConvertible {
    public var description: String
  }

  /// The policy file's text.
  public var text: String
  /// What could not be expressed exactly, one sentence each.
  public var warnings: [String]
  /// Limits that concern syscalls newer than syscage's table, and what the file needs of
  /// the container's configuration, one sentence each.
  public var notes: [String]
  /// The syscalls the warnings speak about.
  public var inexact: Set<String>
  /// The container runtime's calls the conversion allowed because the profile left them
  /// to its default, sorted.
  public var runtimeCallsAdded: [String]

  /// Converts `profile` expanded for `target`. `runtimeCalls` are LXC's own calls after it
  /// loads the filter (`ContainerRuntime.lxc.callsAfterFilter()`; empty for none): an
  /// allow-list allows those the profile leaves to its default.
  public init(
    profile: Profile, target: ConversionTarget, version: Version = .v2,
    runtimeCalls: [String] = ContainerRuntime.lxc.callsAfterFilter(), header: [String] = []
  ) throws {
    var b = Builder(profile: profile, target: target, version: version)
    try b.build(runtimeCalls: runtimeCalls)
    warnings = b.warnings
    notes = b.notes
    inexact = b.inexact
    runtimeCallsAdded = b.runtimeAdded.sorted()
    text = b.render(header: header + ["Expanded for \(target.describe(for: profile))."])
  }

  /// LXC's nearest answer to a seccomp action and, when it is not the same, why.
  static func lxcAction(_ a: SeccompAction) -> (SeccompAction, String?) {
    switch a.kind {
    case .allow, .errno, .killThread: (a, nil)
    case .killProcess: (.killThread, "SCMP_ACT_KILL_PROCESS: LXC's kill is SCMP_ACT_KILL_THREAD (only the calling thread dies)")
    case .trap: (.trap(), a.data == 0 ? nil : "SCMP_ACT_TRAP with data \(a.data): LXC's trap carries no data")
    case .userNotif: (.userNotif, nil)
    case .trace: (.errno(SeccompAction.enosys), "SCMP_ACT_TRACE: LXC cannot hand calls to a tracer; they fail with ENOSYS, as without a tracer")
    case .log: (.allow, "SCMP_ACT_LOG: LXC has no log action; the calls are allowed without a log")
    }
  }

  /// The action word of a line (`errno 1`, `kill`, ...).
  static func word(_ a: SeccompAction) -> String {
    switch a.kind {
    case .allow, .log: "allow"
    case .errno, .trace: "errno \(a.data)"
    case .killThread, .killProcess: "kill"
    case .trap: "trap"
    case .userNotif: "notify"
    }
  }

  /// `[index,value,SCMP_CMP_OP]`, or `[index,value,SCMP_CMP_MASKED_EQ,mask]`.
  static func argument(_ c: Condition) -> String {
    func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
    if c.op == .maskedEqual { return "[\(c.index),\(hex(c.valueTwo)),\(c.op.rawValue),\(hex(c.value))]" }
    return "[\(c.index),\(hex(c.value)),\(c.op.rawValue)]"
  }

  struct Builder {
    let profile: Profile
    let target: ConversionTarget
    let version: Version
    let policy: Policy
    let native: Arch
    let host: Arch
    var warnings: [String] = []
    var notes: [String] = []
    var inexact: Set<String> = []
    var runtimeAdded: Set<String> = []
    /// The policy's default under LXC.
    var defaultAction: SeccompAction = .killThread
    var isDenyList = false
    /// One answer per name, for the names that get one line.
    var fixed: [String: SeccompAction] = [:]
    /// Lines with argument rules, per name, in the profile's order.
    var conditional: [String: [(SeccompAction, [Condition])]] = [:]
    /// Approximated actions, grouped by the sentence that explains them.
    var approximations: [String: Set<String>] = [:]
    /// The native ABI's number of each name written (version 1).
    var numbers: [String: SyscallNumber] = [:]

    init(profile: Profile, target: ConversionTarget, version: Version) {
      self.profile = profile
      self.target = target
      self.version = version
      policy = Policy(profile: profile, options: target.policyOptions)
      native = policy.arches.first?.arch ?? target.context.native
      host = LXCPolicyArch.host(for: native)
    }

    mutating func approximate(_ a: SeccompAction, for name: String?) -> SeccompAction {
      let (mapped, why) = LXCConversion.lxcAction(a)
      if let why {
        approximations[why, default: []].insert(name ?? "the default action")
        if let name { inexact.insert(name) }
      }
      return mapped
    }

    static let zeros = [UInt64](repeating: 0, count: 6)

    /// A name's meaning on one ABI: one action whatever the arguments, or rules that look at
    /// them (the systemd converter's classification; socketcall/ipc rules left to libseccomp).
    typealias Class = NameActions.Class

    func classify(_ ap: ArchPolicy, _ nr: SyscallNumber) -> Class { NameActions.classify(ap, nr) }

    mutating func build(runtimeCalls: [String]) throws {
      guard let nativePolicy = policy.arches.first else { return }
      let lxcABIs = LXCPolicyArch.abis(onHost: host)
      let covered = policy.arches.filter { lxcABIs.contains($0.arch) }
      let leftOut = policy.arches.map(\.arch).filter { !lxcABIs.contains($0) }
      let profileABIs = Set(policy.arches.map(\.arch))

      defaultAction = approximate(nativePolicy.defaultAction, for: nil)
      isDenyList = defaultAction.permits
      if version == .v1 && isDenyList {
        throw Refusal(
          description: "LXC's policy version 1 is an allow-list only (calls not listed are killed); this profile's default "
            + "(\(nativePolicy.defaultAction)) allows calls, so it is a deny-list: use version 2 (the default)")
      }
      if LXCPolicyArch.section(forHost: host) == nil {
        warnings.append("\(host): LXC does not know this host; the lines are written under [all] and apply to the native ABI only")
      }
      if !leftOut.isEmpty {
        warnings.append(
          "\(leftOut.map(\.name).joined(separator: ", ")): LXC's filter on \(host) hosts does not cover them; its calls are killed")
      }
      let extra = version == .v1 ? [] : lxcABIs.filter { !profileABIs.contains($0) }
      if !extra.isEmpty {
        warnings.append(
          "\(extra.map(\.name).joined(separator: ", ")): not in the profile's architectures, so its filter kills their calls; LXC's filter on "
            + "\(host) hosts applies every line to them as well (list them in architectures to say what they get)")
      }

      // The ABIs whose calls the file decides: version 1 the native one only.
      let decided = version == .v1 ? Array(covered.prefix(1)) : covered
      var classes: [String: [(Arch, Class)]] = [:]
      for ap in decided {
        for (name, nr) in SyscallTable.entries(in: ap.arch.abi) {
          classes[name, default: []].append((ap.arch, classify(ap, nr)))
          if ap.arch == native { numbers[name] = nr }
        }
      }

      var divergent: [String: [String]] = [:]
      var closedNames: [String: [String]] = [:]
      for name in classes.keys.sorted() {
        let perABI = classes[name]!
        if let rules = perABI.lazy.compactMap({ if case .conditional(let r) = $0.1 { r } else { nil } }).first {
          handleConditional(name, rules, perABI: perABI, closed: &closedNames)
          continue
        }
        let actions = perABI.map { if case .fixed(let a) = $0.1 { a } else { SeccompAction.allow } }
        var chosen = actions[0]
        if Set(actions).count > 1 {
          let strongest = actions.min { $0.kind < $1.kind }!
          if strongest.kind < chosen.kind { chosen = strongest }
          let list = zip(perABI, actions).map { "\($0.0.0): \($0.1)" }.joined(separator: ", ")
          divergent["(\(list)); LXC applies one line to every ABI: \(chosen)", default: []].append(name)
        }
        fixed[name] = approximate(chosen, for: name)
      }
      for (why, names) in divergent.sorted(by: { $0.key < $1.key }) {
        warnings.append("\(names.joined(separator: ", ")): the profile answers differently per ABI \(why)")
        inexact.formUnion(names)
      }
      for (why, names) in closedNames.sorted(by: { $0.key < $1.key }) {
        warnings.append("\(names.joined(separator: ", ")): \(why)")
      }

      addRuntimeCalls(runtimeCalls, nativePolicy)
      if version == .v2 { checkMultiplexed(covered) }

      for (why, names) in approximations.sorted(by: { $0.key < $1.key }) {
        warnings.append("\(why) (\(names.sorted().joined(separator: ", ")))")
      }
      if version == .v1 { versionOneLosses(covered: covered) }
      if nativePolicy.enosysAbove != nil, defaultAction != .errno(SeccompAction.enosys) {
        notes.append(
          "runc's ENOSYS for syscalls newer than the profile is written as `name errno 38` for the syscalls syscage knows; "
            + "LXC cannot match a number range, so syscalls newer than syscage's table get the default instead")
      }
      if fixed.values.contains(.userNotif) || conditional.values.contains(where: { $0.contains { $0.0 == .userNotif } })
        || defaultAction == .userNotif
      {
        warnings.append(
          "notify: LXC hands these calls to the supervisor at lxc.seccomp.notify.proxy; without one in the container's configuration they block")
      }
      for flag in policy.flags where flag != .tsync {
        warnings.append("\(flag.rawValue): LXC does not set this filter flag")
      }
      if let path = profile.listenerPath, !path.isEmpty {
        warnings.append("listenerPath \(path): LXC hands notify calls to lxc.seccomp.notify.proxy instead; set it in the container's configuration")
      }
    }

    /// A name with argument rules: its lines, or (when LXC cannot say them) its most
    /// restrictive answer for every call.
    mutating func handleConditional(
      _ name: String, _ rules: [Rule], perABI: [(Arch, Class)], closed: inout [String: [String]]
    ) {
      let ap = policy.policy(for: perABI[0].0)!
      func failClosed(_ why: String) {
        let reachesDefault = !rules.contains { $0.conditions.isEmpty }
        var candidates = rules.map(\.action)
        if reachesDefault { candidates.append(ap.defaultAction) }
        let strongest = candidates.enumerated().min { a, b in
          a.element.kind != b.element.kind ? a.element.kind < b.element.kind : a.offset < b.offset
        }!.element
        let a = approximate(strongest, for: name)
        fixed[name] = a
        inexact.insert(name)
        let list = rules.map { r -> String in
          var r = r
          r.source = ""
          return r.description
        }.joined(separator: "; ")
        closed["\(why) (\(list)); \(a == defaultAction ? "left to the default" : "written as \(LXCConversion.word(a))") for every call (fail closed)", default: []].append(name)
      }
      if version == .v1 {
        return failClosed("version 1 has no argument rules")
      }
      if rules.contains(where: { r in Set(r.conditions.map(\.index)).count != r.conditions.count }) {
        return failClosed("two conditions on one argument in one rule make LXC refuse the file")
      }
      var lines: [(SeccompAction, [Condition])] = []
      var dropped: [SeccompAction] = []
      for r in rules {
        let a = approximate(r.action, for: name)
        if a == defaultAction { dropped.append(a) } else { lines.append((a, r.conditions)) }
      }
      // libseccomp lets a line without arguments decide every call of its syscall: the
      // more restrictive argument rules the profile gives it would be lost.
      if let plain = lines.first(where: { $0.1.isEmpty })?.0, lines.contains(where: { !$0.1.isEmpty && $0.0.kind < plain.kind }) {
        return failClosed("a line without arguments makes libseccomp ignore the syscall's more restrictive argument rules")
      }
      if let weakest = lines.map(\.0).max(by: { $0.kind < $1.kind }), dropped.contains(where: { $0.kind < weakest.kind }) {
        inexact.insert(name)
        warnings.append(
          "\(name): a rule whose action is the default (\(defaultAction)) cannot be written (LXC refuses it, runc drops it); "
            + "where it overlaps a rule that \(weakest.kind == .allow ? "allows" : "answers \(weakest)"), LXC answers that rule")
      }
      if lines.isEmpty {
        fixed[name] = defaultAction
      } else {
        conditional[name] = lines
      }
    }

    /// A line for `socket`, `shmget`, ... also answers the multiplexed form
    /// (`socketcall(SYS_SOCKET, ...)`) on the ABIs that have one, as libseccomp adds it:
    /// says where that is not the profile's answer.
    mutating func checkMultiplexed(_ covered: [ArchPolicy]) {
      var differ: [String: [String]] = [:]
      for (name, a) in fixed where a != defaultAction {
        for ap in covered {
          guard let route = Multiplexer.route(name, on: ap.arch)  else { continue }
          let original = LXCConversion.lxcAction(ap.decide(nr: route.number.word, args: [route.call, 0, 0, 0, 0, 0]).action).0
          var candidates = [a]
          if let mux = fixed[route.name], mux != defaultAction { candidates.append(mux) }
          let lxc = candidates.min { $0.kind < $1.kind }!
          if lxc != original {
            differ["\(ap.arch): \(route.name)", default: []].append("\(name) (\(lxc), the profile \(original))")
            inexact.insert(route.name)
          }
        }
      }
      for (where_, names) in differ.sorted(by: { $0.key < $1.key }) {
        warnings.append(
          "\(where_): libseccomp gives the multiplexed calls the answer of the line of their name, unlike the profile: \(names.sorted().joined(separator: ", "))")
      }
    }

    /// Allows LXC's own calls that the profile leaves to its default (allow-lists), and
    /// says which calls the profile refuses.
    mutating func addRuntimeCalls(_ calls: [String], _ nativePolicy: ArchPolicy) {
      var refused: [String] = []
      for call in calls {
        guard let nr = native.number(of: call) else { continue }
        let decision = nativePolicy.decide(nr: nr.word, args: Self.zeros)
        let leftToDefault: Bool
        switch decision.reason {
        case .defaultAction, .enosysStub: leftToDefault = conditional[call] == nil
        default: leftToDefault = false
        }
        if !isDenyList && leftToDefault {
          if fixed[call] != .allow {
            fixed[call] = .allow
            runtimeAdded.insert(call)
          }
        } else if let a = fixed[call], !a.permits {
          refused.append("\(call) (\(a))")
        } else if conditional[call] != nil {
          refused.append("\(call) (argument rules)")
        }
      }
      if !refused.isEmpty {
        warnings.append(
          "LXC makes these calls after loading the filter, and the profile refuses them: \(refused.joined(separator: ", ")); the container may not start")
      }
    }

    /// What version 1 loses: every answer but allow becomes a kill, on the native ABI only.
    mutating func versionOneLosses(covered: [ArchPolicy]) {
      let others = covered.dropFirst().map(\.arch.name)
      if !others.isEmpty {
        warnings.append("version 1 covers \(native) only: calls from \(others.joined(separator: ", ")) are killed")
      }
      if defaultAction != .killThread {
        warnings.append("version 1 kills (SIGSYS) every call it does not list: the profile's default (\(policy.arches[0].defaultAction)) becomes a kill")
      }
      var killed: [SeccompAction: [String]] = [:]
      for (name, a) in fixed where !a.permits && a != defaultAction && numbers[name] != nil {
        killed[a, default: []].append(name)
      }
      for (a, names) in killed.sorted(by: { $0.key.returnValue < $1.key.returnValue }) {
        inexact.formUnion(names)
        warnings.append("version 1 can only allow: \(names.sorted().joined(separator: ", ")) (\(a) in the profile) are killed instead")
      }
      if policy.arches[0].enosysAbove != nil {
        notes.append("version 1 kills syscalls newer than the profile instead of answering ENOSYS")
      }
    }

    /// The file's text.
    func render(header: [String]) -> String {
      switch version {
      case .v1: renderVersionOne()
      case .v2: renderVersionTwo(header: header)
      }
    }

    func renderVersionOne() -> String {
      var lines = ["1", "allowlist"]
      let allowed = fixed.filter { $0.value.permits }.compactMap { name, _ in numbers[name].map { (name, $0) } }
      for (name, nr) in allowed.sorted(by: { $0.1 < $1.1 }) {
        lines.append("\(nr.rawValue) # \(name)")
      }
      return lines.joined(separator: "\n") + "\n"
    }

    func renderVersionTwo(header: [String]) -> String {
      var lines = ["2", isDenyList ? "denylist" : "allowlist \(LXCConversion.word(defaultAction))"]
      var comments = header
      let abis = LXCPolicyArch.abis(onHost: host).map(\.name).joined(separator: ", ")
      comments.append("LXC policy version 2 (lxc.seccomp.profile); on \(host) hosts LXC applies every line to each of its ABIs (\(abis)).")
      if !runtimeAdded.isEmpty {
        comments.append("LXC's own calls after it loads the filter, allowed so that the container starts: \(runtimeAdded.sorted().joined(separator: " ")).")
      }
      comments += notes
      if !warnings.isEmpty {
        comments.append("")
        comments.append("Not expressible exactly in LXC:")
        comments += warnings.map { "- " + $0 }
      }
      lines += comments.map { $0.isEmpty ? "#" : "# " + $0.split(separator: "\n").joined(separator: " ") }
      lines.append(LXCPolicyArch.section(forHost: host) ?? "[all]")
      let names = Set(fixed.filter { $0.value != defaultAction }.keys).union(conditional.keys)
      for name in names.sorted() {
        if let a = fixed[name] {
          lines.append(!isDenyList && a == .allow ? name : "\(name) \(LXCConversion.word(a))")
        } else {
          for (a, conditions) in conditional[name] ?? [] {
            lines.append(([name, LXCConversion.word(a)] + (conditions.isEmpty ? [] : [conditions.map(LXCConversion.argument).joined()])).joined(separator: " "))
          }
        }
      }
      return lines.joined(separator: "\n") + "\n"
    }
  }
}
