import BPF
import Syscalls

// Docker profile rules for the regions of one syscall.
//
// A profile decides by precedence: among the rules that match, the most restrictive
// action wins (the first in file order among equal kinds); when none matches, the
// default. So the regions are written in layers: the rules of one action must cover
// its regions and may also cover regions of actions that beat it (those win there),
// but never a region of an action it beats or of an unwritten default. The bottom
// layer is either the profile's default (its regions get no rule) or an unconditional
// rule of the least restrictive action. Every rule puts at most one condition on an
// argument (runc ORs two conditions on one argument), so an interval bounded on both
// sides is widened to one side where the layers above allow it, or cut into
// MASKED_EQ blocks.

/// The values of one argument one profile condition states.
enum ArgumentSet: Hashable {
  /// `lo <= a <= hi` (`a == lo` when equal).
  case interval(UInt64, UInt64)
  /// `a != value`.
  case notEqual(UInt64)
  /// `a & mask == value` (`value` inside `mask`).
  case cube(mask: UInt64, value: UInt64)

  /// Whether every value of `other` is in this set (false when unsure).
  func contains(_ other: ArgumentSet) -> Bool {
    switch (self, other) {
    case (.interval(let a, let b), .interval(let c, let d)): return a <= c && d <= b
    case (.interval(let a, let b), .cube(let m, let v)): return a <= v && v | ~m <= b
    case (.notEqual(let e), .notEqual(let f)): return e == f
    case (.notEqual(let e), .interval(let c, let d)): return e < c || e > d
    case (.notEqual(let e), .cube(let m, let v)): return e & m != v
    case (.cube(let m, let v), .cube(let n, let w)): return m & n == m && w & m == v
    case (.cube(let m, let v), .interval(let c, let d)): return c == d && c & m == v
    default: return false
    }
  }
}

/// Rules of a Docker profile for one syscall, found from its regions.
public enum RegionRules {
  /// The calls whose arguments carry no bit the kernel drops: for each argument
  /// narrower than 64 bits (`widths`), its high half and its low half's dropped bits
  /// are 0. A profile compares arguments as the kernel reads them, so this is the set
  /// on which a profile and a filter can be compared.
  public static func keptSpace(widths: (Int) -> UInt64, endianness: Endianness) -> [UInt32: [WordAtom]] {
    var out: [UInt32: [WordAtom]] = [:]
    for i in 0..<6 {
      let keep = widths(i)
      if keep == .max { continue }
      out[SeccompDataLayout.argument(i, high: true, endianness: endianness)] = [.range(.max, 0, 0)]
      let low = UInt32(truncatingIfNeeded: keep)
      if low != .max { out[SeccompDataLayout.argument(i, high: false, endianness: endianness)] = [.range(~low, 0, 0)] }
    }
    return out
  }

  /// The rules written for one syscall, and what they leave out.
  public struct Written: Sendable {
    /// Each rule's action and its ANDed conditions, at most one per argument; a rule
    /// of an action wins over a rule of an action that comes later in this order.
    public var rules: [(action: SeccompAction, conditions: [ArgumentCondition])]
    /// Conditions of the regions the rules do not state (the instruction pointer, too
    /// many blocks): the rules are wider there. Empty when the rules are exact.
    public var omitted: [String]
  }

  /// Whether `a` wins over `b` where rules of both match: the more restrictive kind,
  /// and among equal kinds the one syscage writes first (the lower return value).
  public static func wins(_ a: SeccompAction, over b: SeccompAction) -> Bool {
    a.kind != b.kind ? a.kind < b.kind : a.returnValue < b.returnValue
  }

