import Seccomp
import Syscalls

/// The checks of `Lint.run`, over one profile and the policy it builds.
struct Linter {
  let profile: Profile
  let options: PolicyOptions
  let policy: Policy
  /// Entries that apply on the host the options describe, with their index in the file.
  let entries: [(index: Int, entry: SyscallEntry)]
  /// Each ABI's rules by number, in file order (so no check scans every rule per call).
  let rulesByNumber: [Arch: [SyscallNumber: [Rule]]]
  var findings: [LintFinding] = []

  init(profile: Profile, options: PolicyOptions) {
    self.profile = profile
    self.options = options
    self.policy = Policy(profile: profile, options: options)
    self.entries = (profile.syscalls ?? []).enumerated()
      .filter { Profile.entryApplies($0.element, in: options.context) }
      .map { ($0.offset, $0.element) }
    var byNumber: [Arch: [SyscallNumber: [Rule]]] = [:]
    for ap in policy.arches { byNumber[ap.arch] = Dictionary(grouping: ap.rules, by: \.number) }
    self.rulesByNumber = byNumber
  }

  /// `ap.rules(for: number)`, from the index.
  func rules(_ ap: ArchPolicy, _ number: SyscallNumber) -> [Rule] { rulesByNumber[ap.arch]?[number] ?? [] }

  /// `ap.allowance(of: number)`, from the index.
  func allowance(_ ap: ArchPolicy, _ number: SyscallNumber) -> Allowance? { ap.allowance(of: number, rules: rules(ap, number)) }

  var arches: [Arch] { policy.arches.map(\.arch) }
  var defaultAction: SeccompAction { (profile.defaultAction ?? .allow).action(errnoRet: profile.defaultErrnoRet) }
  var isDenyList: Bool { defaultAction.permits }

  /// `syscalls[3]` from a rule source such as `syscalls[3] via socketcall`.
  static func entryPath(_ source: String) -> String {
    source.split(separator: " ").first.map(String.init) ?? source
  }

  static func entryIndex(_ path: String) -> Int? {
    guard path.hasPrefix("syscalls["), let close = path.firstIndex(of: "]") else { return nil }
    return Int(path[path.index(path.startIndex, offsetBy: 9)..<close])
  }

  mutating func add(_ level: LintFinding.Level, _ id: String, path: String = "", arches: [Arch] = [], _ message: String, lists: [LintList] = []) {
    findings.append(LintFinding(level, id, path: path, arches: arches, message, lists: lists))
  }

  func ordered(_ set: Set<Arch>) -> [Arch] { arches.filter { set.contains($0) } }

  mutating func runAll() {
    checkUnknownNames()
    checkDangerous()
    checkIoUring()
    checkEssentials()
    checkLibcProbes()
    checkActions()
    checkConditions()
    checkSameArgumentTwice()
    checkCloneFlags()
    checkMultiplexed()
    checkRedundantRules()
    checkOverlaps()
    checkDenyListEquivalents()
    checkDenyList32Bit()
  }

  // MARK: names

  mutating func checkUnknownNames() {
    for (i, entry) in entries {
      var missingBy: [[Arch]: [String]] = [:]
      var order: [[Arch]] = []
      for (j, name) in entry.names.enumerated() {
        guard SyscallTable.isKnown(name) else {
          let near = SyscallTable.suggestions(for: name)
          add(.warning, "unknown-syscall", path: "syscalls[\(i)].names[\(j)]",
            "'\(name)' is not a syscall on any ABI, so it makes no rule (runc skips it silently)"
              + (near.isEmpty ? "" : "; did you mean \(near.joined(separator: ", "))?"))
          continue
        }
        // A socket or ipc call without a number of its own still makes a rule through socketcall/ipc.
        let missing = arches.filter { !Profile.makesRule(name, on: [$0]) }
        guard !missing.isEmpty else { continue }
        if missingBy[missing] == nil { order.append(missing) }
        missingBy[missing, default: []].append(name)
      }
      for missing in order {
        let names = missingBy[missing]!
        let none = missing.count == arches.count
        add(.info, "syscall-missing-on-arch", path: "syscalls[\(i)]", arches: missing,
          "\(names.count == 1 ? "'\(names[0])' does" : "\(names.count) names do") not exist on "
            + (none ? "any ABI of this filter" : missing.map(\.name).joined(separator: ", "))
            + " and make no rule there", lists: names.count == 1 ? [] : [LintList("names", names)])
      }
    }
  }

  // MARK: what is allowed

  /// For each name, the ABIs on which some call of it is allowed, with the first allowance.
  func allowed(_ names: [String]) -> [(name: String, arches: [Arch], allowance: Allowance)] {
    var out: [(String, [Arch], Allowance)] = []
    for name in names {
      var on: [Arch] = []
      var first: Allowance? = nil
      for ap in policy.arches {
        guard let nr = ap.arch.number(of: name), let a = allowance(ap, nr) else { continue }
        on.append(ap.arch)
        if first == nil || (first!.conditional && !a.conditional) { first = a }
      }
      if let first { out.append((name, on, first)) }
    }
    return out
  }

  func namePath(_ path: String, _ name: String) -> String {
    guard let i = Linter.entryIndex(path), let entry = profile.syscalls?[i], let j = entry.names.firstIndex(of: name) else { return path }
    return "\(path).names[\(j)]"
  }

  func how(_ a: Allowance) -> String {
    let by = a.path == "defaultAction" ? "by the default action \(defaultAction)" : "by \(a.path)"
    return "allowed \(by)" + (a.detail.isEmpty ? "" : ", \(a.detail)")
  }

