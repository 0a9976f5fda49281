import Syscalls

/// What two policies decide differently, computed exactly from their `DecisionMap`.
public struct DecisionDiff: Sendable {
  public enum Change: Sendable, Hashable {
    /// Syscall `name` (number) decides `old` → `new` on `region` (argument regions).
    case syscall(arch: Arch, name: String, number: SyscallNumber, region: String, old: SeccompAction, new: SeccompAction)
    /// Numbers no rule of either names, `first...last`, decide `old` → `new`.
    case numbers(arch: Arch, first: UInt32, last: UInt32, names: [String], old: SeccompAction, new: SeccompAction)
    /// The ABI is in only one of the two (`inFirst` says which).
    case archOnlyIn(arch: Arch, inFirst: Bool)
    case badArch(old: SeccompAction, new: SeccompAction)
    /// Could not be compared exactly.
    case tooComplex(arch: Arch, name: String, number: SyscallNumber, reason: String)
    /// The runtime's ENOSYS answer starts elsewhere: numbers `first...last` that neither
    /// profile names get `new` instead of `old` once `runtime` loads the profiles. Not a
    /// difference of the own decisions: one line instead of one per number.
    case runtimeBoundary(
      arch: Arch, runtime: RuntimeLayer, first: UInt32, last: UInt32, old: SeccompAction, new: SeccompAction,
      from: BoundaryEnd, to: BoundaryEnd)
  }

  /// One side of a moved ENOSYS boundary: the highest named syscall, or why the runtime
  /// adds no answer (its default).
  public enum BoundaryEnd: Sendable, Hashable, CustomStringConvertible {
    case highest(name: String, number: SyscallNumber)
    case none(defaultAction: SeccompAction)

    public var description: String {
      switch self {
      case .highest(let name, let number): "\(name) (\(number.rawValue))"
      case .none(let d): "no ENOSYS answer (default \(d))"
      }
    }
  }

  /// What is compared.
  public enum View: Sendable, Hashable {
    /// The profiles' own decisions; where a runtime's ENOSYS boundary moves, one
    /// `runtimeBoundary` change says so.
    case own(boundaries: RuntimeLayer?)
    /// Everything as `runtime` loads the profiles.
    case loaded(RuntimeLayer)
  }

  public var changes: [Change]
  /// True when the compared decisions are the same (a moved runtime boundary alone is a note).
  public var isEqual: Bool {
    changes.allSatisfy { if case .runtimeBoundary = $0 { true } else { false } }
  }

  /// The differences of `a` and `b` (by default their own decisions, with a line where
  /// runc's ENOSYS boundary moves).
  public init(_ a: Policy, _ b: Policy, arches: [Arch]? = nil, view: View = .own(boundaries: .runc)) {
    let (a, b): (Policy, Policy) =
      switch view {
      case .own: (a.ownDecisions, b.ownDecisions)
      case .loaded(let runtime): (a.loaded(by: runtime), b.loaded(by: runtime))
      }
    let map = DecisionMap(policies: [a, b], arches: arches)
    var changes: [Change] = []
    if a.badArchAction != b.badArchAction { changes.append(.badArch(old: a.badArchAction, new: b.badArchAction)) }
    for ad in map.arches {
      if ad.present[0] != ad.present[1] { changes.append(.archOnlyIn(arch: ad.arch, inFirst: ad.present[0])) }
      for s in ad.syscalls {
        // Group the regions by (old, new).
        var groups: [(SeccompAction, SeccompAction, [Int])] = []
        for r in 0..<s.regionCount where s.actions[0][r] != s.actions[1][r] {
          let key = (s.actions[0][r], s.actions[1][r])
          if let i = groups.firstIndex(where: { $0.0 == key.0 && $0.1 == key.1 }) {
            groups[i].2.append(r)
          } else {
            groups.append((key.0, key.1, [r]))
          }
        }
        if groups.isEmpty { continue }
        let relevant = s.relevantArguments { r in [s.actions[0][r], s.actions[1][r]] }
        for (old, new, regions) in groups {
          changes.append(.syscall(
            arch: ad.arch, name: s.name, number: s.number,
            region: RegionText.describe(s, regions: regions, relevant: relevant), old: old, new: new))
        }
      }
      for c in ad.tooComplex {
        changes.append(.tooComplex(arch: ad.arch, name: c.name, number: c.number, reason: c.reason))
      }
      for r in ad.rest where r.actions[0] != r.actions[1] {
        var names: [String] = []
        for e in SyscallTable.entries(in: ad.arch.abi) where e.number.word >= r.first && e.number.word <= r.last {
          names.append(e.name)
        }
        changes.append(.numbers(arch: ad.arch, first: r.first, last: r.last, names: names, old: r.actions[0], new: r.actions[1]))
      }
      if case .own(let runtime?) = view, let pa = a.policy(for: ad.arch), let pb = b.policy(for: ad.arch),
        let moved = DecisionDiff.boundaryChange(pa, pb, runtime: runtime)
      {
        changes.append(moved)
      }
    }
    self.changes = changes
  }