  /// Rules deciding as `decisions` do (regions found within `keptSpace`), with
  /// `defaultAction` as the profile's default; `widths` gives each argument's kept bits.
  /// `preferAllowing` ranks first the rules whose conditional rules all allow (for a
  /// call also made through socketcall/ipc, where a conditional deny applies to every
  /// multiplexed call).
  public static func rules(
    for decisions: SymbolicDecisions, defaultAction: SeccompAction, widths: @escaping (Int) -> UInt64,
    endianness: Endianness, maxRules: Int = 256, preferAllowing: Bool = false
  ) -> Written {
    let actions = Set(decisions.regions.map(\.action))
    if actions == [defaultAction] || actions.isEmpty { return Written(rules: [], omitted: []) }
    var builder = Builder(
      decisions: decisions, widths: widths, endianness: endianness, maxRules: maxRules,
      walker: Walker(arch: decisions.arch, nr: decisions.nr, endianness: endianness, limits: .standard))
    var candidates: [Written] = []
    if actions.contains(defaultAction) { candidates.append(builder.layered(bottom: defaultAction, implicit: true)) }
    let least = actions.max { wins($0, over: $1) }!
    candidates.append(builder.layered(bottom: least, implicit: least == defaultAction))
    func denies(_ w: Written) -> Int {
      preferAllowing ? w.rules.filter { !$0.conditions.isEmpty && !$0.action.permits }.count : 0
    }
    return candidates.min { a, b in
      (a.omitted.isEmpty ? 0 : 1, denies(a), a.rules.count) < (b.omitted.isEmpty ? 0 : 1, denies(b), b.rules.count)
    }!
  }

  struct Builder {
    let decisions: SymbolicDecisions
    let widths: (Int) -> UInt64
    let endianness: Endianness
    let maxRules: Int
    var walker: Walker

    typealias Rule = [Int: ArgumentSet]

    mutating func layered(bottom: SeccompAction, implicit: Bool) -> Written {
      let actions = Set(decisions.regions.map(\.action)).sorted { RegionRules.wins($0, over: $1) }
      var out: [(SeccompAction, [ArgumentCondition])] = []
      var omitted: [String] = []
      for k in actions where k != bottom {
        // Regions these rules may also cover: those of actions that win over k and are
        // written as rules.
        let forbidden = decisions.regions.filter { r in
          r.action != k && !(RegionRules.wins(r.action, over: k) && !(implicit && r.action == bottom))
        }
        var rules: [Rule] = []
        for region in decisions.regions where region.action == k {
          let (rs, om) = sets(of: region)
          rules += rs
          omitted += om
        }
        rules = Builder.joined(rules)
        var resolved: [Rule] = []
        for r in rules { resolved += resolve(r, forbidden: forbidden) }
        resolved = Builder.dropSubsumed(resolved)
        for r in resolved { out.append((k, conditions(r))) }
      }
      if !implicit { out.append((bottom, [])) }
      return Written(rules: out, omitted: omitted)
    }

    /// The region as rules of argument sets (their union is the region), and the
    /// conditions they leave out.
    mutating func sets(of region: SymbolicRegion) -> ([Rule], [String]) {
      var omitted: [String] = []
      for offset: UInt32 in [8, 12] {
        let low = (offset == 8) == (endianness == .little)
        omitted += (region.words[offset] ?? []).map { $0.text(name: low ? "ip.lo" : "ip.hi") + " (a profile cannot read the instruction pointer)" }
      }
      var rules: [Rule] = [[:]]
      for index in region.arguments {
        let keep = widths(index)
        let (low, high) = region.atoms(argument: index)
        guard let union = Builder.argumentSets(low: low, high: keep == .max ? high : [], keep: keep) else {
          omitted.append("the conditions on a\(index) (more than \(maxRules) blocks)")
          continue
        }
        if union == [.interval(0, keep)] { continue }
        if rules.count * union.count > maxRules {
          omitted.append("the conditions on a\(index) (more than \(maxRules) blocks)")
          continue
        }
        rules = rules.flatMap { r in union.map { s in r.merging([index: s]) { a, _ in a } } }
      }
      return (rules, omitted)
    }