  mutating func checkDangerous() {
    var groupsOf: [String: [String]] = [:]
    for g in Lint.dangerousGroups {
      for n in SyscallGroups.expand(g) ?? [] { groupsOf[n, default: []].append(g) }
    }
    let ioUring: Set<String> = ["io_uring_setup", "io_uring_enter", "io_uring_register"]
    let names = groupsOf.keys.filter { !ioUring.contains($0) }.sorted()
    var hits = allowed(names)
    hits.sort { ($0.allowance.path, $0.name) < ($1.allowance.path, $1.name) }
    // A deny-list allows most of them by its default action: one finding per level, not one per call.
    let byDefault = hits.filter { $0.allowance.path == "defaultAction" && !$0.allowance.conditional }
    hits.removeAll { $0.allowance.path == "defaultAction" && !$0.allowance.conditional }
    for level in [LintFinding.Level.warning, .info] {
      let some = byDefault.filter { (groupsOf[$0.name]! == ["@privileged"] ? LintFinding.Level.info : .warning) == level }
      guard !some.isEmpty else { continue }
      let on = arches.filter { a in some.contains { $0.arches.contains(a) } }
      // One list per combination of groups, in the order of their first call.
      var lists: [LintList] = []
      for hit in some {
        let label = groupsOf[hit.name]!.joined(separator: ", ")
        if let k = lists.firstIndex(where: { $0.label == label }) { lists[k].names.append(hit.name) } else { lists.append(LintList(label, [hit.name])) }
      }
      add(level, "dangerous-syscall-allowed", path: "defaultAction", arches: on,
        "the default action \(defaultAction) allows \(some.count) dangerous call\(some.count == 1 ? "" : "s") no rule denies, listed below by group. Deny them"
          + (lists.contains { $0.label.contains("@docker-default-refused") }
            ? " (@docker-default-refused: Docker's default does not allow them without an extra capability)" : ""), lists: lists)
    }
    for (name, on, a) in hits {
      let groups = groupsOf[name]!
      let refusedByDocker = groups.contains("@docker-default-refused")
      let systemd = groups.filter { $0 != "@docker-default-refused" }
      var why: [String] = []
      if refusedByDocker { why.append("Docker's default profile does not allow it without an extra capability") }
      if !systemd.isEmpty { why.append("it is in systemd's \(systemd.joined(separator: ", "))") }
      var level: LintFinding.Level = groups == ["@privileged"] ? .info : .warning
      var gate = ""
      if let i = Linter.entryIndex(a.path), let caps = profile.syscalls?[i].includes?.caps, !caps.isEmpty {
        level = .info
        gate = "; the entry applies only because the program has \(caps.joined(separator: ", ")), and the kernel checks that too"
      }
      let advice = ContainerRuntime.runc.callsAfterFilter().contains(name)
        ? "\(name) is among the calls runc makes after installing the filter; keep it if the profile is for runc (record --for adds them)"
        : "Remove it unless the program needs it"
      add(level, "dangerous-syscall-allowed", path: namePath(a.path, name), arches: on,
        "\(name) is \(how(a)): \(why.joined(separator: "; "))\(gate). \(advice)")
    }
  }

  mutating func checkIoUring() {
    for (name, on, a) in allowed(Lint.ioUringCalls) {
      add(.error, "io-uring-allowed", path: namePath(a.path, name), arches: on,
        "\(name) is \(how(a)): \(Lint.ioUringBypass). Deny io_uring_setup, io_uring_enter and io_uring_register (Docker's default does)")
    }
  }

  mutating func checkEssentials() {
    guard !defaultAction.permits else { return }
    let why = [
      "exit_group": "the program cannot exit: its last call gets",
      "execve": "runc (and syscage run) install the filter before executing the program, so its execve gets",
      "rt_sigreturn": "returning from any signal handler gets",
    ]
    for name in ["exit_group", "execve", "rt_sigreturn"] {
      // One finding per action: ABIs can differ (the ENOSYS stub is per ABI).
      var byAction: [(action: SeccompAction, arches: [Arch])] = []
      for ap in policy.arches {
        guard let nr = ap.arch.number(of: name) else { continue }
        let d = ap.decide(nr: nr.word, args: [0, 0, 0, 0, 0, 0])
        guard !d.action.permits else { continue }
        if let k = byAction.firstIndex(where: { $0.action == d.action }) { byAction[k].arches.append(ap.arch) } else { byAction.append((d.action, [ap.arch])) }
      }
      for (action, on) in byAction {
        add(.error, "allow-list-missing-essential", path: "syscalls", arches: on,
          "the allow-list does not allow \(name): \(why[name]!) \(action). Add \(name) to an SCMP_ACT_ALLOW entry")
      }
    }
  }

  mutating func checkLibcProbes() {
    for name in Lint.libcProbed {
      var byPath: [String: (arches: [Arch], action: SeccompAction)] = [:]
      var order: [String] = []
      for ap in policy.arches {
        guard let nr = ap.arch.number(of: name) else { continue }
        let d = ap.decide(nr: nr.word, args: [0, 0, 0, 0, 0, 0])
        guard !d.action.permits, d.action.kind != .userNotif, d.action.kind != .trace else { continue }
        if d.action.kind == .errno && d.action.effectiveErrno == Int32(SeccompAction.enosys) { continue }
        var path = "defaultAction"
        if case .rule(let i) = d.reason { path = Linter.entryPath(ap.rules[i].source) }
        if d.reason == .defaultAction, d.action.kind == .errno { path = profile.defaultErrnoRet == nil ? "defaultAction" : "defaultErrnoRet" }
        if byPath[path] == nil { order.append(path) }
        byPath[path, default: ([], d.action)].arches.append(ap.arch)
      }
      for path in order {
        let (on, action) = byPath[path]!
        let what = action.kind == .errno
          ? "fails with errno \(action.effectiveErrno!) instead of ENOSYS: libc (glibc, musl) tries \(name) first and falls back only on ENOSYS, so the program sees the failure"
          : "gets \(action): libc tries \(name) first and would fall back on ENOSYS, but this ends the program"
        let shown = path.hasPrefix("syscalls[") ? namePath(path, name) : path
        add(.warning, "libc-probe-not-enosys", path: shown, arches: on,
          "\(name) \(what). " + (name == "clone3"
            ? "Deny it with SCMP_ACT_ERRNO and errnoRet 38 (ENOSYS), as Docker's default does"
            : "Allow it, as Docker's default does, or deny it with SCMP_ACT_ERRNO and errnoRet 38 (ENOSYS)"))
      }
    }
  }

