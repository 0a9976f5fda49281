import Seccomp
import Syscalls

/// A profile as systemd unit settings: `SystemCallArchitectures=`, `SystemCallFilter=`
/// (with systemd's groups where a whole group has one outcome), `SystemCallErrorNumber=`,
/// `SystemCallLog=`, and the sandboxing settings that carry some argument rules
/// (`RestrictAddressFamilies=`, `RestrictNamespaces=`, `LockPersonality=`).
///
/// systemd's semantics, which the conversion follows:
/// - An allow-list (`SystemCallFilter=name...`, the first such line) answers every other
///   call with `SystemCallErrorNumber=` (kill when unset), and always allows the `@default`
///   group; later `~name` lines remove names from it, and `~name:ERRNO` (systemd >= 247)
///   gives a name its own errno. A deny-list (`SystemCallFilter=~name...`) allows all
///   others; `name:ERRNO` sets a name's errno, a plain name is killed.
/// - `SystemCallLog=` installs a separate filter that logs; the kernel takes the most
///   restrictive answer of all filters.
/// - `RestrictAddressFamilies=` is not applied on ABIs that reach socket() through
///   socketcall (x86, s390, ppc, mips o32); a refused family fails with EAFNOSUPPORT.
/// - `RestrictNamespaces=` refuses (EPERM) clone and unshare with a refused CLONE_NEW* flag,
///   setns into such a namespace or with nstype 0, and answers clone3 with ENOSYS.
/// - `LockPersonality=yes` refuses personality() with anything but the current personality
///   (PER_LINUX), including the 0xffffffff query.
///
/// Everything the settings cannot say is in `warnings`; a syscall whose argument rules
/// cannot be carried gets, for every call, the most restrictive answer it can get (fail closed).
public struct SystemdConversion: Sendable {
  /// `Key=value` lines, in order.
  public var directives: [String]
  /// What could not be expressed exactly, one sentence each.
  public var warnings: [String]
  /// Limits that concern syscalls newer than syscage's table only, one sentence each.
  public var notes: [String]
  /// Comment lines for the top of the file (without `#`).
  public var header: [String]
  /// The syscalls the warnings speak about: their answer under systemd may differ from
  /// the profile's for some call (approximated actions, argument rules carried by a
  /// sandboxing setting or failed closed, answers that differ per ABI).
  public var inexact: Set<String>

  /// A drop-in: the header and the warnings as comments, then `[Service]` and the directives.
  public var text: String {
    Self.settingsFile(comments: header + notes, warnings: warnings, of: "systemd", section: "Service", directives: directives)
  }

  /// `KEY=PREFIXitem item ...` lines of at most about 100 characters of items (systemd
  /// and systemd-nspawn add repeated lines up).
  static func wrappedLines(_ key: String, _ items: [String], prefix: String = "") -> [String] {
    var lines: [String] = []
    var line: [String] = []
    var length = 0
    for item in items {
      if length + item.count > 100 && !line.isEmpty {
        lines.append("\(key)=\(prefix)" + line.joined(separator: " "))
        line = []
        length = 0
      }
      line.append(item)
      length += item.count + 1
    }
    if !line.isEmpty { lines.append("\(key)=\(prefix)" + line.joined(separator: " ")) }
    return lines
  }

  /// A systemd-style settings file: `comments` and `warnings` (under "Not expressible
  /// exactly in `what`:") as `#` lines, then `[section]` and the directives.
  static func settingsFile(comments: [String], warnings: [String], of what: String, section: String, directives: [String]) -> String {
    var lines = comments.map(YAMLValue.commentLine)
    if !warnings.isEmpty {
      lines.append("#")
      lines.append("# Not expressible exactly in \(what):")
      lines += warnings.map { YAMLValue.commentLine("- " + $0) }
    }
    lines.append("[\(section)]")
    lines += directives
    return lines.joined(separator: "\n") + "\n"
  }

