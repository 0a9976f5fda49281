import BPF
import Syscalls

// The exact decision structure behind `diff` and `merge`.
//
// For one ABI and one syscall number, `Policy.decide` depends on each argument only
// through the atoms the rules use on it: which interval between the sorted comparison
// boundaries the (width-cut) value falls in, and, for each MASKED_EQ mask used on it,
// which datum `value & mask` equals (or none of them). An `ArgumentCell` is one
// combination of these for one argument; the cells of one argument partition its value
// space, and a product of cells (one per argument) is a region on which every policy's
// decision is constant. Each cell carries a witness value found by an exact bit-level
// search (or is proven empty and dropped), so evaluating `decide` on the witnesses
// gives the decision on the whole cell. Nothing is sampled.

/// A constraint on `value & mask` inside one cell: equal to `equals`, or (when nil)
/// different from every value in `excluded`.
public struct MaskClass: Hashable, Sendable {
  public var mask: UInt64
  public var equals: UInt64?
  public var excluded: [UInt64]

  public func holds(_ x: UInt64) -> Bool {
    if let equals { return x & mask == equals }
    return !excluded.contains(x & mask)
  }
}

/// One cell of one argument: the width-cut values in `[lo, hi]` meeting every mask class.
public struct ArgumentCell: Hashable, Sendable, CustomStringConvertible {
  public var index: Int
  /// The bits the kernel keeps of this argument.
  public var width: UInt64
  public var lo: UInt64
  public var hi: UInt64
  public var masks: [MaskClass]
  /// A value in the cell (already cut to `width`).
  public var witness: UInt64

  /// Whether a raw argument register falls in this cell.
  public func contains(_ raw: UInt64) -> Bool {
    let x = raw & width
    return x >= lo && x <= hi && masks.allSatisfy { $0.holds(x) }
  }

  public var isWholeInterval: Bool { lo == 0 && hi == width }

  public var description: String { describe(intervals: [(lo, hi)]) }

  /// The cell's text with its interval part replaced by a union of intervals.
  func describe(intervals: [(UInt64, UInt64)]) -> String {
    var parts: [String] = []
    if !(intervals.count == 1 && intervals[0].0 == 0 && intervals[0].1 == width) {
      parts.append("a\(index) in " + intervals.map { "[\(ArgumentValue($0.0)), \(ArgumentValue($0.1))]" }.joined(separator: " ∪ "))
    }
    for m in masks {
      if let e = m.equals {
        parts.append("a\(index) & \(ArgumentValue(m.mask).hex) == \(ArgumentValue(e).hex)")
      } else {
        parts.append("a\(index) & \(ArgumentValue(m.mask).hex) ∉ {\(m.excluded.map { ArgumentValue($0).hex }.joined(separator: ", "))}")
      }
    }
    return parts.isEmpty ? "any a\(index)" : parts.joined(separator: " && ")
  }
}

public enum DecisionMapLimits {
  /// The largest number of regions enumerated for one syscall.
  public static let maxRegions = 1 << 16
  /// The largest number of "differs from" patterns in one argument cell's search.
  public static let maxExclusions = 48
}

/// The exact decision of several ABI policies for one syscall number, on the common
/// refinement of all their argument atoms.
public struct SyscallDecisions: Sendable {
  public var arch: Arch
  public var number: SyscallNumber
  public var name: String
  /// For each argument that some rule tests, its cells (the other arguments never matter).
  public var arguments: [[ArgumentCell]]
  /// `actions[p][r]`: policy p's action on region r (regions in row-major order of `arguments`).
  public var actions: [[SeccompAction]]

  public var regionCount: Int { arguments.reduce(1) { $0 * $1.count } }

  /// The cell index per argument of region `r`.
  public func cellIndices(of r: Int) -> [Int] {
    var r = r
    var out = [Int](repeating: 0, count: arguments.count)
    for a in stride(from: arguments.count - 1, through: 0, by: -1) {
      out[a] = r % arguments[a].count
      r /= arguments[a].count
    }
    return out
  }

  public func region(_ r: Int) -> [ArgumentCell] {
    zip(arguments, cellIndices(of: r)).map { $0[$1] }
  }