  /// The line for a moved ENOSYS boundary of `runtime` between two ABI policies, nil when
  /// it starts at the same number (or the numbers between are all named).
  static func boundaryChange(_ a: ArchPolicy, _ b: ArchPolicy, runtime: RuntimeLayer) -> Change? {
    let la = runtime.enosysBoundary(defaultAction: a.defaultAction, rules: a.rules)
    let lb = runtime.enosysBoundary(defaultAction: b.defaultAction, rules: b.rules)
    if la == lb { return nil }
    func end(_ p: ArchPolicy, _ boundary: SyscallNumber?) -> BoundaryEnd {
      if boundary != nil, let h = p.highestNamed { return .highest(name: h.name, number: h.number) }
      return .none(defaultAction: p.defaultAction)
    }
    let top = DecisionMap.maxNumber(a.arch)
    let enosys = SeccompAction.errno(SeccompAction.enosys)
    // The numbers one side answers ENOSYS and the other does not, not named by either.
    let first = min(la?.word ?? top, lb?.word ?? top) &+ 1
    let last = max(la?.word ?? top, lb?.word ?? top)
    let named = Set(a.numbers.union(b.numbers).map(\.word))
    var lo = first, hi = last
    while lo <= hi && named.contains(lo) { lo += 1 }
    while hi >= lo && named.contains(hi) { hi -= 1 }
    guard lo <= hi else { return nil }
    let aAnswers = la.map { lo > $0.word } ?? false
    let old = aAnswers ? enosys : a.defaultAction
    let new = aAnswers ? b.defaultAction : enosys
    if old == new { return nil }
    return .runtimeBoundary(arch: a.arch, runtime: runtime, first: lo, last: hi, old: old, new: new, from: end(a, la), to: end(b, lb))
  }
}

extension DecisionDiff.Change: CustomStringConvertible {
  public var description: String {
    switch self {
    case .syscall(let arch, let name, _, let region, let old, let new):
      return "\(arch): \(name)\(region.isEmpty ? "" : ": " + region): \(old) → \(new)"
    case .numbers(let arch, let first, let last, let names, let old, let new):
      let range = first == last ? "number \(first)" : "numbers \(first)–\(last)"
      let shown = names.prefix(8).joined(separator: ", ") + (names.count > 8 ? ", … (\(names.count) named)" : "")
      return "\(arch): \(range)\(names.isEmpty ? "" : " (\(shown))"): \(old) → \(new)"
    case .archOnlyIn(let arch, let inFirst):
      return "\(arch): only in the \(inFirst ? "first" : "second") profile"
    case .badArch(let old, let new):
      return "calls from unlisted ABIs: \(old) → \(new)"
    case .tooComplex(let arch, let name, _, let reason):
      return "\(arch): \(name): too complex to compare exactly (\(reason))"
    case .runtimeBoundary(let arch, let runtime, let first, let last, let old, let new, let from, let to):
      func said(_ a: SeccompAction) -> String { a == .errno(SeccompAction.enosys) ? "ENOSYS" : a.description }
      let range = first == last ? "number \(first)" : "numbers \(first)–\(last)"
      let why: String =
        switch (from, to) {
        case (.highest, .highest): "the highest named syscall moved from \(from) to \(to)"
        case (.highest, .none): "the second profile gets \(to); the first's highest named syscall is \(from)"
        case (.none, .highest): "the first profile gets \(from); the second's highest named syscall is \(to)"
        case (.none, .none): "neither gets an ENOSYS answer"
        }
      return "\(arch): under \(runtime): \(range) now get \(said(new)) instead of \(said(old)): \(why)"
    }
  }
}

/// Readable region text: a union of regions over the arguments that matter.
enum RegionText {
  static func describe(_ s: SyscallDecisions, regions: [Int], relevant: [Int]) -> String {
    if relevant.isEmpty { return "" }
    // Project onto the relevant arguments, dropping duplicates.
    var seen: Set<[Int]> = []
    var projected: [[Int]] = []
    for r in regions {
      let idx = s.cellIndices(of: r)
      let key = relevant.map { idx[$0] }
      if seen.insert(key).inserted { projected.append(key) }
    }
    if relevant.count == 1 {
      let cells = projected.map { s.arguments[relevant[0]][$0[0]] }
      return describeOneArgument(cells)
    }
    let parts = projected.map { key -> String in
      let text = zip(relevant, key).map { s.arguments[$0][$1] }.filter { !($0.isWholeInterval && $0.masks.isEmpty) }
        .map(\.description).joined(separator: " && ")
      return projected.count > 1 ? "(\(text))" : text
    }
    return parts.joined(separator: " ∪ ")
  }

  /// Cells of one argument, with adjacent intervals of identical mask classes joined.
  static func describeOneArgument(_ cells: [ArgumentCell]) -> String {
    var groups: [([MaskClass], [(UInt64, UInt64)], ArgumentCell)] = []
    for c in cells.sorted(by: { $0.lo < $1.lo }) {
      if let i = groups.firstIndex(where: { $0.0 == c.masks }) {
        if let last = groups[i].1.last, last.1 &+ 1 == c.lo, last.1 != c.width {
          groups[i].1[groups[i].1.count - 1].1 = c.hi
        } else {
          groups[i].1.append((c.lo, c.hi))
        }
      } else {
        groups.append((c.masks, [(c.lo, c.hi)], c))
      }
    }
    let texts = groups.map { $0.2.describe(intervals: $0.1) }
    return texts.count == 1 ? texts[0] : texts.map { "(\($0))" }.joined(separator: " ∪ ")
  }
}