  /// Groups that are syscage's own, or that systemd computes from the running kernel.
  static let excludedGroups: Set<String> = ["@default", "@known", "@docker-default-refused"]

  /// What systemd can do to one call.
  enum Outcome: Hashable, Comparable {
    case kill
    case errno(UInt16)
    case log
    case allow

    var permits: Bool { self == .allow || self == .log }
  }

  public init(profile: Profile, target: ConversionTarget, header: [String] = []) {
    var b = Builder(profile: profile, target: target)
    b.build()
    directives = b.directives
    warnings = b.warnings
    notes = b.notes
    inexact = b.inexact
    self.header =
      header + [
        "Expanded for \(target.describe(for: profile)).",
        "Per-syscall errnos (name:ERRNO) need systemd >= 247; the groups are systemd's as syscage knows them",
        "(a newer systemd may add members to a group).",
        "Not for systemd-nspawn: its SystemCallFilter= takes names and groups only, and a name:ERRNO entry",
        "there matches no call (~mkdir:EPERM leaves mkdir allowed); `syscage convert --to nspawn` writes its file.",
      ]
  }

  /// Whether the drop-in sets `SystemCallErrorNumber=`.
  public var setsErrorNumber: Bool { directives.contains { $0.hasPrefix("SystemCallErrorNumber=") } }

  /// The conversion's working state.
  struct Builder {
    let profile: Profile
    let target: ConversionTarget
    let policy: Policy
    let native: Arch
    var directives: [String] = []
    var warnings: [String] = []
    var notes: [String] = []

    /// Every syscall name that exists on some target ABI.
    var universe: Set<String> = []
    /// The outcome of each name under systemd.
    var outcome: [String: Outcome] = [:]
    /// Names allowed in the filter only because a sandboxing setting narrows them.
    var narrowed: Set<String> = []
    /// Rule-level approximations, grouped by the sentence that explains them.
    var approximations: [String: [String]] = [:]
    /// See `SystemdConversion.inexact`.
    var inexact: Set<String> = []

    init(profile: Profile, target: ConversionTarget) {
      self.profile = profile
      self.target = target
      policy = Policy(profile: profile, options: target.policyOptions)
      native = policy.arches.first?.arch ?? target.context.native
    }

    /// systemd's nearest answer to a seccomp action, noting the approximation.
    mutating func systemdOutcome(_ a: SeccompAction, for name: String?) -> Outcome {
      func note(_ why: String) {
        approximations[why, default: []].append(name ?? "the default action")
        if let name { inexact.insert(name) }
      }
      switch a.kind {
      case .allow: return .allow
      case .log: return .log
      case .errno: return .errno(min(a.data, 4095))
      case .killProcess: return .kill
      case .killThread:
        note("SCMP_ACT_KILL_THREAD: systemd kills the whole process")
        return .kill
      case .trap:
        note("SCMP_ACT_TRAP: systemd cannot trap; the process is killed (SIGSYS) instead")
        return .kill
      case .trace:
        note("SCMP_ACT_TRACE: systemd cannot hand calls to a tracer; they fail with ENOSYS, as without a tracer")
        return .errno(SeccompAction.enosys)
      case .userNotif:
        note("SCMP_ACT_NOTIFY: systemd has no user-notification supervisor; the calls fail with ENOSYS")
        return .errno(SeccompAction.enosys)
      }
    }

    func errnoText(_ e: UInt16) -> String { ConversionTables.errnoName(e, for: native) }

    func describe(_ o: Outcome) -> String {
      switch o {
      case .allow: "allowed"
      case .log: "allowed and logged"
      case .kill: "killed"
      case .errno(let e): "\(errnoText(e))"
      }
    }

    // MARK: Build

