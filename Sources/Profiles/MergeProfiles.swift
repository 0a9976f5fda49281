import Seccomp
import Syscalls

/// How `merge` combines the inputs' decisions on each call.
public enum MergeMode: String, Sendable {
  /// Pointwise the least restrictive input action: a call any input allows is allowed.
  case union
  /// Pointwise the most restrictive input action (what stacking the filters gives): a
  /// call is allowed only when every input allows it.
  case intersection

  /// The combined action; between actions of the same rank (ERRNO(1) and ERRNO(38), two
  /// TRACE data) the first input's.
  public func combine(_ actions: [SeccompAction]) -> SeccompAction {
    self == .union ? .leastRestrictive(actions) : .mostRestrictive(actions)
  }
}

/// A merged profile, and what it could not express exactly.
public struct MergeResult: Sendable {
  public var profile: Profile
  /// Places where the merged profile does not decide exactly the combination (empty when exact).
  public var notes: [String]
  /// Where inputs gave different actions of the same rank and the first input's was kept
  /// (a choice, not an inexact merge).
  public var choices: [String]
}

/// Merging profiles through their decision maps, never by concatenating rules: under
/// most-restrictive precedence one input's conditional deny would override another's allow.
///
/// The inputs' own decisions are merged (`Policy.ownDecisions`): a runtime's ENOSYS answer
/// above the highest named syscall is not part of them, and the merged profile gets its
/// own when it is loaded. For each ABI and syscall the combined action is computed on every
/// region of the common refinement; regions whose combined action differs from the merged
/// default are written as rules with at most one condition per argument (runc ORs two
/// conditions on one argument): an interval as EQ, LE or GE, or as aligned MASKED_EQ
/// blocks; a mask pattern as MASKED_EQ; "none of these patterns" as MASKED_EQ
/// sub-patterns. The rules of one syscall are disjoint, so precedence never interferes.
/// Names with the same action and the same conditions share one entry. The merged default
/// combines the inputs' defaults. The result is then checked against the combination on
/// every region; what still differs is in `notes`.
public enum ProfileMerge {
  /// The errno-ranked answer the libc probes keep.
  static let enosys = SeccompAction.errno(SeccompAction.enosys)