  // MARK: actions

  mutating func checkActions() {
    func actionChecks(_ name: ActionName, errnoRet: UInt32?, path: String, errnoPath: String, what: String) {
      if name == .kill || name == .killThread {
        add(.warning, "kill-thread", path: path,
          "\(name.rawValue) kills only the calling thread: the other threads run on in a half-dead process (locks held, work lost). Use SCMP_ACT_KILL_PROCESS")
      }
      guard name == .errno, let e = errnoRet else { return }
      let data = UInt16(truncatingIfNeeded: e)
      if data == 0 {
        add(.warning, "errno-zero", path: errnoPath,
          "\(what) ERRNO with errno \(e)\(e != 0 ? " (the kernel keeps 16 bits: 0)" : ""): the call returns 0 without running, so the program believes it succeeded. Use a real errno (EPERM 1, ENOSYS 38), or SCMP_ACT_ALLOW if success is right")
      } else if e > 4095 {
        let effective = min(Int(data), 4095)
        add(.warning, "errno-too-large", path: errnoPath,
          "\(what) errno \(e) is above 4095: the kernel \(e > 0xffff ? "keeps 16 bits (\(data)) and " : "")caps it, so the call fails with errno \(effective). Use an errno below 4096")
      }
    }
    if let d = profile.defaultAction {
      actionChecks(d, errnoRet: profile.defaultErrnoRet, path: "defaultAction", errnoPath: "defaultErrnoRet", what: "the default action is")
    }
    for (i, entry) in entries {
      actionChecks(entry.action, errnoRet: entry.errnoRet, path: "syscalls[\(i)].action", errnoPath: "syscalls[\(i)].errnoRet", what: "the entry's")
    }
  }

  // MARK: argument conditions

  /// For each arch of the filter on which `name` exists, the argument type.
  func types(_ name: String, _ index: Int) -> [(arch: Arch, type: ArgumentType)] {
    arches.filter { $0.number(of: name) != nil }.map { ($0, $0.argumentType(of: name, index: index)) }
  }

  mutating func checkConditions() {
    for (i, entry) in entries {
      let action = entry.action.action(errnoRet: entry.errnoRet)
      let allows = action.permits
      for (j, c) in (entry.args ?? []).enumerated() {
        let path = "syscalls[\(i)].args[\(j)]"
        let a = "a\(c.index)"
        // MASKED_EQ with datum bits outside the mask.
        if c.op == .maskedEqual, let v2 = c.valueTwo, v2 & ~c.value != 0 {
          add(.warning, "masked-eq-datum-outside-mask", path: path,
            "\(c.written): valueTwo \(hex(v2)) has bits outside the mask \(hex(c.value)), so as written it could never match; syscage (like libseccomp) masks it to \(hex(v2 & c.value)), so the rule matches \(a) & \(hex(c.value)) == \(hex(v2 & c.value)). Write valueTwo within the mask")
        }
        var signedNames: [String] = [], signedType: [String: ArgumentType] = [:]
        var narrow: [String: [Arch]] = [:], narrowType: [String: ArgumentType] = [:]
        var wider: [String: [Arch]] = [:], widerType: [String: ArgumentType] = [:]
        for name in entry.names where SyscallTable.isKnown(name) {
          for (arch, t) in types(name, c.index) {
            if t.isSigned, [.lessThan, .lessOrEqual, .greaterThan, .greaterOrEqual].contains(c.op), signedType[name] == nil {
              signedNames.append(name)
              signedType[name] = t
            }
            if t.bits < 64 && arch.wordBits == 64 {
              narrow[name, default: []].append(arch)
              narrowType[name] = t
            }
            let datumBits = c.op == .maskedEqual ? (c.value | (c.valueTwo ?? 0)) : c.value
            if datumBits & ~t.mask != 0 {
              wider[name, default: []].append(arch)
              widerType[name] = t
            }
          }
        }
        // Order comparisons on signed arguments.
        if let name = signedNames.first, let t = signedType[name] {
          let cond = Condition(index: c.index, op: c.op, value: c.value, width: t.mask)
          let minusOne = t.mask
          let negativeMatches = cond.holds(for: minusOne)
          let failsOpen = negativeMatches == allows
          let effect = negativeMatches
            ? "negative values match (-1 is \(hex(minusOne)) unsigned), so this \(action) rule \(allows ? "lets them through" : "also catches them")"
            : "negative values (-1 is \(hex(minusOne)) unsigned) do not match, so this \(action) rule \(allows ? "refuses them" : "lets them escape")"
          add(failsOpen ? .warning : .info, "signed-order-comparison", path: path,
            "\(c.written) on \(signedNames.joined(separator: ", ")) \(a) (\(t.description.isEmpty ? "signed" : t.description)): the compare is unsigned: \(effect). "
              + (failsOpen
                ? "Deny negative values explicitly (a denying rule with \(a) & \(hex((t.mask >> 1) + 1)) == \(hex((t.mask >> 1) + 1)), MASKED_EQ)"
                : "Nothing to do if negative values are never valid here"))
        }
        // Narrow arguments under libseccomp's 64-bit compare.
        for name in entry.names where narrow[name] != nil {
          let t = narrowType[name]!
          if let (level, message) = narrowEffect(c, type: t, allows: allows, action: action, name: name) {
            add(level, "narrow-argument-64-bit-compare", path: path, arches: narrow[name]!, message)
          }
          break
        }
        // Datums wider than the argument.
        for name in entry.names where wider[name] != nil {
          let t = widerType[name]!
          let cut = Condition(index: c.index, op: c.op, value: c.value, valueTwo: c.valueTwo ?? 0, width: t.mask)
          add(.warning, "datum-wider-than-argument", path: path, arches: wider[name]!,
            "\(c.written): \(name)'s \(a) is \(t.description) (\(t.bits) bits): the kernel never sees the high bits. syscage cuts the datum to the argument's width and compares \(cut.description); "
              + "runc + libseccomp compare all 64 bits against the datum as written, so they match only calls with those high bits set (which the kernel reads as \(hex(c.value & t.mask))). Write the datum within \(t.bits) bits")
          break
        }
      }
    }
  }