    mutating func build() {
      let abis = policy.arches.map(\.arch)
      guard let nativePolicy = policy.arches.first else { return }

      let names = NameActions(policy: policy, native: native, engine: "systemd")
      universe = names.universe
      let defaultOutcome = systemdOutcome(nativePolicy.defaultAction, for: nil)
      for name in names.fixed.keys.sorted() { outcome[name] = systemdOutcome(names.fixed[name]!, for: name) }
      for (why, list) in names.divergent.sorted(by: { $0.key < $1.key }) {
        warnings.append("\(list.joined(separator: ", ")): the profile answers differently per ABI \(why)")
        inexact.formUnion(list)
      }
      var conditional = names.conditional

      // Argument rules: the ones a sandboxing setting can carry, then the rest (fail closed).
      var extra: [String] = []
      handleSocket(&conditional, &extra, abis: abis)
      handleNamespaces(&conditional, &extra)
      handlePersonality(&conditional, &extra)
      for (name, rules) in conditional.sorted(by: { $0.key < $1.key }) {
        let closed = names.closedAction(name, rules)
        let o = systemdOutcome(closed, for: name)
        outcome[name] = o
        let list = rules.map { $0.description }.joined(separator: "; ")
        warnings.append("\(name): argument rules cannot be expressed (\(list)); \(name) is \(describe(o)) for every call (fail closed)")
        inexact.insert(name)
      }

      for (why, names) in approximations.sorted(by: { $0.key < $1.key }) {
        warnings.append("\(why) (\(names.joined(separator: ", ")))")
      }

      // SystemCallArchitectures=
      var archNames: [String] = []
      for a in abis {
        if let n = ConversionTables.systemdArchName(a) {
          archNames.append(n)
        } else {
          warnings.append("\(a): systemd has no name for this ABI; left out of SystemCallArchitectures= (its calls are killed)")
        }
      }
      if !archNames.isEmpty { directives.append("SystemCallArchitectures=" + archNames.joined(separator: " ")) }

      // The filter.
      switch nativePolicy.defaultAction.kind {
      case .allow, .log: buildDenyList(logDefault: nativePolicy.defaultAction.kind == .log)
      default: buildAllowList(defaultOutcome: defaultOutcome)
      }

      if nativePolicy.enosysAbove != nil, defaultOutcome != .errno(SeccompAction.enosys) {
        notes.append(
          "runc's ENOSYS for syscalls newer than the profile is written as name:ENOSYS for the syscalls syscage knows; "
            + "systemd cannot match a number range, so syscalls newer than syscage's table get the default instead")
      }
      for flag in policy.flags where flag != .tsync {
        warnings.append("\(flag.rawValue): systemd does not set this filter flag")
      }
      if let path = profile.listenerPath, !path.isEmpty {
        warnings.append("listenerPath \(path): systemd cannot hand calls to a seccomp agent")
      }
      directives += extra
      if !directives.contains(where: { $0.hasPrefix("SystemCallErrorNumber=") }) { notes.append(killNote(defaultOutcome)) }
    }

    /// What a unit does on a refused call when the drop-in sets no SystemCallErrorNumber=:
    /// systemd kills the process (SIGSYS) unless the entry carries its own `:ERRNO`.
    func killNote(_ defaultOutcome: Outcome) -> String {
      let head = "no SystemCallErrorNumber=: systemd kills the process (SIGSYS) on a refused call that has no :ERRNO of its own"
      let killed = names(with: .kill)
      let deniesByDefault = !(policy.arches.first?.defaultAction.permits ?? true)
      if deniesByDefault && defaultOutcome == .kill {
        return head + "; here every call outside the allow-list is killed, as the profile's default action says"
      }
      if killed.isEmpty {
        return head + "; here every refused call carries its errno, so none is killed"
      }
      let shown = killed.prefix(12).joined(separator: ", ") + (killed.count > 12 ? ", ..." : "")
      return head + "; here \(killed.count) call\(killed.count == 1 ? " is" : "s are") killed, as the profile says (\(shown))"
    }