    /// One argument's atoms (the low and high halves; `high` empty for a narrow
    /// argument) as a union of sets; nil when more than 4096 blocks.
    static func argumentSets(low: [WordAtom], high: [WordAtom], keep: UInt64) -> [ArgumentSet]? {
      let keepLow = UInt32(truncatingIfNeeded: keep)
      struct Half {
        var lo: UInt32 = 0, hi: UInt32
        var points: [UInt32] = []
        var masked: [WordAtom] = []
        /// The intervals of [lo, hi] without the points.
        var pieces: [(UInt32, UInt32)] {
          var out: [(UInt32, UInt32)] = []
          if lo > hi { return out }
          var start = lo
          for p in Set(points).sorted() where p >= lo && p <= hi {
            if p > start { out.append((start, p - 1)) }
            if p == hi { return out }
            start = p + 1
          }
          out.append((start, hi))
          return out
        }
      }
      func half(_ atoms: [WordAtom], _ top: UInt32) -> Half {
        var h = Half(hi: top)
        for a in atoms {
          let m = a.mask & top
          if a.excludes {
            if a.lo & ~m != 0 || m == 0 { continue }  // always true
            if m == top { h.points.append(a.lo) } else { h.masked.append(.notEqual(m, a.lo)) }
          } else {
            if m == 0 { continue }
            if m == top { h.lo = max(h.lo, a.lo); h.hi = min(h.hi, a.hi) } else { h.masked.append(.range(m, a.lo, a.hi)) }
          }
        }
        return h
      }
      func cubes(_ a: WordAtom) -> [(mask: UInt32, value: UInt32)] {
        a.excludes ? SymbolicFilter.patterns(mask: a.mask, notEqual: a.lo) : SymbolicFilter.patterns(mask: a.mask, lo: a.lo, hi: a.hi)
      }
      func cubes(_ h: Half, _ top: UInt32) -> [(mask: UInt32, value: UInt32)]? {
        var out: [(mask: UInt32, value: UInt32)] = [(0, 0)]
        var factors: [[(mask: UInt32, value: UInt32)]] = h.masked.map(cubes)
        let ps = h.pieces
        if !(ps.count == 1 && ps[0] == (0, top)) {
          factors.append(ps.flatMap { SymbolicFilter.patterns(mask: top, lo: $0.0, hi: $0.1) })
        }
        for f in factors {
          var next: [(mask: UInt32, value: UInt32)] = []
          for c in out {
            for d in f {
              let common = c.mask & d.mask
              if c.value & common != d.value & common { continue }
              next.append((c.mask | d.mask, c.value | d.value))
            }
          }
          out = next
          if out.count > 4096 { return nil }
        }
        return out
      }
      let limit = 4096
      if keep <= 0xffff_ffff {
        let h = half(low, keepLow)
        if h.masked.isEmpty {
          let ps = h.pieces
          if ps.count == 2 && h.lo == 0 && h.hi == keepLow && Set(h.points.filter { $0 <= keepLow }).count == 1 {
            return [.notEqual(UInt64(ps[0].1) + 1)]
          }
          return ps.map { .interval(UInt64($0.0), UInt64($0.1)) }
        }
        guard let cs = cubes(h, keepLow), cs.count <= limit else { return nil }
        return cs.map { .cube(mask: UInt64($0.mask), value: UInt64($0.value)) }
      }
      let l = half(low, .max), h = half(high, .max)
      if l.masked.isEmpty && h.masked.isEmpty {
        let lp = l.pieces, hp = h.pieces
        if lp.count == 1 && lp[0] == (0, .max) {
          // Only the high half: whole 2^32 blocks.
          if hp.count == 2 && h.lo == 0 && h.hi == .max && Set(h.points).count == 1 {
            let c = UInt64(hp[0].1) + 1
            return [.interval(0, c << 32 - 1), .interval((c + 1) << 32, .max)]
          }
          return hp.map { .interval(UInt64($0.0) << 32, UInt64($0.1) << 32 | 0xffff_ffff) }
        }
        if hp.count == 1 && hp[0].0 == hp[0].1 {
          let c = UInt64(hp[0].0) << 32
          return lp.map { .interval(c | UInt64($0.0), c | UInt64($0.1)) }
        }
      }
      guard let lc = cubes(l, .max), let hc = cubes(h, .max), lc.count * hc.count <= limit else { return nil }
      return hc.flatMap { hcube in
        lc.map { lcube in
          ArgumentSet.cube(mask: UInt64(hcube.mask) << 32 | UInt64(lcube.mask), value: UInt64(hcube.value) << 32 | UInt64(lcube.value))
        }
      }
    }