  /// How a condition on a narrow argument reads under libseccomp's 64-bit compare,
  /// compared with the kernel's (and syscage's) cut one.
  func narrowEffect(_ c: ArgumentCondition, type t: ArgumentType, allows: Bool, action: SeccompAction, name: String)
    -> (LintFinding.Level, String)?
  {
    let kernel = Condition(index: c.index, op: c.op, value: c.value, valueTwo: c.valueTwo ?? 0, width: t.mask)
    let raw = Condition(index: c.index, op: c.op, value: c.value, valueTwo: c.valueTwo ?? 0, width: .max)
    let lows: [UInt64] = [c.value, c.value &- 1, c.value &+ 1, 0, 1, c.valueTwo ?? 0, t.mask, t.mask >> 1]
    let highs: [UInt64] = [0, t.mask &+ 1, ~t.mask]
    var more: UInt64? = nil, less: UInt64? = nil
    for h in highs {
      for l in lows {
        let x = h | (l & t.mask)
        let r = raw.holds(for: x), k = kernel.holds(for: x)
        if r && !k && more == nil { more = x }
        if !r && k && less == nil { less = x }
      }
    }
    let a = "a\(c.index)"
    let head = "\(c.written) on \(name)'s \(a), \(t.description) (\(t.bits) bits to the kernel): runc + libseccomp compare all 64 bits of the register"
    if let x = more {
      let failsOpen = allows
      return (failsOpen ? .warning : .info,
        "\(head), so \(a) = \(hex(x)) matches there although the kernel reads \(hex(x & t.mask)), for which the condition is false: "
          + (failsOpen
            ? "this \(action) rule fails open under runc (the kernel sees \(name) with \(a) = \(hex(x & t.mask))); syscage cuts to \(t.bits) bits and denies it"
            : "this \(action) rule fails closed under runc (it also denies \(hex(x))); syscage cuts to \(t.bits) bits"))
    }
    if let x = less {
      let failsOpen = !allows
      return (failsOpen ? .warning : .info,
        "\(head), so \(a) = \(hex(x)) does not match there although the kernel reads \(hex(x & t.mask)), for which the condition holds: "
          + (failsOpen
            ? "this \(action) rule fails open under runc (the call escapes it); syscage cuts to \(t.bits) bits and applies it"
            : "this \(action) rule fails closed under runc (such calls are refused); syscage cuts to \(t.bits) bits and allows them"))
    }
    return nil
  }

  mutating func checkSameArgumentTwice() {
    for (i, entry) in entries {
      let args = entry.args ?? []
      var byIndex: [Int: [Int]] = [:]
      for (j, c) in args.enumerated() { byIndex[c.index, default: []].append(j) }
      for index in byIndex.keys.sorted() where byIndex[index]!.count > 1 {
        let js = byIndex[index]!
        let conds = js.map { args[$0] }
        let written = conds.map(\.written)
        // Exact sets on the first ABI that has the first name.
        let name = entry.names.first { SyscallTable.isKnown($0) } ?? ""
        let width = arches.first.map { $0.argumentType(of: name, index: index).mask } ?? .max
        let sets = conds.map { ValueSet(Condition(index: index, op: $0.op, value: $0.value, valueTwo: $0.valueTwo ?? 0, width: width)) }
        var andText = "", orText = ""
        if sets.allSatisfy({ $0 != nil }) {
          let s = sets.map { $0! }
          let and = s.dropFirst().reduce(s[0]) { $0.intersection($1) }
          let or = s.dropFirst().reduce(s[0]) { $0.union($1) }
          andText = and.isEmpty ? " (never true: the entry matches no call)" : " (holds when \(and.describe("a\(index)", width: width)))"
          orText = or == .all(width) ? " (always true: the entry matches every call)" : " (holds when \(or.describe("a\(index)", width: width)))"
        }
        add(.warning, "same-argument-twice", path: "syscalls[\(i)].args[\(js[0])]",
          "\(js.count) conditions on a\(index) in one entry: syscage ANDs them, \(written.joined(separator: " && "))\(andText); "
            + "runc + libseccomp split them into separate rules that are ORed, \(written.joined(separator: " || "))\(orText). "
            + "Write one entry per alternative (OR) or a single range condition (AND)")
      }
    }
  }

  // MARK: ABI-dependent rules