    /// The names whose outcome is `o`, sorted.
    func names(with o: Outcome) -> [String] {
      outcome.filter { $0.value == o }.map(\.key).sorted()
    }

    /// Covers `names` with systemd groups whose every member on the target ABIs has an
    /// outcome in `allowedOutcomes` (and is not narrowed), largest first; returns the
    /// groups and the names left to list.
    func cover(_ names: Set<String>, eligible: (String) -> Bool) -> (groups: [String], rest: [String]) {
      var candidates: [(String, Set<String>)] = []
      for g in SyscallGroups.names where !SystemdConversion.excludedGroups.contains(g) {
        let members = Set(SyscallGroups.expand(g) ?? []).intersection(universe)
        guard !members.isEmpty, members.allSatisfy(eligible) else { continue }
        candidates.append((g, members))
      }
      var uncovered = names
      var chosen: [String] = []
      // Greedy: the group covering most of what is left; ties go to the larger group, then by name.
      func better(_ a: (name: String, size: Int, gain: Int), than b: (name: String, size: Int, gain: Int)) -> Bool {
        if a.gain != b.gain { return a.gain > b.gain }
        if a.size != b.size { return a.size > b.size }
        return a.name < b.name
      }
      while true {
        var best: (name: String, size: Int, gain: Int)? = nil
        var bestMembers: Set<String> = []
        for (g, members) in candidates {
          let here = (name: g, size: members.count, gain: members.intersection(uncovered).count)
          if best == nil || better(here, than: best!) {
            best = here
            bestMembers = members
          }
        }
        guard let best, best.gain >= 2 else { break }
        chosen.append(best.name)
        uncovered.subtract(bestMembers)
      }
      return (chosen, uncovered.sorted())
    }

    /// `Key=` lines of at most about 100 characters (systemd adds up repeated lines).
    mutating func emit(_ key: String, _ items: [String], prefix: String = "") {
      directives += SystemdConversion.wrappedLines(key, items, prefix: prefix)
    }

    mutating func buildAllowList(defaultOutcome: Outcome) {
      let implicit = Set(SyscallGroups.expand("@default") ?? []).intersection(universe)
      let allowed = Set(outcome.filter { $0.value.permits }.map(\.key))
      let toList = allowed.subtracting(implicit)
      let (groups, rest) = cover(toList) { outcome[$0] == .allow && !narrowed.contains($0) }
      var items = groups + rest
      if items.isEmpty { items = ["@default"] }  // an allow-list line must come first
      emit("SystemCallFilter", items)

      // Exceptions: names denied otherwise than by the default, and @default members the profile denies.
      var exceptions: [String] = []
      for name in outcome.keys.sorted() {
        let o = outcome[name]!
        if o.permits { continue }
        switch o {
        case defaultOutcome where implicit.contains(name): exceptions.append(name)
        case defaultOutcome: break
        case .kill: exceptions.append(name + ":kill")
        case .errno(let e): exceptions.append(name + ":" + errnoText(e))
        default: break
        }
      }
      emit("SystemCallFilter", exceptions, prefix: "~")
      switch defaultOutcome {
      case .errno(let e): directives.append("SystemCallErrorNumber=" + errnoText(e))
      default: break
      }
      let logged = names(with: .log)
      if !logged.isEmpty { emit("SystemCallLog", logged) }
    }

    mutating func buildDenyList(logDefault: Bool) {
      var items: [String] = []
      let denied = Dictionary(grouping: outcome.filter { !$0.value.permits }, by: \.value)
      for (o, members) in denied.sorted(by: { $0.key < $1.key }) {
        let suffix: String
        switch o {
        case .errno(let e): suffix = ":" + errnoText(e)
        default: suffix = ""
        }
        let (groups, rest) = cover(Set(members.map(\.key))) { outcome[$0] == o && !narrowed.contains($0) }
        items += (groups + rest).map { $0 + suffix }
      }
      emit("SystemCallFilter", items, prefix: "~")
      if logDefault {
        let quiet = Set(names(with: .allow))
        if quiet.isEmpty {
          directives.append("SystemCallLog=@known")
        } else {
          let (groups, rest) = cover(quiet) { outcome[$0] == .allow && !narrowed.contains($0) }
          emit("SystemCallLog", groups + rest, prefix: "~")
        }
      } else {
        let logged = names(with: .log)
        if !logged.isEmpty { emit("SystemCallLog", logged) }
      }
    }