    /// Joins rules that differ in one argument only, where their intervals touch.
    static func joined(_ input: [Rule]) -> [Rule] {
      var rules = input
      var changed = true
      while changed {
        changed = false
        outer: for i in rules.indices {
          for j in rules.indices where j > i {
            let a = rules[i], b = rules[j]
            guard Set(a.keys) == Set(b.keys) else { continue }
            let differing = a.keys.filter { a[$0] != b[$0] }
            guard differing.count == 1, let k = differing.first,
              case .interval(let l1, let h1) = a[k]!, case .interval(let l2, let h2) = b[k]!
            else { continue }
            guard h1 == .max || h1 + 1 >= l2, h2 == .max || h2 + 1 >= l1 else { continue }
            rules[i][k] = .interval(min(l1, l2), max(h1, h2))
            rules.remove(at: j)
            changed = true
            break outer
          }
        }
      }
      return rules
    }

    /// Drops rules another rule of the list covers.
    static func dropSubsumed(_ input: [Rule]) -> [Rule] {
      var out: [Rule] = []
      for (i, r) in input.enumerated() {
        let covered = input.enumerated().contains { j, o in
          guard j != i, o.allSatisfy({ k, s in r[k].map { s.contains($0) } ?? false }) else { return false }
          // Equal rules: keep the first.
          let same = r.count == o.count && r.allSatisfy { k, s in o[k] == s }
          return !same || j < i
        }
        if !covered { out.append(r) }
      }
      return out
    }

    /// The rule with each interval bounded on both sides made one-sided where the
    /// forbidden regions allow it, else cut into MASKED_EQ blocks.
    mutating func resolve(_ rule: Rule, forbidden: [SymbolicRegion]) -> [Rule] {
      var rules = [rule]
      for index in rule.keys.sorted() {
        let top = widths(index)
        var next: [Rule] = []
        for r in rules {
          guard case .interval(let lo, let hi) = r[index]!, lo != hi, lo > 0, hi < top else {
            next.append(r)
            continue
          }
          var up = r, down = r
          up[index] = .interval(lo, top)
          down[index] = .interval(0, hi)
          if !intersects(up, forbidden) { next.append(up) } else if !intersects(down, forbidden) { next.append(down) } else {
            for c in Builder.blocks(lo, hi) {
              var b = r
              b[index] = .cube(mask: c.mask & top, value: c.value)
              next.append(b)
            }
          }
        }
        rules = next
      }
      // A block next to a region that wins can often be widened the same way.
      return rules.map { r in
        var r = r
        for (index, s) in r {
          guard case .cube(let m, let v) = s, m != 0 else { continue }
          // Drop the lowest fixed bits while the block stays clear of the forbidden regions.
          var mask = m
          while mask != 0 {
            let lowest = mask & (~mask &+ 1)
            var wider = r
            wider[index] = .cube(mask: mask & ~lowest, value: v & ~lowest & mask)
            if intersects(wider, forbidden) { break }
            mask &= ~lowest
            r = wider
          }
        }
        return r
      }
    }

    /// Disjoint aligned blocks whose union is [lo, hi].
    static func blocks(_ lo: UInt64, _ hi: UInt64) -> [(mask: UInt64, value: UInt64)] {
      if lo == 0 && hi == .max { return [(0, 0)] }
      var out: [(mask: UInt64, value: UInt64)] = []
      var x = lo
      while true {
        // The largest aligned block starting at x that ends at or before hi.
        var bits = 0
        while bits < 63 {
          let size2 = UInt64(1) << UInt64(bits + 1)
          let end = x &+ (size2 - 1)
          if x & (size2 - 1) != 0 || end < x || end > hi { break }
          bits += 1
        }
        let size = UInt64(1) << UInt64(bits)
        out.append((~(size - 1), x))
        let end = x + (size - 1)
        if end >= hi { return out }
        x = end + 1
      }
    }