  mutating func checkCloneFlags() {
    var on: [String: [Arch]] = [:]
    var order: [String] = []
    for ap in policy.arches {
      guard let clone = ap.arch.number(of: "clone"), let clone3 = ap.arch.number(of: "clone3"),
        allowance(ap, clone3) != nil
      else { continue }
      for rule in rules(ap, clone) where !rule.conditions.isEmpty {
        let path = Linter.entryPath(rule.source)
        if on[path] == nil { order.append(path) }
        if on[path]?.contains(ap.arch) != true { on[path, default: []].append(ap.arch) }
      }
    }
    for path in order {
      add(.warning, "clone-flags-while-clone3-allowed", path: path + ".args", arches: on[path]!,
        "this entry checks clone's arguments, but clone3 is allowed: clone3 takes its flags in a struct behind a pointer, which seccomp cannot read, "
          + "so the same flags get through clone3 (glibc 2.34+ tries clone3 first). Deny clone3 with SCMP_ACT_ERRNO and errnoRet 38 (ENOSYS) so libc falls back to clone")
    }
  }

  /// The multiplexer through which `name` can also be called on `arch`, and its call number.
  static func multiplexed(_ name: String, on arch: Arch) -> (name: String, call: UInt64)? {
    if let call = Multiplexer.socketcall[name], arch.number(of: "socketcall") != nil { return ("socketcall", call) }
    if let call = Multiplexer.ipc[name], arch.number(of: "ipc") != nil { return ("ipc", call) }
    return nil
  }

  /// What `mux(call, ...)` gets on one ABI under the policy, over every value of its
  /// other arguments: the distinct actions in order of restrictiveness, each with what
  /// decides it (`syscalls[0]`, `the default action`).
  static func multiplexedOutcome(_ ap: ArchPolicy, mux: String, call: UInt64) -> [(action: SeccompAction, by: String)] {
    guard let number = ap.arch.number(of: mux) else { return [] }
    var witnesses: [[UInt64]] = []
    if let d = try? SyscallDecisions.compute(arch: ap.arch, number: number, policies: [(ap, .killProcess)]) {
      let first = d.arguments.firstIndex { $0.first?.index == 0 }
      for r in 0..<d.regionCount {
        if let first, !d.arguments[first][d.cellIndices(of: r)[first]].contains(call) { continue }
        var w = d.witness(of: r)
        w[0] = call
        witnesses.append(w)
      }
    } else {
      witnesses = [[call, 0, 0, 0, 0, 0]]
    }
    var out: [(action: SeccompAction, by: String)] = []
    for w in witnesses {
      let decision = ap.decide(nr: number.word, args: w)
      guard !out.contains(where: { $0.action == decision.action }) else { continue }
      let by: String
      switch decision.reason {
      case .rule(let i): by = Linter.entryPath(ap.rules[i].source)
      case .enosysStub: by = "the ENOSYS stub"
      default: by = "the default action"
      }
      out.append((decision.action, by))
    }
    return out.sorted { $0.action.kind < $1.action.kind }
  }

  mutating func checkMultiplexed() {
    // The outcome depends only on the ABI and the multiplexed call: computed once each,
    // not once per entry (each computation reads every rule of the multiplexer).
    struct Key: Hashable { var arch: Arch, mux: String, call: UInt64 }
    var outcomes: [Key: [(action: SeccompAction, by: String)]] = [:]
    for (i, entry) in entries where !(entry.args ?? []).isEmpty {
      let action = entry.action.action(errnoRet: entry.errnoRet)
      for name in entry.names {
        // One finding per distinct outcome, with the ABIs that have it.
        var byMessage: [(level: LintFinding.Level, message: String, arches: [Arch])] = []
        for arch in arches where arch.abi.hasMultiplexers {
          guard let mux = Linter.multiplexed(name, on: arch), let ap = policy.policy(for: arch) else { continue }
          let call = "\(mux.name)(\(mux.call), ...)"
          // What syscage decides for the multiplexed form, computed on the policy.
          let key = Key(arch: arch, mux: mux.name, call: mux.call)
          let outcome = outcomes[key] ?? Linter.multiplexedOutcome(ap, mux: mux.name, call: mux.call)
          outcomes[key] = outcome
          let gets = outcome.map { "\($0.action) (\($0.by))" }.joined(separator: " or ")
          let varies = outcome.count > 1 ? ", depending on its other arguments" : ""
          let level: LintFinding.Level
          let message: String
          if action.permits {
            let through = outcome.contains { $0.action.permits }
            let verdict = outcome.allSatisfy({ $0.action.permits })
              ? "under syscage too it gets \(gets)\(varies): the argument checks are lost there. "
                + "Deny \(mux.name) (or \(call)) if 32-bit programs must not get round them"
              : through
                ? "under syscage it gets \(gets)\(varies), so some calls get through unchecked. "
                  + "Decide explicitly (deny \(mux.name), or allow it knowing the check is lost)"
                : "syscage fails closed: it gets \(gets)\(varies), so no call gets through it. "
                  + "If 32-bit programs matter, decide explicitly (deny \(mux.name), or allow it knowing the check is lost)"
            level = .warning
            message = "\(name) can also be called as \(call), whose arguments are behind a pointer, so this entry's argument checks cannot apply there; "
              + "runc + libseccomp let \(call) through whatever the arguments, and \(verdict)"
          } else {
            level = .info
            message = "\(name) can also be called as \(call), whose arguments are behind a pointer: syscage applies this \(action) rule to every \(call) call (fail closed), "
              + "whatever the arguments: it gets \(gets)\(varies)"
          }
          if let k = byMessage.firstIndex(where: { $0.message == message }) {
            byMessage[k].arches.append(arch)
          } else {
            byMessage.append((level, message, [arch]))
          }
        }
        for m in byMessage {
          add(m.level, "argument-rule-on-multiplexed-call", path: namePath("syscalls[\(i)]", name), arches: m.arches, m.message)
        }
      }
    }
  }