    // MARK: Argument rules systemd settings can carry

    /// `socket` rules on the family (a0) only: RestrictAddressFamilies=.
    mutating func handleSocket(_ conditional: inout [String: [Rule]], _ extra: inout [String], abis: [Arch]) {
      guard let rules = conditional["socket"],
        rules.allSatisfy({ $0.conditions.allSatisfy { $0.index == 0 } }),
        let ap = policy.arches.first(where: { $0.arch.number(of: "socket") != nil }),
        let nr = ap.arch.number(of: "socket")
      else { return }
      var allowedFamilies: [Int] = []
      var deniedActions: Set<SeccompAction> = []
      for family in 0..<ConversionTables.addressFamilies.count {
        let a = ap.decide(nr: nr.word, args: [UInt64(family)] + NameActions.zeros.dropFirst()).action
        if a.kind == .allow {
          allowedFamilies.append(family)
        } else if a.kind == .log {
          return  // logging some families cannot be carried; leave it to the fallback
        } else {
          deniedActions.insert(a)
        }
      }
      conditional["socket"] = nil
      let all = Set(0..<ConversionTables.addressFamilies.count)
      if allowedFamilies.isEmpty {
        let a = deniedActions.min { $0.kind < $1.kind } ?? ap.defaultAction
        outcome["socket"] = systemdOutcome(a, for: "socket")
        return
      }
      outcome["socket"] = .allow
      let denied = all.subtracting(allowedFamilies).subtracting([0]).sorted()  // AF_UNSPEC never makes a socket
      guard !denied.isEmpty else { return }
      narrowed.insert("socket")
      let names = ConversionTables.addressFamilies
      let allowList = allowedFamilies.filter { $0 != 0 }.map { names[$0] }
      if allowList.count <= denied.count {
        extra.append("RestrictAddressFamilies=" + allowList.joined(separator: " "))
      } else {
        extra.append("RestrictAddressFamilies=~" + denied.map { names[$0] }.joined(separator: " "))
      }
      let answers = deniedActions.map(\.description).sorted().joined(separator: ", ")
      inexact.insert("socket")
      warnings.append(
        "socket: refused address families (\(denied.map { names[$0] }.joined(separator: ", "))) fail with EAFNOSUPPORT under RestrictAddressFamilies=, not \(answers) as in the profile")
      let unfiltered = abis.filter { !ConversionTables.systemdFiltersAddressFamilies(on: $0) }
      if !unfiltered.isEmpty {
        warnings.append(
          "socket: systemd does not apply RestrictAddressFamilies= on \(unfiltered.map(\.name).joined(separator: ", ")) (socketcall ABIs): there every family is allowed")
      }
    }