  public static func merge(_ policies: [Policy], labels: [String], mode: MergeMode) -> MergeResult {
    precondition(!policies.isEmpty && policies.count == labels.count)
    let inputs = policies.map(\.ownDecisions)
    let defaults = inputs.map { $0.arches.first?.defaultAction ?? $0.badArchAction }
    let mergedDefault = mode.combine(defaults)
    let badArch = mode.combine(inputs.map(\.badArchAction))
    var archList: [Arch] = []
    for p in inputs { for a in p.arches where !archList.contains(a.arch) { archList.append(a.arch) } }
    let map = DecisionMap(policies: inputs)
    var notes: [String] = []
    var choices: [(name: String, text: String)] = []

    // Per name, per ABI: the rules that write its combined decisions.
    var written: [String: [(arch: Arch, rules: [WrittenRule])]] = [:]
    var order: [String] = []
    for ad in map.arches {
      for s in ad.syscalls {
        if s.name.hasPrefix("#") {
          notes.append("\(ad.arch): number \(s.number.rawValue) has no syscall name to write a rule for")
          continue
        }
        var target: [SeccompAction] = []
        for r in 0..<s.regionCount {
          let actions = inputs.indices.map { s.actions[$0][r] }
          let chosen = mode.combine(actions)
          target.append(chosen)
          if let other = actions.indices.first(where: { actions[$0].kind == chosen.kind && actions[$0] != chosen }) {
            let first = actions.firstIndex(of: chosen)!
            let text = "\(chosen) (\(labels[first])) and \(actions[other]) (\(labels[other])) rank the same; \(labels[first])'s is kept"
            if !choices.contains(where: { $0.name == s.name && $0.text == text }) { choices.append((s.name, text)) }
          }
        }
        if written[s.name] == nil { order.append(s.name) }
        written[s.name, default: []].append((ad.arch, rules(of: s, target: target, default: mergedDefault)))
      }
      for c in ad.tooComplex {
        notes.append("\(ad.arch): \(c.name): too complex to merge exactly (\(c.reason)); left to the default")
      }
    }

    // The libc probes' ENOSYS entry of recorded inputs is merged like any other entry; none
    // is added for inputs without one (it would change their own decisions and move runc's
    // ENOSYS boundary up to the probes' numbers).
    let probes: [String] = []

    // Numbers no input names: where the combination differs from the merged default
    // (an ABI some inputs do not list), table names get an explicit rule when every ABI
    // of the name wants the same.
    var unnamed: [String: Set<SeccompAction>] = [:]
    for ad in map.arches {
      for r in ad.rest {
        let want = mode.combine(r.actions)
        for e in SyscallTable.entries(in: ad.arch.abi)
        where e.number.word >= r.first && e.number.word <= r.last && written[e.name] == nil && !probes.contains(e.name) {
          unnamed[e.name, default: []].insert(want)
        }
      }
    }
    var extra: [(String, SeccompAction)] = []
    for name in unnamed.keys.sorted() {
      guard let wants = unnamed[name], wants.count == 1, let want = wants.first, want != mergedDefault else { continue }
      extra.append((name, want))
    }

    // Per name, the first ABI's rules (the native ABI's); a name applies to every ABI.
    var chosen: [String: [WrittenRule]] = [:]
    for name in order { chosen[name] = written[name]![0].rules }
    var profile = build(
      order: order, chosen: chosen, probes: probes, extra: extra, mode: mode, mergedDefault: mergedDefault,
      archList: archList, choices: choices)
    let options = PolicyOptions(context: policies[0].context, arches: archList, enosysStub: false, badArchAction: badArch)
    var failing = check(Policy(profile: profile, options: options), against: inputs, mode: mode, probes: probes)
    // A name whose rules are wrong on another ABI: try that ABI's rules (widths differ).
    for name in order where failing.names.contains(name) && written[name]!.count > 1 {
      let best = written[name]!.dropFirst().map(\.rules).first { candidate in
        var trial = chosen
        trial[name] = candidate
        let p = build(
          order: order, chosen: trial, probes: probes, extra: extra, mode: mode, mergedDefault: mergedDefault,
          archList: archList, choices: choices)
        return !check(Policy(profile: p, options: options), against: inputs, mode: mode, probes: probes).names.contains(name)
      }
      if let best { chosen[name] = best }
    }
    profile = build(
      order: order, chosen: chosen, probes: probes, extra: extra, mode: mode, mergedDefault: mergedDefault,
      archList: archList, choices: choices)
    failing = check(Policy(profile: profile, options: options), against: inputs, mode: mode, probes: probes)
    notes += failing.notes
    let ranges = (profile.syscalls ?? []).filter { e in
      let indices = (e.args ?? []).map(\.index)
      return Set(indices).count != indices.count
    }
    if !ranges.isEmpty {
      notes.append(
        "\(ranges.count) entr\(ranges.count == 1 ? "y puts" : "ies put") two conditions on one argument (a range, where aligned blocks would take over \(maxAlternatives) entries): syscage ANDs them, runc ORs them (lint: same-argument-twice)")
    }
    if failing.names.contains(where: { name in written[name].map { $0.count > 1 } ?? false }) || failing.perABI {
      notes.append(
        "one profile gives a name the same rules on every ABI it lists; merge each ABI apart (--arch) for exact per-ABI files")
    }
    return MergeResult(profile: profile, notes: notes, choices: choices.map { "\($0.name): \($0.text)" })
  }

  /// One rule: an action and at most one condition per argument.
  struct WrittenRule: Hashable {
    var action: SeccompAction
    var args: [ArgumentCondition]
  }