  /// Six argument registers that fall in region `r`.
  public func witness(of r: Int) -> [UInt64] {
    var args = [UInt64](repeating: 0, count: 6)
    for c in region(r) { args[c.index] = c.witness }
    return args
  }

  /// The argument positions (in `arguments`) on which `value(region)` actually depends.
  public func relevantArguments<T: Equatable>(_ value: (Int) -> T) -> [Int] {
    var relevant: [Int] = []
    for a in arguments.indices where arguments[a].count > 1 {
      var depends = false
      outer: for r in 0..<regionCount where cellIndices(of: r)[a] == 0 {
        let v = value(r)
        var stride = 1
        for b in (a + 1)..<arguments.count { stride *= arguments[b].count }
        for k in 1..<arguments[a].count where value(r + k * stride) != v {
          depends = true
          break outer
        }
      }
      if depends { relevant.append(a) }
    }
    return relevant
  }

  /// Computes the decisions of `policies` (nil: the ABI is not in that policy, so every
  /// call gets that policy's bad-arch action) for one number.
  public static func compute(
    arch: Arch, number: SyscallNumber, policies: [(ArchPolicy?, SeccompAction)]
  ) throws(TooComplex) -> SyscallDecisions {
    let conditions = policies.flatMap { p in p.0.map { $0.rules(for: number).flatMap(\.conditions) } ?? [] }
    var arguments: [[ArgumentCell]] = []
    var total = 1
    for index in 0..<6 {
      let here = conditions.filter { $0.index == index }
      if here.isEmpty { continue }
      let cells = try ArgumentCells.cells(index: index, conditions: here)
      total *= cells.count
      if total > DecisionMapLimits.maxRegions {
        throw TooComplex(reason: "more than \(DecisionMapLimits.maxRegions) argument regions")
      }
      arguments.append(cells)
    }
    let name = arch.name(of: number) ?? "#\(number.rawValue)"
    var result = SyscallDecisions(arch: arch, number: number, name: name, arguments: arguments, actions: [])
    result.actions = policies.map { p in
      guard let ap = p.0 else { return Array(repeating: p.1, count: total) }
      return actions(of: ap, number: number, arguments: arguments, total: total)
    }
    return result
  }

  /// `ap.decide` on a witness of every region, computed rule by rule: a condition's truth
  /// is the same on a whole cell, so each rule visits only the regions it matches (the
  /// product of its matching cells) instead of every rule being tried on every region.
  /// Rules with the same conditions match the same regions, so they are visited once, for
  /// the one of them that decides there (the first of the most restrictive action); and
  /// the cells a comparison matches are found by binary search (the cells of an argument
  /// are in the order of their values), so thousands of rules on distinct values of one
  /// argument cost about linear time.
  static func actions(of ap: ArchPolicy, number: SyscallNumber, arguments: [[ArgumentCell]], total: Int) -> [SeccompAction] {
    let unmatched = ArchPolicy(arch: ap.arch, defaultAction: ap.defaultAction, rules: [], enosysAbove: ap.enosysAbove)
      .decide(nr: number.word, args: [0, 0, 0, 0, 0, 0]).action
    guard number.word != 0xffff_ffff else { return Array(repeating: unmatched, count: total) }
    var best: [SeccompAction?] = Array(repeating: nil, count: total)
    var strides = [Int](repeating: 1, count: arguments.count)
    for a in stride(from: arguments.count - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * arguments[a + 1].count }
    let position = Dictionary(uniqueKeysWithValues: arguments.enumerated().compactMap { a in a.element.first.map { ($0.index, a.offset) } })
    // Per set of conditions, the rule that decides where they hold: the first of the most restrictive action.
    var deciding: [[Condition]: (rule: Int, action: SeccompAction)] = [:]
    for (i, rule) in ap.rules.enumerated() where rule.number == number {
      if let d = deciding[rule.conditions], d.action.kind <= rule.action.kind { continue }
      deciding[rule.conditions] = (i, rule.action)
    }
    // In file order of the deciding rules: on a tie of restrictiveness the first rule wins.
    for (conditions, d) in deciding.sorted(by: { $0.value.rule < $1.value.rule }) {
      var lists: [[Range<Int>]] = arguments.map { [$0.indices] }
      var empty = false
      for c in conditions {
        guard let p = position[c.index] else {
          // An argument no cell splits: the condition holds for its witness 0 everywhere or nowhere.
          if !c.holds(for: 0) { empty = true }
          continue
        }
        lists[p] = matching(c, arguments[p], within: lists[p])
        if lists[p].isEmpty { empty = true }
      }
      if empty { continue }
      // Every region in the product of the matching cells.
      let cells: [[Int]] = lists.map { $0.flatMap { $0 } }
      var k = [Int](repeating: 0, count: cells.count)
      while true {
        var r = 0
        for a in cells.indices { r += cells[a][k[a]] * strides[a] }
        if best[r] == nil || d.action.kind < best[r]!.kind { best[r] = d.action }
        var a = cells.count - 1
        while a >= 0 {
          k[a] += 1
          if k[a] < cells[a].count { break }
          k[a] = 0
          a -= 1
        }
        if a < 0 { break }
      }
    }
    return best.map { $0 ?? unmatched }
  }