    /// clone/unshare/setns rules that refuse CLONE_NEW* flags: RestrictNamespaces=.
    mutating func handleNamespaces(_ conditional: inout [String: [Rule]], _ extra: inout [String]) {
      let allNS = ConversionTables.allNamespaceFlags
      // The flags argument of each call, and the namespace kinds it can create.
      func flagsIndex(_ name: String) -> Int {
        switch name {
        case "clone": native == .s390 || native == .s390x ? 1 : 0
        case "setns": 1
        default: 0
        }
      }
      var masks: [String: UInt64] = [:]
      for name in ["clone", "unshare", "setns"] {
        guard let rules = conditional[name], rules.count == 1, let r = rules.first, r.action.kind == .allow,
          r.conditions.count == 1, let c = r.conditions.first,
          c.op == .maskedEqual, c.index == flagsIndex(name), c.valueTwo == 0, c.value & ~allNS == 0, c.value != 0
        else { continue }
        masks[name] = c.value
      }
      guard !masks.isEmpty else { return }
      let refused = masks.values.reduce(0, |)
      // clone cannot create time namespaces (0x80 is part of its exit signal); refuse them too.
      let retained = ConversionTables.namespaces.filter { ns in
        ns.flag & refused == 0 && !(ns.name == "time" && masks["unshare"] == nil && masks["setns"] == nil)
      }
      extra.append("RestrictNamespaces=" + (retained.isEmpty ? "yes" : retained.map(\.name).joined(separator: " ")))
      for (name, mask) in masks.sorted(by: { $0.key < $1.key }) {
        conditional[name] = nil
        outcome[name] = .allow
        narrowed.insert(name)
        if mask != refused {
          inexact.insert(name)
          warnings.append(
            "\(name): RestrictNamespaces= applies one set to clone, unshare and setns; \(name) is narrowed to it (the profile refuses only 0x\(String(mask, radix: 16)))")
        }
      }
      let ap = policy.arches[0]
      if !ap.defaultAction.permits, ap.defaultAction != .errno(SeccompAction.eperm) {
        inexact.formUnion(masks.keys)
        warnings.append("RestrictNamespaces= refuses namespace flags with EPERM, not \(ap.defaultAction) as in the profile")
      }
      for name in ["clone", "unshare", "setns"] where masks[name] == nil && outcome[name]?.permits == true {
        inexact.insert(name)
        warnings.append("\(name): allowed with any flags by the profile, but RestrictNamespaces= narrows it too")
      }
      if outcome["setns"]?.permits == true {
        inexact.insert("setns")
        warnings.append("setns: RestrictNamespaces= also refuses setns(fd, 0)")
      }
      if outcome["clone3"]?.permits == true {
        inexact.insert("clone3")
        warnings.append("clone3: allowed by the profile, but RestrictNamespaces= answers it with ENOSYS")
      }
    }

    /// personality rules that allow a few values: LockPersonality=yes keeps PER_LINUX only.
    mutating func handlePersonality(_ conditional: inout [String: [Rule]], _ extra: inout [String]) {
      guard let rules = conditional["personality"],
        rules.allSatisfy({ $0.action.kind == .allow && $0.conditions.count == 1 && $0.conditions[0].op == .equal && $0.conditions[0].index == 0 }),
        !policy.arches[0].defaultAction.permits
      else { return }
      let values = Set(rules.map { $0.conditions[0].value })
      guard values.contains(0) else { return }
      conditional["personality"] = nil
      outcome["personality"] = .allow
      narrowed.insert("personality")
      extra.append("LockPersonality=yes")
      let lost = values.subtracting([0]).sorted().map { "0x" + String($0, radix: 16) + ($0 == 0xffff_ffff ? " (the query)" : "") }
      if !lost.isEmpty {
        inexact.insert("personality")
        warnings.append(
          "personality: LockPersonality=yes allows PER_LINUX (0) only; the profile also allows \(lost.joined(separator: ", ")), refused (EPERM) under systemd")
      }
    }
  }
}

/// Each syscall name's action on a policy's ABIs, for settings that give a name one answer
/// whatever its ABI or arguments (systemd's and systemd-nspawn's `SystemCallFilter=`).
struct NameActions {
  let policy: Policy
  let native: Arch
  /// Every name that exists on some ABI of the policy.
  var universe: Set<String> = []
  /// Names with one action whatever the arguments; where ABIs disagree, the native ABI's,
  /// or the most restrictive when that is stronger.
  var fixed: [String: SeccompAction] = [:]
  /// Names whose answer depends on arguments (on the native ABI, else on the first ABI
  /// that has such rules), with those rules.
  var conditional: [String: [Rule]] = [:]
  /// Names answered differently per ABI, by the sentence that says how and what was chosen.
  var divergent: [String: [String]] = [:]
  /// The actions of each name in `divergent`, one per ABI.
  var divergentActions: [String: [SeccompAction]] = [:]