  static func build(
    order: [String], chosen: [String: [WrittenRule]], probes: [String], extra: [(String, SeccompAction)], mode: MergeMode,
    mergedDefault: SeccompAction, archList: [Arch], choices: [(name: String, text: String)]
  ) -> Profile {
    // Entries keyed by their rule: names with the same action and conditions share one.
    var keys: [WrittenRule] = []
    var names: [WrittenRule: [String]] = [:]
    var noted: [WrittenRule: [String]] = [:]
    func add(_ name: String, _ rule: WrittenRule) {
      if names[rule] == nil { keys.append(rule) }
      if !(names[rule]?.contains(name) ?? false) { names[rule, default: []].append(name) }
    }
    for name in order {
      for rule in chosen[name] ?? [] { add(name, rule) }
    }
    for (name, action) in extra {
      let rule = WrittenRule(action: action, args: [])
      add(name, rule)
      noted[rule, default: []].append(name)
    }
    for name in probes { add(name, WrittenRule(action: enosys, args: [])) }
    // Unconditional entries first (by action, least restrictive first), then the rest in order.
    let sorted = keys.enumerated().sorted { a, b in
      let ka = (a.element.args.isEmpty ? 0 : 1, a.element.args.isEmpty ? -a.element.action.kind.rawValue : 0, a.offset)
      let kb = (b.element.args.isEmpty ? 0 : 1, b.element.args.isEmpty ? -b.element.action.kind.rawValue : 0, b.offset)
      return ka < kb
    }.map(\.element)
    var entries: [SyscallEntry] = []
    for rule in sorted {
      let list = names[rule]!
      var comment = "syscage merge (\(mode.rawValue))"
      if rule.action == enosys && rule.args.isEmpty && list.contains(where: probes.contains) {
        comment += "; libc tries \(list.filter(probes.contains).joined(separator: ", ")) first and falls back only on ENOSYS"
      }
      if let n = noted[rule] { comment += "; named by no input: \(n.count) name\(n.count == 1 ? "" : "s")" }
      var chosenHere: [String] = []
      for c in choices where list.contains(c.name) && !chosenHere.contains(c.text) { chosenHere.append(c.text) }
      if !chosenHere.isEmpty { comment += "; " + chosenHere.joined(separator: "; ") }
      let (actionName, errnoRet) = rule.action.profileAction
      entries.append(SyscallEntry(
        names: rule.args.isEmpty ? list.sorted() : list, action: actionName, errnoRet: errnoRet,
        args: rule.args.isEmpty ? nil : rule.args, comment: comment))
    }
    return Profile(
      defaultAction: mergedDefault.profileAction.name, defaultErrnoRet: mergedDefault.profileAction.errnoRet,
      architectures: archList, syscalls: entries)
  }

  /// Where `merged` does not decide the combination of `inputs` (own decisions), exactly.
  public static func verify(_ merged: Policy, against inputs: [Policy], mode: MergeMode) -> [String] {
    let probes = ProfileBuilder.enosysFallbacks.filter { name in
      merged.arches.contains { ap in
        guard let n = ap.arch.number(of: name) else { return false }
        return ap.rules(for: n).contains { $0.action == enosys && $0.conditions.isEmpty }
          && inputs.allSatisfy { $0.policy(for: ap.arch)?.rules(for: n).isEmpty ?? true }
      }
    }
    return check(merged.ownDecisions, against: inputs.map(\.ownDecisions), mode: mode, probes: probes).notes
  }

  struct Failures {
    var notes: [String] = []
    var names: Set<String> = []
    /// Some failure is on an ABI only some inputs list.
    var perABI = false
  }

  static func check(_ merged: Policy, against inputs: [Policy], mode: MergeMode, probes: [String]) -> Failures {
    var out = Failures()
    let map = DecisionMap(policies: inputs + [merged])
    for ad in map.arches {
      let partial = ad.present.dropLast().contains(false)
      for s in ad.syscalls {
        let probe = probes.contains(s.name) && inputs.allSatisfy { $0.policy(for: ad.arch)?.rules(for: s.number).isEmpty ?? true }
        func want(_ r: Int) -> SeccompAction { probe ? enosys : mode.combine(inputs.indices.map { s.actions[$0][r] }) }
        let bad = (0..<s.regionCount).filter { s.actions[inputs.count][$0] != want($0) }
        if let r = bad.first {
          let region = s.region(r).filter { !($0.isWholeInterval && $0.masks.isEmpty) }.map(\.description).joined(separator: " && ")
          out.notes.append("\(ad.arch): \(s.name): \(bad.count) region(s) differ, e.g. \(region.isEmpty ? "any arguments" : region): got \(s.actions[inputs.count][r]), want \(want(r))")
          out.names.insert(s.name)
          if partial { out.perABI = true }
        }
      }
      for c in ad.tooComplex {
        out.notes.append("\(ad.arch): \(c.name): not verified (\(c.reason))")
        out.names.insert(c.name)
      }
      for r in ad.rest {
        let want = mode.combine(Array(r.actions.dropLast()))
        if r.actions.last != want {
          let range = r.first == r.last ? "number \(r.first)" : "numbers \(r.first)–\(r.last)"
          out.notes.append("\(ad.arch): \(range), named by no input: got \(r.actions.last!), want \(want)")
          if partial { out.perABI = true }
        }
      }
    }
    return out
  }