  /// The cells of `cells` within `ranges` (sorted, disjoint) on which `c` holds, as sorted
  /// disjoint ranges. Cells are in the order of their intervals, which no comparison's
  /// boundary splits, so an order comparison holds on a prefix or a suffix of them and
  /// EQ on one run (NE on the rest): found by binary search. MASKED_EQ is tried cell by cell.
  static func matching(_ c: Condition, _ cells: [ArgumentCell], within ranges: [Range<Int>]) -> [Range<Int>] {
    /// The first cell from which `p` holds on every later one (p false, then true).
    func partition(_ p: (UInt64) -> Bool) -> Int {
      var lo = 0, hi = cells.count
      while lo < hi {
        let mid = (lo + hi) / 2
        if p(cells[mid].witness) { hi = mid } else { lo = mid + 1 }
      }
      return lo
    }
    let v = c.value
    let holding: [Range<Int>]
    switch c.op {
    case .lessThan: holding = [0..<partition { $0 >= v }]
    case .lessOrEqual: holding = [0..<partition { $0 > v }]
    case .greaterThan: holding = [partition { $0 > v }..<cells.count]
    case .greaterOrEqual: holding = [partition { $0 >= v }..<cells.count]
    case .equal, .notEqual:
      let from = partition { $0 >= v }, to = partition { $0 > v }
      holding = c.op == .equal ? [from..<to] : [0..<from, to..<cells.count]
    case .maskedEqual:
      var out: [Range<Int>] = []
      for range in ranges {
        for i in range where c.holds(for: cells[i].witness) {
          if let last = out.last, last.upperBound == i { out[out.count - 1] = last.lowerBound..<(i + 1) } else { out.append(i..<(i + 1)) }
        }
      }
      return out
    }
    // Both lists are sorted and disjoint: their intersection, in one pass.
    var out: [Range<Int>] = []
    var i = 0, j = 0
    while i < ranges.count && j < holding.count {
      let lo = max(ranges[i].lowerBound, holding[j].lowerBound), hi = min(ranges[i].upperBound, holding[j].upperBound)
      if lo < hi { out.append(lo..<hi) }
      if ranges[i].upperBound < holding[j].upperBound { i += 1 } else { j += 1 }
    }
    return out
  }
}