  mutating func checkRedundantRules() {
    // The others are the rules whose action is not the default: the same for every entry
    // checked here. Listed once per name (every ABI), in file order, so that a profile of
    // many entries is checked in linear time.
    var differing: [String: [String]] = [:]
    func differingEntries(_ name: String) -> [String] {
      if let known = differing[name] { return known }
      var paths: [String] = []
      var seen: Set<String> = []
      for ap in policy.arches {
        guard let nr = ap.arch.number(of: name) else { continue }
        for r in rules(ap, nr) where r.action != defaultAction && seen.insert(Linter.entryPath(r.source)).inserted {
          paths.append(Linter.entryPath(r.source))
        }
      }
      differing[name] = paths
      return paths
    }
    for (i, entry) in entries {
      let action = entry.action.action(errnoRet: entry.errnoRet)
      guard action == defaultAction else { continue }
      // Does it change a decision? Only if another rule for one of its names has a different action.
      var others = differingEntries(entry.names.first ?? "")
      if entry.names.count > 1 {
        var seen = Set(others)
        for name in entry.names.dropFirst() {
          for path in differingEntries(name) where seen.insert(path).inserted { others.append(path) }
        }
      }
      if others.isEmpty {
        add(.info, "rule-action-equals-default", path: "syscalls[\(i)].action",
          "the entry's action \(action) is the default action: it changes nothing (runc drops it). Remove it")
      } else {
        let shown = others.prefix(Self.listedOthers).joined(separator: ", ")
        let more = others.count > Self.listedOthers ? " and \(others.count - Self.listedOthers) more entries" : ""
        add(.warning, "rule-action-equals-default", path: "syscalls[\(i)].action",
          "the entry's action \(action) is the default action: runc drops the rule, but syscage keeps it and it takes part in precedence against \(shown)\(more), "
            + "so the two can decide differently. Remove it, or make the intent explicit in the other rules")
      }
    }
  }

  /// How many other entries a finding names before it counts the rest.
  static let listedOthers = 8

  /// Whether two rules' conditions can hold for one call: true (exactly), false, or nil (may).
  /// Whether some call matches both rules, decided exactly on the regions of their
  /// common refinement (`SyscallDecisions`); nil when that is too complex to compute.
  static func exactOverlap(_ a: Rule, _ b: Rule, arch: Arch) -> Bool? {
    // Each rule alone over a default neither uses: both match exactly where both
    // one-rule policies return their rule's action.
    let unmatched = SeccompAction.trace(0xfffe)
    let pa = ArchPolicy(arch: arch, defaultAction: unmatched, rules: [a])
    let pb = ArchPolicy(arch: arch, defaultAction: unmatched, rules: [b])
    guard a.action != unmatched, b.action != unmatched,
      let d = try? SyscallDecisions.compute(arch: arch, number: a.number, policies: [(pa, .killProcess), (pb, .killProcess)])
    else { return nil }
    return (0..<d.regionCount).contains { d.actions[0][$0] != unmatched && d.actions[1][$0] != unmatched }
  }

  static func overlap(_ a: Rule, _ b: Rule) -> (Bool?, String) {
    let indices = Set(a.conditions.map(\.index) + b.conditions.map(\.index)).sorted()
    var exact = true
    var parts: [String] = []
    for index in indices {
      let conds = (a.conditions + b.conditions).filter { $0.index == index }
      let width = conds[0].width
      var set = ValueSet.all(width)
      for c in conds {
        guard let s = ValueSet(c) else { exact = false; continue }
        set = set.intersection(s)
      }
      if set.isEmpty && exact { return (false, "") }
      if set.isEmpty { return (false, "") }
      parts.append(set.describe("a\(index)", width: width))
    }
    return (exact ? true : nil, parts.filter { !$0.hasPrefix("any ") }.joined(separator: " and "))
  }

  /// The pairs (x < y, in order) of `rules` (one syscall's) that differ in action and
  /// whose conditions may hold together. Rules whose every condition is an EQ (one per
  /// argument) on the same arguments both match only when they compare the same values
  /// (the datums are already cut to the argument's width): such rules are bucketed by
  /// their values and paired only within a bucket, so thousands of rules comparing one
  /// argument with distinct values, or all with one action, cost about linear time.
  static func overlapCandidates(_ rules: [Rule]) -> [(Int, Int)] {
    struct Arguments: Hashable { var indices: [Int]; var widths: [UInt64] }
    /// One action's rules: those that are not EQ-only, and the EQ-only ones by arguments, then values.
    struct Class { var others: [Int] = []; var equal: [Arguments: [[UInt64]: [Int]]] = [:] }
    var classes: [SeccompAction: Class] = [:]
    for (i, r) in rules.enumerated() {
      let sorted = r.conditions.sorted { $0.index < $1.index }
      let indices = sorted.map(\.index)
      if !sorted.isEmpty, sorted.allSatisfy({ $0.op == .equal }), Set(indices).count == indices.count {
        classes[r.action, default: Class()].equal[Arguments(indices: indices, widths: sorted.map(\.width)), default: [:]][
          sorted.map(\.value), default: []].append(i)
      } else {
        classes[r.action, default: Class()].others.append(i)
      }
    }
    guard classes.count > 1 else { return [] }
    var pairs: [(Int, Int)] = []
    func pair(_ x: Int, _ y: Int) { pairs.append((min(x, y), max(x, y))) }
    let all = Array(classes.values)
    for a in 0..<all.count {
      for b in (a + 1)..<all.count {
        let (ca, cb) = (all[a], all[b])
        let bAll = cb.others + cb.equal.values.flatMap { $0.values.joined() }
        let aEqual = ca.equal.values.flatMap { $0.values.joined() }
        for x in ca.others { for y in bAll { pair(x, y) } }
        for x in aEqual { for y in cb.others { pair(x, y) } }
        for (arguments, byValues) in ca.equal {
          for (other, otherValues) in cb.equal {
            if other == arguments {
              for (values, xs) in byValues { for x in xs { for y in otherValues[values] ?? [] { pair(x, y) } } }
            } else {
              for x in byValues.values.joined() { for y in otherValues.values.joined() { pair(x, y) } }
            }
          }
        }
      }
    }
    return pairs.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
  }

