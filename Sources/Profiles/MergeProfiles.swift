import Seccomp
import Syscalls

/// How `merge` combines the inputs' decisions on each call.
public enum MergeMode: String, Sendable {
  /// Pointwise the least restrictive input action: a call any input allows is allowed.
  case union
  /// Pointwise the most restrictive input action (what stacking the filters gives): a
  /// call is allowed only when every input allows it.
  case intersection

  public func combine(_ actions: [SeccompAction]) -> SeccompAction {
    self == .union ? .leastRestrictive(actions) : .mostRestrictive(actions)
  }
}

/// A merged profile, and what it could not express exactly.
public struct MergeResult: Sendable {
  public var profile: Profile
  /// Places where the merged profile does not decide exactly the combination (empty when exact).
  public var notes: [String]
}

/// Merging profiles through their decision maps, never by concatenating rules: under
/// most-restrictive precedence one input's conditional deny would override another's allow.
///
/// For each ABI and syscall the combined action is computed on every region of the common
/// refinement; regions whose combined action differs from the merged default become one
/// rule each (an interval as EQ or GE/LE, a mask pattern as MASKED_EQ; "none of these
/// patterns" split into MASKED_EQ sub-patterns). Regions are disjoint, so at most one
/// rule matches a call and precedence never interferes. The merged default is the
/// combination of the inputs' defaults (so their default when they agree). Numbers no
/// input names fall to that default or the ENOSYS stub; where that differs from the
/// combination, table-named numbers get an explicit rule. The result is then checked
/// against the combination on every region; what still differs is in `notes`.
public enum ProfileMerge {
  public static func merge(_ policies: [Policy], labels: [String], mode: MergeMode) -> MergeResult {
    precondition(!policies.isEmpty && policies.count == labels.count)
    let defaults = policies.map { $0.arches.first?.defaultAction ?? $0.badArchAction }
    let mergedDefault = mode.combine(defaults)
    let badArch = mode.combine(policies.map(\.badArchAction))
    var archList: [Arch] = []
    for p in policies { for a in p.arches where !archList.contains(a.arch) { archList.append(a.arch) } }
    let map = DecisionMap(policies: policies)
    var entries: [SyscallEntry] = []
    var emitted: Set<String> = []
    var notes: [String] = []

    for ad in map.arches {
      for s in ad.syscalls {
        let name = s.name
        if name.hasPrefix("#") || emitted.contains(name) { continue }
        emitted.insert(name)
        let target = (0..<s.regionCount).map { r in mode.combine(policies.indices.map { s.actions[$0][r] }) }
        let relevant = s.relevantArguments { target[$0] }
        var seen: Set<[Int]> = []
        // Regions in order; adjacent intervals of the last relevant argument with the same
        // action (and no mask classes) are joined into one region.
        var pending: [(action: SeccompAction, cells: [ArgumentCell], comments: [String])] = []
        for r in 0..<s.regionCount where target[r] != mergedDefault {
          let idx = s.cellIndices(of: r)
          let key = relevant.map { idx[$0] }
          guard seen.insert(key).inserted else { continue }
          let who = policies.indices.map { "\(labels[$0]): \(s.actions[$0][r])" }.joined(separator: ", ")
          let comment = "syscage merge (\(mode.rawValue)) of \(who)"
          let cells = relevant.map { s.arguments[$0][idx[$0]] }
          if var last = pending.last, last.action == target[r], let a = last.cells.last, let b = cells.last,
            a.masks.isEmpty, b.masks.isEmpty, a.hi &+ 1 == b.lo, a.hi != a.width,
            Array(last.cells.dropLast()) == Array(cells.dropLast())
          {
            last.cells[last.cells.count - 1].hi = b.hi
            if !last.comments.contains(comment) { last.comments.append(comment) }
            pending[pending.count - 1] = last
          } else {
            pending.append((target[r], cells, [comment]))
          }
        }
        for p in pending {
          for conds in conditionSets(p.cells) {
            entries.append(entry(name, p.action, args: conds, comment: p.comments.joined(separator: "; ")))
          }
        }
      }
      for c in ad.tooComplex {
        notes.append("\(ad.arch): \(c.name): too complex to merge exactly (\(c.reason)); left to the default")
      }
    }

    var profile = Profile(
      defaultAction: mergedDefault.profileAction.name, defaultErrnoRet: mergedDefault.profileAction.errnoRet,
      architectures: archList, syscalls: entries)
    let options = PolicyOptions(
      context: policies[0].context, arches: archList, enosysStub: true, badArchAction: badArch)
    // Numbers no input names: give table-named ones an explicit rule where the output's
    // default or stub differs from the combination; repeat (new names move the stub).
    for _ in 0..<6 {
      let out = Policy(profile: profile, options: options)
      let check = DecisionMap(policies: policies + [out])
      var added = false
      // A name applies to every ABI: add it only where all its ABIs want the same.
      var wants: [String: Set<SeccompAction>] = [:]
      var wrong: [String: SeccompAction] = [:]
      for ad in check.arches {
        for r in ad.rest {
          let want = mode.combine(Array(r.actions.dropLast()))
          for e in SyscallTable.entries(in: ad.arch.abi)
          where e.number.word >= r.first && e.number.word <= r.last && !emitted.contains(e.name) {
            wants[e.name, default: []].insert(want)
            if r.actions.last != want { wrong[e.name] = want }
          }
        }
      }
      for (name, want) in wrong.sorted(by: { $0.key < $1.key }) where wants[name]?.count == 1 {
        emitted.insert(name)
        entries.append(entry(name, want, args: [], comment: "syscage merge (\(mode.rawValue)): named by no input"))
        added = true
      }
      profile.syscalls = entries
      if !added { break }
    }
    notes += verify(Policy(profile: profile, options: options), against: policies, mode: mode)
    return MergeResult(profile: profile, notes: notes)
  }