/// Building the cells of one argument.
enum ArgumentCells {
  static func cells(index: Int, conditions: [Condition]) throws(TooComplex) -> [ArgumentCell] {
    let widths = Set(conditions.map(\.width))
    guard widths.count == 1, let width = widths.first else {
      throw TooComplex(reason: "a\(index) is compared at different widths")
    }
    // Interval boundaries: each value b starts a new interval.
    var starts: Set<UInt64> = [0]
    func split(_ b: UInt64) { if b <= width { starts.insert(b) } }
    var masks: [UInt64: Set<UInt64>] = [:]
    for c in conditions {
      switch c.op {
      case .equal, .notEqual:
        split(c.value)
        if c.value < width { split(c.value + 1) }
      case .lessThan, .greaterOrEqual: split(c.value)
      case .lessOrEqual, .greaterThan: if c.value < width { split(c.value + 1) }
      case .maskedEqual:
        if c.value != 0 { masks[c.value, default: []].insert(c.valueTwo) }
      }
    }
    let sortedStarts = starts.sorted()
    var intervals: [(UInt64, UInt64)] = []
    for (i, s) in sortedStarts.enumerated() {
      intervals.append((s, i + 1 < sortedStarts.count ? sortedStarts[i + 1] - 1 : width))
    }
    // Mask classes: per mask, each datum or "none of them".
    let maskList = masks.keys.sorted()
    var classChoices: [[MaskClass]] = [[]]
    for m in maskList {
      let datums = masks[m]!.sorted()
      let options = datums.map { MaskClass(mask: m, equals: $0, excluded: []) }
        + [MaskClass(mask: m, equals: nil, excluded: datums)]
      var next: [[MaskClass]] = []
      for prefix in classChoices { for o in options { next.append(prefix + [o]) } }
      classChoices = next
      if classChoices.count * intervals.count > DecisionMapLimits.maxRegions {
        throw TooComplex(reason: "a\(index) has too many mask patterns")
      }
    }
    var cells: [ArgumentCell] = []
    for (lo, hi) in intervals {
      for choice in classChoices {
        if let w = try Witness.find(lo: lo, hi: hi, classes: choice) {
          cells.append(ArgumentCell(index: index, width: width, lo: lo, hi: hi, masks: choice, witness: w))
        }
      }
    }
    return cells
  }
}

/// An exact search for a value in `[lo, hi]` meeting mask classes.
enum Witness {
  static func find(lo: UInt64, hi: UInt64, classes: [MaskClass]) throws(TooComplex) -> UInt64? {
    var fixedMask: UInt64 = 0, fixedValue: UInt64 = 0
    for c in classes {
      guard let e = c.equals else { continue }
      let overlap = fixedMask & c.mask
      if fixedValue & overlap != e & overlap { return nil }
      fixedMask |= c.mask
      fixedValue |= e
    }
    // Exclusions not already settled by the fixed bits.
    var excl: [(UInt64, UInt64)] = []
    for c in classes where c.equals == nil {
      for d in c.excluded {
        let overlap = fixedMask & c.mask
        if fixedValue & overlap != d & overlap { continue }  // always differs
        if c.mask & ~fixedMask == 0 { return nil }  // always equal
        excl.append((c.mask, d))
      }
    }
    if excl.count > DecisionMapLimits.maxExclusions {
      throw TooComplex(reason: "too many excluded mask patterns")
    }
    let all: UInt64 = excl.isEmpty ? 0 : (excl.count == 64 ? .max : (1 << UInt64(excl.count)) - 1)
    struct Key: Hashable { var pos: Int; var tl: Bool; var th: Bool; var sat: UInt64 }
    var failed: Set<Key> = []
    func search(_ pos: Int, _ x: UInt64, _ tl: Bool, _ th: Bool, _ sat: UInt64) -> UInt64? {
      if pos < 0 { return sat == all ? x : nil }
      let key = Key(pos: pos, tl: tl, th: th, sat: sat)
      if failed.contains(key) { return nil }
      let bitMask: UInt64 = 1 << UInt64(pos)
      let below: UInt64 = bitMask - 1
      let loBit: UInt64 = lo & bitMask != 0 ? 1 : 0
      let hiBit: UInt64 = hi & bitMask != 0 ? 1 : 0
      for bit: UInt64 in [0, 1] {
        if fixedMask & bitMask != 0 && (fixedValue & bitMask != 0 ? 1 : 0) != bit { continue }
        if tl && bit < loBit { continue }
        if th && bit > hiBit { continue }
        var nsat = sat
        var dead = false
        for (k, (m, d)) in excl.enumerated() where nsat & (1 << UInt64(k)) == 0 {
          if m & bitMask != 0 && (d & bitMask != 0 ? 1 : 0) != bit {
            nsat |= 1 << UInt64(k)
          } else if m & below == 0 {
            dead = true
            break
          }
        }
        if dead { continue }
        if let found = search(pos - 1, x | (bit << UInt64(pos)), tl && bit == loBit, th && bit == hiBit, nsat) {
          return found
        }
      }
      failed.insert(key)
      return nil
    }
    return search(63, 0, true, true, 0)
  }
}

/// The actions of numbers no rule of any compared policy names, as ranges.
public struct NumberRange: Hashable, Sendable {
  public var first: UInt32
  public var last: UInt32
  /// Each policy's action on every number of the range.
  public var actions: [SeccompAction]
}