  /// The rules for the regions of one syscall whose `target` is not `default`.
  static func rules(of s: SyscallDecisions, target: [SeccompAction], default mergedDefault: SeccompAction) -> [WrittenRule] {
    let relevant = s.relevantArguments { target[$0] }
    var seen: Set<[Int]> = []
    var pending: [(action: SeccompAction, cells: [ArgumentCell])] = []
    for r in 0..<s.regionCount where target[r] != mergedDefault {
      let idx = s.cellIndices(of: r)
      let key = relevant.map { idx[$0] }
      guard seen.insert(key).inserted else { continue }
      pending.append((target[r], relevant.map { s.arguments[$0][idx[$0]] }))
    }
    pending = joined(pending)
    var out: [WrittenRule] = []
    for p in pending {
      for args in conditionSets(p.cells) where !out.contains(WrittenRule(action: p.action, args: args)) {
        out.append(WrittenRule(action: p.action, args: args))
      }
    }
    return out
  }

  /// The most condition sets one region is written as with one condition per argument;
  /// above it, a bounded interval is written as GE and LE on one argument.
  static let maxAlternatives = 64

  /// Regions of one action that differ in one argument only, where their intervals touch
  /// (and their mask classes are the same), joined into one; argument by argument until
  /// nothing changes. The union stays the same.
  static func joined(_ input: [(action: SeccompAction, cells: [ArgumentCell])]) -> [(action: SeccompAction, cells: [ArgumentCell])] {
    var regions = input
    guard let width = regions.first?.cells.count, width > 0 else { return regions }
    struct Key: Hashable {
      var action: SeccompAction
      var others: [[UInt64]]
      var masks: [MaskClass]
    }
    var changed = true
    while changed {
      changed = false
      for k in 0..<width {
        var groups: [Key: [Int]] = [:]
        var order: [Key] = []
        for (i, r) in regions.enumerated() {
          let others = r.cells.enumerated().filter { $0.offset != k }.map { [$0.element.lo, $0.element.hi] + $0.element.masks.map(\.mask) }
          let key = Key(action: r.action, others: others, masks: r.cells.flatMap(\.masks))
          if groups[key] == nil { order.append(key) }
          groups[key, default: []].append(i)
        }
        var next: [(action: SeccompAction, cells: [ArgumentCell])] = []
        for key in order {
          let members = groups[key]!.map { regions[$0] }.sorted { $0.cells[k].lo < $1.cells[k].lo }
          var current = members[0]
          for m in members.dropFirst() {
            let a = current.cells[k], b = m.cells[k]
            if a.hi != a.width && a.hi &+ 1 == b.lo {
              current.cells[k].hi = b.hi
              changed = true
            } else {
              next.append(current)
              current = m
            }
          }
          next.append(current)
        }
        regions = next
      }
    }
    return regions
  }