  /// A syscall's meaning on one ABI: one action whatever the arguments, or rules that
  /// look at arguments.
  enum Class: Equatable {
    case fixed(SeccompAction)
    case conditional([Rule])
  }

  static let zeros = [UInt64](repeating: 0, count: 6)

  /// `engine` names the program in the sentences (`systemd has one rule per name`).
  init(policy: Policy, native: Arch, engine: String) {
    self.policy = policy
    self.native = native
    var classes: [String: [(Arch, Class)]] = [:]
    for ap in policy.arches {
      for (name, nr) in SyscallTable.entries(in: ap.arch.abi) {
        universe.insert(name)
        classes[name, default: []].append((ap.arch, Self.classify(ap, nr)))
      }
    }
    for name in universe.sorted() {
      let perABI = classes[name] ?? []
      let home = perABI.first { $0.0 == native } ?? perABI[0]
      if case .conditional(let rules) = home.1 {
        conditional[name] = rules
        continue
      }
      var actions: [SeccompAction] = []
      var rulesElsewhere: [Rule]? = nil
      for (_, c) in perABI {
        switch c {
        case .fixed(let a): actions.append(a)
        case .conditional(let rules): rulesElsewhere = rulesElsewhere ?? rules
        }
      }
      if let rulesElsewhere {
        conditional[name] = rulesElsewhere
        continue
      }
      var chosen = actions[perABI.firstIndex { $0.0 == home.0 } ?? 0]
      if Set(actions).count > 1 {
        let strongest = actions.min { $0.kind < $1.kind }!
        if strongest.kind < chosen.kind { chosen = strongest }
        let list = zip(perABI, actions).map { "\($0.0.0): \($0.1)" }.joined(separator: ", ")
        divergent["(\(list)); \(engine) has one rule per name: \(chosen)", default: []].append(name)
        divergentActions[name] = actions
      }
      fixed[name] = chosen
    }
  }

  static func classify(_ ap: ArchPolicy, _ nr: SyscallNumber) -> Class {
    // Rules made for the socketcall/ipc multiplexers are libseccomp's business under systemd.
    let rules = ap.rules.filter { $0.number == nr && !$0.source.contains(" via ") }
    let conditional = rules.filter { !$0.conditions.isEmpty }
    let fixed = ap.decide(nr: nr.word, args: Self.zeros).action
    if conditional.isEmpty { return .fixed(fixed) }
    let unconditional = rules.enumerated().filter { $0.element.conditions.isEmpty }
    guard let strongest = unconditional.min(by: { $0.element.action.kind < $1.element.action.kind }) else {
      return .conditional(rules)
    }
    let a = strongest.element.action
    let dominated = rules.enumerated().allSatisfy { (i, r) in
      r.conditions.isEmpty || r.action.kind > a.kind
        || (r.action.kind == a.kind && (r.action.data == a.data || i > strongest.offset))
    }
    return dominated ? .fixed(a) : .conditional(rules)
  }

  /// The most restrictive answer a call of `name` can get from `rules` (and from the
  /// default action when some call matches none of them): the fail-closed answer for every call.
  func closedAction(_ name: String, _ rules: [Rule]) -> SeccompAction {
    let ap = policy.arches.first { $0.arch.number(of: name) != nil } ?? policy.arches[0]
    let reachesDefault = !rules.contains { $0.conditions.isEmpty }
    var candidates = rules.map(\.action)
    if reachesDefault { candidates.append(ap.defaultAction) }
    return candidates.enumerated().min { a, b in
      a.element.kind != b.element.kind ? a.element.kind < b.element.kind : a.offset < b.offset
    }!.element
  }
}