    /// Whether some call of the rule falls in one of `regions`.
    mutating func intersects(_ rule: Rule, _ regions: [SymbolicRegion]) -> Bool {
      if regions.isEmpty { return false }
      // The rule as a union of conjunctions of word atoms.
      var dnf: [[UInt32: [WordAtom]]] = [[:]]
      for (index, s) in rule {
        let lo = SeccompDataLayout.argument(index, high: false, endianness: endianness)
        let hi = SeccompDataLayout.argument(index, high: true, endianness: endianness)
        let wide = widths(index) == .max
        var options: [[UInt32: [WordAtom]]] = []
        func l32(_ v: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: v) }
        func h32(_ v: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: v >> 32) }
        switch s {
        case .interval(let a, let b):
          if !wide { options = [[lo: [.range(.max, l32(a), l32(b))]]] } else if h32(a) == h32(b) {
            options = [[hi: [.range(.max, h32(a), h32(a))], lo: [.range(.max, l32(a), l32(b))]]]
          } else {
            options = [[hi: [.range(.max, h32(a), h32(a))], lo: [.range(.max, l32(a), .max)]],
                       [hi: [.range(.max, h32(b), h32(b))], lo: [.range(.max, 0, l32(b))]]]
            if h32(b) - h32(a) >= 2 { options.append([hi: [.range(.max, h32(a) + 1, h32(b) - 1)]]) }
          }
        case .notEqual(let v):
          options = wide ? [[hi: [.notEqual(.max, h32(v))]], [hi: [.range(.max, h32(v), h32(v))], lo: [.notEqual(.max, l32(v))]]]
            : [[lo: [.notEqual(.max, l32(v))]]]
        case .cube(let m, let v):
          var w: [UInt32: [WordAtom]] = [:]
          if l32(m) != 0 { w[lo] = [.range(l32(m), l32(v), l32(v))] }
          if wide && h32(m) != 0 { w[hi] = [.range(h32(m), h32(v), h32(v))] }
          options = [w]
        }
        dnf = dnf.flatMap { c in options.map { o in c.merging(o) { $0 + $1 } } }
      }
      for conj in dnf {
        for region in regions {
          var words: [UInt32: [WordAtom]]? = region.words
          for (w, atoms) in conj {
            guard let current = words else { break }
            do { words = try walker.add(atoms, to: w, current) } catch { return true }  // unsure: assume it does
          }
          if words != nil { return true }
        }
      }
      return false
    }

    /// The rule as profile conditions, one per argument, in argument order.
    func conditions(_ rule: Rule) -> [ArgumentCondition] {
      rule.keys.sorted().compactMap { index -> ArgumentCondition? in
        let top = widths(index)
        func c(_ op: ComparisonOperator, _ v: UInt64, _ v2: UInt64? = nil) -> ArgumentCondition {
          ArgumentCondition(index: index, value: v, valueTwo: v2, op: op)
        }
        switch rule[index]! {
        case .interval(let lo, let hi):
          if lo == hi { return c(.equal, lo) }
          if lo == 0 && hi >= top { return nil }
          if lo == 0 { return c(.lessOrEqual, hi) }
          return c(.greaterOrEqual, lo)  // resolve made it one-sided
        case .notEqual(let v): return c(.notEqual, v)
        case .cube(let m, let v):
          if m & top == 0 { return nil }
          if m & top == top { return c(.equal, v) }
          return c(.maskedEqual, m, v)
        }
      }
    }
  }
}

extension SymbolicRegion {
  /// The region seen on arguments as the kernel reads them (`widths`): conditions on
  /// the bits a narrow argument drops are left out, the others cut to its bits.
  public func keptView(widths: (Int) -> UInt64) -> SymbolicRegion {
    var out = self
    for index in 0..<6 {
      let keep = widths(index)
      if keep == .max { continue }
      let lo = SeccompDataLayout.argument(index, high: false, endianness: endianness)
      out.words[SeccompDataLayout.argument(index, high: true, endianness: endianness)] = nil
      let k = UInt32(truncatingIfNeeded: keep)
      let atoms = (words[lo] ?? []).compactMap { a -> WordAtom? in
        let m = a.mask & k
        if a.excludes { return a.lo & ~m != 0 || m == 0 ? nil : .notEqual(m, a.lo) }
        let b = WordAtom.range(m, a.lo, min(a.hi, m))
        return m == 0 || b.isTrivial ? nil : b
      }
      out.words[lo] = atoms.isEmpty ? nil : atoms
      out.witness.args[index] &= keep
    }
    return out
  }
}