  /// A product of cells (one per argument) as a union of condition sets, each with at most
  /// one condition per argument while that takes at most `maxAlternatives` sets.
  static func conditionSets(_ cells: [ArgumentCell]) -> [[ArgumentCondition]] {
    var perCell = cells.map(conditions(of:))
    var count = perCell.reduce(1) { $0 * $1.count }
    var pairs: Set<Int> = []
    // Too many aligned blocks: the largest bounded intervals as two conditions instead.
    for i in cells.indices.sorted(by: { perCell[$0].count > perCell[$1].count }) where count > maxAlternatives {
      let c = cells[i]
      guard c.masks.isEmpty, perCell[i].count > 1 else { continue }
      count = count / perCell[i].count
      perCell[i] = [ArgumentCondition(index: c.index, value: c.lo, op: .greaterOrEqual)]
      pairs.insert(i)
    }
    var sets: [[ArgumentCondition]] = [[]]
    for (i, alternatives) in perCell.enumerated() {
      let c = cells[i]
      let extra: [ArgumentCondition] = pairs.contains(i) ? [ArgumentCondition(index: c.index, value: c.hi, op: .lessOrEqual)] : []
      sets = sets.flatMap { s in alternatives.map { a in (a.map { s + [$0] } ?? s) + extra } }
    }
    return sets
  }

  /// One cell as alternative single conditions (nil: no condition needed).
  static func conditions(of c: ArgumentCell) -> [ArgumentCondition?] {
    let width = c.width
    if c.masks.isEmpty {
      if c.lo == c.hi { return [ArgumentCondition(index: c.index, value: c.lo, op: .equal)] }
      if c.lo == 0 && c.hi == width { return [nil] }
      if c.lo == 0 { return [ArgumentCondition(index: c.index, value: c.hi, op: .lessOrEqual)] }
      if c.hi == width { return [ArgumentCondition(index: c.index, value: c.lo, op: .greaterOrEqual)] }
    }
    // The interval as aligned blocks, intersected with every mask class's patterns.
    var cubes: [(mask: UInt64, value: UInt64)] = blocks(c.lo, c.hi, width: width)
    for m in c.masks {
      let pieces: [(UInt64, UInt64)] =
        if let e = m.equals { [(m.mask & width, e & width)] } else { complementPieces(mask: m.mask & width, excluded: m.excluded) }
      var next: [(mask: UInt64, value: UInt64)] = []
      for a in cubes {
        for (pm, pv) in pieces {
          let common = a.mask & pm
          if a.value & common != pv & common { continue }
          next.append((a.mask | pm, a.value | pv))
        }
      }
      cubes = next
    }
    return cubes.map { cube -> ArgumentCondition? in
      let m = cube.mask & width
      if m == 0 { return nil }
      if m == width { return ArgumentCondition(index: c.index, value: cube.value & width, op: .equal) }
      return ArgumentCondition(index: c.index, value: m, valueTwo: cube.value & m, op: .maskedEqual)
    }
  }

  /// Disjoint aligned blocks (mask, value) whose union is `[lo, hi]`, within `width`.
  static func blocks(_ lo: UInt64, _ hi: UInt64, width: UInt64) -> [(mask: UInt64, value: UInt64)] {
    if lo == 0 && hi == width { return [(0, 0)] }
    var out: [(mask: UInt64, value: UInt64)] = []
    var x = lo
    while true {
      var bits: UInt64 = 0
      while bits < 63 {
        let size = UInt64(1) << (bits + 1)
        let end = x &+ (size - 1)
        if x & (size - 1) != 0 || end < x || end > hi { break }
        bits += 1
      }
      let size = UInt64(1) << bits
      out.append((~(size - 1) & width, x))
      let end = x &+ (size - 1)
      if end >= hi { return out }
      x = end + 1
    }
  }

  /// Disjoint (mask, value) sub-patterns of `mask` covering every pattern except `excluded`.
  static func complementPieces(mask: UInt64, excluded: [UInt64]) -> [(UInt64, UInt64)] {
    var bits: [UInt64] = []
    for i in stride(from: 63, through: 0, by: -1) where mask & (1 << UInt64(i)) != 0 { bits.append(1 << UInt64(i)) }
    var out: [(UInt64, UInt64)] = []
    func go(_ k: Int, _ pm: UInt64, _ pv: UInt64, _ live: [UInt64]) {
      if live.isEmpty { out.append((pm, pv)); return }
      if k == bits.count { return }
      let b = bits[k]
      go(k + 1, pm | b, pv, live.filter { $0 & b == 0 })
      go(k + 1, pm | b, pv | b, live.filter { $0 & b != 0 })
    }
    go(0, 0, 0, excluded.map { $0 & mask })
    return out
  }
}