  /// Where `merged` does not decide the combination of `inputs`, exactly.
  public static func verify(_ merged: Policy, against inputs: [Policy], mode: MergeMode) -> [String] {
    var notes: [String] = []
    let map = DecisionMap(policies: inputs + [merged])
    for ad in map.arches {
      for s in ad.syscalls {
        let bad = (0..<s.regionCount).filter { r in
          s.actions[inputs.count][r] != mode.combine(inputs.indices.map { s.actions[$0][r] })
        }
        if let r = bad.first {
          notes.append("\(ad.arch): \(s.name): \(bad.count) region(s) differ, e.g. \(s.region(r).map(\.description).joined(separator: " && ")): got \(s.actions[inputs.count][r]), want \(mode.combine(inputs.indices.map { s.actions[$0][r] }))")
        }
      }
      for c in ad.tooComplex { notes.append("\(ad.arch): \(c.name): not verified (\(c.reason))") }
      for r in ad.rest {
        let want = mode.combine(Array(r.actions.dropLast()))
        if r.actions.last != want {
          notes.append("\(ad.arch): numbers \(r.first)–\(r.last) (no syscall name to write a rule for): got \(r.actions.last!), want \(want)")
        }
      }
    }
    return notes
  }

  static func entry(_ name: String, _ action: SeccompAction, args: [ArgumentCondition], comment: String) -> SyscallEntry {
    let (actionName, errnoRet) = action.profileAction
    return SyscallEntry(
      names: [name], action: actionName, errnoRet: errnoRet, args: args.isEmpty ? nil : args, comment: comment)
  }

  /// Conditions (AND-ed) describing a product of cells, as a union of condition sets.
  static func conditionSets(_ cells: [ArgumentCell]) -> [[ArgumentCondition]] {
    var sets: [[ArgumentCondition]] = [[]]
    for c in cells {
      var base: [ArgumentCondition] = []
      if c.lo == c.hi {
        base.append(ArgumentCondition(index: c.index, value: c.lo, op: .equal))
      } else {
        if c.lo > 0 { base.append(ArgumentCondition(index: c.index, value: c.lo, op: .greaterOrEqual)) }
        if c.hi < c.width { base.append(ArgumentCondition(index: c.index, value: c.hi, op: .lessOrEqual)) }
      }
      // Each mask class: one MASKED_EQ, or for "none of these" the sub-patterns covering the rest.
      var alternatives: [[ArgumentCondition]] = [base]
      for m in c.masks {
        let pieces: [(UInt64, UInt64)] =
          if let e = m.equals { [(m.mask, e)] } else { complementPieces(mask: m.mask, excluded: m.excluded) }
        var next: [[ArgumentCondition]] = []
        for a in alternatives {
          for (pm, pv) in pieces {
            next.append(pm == 0 ? a : a + [ArgumentCondition(index: c.index, value: pm, valueTwo: pv, op: .maskedEqual)])
          }
        }
        alternatives = next
      }
      // Drop alternatives that are empty inside the cell's interval.
      alternatives = alternatives.filter { conds in
        let classes = conds.filter { $0.op == .maskedEqual }.map {
          MaskClass.masked($0.value, equals: $0.valueTwo)
        }
        do { return try MaskClass.witness(lo: c.lo, hi: c.hi, classes: classes) != nil } catch { return true }
      }
      sets = sets.flatMap { s in alternatives.map { s + $0 } }
    }
    return sets
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