  mutating func checkOverlaps() {
    struct Key: Hashable { var a: String, b: String, name: String }
    var seen: [Key: Int] = [:]
    for ap in policy.arches {
      let rules = ap.rules.filter { !$0.source.contains(" via ") }
      let byNumber = Dictionary(grouping: rules.indices, by: { rules[$0].number })
      for number in byNumber.keys.sorted() {
        let idx = byNumber[number]!
        for (x, y) in Self.overlapCandidates(idx.map { rules[$0] }) {
          do {
            let r1 = rules[idx[x]], r2 = rules[idx[y]]
            guard r1.action != r2.action, r1.source != r2.source else { continue }
            let key = Key(a: r1.source, b: r2.source, name: r1.name)
            if let k = seen[key] {
              if !findings[k].arches.contains(ap.arch) { findings[k].arches.append(ap.arch) }
              continue
            }
            var (result, when) = Linter.overlap(r1, r2)
            // "May overlap" (MASKED_EQ patterns): settle it exactly on the decision map.
            if result == nil, let exact = Linter.exactOverlap(r1, r2, arch: ap.arch) { result = exact }
            if result == false { continue }
            let winner: String
            if r1.action.kind != r2.action.kind {
              let w = r1.action.kind < r2.action.kind ? r1 : r2
              winner = "syscage applies the most restrictive, \(w.action) (\(w.source)), whatever the order; libseccomp's answer depends on the order of the rules"
            } else {
              winner = "both are \(r1.action.kind) with different data: syscage takes the first in file order, \(r1.action) (\(r1.source)); libseccomp's answer depends on the order of the rules"
            }
            let whenText = when.isEmpty ? "" : " when \(when)"
            seen[key] = findings.count
            add(result == true ? .warning : .info, "overlapping-rules", path: r2.source, arches: [ap.arch],
              "\(r1.source) (\(r1.action)) and \(r2.source) (\(r2.action)) \(result == true ? "both match" : "may both match") \(r1.name)\(whenText): \(winner). Make the conditions disjoint")
          }
        }
      }
    }
  }

  // MARK: deny-lists

  mutating func checkDenyListEquivalents() {
    guard isDenyList else { return }
    struct Hit { var denied: [String]; var missing: [String]; var path: String; var arches: [Arch] }
    var hits: [String: Hit] = [:]
    var order: [String] = []
    for ap in policy.arches {
      var deniedBy: [String: String] = [:]
      for r in ap.rules where !r.action.permits && !r.source.contains(" via ") {
        if deniedBy[r.name] == nil { deniedBy[r.name] = Linter.entryPath(r.source) }
      }
      for group in Lint.equivalents {
        let members = group.filter { ap.arch.number(of: $0) != nil }
        let denied = members.filter { deniedBy[$0] != nil }
        let missing = members.filter { m in
          deniedBy[m] == nil && allowance(ap, ap.arch.number(of: m)!) != nil
        }
        guard !denied.isEmpty, !missing.isEmpty else { continue }
        let key = "\(denied)|\(missing)"
        if hits[key] == nil {
          order.append(key)
          hits[key] = Hit(denied: denied, missing: missing, path: deniedBy[denied[0]]!, arches: [])
        }
        hits[key]!.arches.append(ap.arch)
      }
    }
    for key in order {
      let h = hits[key]!
      add(.warning, "deny-list-missing-equivalent", path: h.path, arches: h.arches,
        "the deny-list denies \(h.denied.joined(separator: ", ")) but allows \(h.missing.joined(separator: ", ")), which do the same: a program gets around the rule by calling those. Deny them in the same entry")
    }
  }

  mutating func checkDenyList32Bit() {
    guard isDenyList, let native = arches.first else { return }
    let missing = native.family.filter { !arches.contains($0) }
    guard !missing.isEmpty else { return }
    let names = missing.map(\.name).joined(separator: ", ")
    let how = missing.map { m -> String in
      switch m {
      case .x86: return "ia32 calls (int 0x80)"
      case .x32: return "x32 calls (bit 30 in the number)"
      default: return "\(m) calls"
      }
    }.joined(separator: " and ")
    let path = profile.architectures != nil ? "architectures" : (profile.archMap != nil ? "archMap" : "")
    if policy.badArchAction.permits {
      add(.error, "deny-list-missing-32-bit-abi", path: path, arches: missing,
        "this deny-list covers \(native) only and the bad-arch action is \(policy.badArchAction): \(how) bypass every rule. List \(names) in architectures and deny the same calls there")
    } else {
      add(.warning, "deny-list-missing-32-bit-abi", path: path, arches: missing,
        "this deny-list covers \(native) but not \(names): a filter that only compared numbers would let \(how) bypass it. "
          + "Here they do not get through, but they are not allowed either: syscage gives calls from an unlisted ABI \(policy.badArchAction) (\(Self.outcome(of: policy.badArchAction))), "
          + "runc + libseccomp KILL_THREAD (libseccomp's default bad-arch action: only the thread dies). List \(names) in architectures (and deny the same calls there) if 32-bit code may run; otherwise this is intended")
    }
  }