/// The exact decisions of several policies on one ABI.
public struct ArchDecisions: Sendable {
  public var arch: Arch
  /// Whether each policy lists this ABI.
  public var present: [Bool]
  /// Every number some rule of some policy names, in order.
  public var syscalls: [SyscallDecisions]
  /// Numbers that could not be compared exactly, with the reason.
  public var tooComplex: [(name: String, number: SyscallNumber, reason: String)]
  /// Every other number of this ABI's filter (excluding nr = -1), in ranges of constant actions.
  public var rest: [NumberRange]
}

/// The canonical decision structure of several policies, side by side: per ABI, per
/// syscall, per argument region, the action of each policy.
public struct DecisionMap: Sendable {
  public var arches: [ArchDecisions]
  public var badArchActions: [SeccompAction]

  /// The highest number a call of this ABI's policy can carry (x86_64 calls with the
  /// x32 bit go to x32 or the bad-arch action).
  static func maxNumber(_ arch: Arch) -> UInt32 { arch == .x86_64 ? 0x3fff_ffff : 0xffff_fffe }

  public init(policies: [Policy], arches requested: [Arch]? = nil) {
    badArchActions = policies.map(\.badArchAction)
    var archList: [Arch] = []
    for p in policies { for a in p.arches where !archList.contains(a.arch) { archList.append(a.arch) } }
    if let requested { archList = archList.filter { requested.contains($0) } }
    arches = archList.map { arch in
      let ps = policies.map { ($0.policy(for: arch), $0.badArchAction) }
      var numbers: Set<SyscallNumber> = []
      for p in ps { if let ap = p.0 { numbers.formUnion(ap.numbers) } }
      var syscalls: [SyscallDecisions] = []
      var complex: [(String, SyscallNumber, String)] = []
      for n in numbers.sorted() {
        do {
          syscalls.append(try SyscallDecisions.compute(arch: arch, number: n, policies: ps))
        } catch let error as TooComplex {
          complex.append((arch.name(of: n) ?? "#\(n.rawValue)", n, error.reason))
        } catch {
          complex.append((arch.name(of: n) ?? "#\(n.rawValue)", n, "\(error)"))
        }
      }
      // Rest: piecewise constant between 0, 1 and each stub boundary.
      var cuts: Set<UInt32> = [0, 1]
      let maxN = DecisionMap.maxNumber(arch)
      for p in ps { if let s = p.0?.enosysAbove, s.word < maxN { cuts.insert(s.word + 1) } }
      let sortedCuts = cuts.sorted()
      let named = Set(numbers.map(\.word))
      var rest: [NumberRange] = []
      let zeros = [UInt64](repeating: 0, count: 6)
      func add(_ first: UInt32, _ last: UInt32) {
        // No rule names these numbers: every one decides as the first does.
        let actions = ps.map { p in p.0?.decide(nr: first, args: zeros).action ?? p.1 }
        rest.append(NumberRange(first: first, last: last, actions: actions))
      }
      let sortedNamed = named.sorted()
      for (i, c) in sortedCuts.enumerated() {
        let end = i + 1 < sortedCuts.count ? sortedCuts[i + 1] - 1 : maxN
        var start = c
        var done = false
        for n in sortedNamed where n >= c && n <= end {
          if n > start { add(start, n - 1) }
          if n == end { done = true; break }
          start = n + 1
        }
        if !done && start <= end { add(start, end) }
      }
      return ArchDecisions(
        arch: arch, present: ps.map { $0.0 != nil }, syscalls: syscalls,
        tooComplex: complex.map { (name: $0.0, number: $0.1, reason: $0.2) }, rest: rest)
    }
  }
}

extension SeccompAction {
  /// The least restrictive of two actions (the first on a tie): what a union keeps.
  public static func leastRestrictive(_ actions: [SeccompAction]) -> SeccompAction {
    actions.dropFirst().reduce(actions[0]) { $1.kind > $0.kind ? $1 : $0 }
  }
  /// The most restrictive (the first on a tie): what stacked filters give, an intersection.
  public static func mostRestrictive(_ actions: [SeccompAction]) -> SeccompAction {
    actions.dropFirst().reduce(actions[0]) { $1.kind < $0.kind ? $1 : $0 }
  }
}