  /// What an action does to the calling program, in a few words.
  static func outcome(of action: SeccompAction) -> String {
    switch action.kind {
    case .killProcess: "the whole program dies"
    case .killThread: "the calling thread dies"
    case .trap: "the thread gets SIGSYS"
    case .errno: "the call fails with that errno"
    case .trace: "a tracer decides, and without one the call fails with ENOSYS"
    case .userNotif: "a supervisor decides"
    case .log, .allow: "the call runs"
    }
  }

  // MARK: against

  mutating func compare(with reference: LintReference) {
    var refOptions = options
    refOptions.arches = arches
    let refPolicy = Policy(profile: reference.profile, options: refOptions)
    struct Hit { var arches: [Arch]; var level: LintFinding.Level; var path: String; var message: String }
    var hits: [String: Hit] = [:]
    var order: [String] = []
    let zero: [UInt64] = [0, 0, 0, 0, 0, 0]
    for ap in policy.arches {
      guard let rp = refPolicy.policy(for: ap.arch) else { continue }
      let refRules = Dictionary(grouping: rp.rules, by: \.number)
      // Decisions from the rules for the number alone: the same as deciding on every rule.
      func decideZero(_ p: ArchPolicy, _ rules: [Rule], _ nr: SyscallNumber) -> SeccompAction {
        ArchPolicy(arch: p.arch, defaultAction: p.defaultAction, rules: rules, enosysAbove: p.enosysAbove).decide(nr: nr.word, args: zero).action
      }
      var seenNumbers = Set<SyscallNumber>()
      for (name, nr) in SyscallTable.entries(in: ap.arch.abi) where seenNumbers.insert(nr).inserted {
        let mineZero = decideZero(ap, rules(ap, nr), nr)
        let theirsZero = decideZero(rp, refRules[nr] ?? [], nr)
        let mine = allowance(ap, nr)
        let theirs = rp.allowance(of: nr, rules: refRules[nr] ?? [])
        guard let mine else { continue }
        var level: LintFinding.Level
        var text: String
        if theirs == nil {
          level = mineZero.permits ? .warning : .info
          text = "\(name) is \(how(mine)); \(reference.name) refuses it (\(theirsZero))"
        } else if let theirs, theirs.conditional, !mine.conditional {
          level = .warning
          text = "\(name) is \(how(mine)); \(reference.name) allows it \(theirs.detail.isEmpty ? "only conditionally" : theirs.detail)"
        } else {
          continue
        }
        let key = "\(name)|\(text)"
        if hits[key] == nil {
          order.append(key)
          hits[key] = Hit(arches: [], level: level, path: namePath(mine.path, name), message: text)
        }
        hits[key]!.arches.append(ap.arch)
      }
    }
    for key in order {
      let h = hits[key]!
      add(h.level, "allowed-beyond-reference", path: h.path, arches: h.arches, h.message)
    }
  }
}

// MARK: runtime calls (--for)

extension Linter {
  /// runtime-call-refused: the calls `selection`'s runtimes make after loading the filter
  /// that the profile refuses or kills. The default action's refusals make one finding
  /// per set of modes that refuses the same calls (listed per runtime and mode); a rule's
  /// make one finding per call.
  mutating func checkRuntime(_ selection: RuntimeSelection) {
    let review = selection.review(profile, options: options)
    let native = policy.arches.first { $0.arch == options.context.native }?.arch ?? arches.first
    let on = native.map { [$0] } ?? []
    let byDefault = review.refusals.filter { !$0.byRule }
    if !byDefault.isEmpty {
      // One list per runtime and mode, the modes with the same list together.
      var lists: [LintList] = []
      for runtime in selection.target.runtimes {
        var groups: [(modes: [Bool], names: [String])] = []
        for mode in selection.modes {
          let names = byDefault.filter { $0.makers.contains(RuntimeMode(runtime, noNewPrivileges: mode)) }.map(\.name)
          guard !names.isEmpty else { continue }
          if let k = groups.firstIndex(where: { $0.names == names }) { groups[k].modes.append(mode) } else { groups.append(([mode], names)) }
        }
        for g in groups { lists.append(LintList("\(runtime.rawValue), \(RuntimeSelection.describe(modes: g.modes))", g.names)) }
      }
      let some = byDefault.filter(\.conditional).map(\.name)
      add(.error, "runtime-call-refused", path: "defaultAction", arches: on,
        "the default action \(defaultAction) refuses \(byDefault.count) call\(byDefault.count == 1 ? "" : "s") \(selection) makes after loading the container's filter, listed below by runtime and mode: the container does not start"
          + (some.isEmpty ? "" : " (\(some.joined(separator: ", ")): allowed for some arguments only)")
          + ". Allow them (convert --for \(selection.target.rawValue) adds them in an entry of their own)", lists: lists)
    }
    for r in review.byRule {
      let onlyWithout = r.makers.allSatisfy { !$0.noNewPrivileges }
        && !RuntimeSelection(selection.target, noNewPrivileges: true).calls.contains(r.name)
      add(.error, "runtime-call-refused", path: namePath(r.path, r.name), arches: on,
        "\(r.description). Remove \(r.name) from that rule"
          + (onlyWithout ? ", or run the container with noNewPrivileges true (then \(selection.target) does not call it under the filter)" : ""))
    }
  }
}
