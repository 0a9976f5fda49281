import BPF
import Syscalls

/// A policy that cannot become a program the kernel accepts.
public struct CompileError: Error, Hashable, Sendable, CustomStringConvertible {
  public var length: Int
  public var description: String {
    "the filter needs \(length) instructions, \(length - BPF.maxInstructions) more than the kernel's limit of \(BPF.maxInstructions)"
  }
}

/// Compiles a `Policy` to a seccomp BPF program that decides every call as
/// `Policy.decide` does.
///
/// Layout: `ld arch` and one `jeq` per audit arch (native first, then a `ret` of the
/// bad-arch action); per arch `ld nr` and a search tree of `jge` over runs of numbers
/// that share an outcome, weighted so that allowed syscalls sit shallow. x86_64's x32
/// bit and nr = -1 are ranges of that tree. Leaves are `ret` (argument-free outcomes,
/// which the kernel's action cache can cache) or argument blocks that test the rules of
/// one syscall, most restrictive first.
public enum Compiler {
  public static func compile(_ policy: Policy) throws(CompileError) -> [BPFInstruction] {
    var e = Emitter()
    // Group ABIs by audit arch (x86_64 and x32 share one), keeping the policy's order.
    var groups: [(AuditArch, [ArchPolicy])] = []
    for p in policy.arches {
      if let i = groups.firstIndex(where: { $0.0 == p.arch.auditArch }) {
        groups[i].1.append(p)
      } else {
        groups.append((p.arch.auditArch, [p]))
      }
    }
    let badArch = policy.badArchAction.returnValue
    // Emitted backwards: the last group's block first, so the native block ends up first.
    var entries: [(AuditArch, Emitter.Label)] = []
    for (audit, members) in groups.reversed() {
      entries.append((audit, emitArchBlock(audit: audit, members: members, badArch: badArch, into: &e)))
    }
    var next = Emitter.Target.ret(badArch)
    for (audit, label) in entries {  // entries are reversed: the last check is emitted first
      next = .label(e.branch(BPF.jeq, audit.rawValue, jt: .label(label), jf: next))
    }
    let first: Emitter.Label
    switch next {
    case .label(let l): first = l
    case .ret(let v): first = e.resolve(.ret(v), margin: 0)
    }
    _ = e.emit(.load(SeccompDataLayout.arch), after: first)
    let program = Array(e.code.reversed())
    guard program.count <= BPF.maxInstructions else { throw CompileError(length: program.count) }
    return program
  }

  // MARK: - The number space of one audit arch

  /// What a run of syscall numbers does: return, or test arguments (an index into
  /// the arch's argument blocks).
  enum Outcome: Hashable {
    case ret(UInt32)
    case args(Int)
  }

  /// The rules of one syscall that depend on arguments, most restrictive first, and
  /// what happens when none matches.
  struct ArgumentBlock: Hashable {
    var rules: [Rule]
    var fallback: UInt32
    var endianness: Endianness
  }

  struct Segment {
    var lo: UInt32
    var hi: UInt32
    var outcome: Outcome
    var weight: Double
  }

  /// The number space of one audit arch being cut into runs of equal outcome.
  struct NumberSpace {
    var segments: [Segment] = []
    var blocks: [ArgumentBlock] = []
    var blockIndex: [ArgumentBlock: Int] = [:]
    let badArch: UInt32

    init(badArch: UInt32) { self.badArch = badArch }

    /// Appends `lo...hi` with `outcome`, merging with the previous run when equal.
    mutating func append(_ lo: UInt32, _ hi: UInt32, _ outcome: Outcome, table: [UInt32]?) {
      let w = Compiler.weight(lo, hi, outcome, table: table)
      if let last = segments.last, last.outcome == outcome, last.hi &+ 1 == lo {
        segments[segments.count - 1].hi = hi
        segments[segments.count - 1].weight += w
      } else {
        segments.append(Segment(lo: lo, hi: hi, outcome: outcome, weight: w))
      }
    }

    /// What a number of `p` gets when no rule matches: the ENOSYS stub or the default.
    static func base(_ p: ArchPolicy, _ nr: UInt32) -> UInt32 {
      if nr != .max, let stub = p.enosysAbove, nr > stub.word || (nr == 0 && (p.arch == .s390 || p.arch == .s390x)) {
        return SeccompAction.errno(SeccompAction.enosys).returnValue
      }
      return p.defaultAction.returnValue
    }

    /// The outcome of number `nr`, whose rules are `rules`: a constant when the
    /// arguments cannot change it.
    mutating func outcome(_ p: ArchPolicy, nr: UInt32, rules: [Rule]) -> Outcome {
      var fallback = NumberSpace.base(p, nr)
      if rules.count == 1 && rules[0].conditions.isEmpty { return .ret(rules[0].action.returnValue) }
      // Most restrictive first; among equals, file order (a stable sort).
      var ordered = rules.indices.sorted { (rules[$0].action.kind, $0) < (rules[$1].action.kind, $1) }.map { rules[$0] }
      if let firstAlways = ordered.firstIndex(where: { $0.conditions.isEmpty }) {
        fallback = ordered[firstAlways].action.returnValue
        ordered.removeSubrange(firstAlways...)
      }
      while let last = ordered.last, last.action.returnValue == fallback { ordered.removeLast() }
      if ordered.isEmpty { return .ret(fallback) }
      let block = ArgumentBlock(rules: ordered, fallback: fallback, endianness: p.arch.endianness)
      if let i = blockIndex[block] { return .args(i) }
      blocks.append(block)
      blockIndex[block] = blocks.count - 1
      return .args(blocks.count - 1)
    }

    /// Adds the numbers `lo...hi` of `p` (nil: the ABI is not in the policy).
    mutating func add(_ p: ArchPolicy?, _ lo: UInt32, _ hi: UInt32) {
      guard let p else {
        append(lo, hi, .ret(badArch), table: nil)
        return
      }
      var byNumber: [UInt32: [Rule]] = [:]
      for r in p.rules where r.number.word >= lo && r.number.word <= hi {
        byNumber[r.number.word, default: []].append(r)
      }
      // The base action changes only at 0/1 (s390's nr 0), above the ENOSYS threshold,
      // and at nr = -1, which always reaches the default action.
      var cuts: [UInt32] = [1, UInt32.max]
      if let stub = p.enosysAbove, stub.word < .max { cuts.append(stub.word + 1) }
      cuts.sort()
      let table = Compiler.sortedTableNumbers[p.arch.abi]!
      func base(_ a: UInt32, _ b: UInt32) {
        var start = a
        for c in cuts where c > start && c <= b {
          append(start, c - 1, .ret(NumberSpace.base(p, start)), table: table)
          start = c
        }
        append(start, b, .ret(NumberSpace.base(p, start)), table: table)
      }
      var cursor = lo
      for n in byNumber.keys.sorted() {
        if n > cursor { base(cursor, n - 1) }
        append(n, n, outcome(p, nr: n, rules: byNumber[n]!), table: table)
        if n == hi { return }
        cursor = n + 1
      }
      base(cursor, hi)
    }
  }

  /// The whole 32-bit number space of one audit arch, x86_64's x32 ranges included.
  static func numberSpace(_ members: [ArchPolicy], badArch: UInt32) -> NumberSpace {
    var space = NumberSpace(badArch: badArch)
    let x64 = members.first { $0.arch == .x86_64 }
    let x32 = members.first { $0.arch == .x32 }
    if x64 == nil && x32 == nil {
      space.add(members[0], 0, .max)
    } else {
      space.add(x64, 0, 0x3fff_ffff)
      space.add(x32, 0x4000_0000, 0x7fff_ffff)
      space.add(x64, 0x8000_0000, 0xbfff_ffff)
      space.add(x32, 0xc000_0000, 0xffff_fffe)
      let owner = x64 ?? x32!
      space.append(.max, .max, .ret(owner.defaultAction.returnValue), table: nil)
    }
    return space
  }

  static func emitArchBlock(audit: AuditArch, members: [ArchPolicy], badArch: UInt32, into e: inout Emitter) -> Emitter.Label {
    let space = numberSpace(members, badArch: badArch)
    let segs = space.segments
    // Argument blocks first (they sit after the tree).
    let blockLabels = space.blocks.map { emitArgumentBlock($0, into: &e) }
    func target(_ o: Outcome) -> Emitter.Target {
      switch o {
      case .ret(let v): .ret(v)
      case .args(let b): .label(blockLabels[b])
      }
    }
    func emit(_ t: SearchTree) -> Emitter.Target {
      switch t {
      case .leaf(let i): return target(segs[i].outcome)
      case .split(let k, let left, let right):
        let r = emit(right)
        let l = emit(left)
        return .label(e.branch(BPF.jge, segs[k].lo, jt: r, jf: l))
      }
    }
    switch emit(searchTree(segs.map(\.weight))) {
    case .ret(let v):
      // One outcome for every number: no need to load it.
      return e.resolve(.ret(v), margin: 0)
    case .label(let l):
      return e.emit(.load(SeccompDataLayout.nr), after: l)
    }
  }

  /// How much a run matters for the search tree: the syscalls of the table in it that
  /// get past the filter count fully, other syscalls a little, empty number space barely.
  static func weight(_ lo: UInt32, _ hi: UInt32, _ outcome: Outcome, table: [UInt32]?) -> Double {
    guard let table else { return 0.001 }
    let count = countInRange(table, lo, hi)
    let permits: Bool
    switch outcome {
    case .ret(let v): permits = SeccompAction(returnValue: v).kind >= .userNotif
    case .args: permits = true
    }
    return (permits ? Double(count) : 0.05 * Double(count)) + 0.001
  }

  /// Each ABI's syscall numbers, sorted.
  static let sortedTableNumbers: [SyscallABI: [UInt32]] = Dictionary(
    uniqueKeysWithValues: SyscallABI.allCases.map { abi in (abi, SyscallTable.entries(in: abi).map(\.number.word).sorted()) })

  static func countInRange(_ sorted: [UInt32], _ lo: UInt32, _ hi: UInt32) -> Int {
    func lowerBound(_ v: UInt32) -> Int {
      var a = 0
      var b = sorted.count
      while a < b {
        let m = (a + b) / 2
        if sorted[m] < v { a = m + 1 } else { b = m }
      }
      return a
    }
    let start = lowerBound(lo)
    let end = hi == .max ? sorted.count : lowerBound(hi + 1)
    return max(0, end - start)
  }

  /// A binary search tree over runs: `split` k sends numbers >= run k's start right.
  indirect enum SearchTree {
    case leaf(Int)
    case split(Int, SearchTree, SearchTree)
  }

  /// The search tree over runs with weights `w` that keeps heavy runs shallow.
  ///
  /// Ranges of up to `window` runs get the optimal alphabetic tree (dynamic
  /// programming with Knuth's bound on the roots, quadratic in the window); above that,
  /// the range is split where the weight halves (the top of an optimal tree is close to
  /// balanced), so the time stays near-linear in the number of runs.
  static func searchTree(_ w: [Double], window: Int = 64) -> SearchTree {
    var prefix = [Double](repeating: 0, count: w.count + 1)
    for i in w.indices { prefix[i + 1] = prefix[i] + w[i] }
    func build(_ i: Int, _ j: Int) -> SearchTree {
      if i == j { return .leaf(i) }
      if j - i < window { return optimal(i, j) }
      let half = (prefix[i] + prefix[j + 1]) / 2
      var k = i + 1
      while k < j && prefix[k + 1] <= half { k += 1 }
      return .split(k, build(i, k - 1), build(k, j))
    }
    func optimal(_ first: Int, _ last: Int) -> SearchTree {
      let n = last - first + 1
      func index(_ i: Int, _ j: Int) -> Int { j * (j + 1) / 2 + i }
      var root = [Int32](repeating: 0, count: n * (n + 1) / 2)
      var cost = [Double](repeating: 0, count: n * (n + 1) / 2)
      for i in 0..<n { root[index(i, i)] = Int32(i) }
      for len in 2...n {
        for i in 0...(n - len) {
          let j = i + len - 1
          let lo = len == 2 ? i + 1 : max(i + 1, Int(root[index(i, j - 1)]))
          let hi = len == 2 ? j : min(j, Int(root[index(i + 1, j)]))
          var best = Double.infinity
          var bestK = lo
          for k in lo...max(lo, hi) {
            let c = cost[index(i, k - 1)] + cost[index(k, j)]
            if c < best {
              best = c
              bestK = k
            }
          }
          cost[index(i, j)] = best + prefix[first + j + 1] - prefix[first + i]
          root[index(i, j)] = Int32(bestK)
        }
      }
      func tree(_ i: Int, _ j: Int) -> SearchTree {
        if i == j { return .leaf(first + i) }
        let k = Int(root[index(i, j)])
        return .split(first + k, tree(i, k - 1), tree(k, j))
      }
      return tree(0, n - 1)
    }
    return build(0, w.count - 1)
  }

  // MARK: - Argument blocks

  static func emitArgumentBlock(_ block: ArgumentBlock, into e: inout Emitter) -> Emitter.Label {
    var next = Emitter.Target.ret(block.fallback)
    for rule in block.rules.reversed() {
      var t = Emitter.Target.ret(rule.action.returnValue)
      for c in rule.conditions.reversed() {
        t = emitCondition(c, endianness: block.endianness, ifTrue: t, ifFalse: next, into: &e)
      }
      next = t
    }
    switch next {
    case .label(let l): return l
    case .ret(let v): return e.resolve(.ret(v), margin: 0)
    }
  }

  /// Emits a test of one condition; returns where it starts.
  static func emitCondition(
    _ c: Condition, endianness: Endianness, ifTrue: Emitter.Target, ifFalse: Emitter.Target, into e: inout Emitter
  ) -> Emitter.Target {
    let lo = SeccompDataLayout.argument(c.index, high: false, endianness: endianness)
    let hi = SeccompDataLayout.argument(c.index, high: true, endianness: endianness)
    if c.width <= 0xffff_ffff {
      return emitWord(
        op: c.op, value: UInt32(truncatingIfNeeded: c.value), valueTwo: UInt32(truncatingIfNeeded: c.valueTwo),
        width: UInt32(c.width), offset: lo, ifTrue: ifTrue, ifFalse: ifFalse, into: &e)
    }
    let vh = UInt32(truncatingIfNeeded: c.value >> 32), vl = UInt32(truncatingIfNeeded: c.value)
    switch c.op {
    case .equal, .notEqual:
      let (t, f) = c.op == .equal ? (ifTrue, ifFalse) : (ifFalse, ifTrue)
      let low = emitWord(op: .equal, value: vl, valueTwo: 0, width: .max, offset: lo, ifTrue: t, ifFalse: f, into: &e)
      return emitWord(op: .equal, value: vh, valueTwo: 0, width: .max, offset: hi, ifTrue: low, ifFalse: f, into: &e)
    case .greaterThan, .greaterOrEqual, .lessThan, .lessOrEqual:
      // a > v  <=>  hi > vh || (hi == vh && lo > vl); a >= v likewise with lo >= vl.
      let strict = c.op == .greaterThan || c.op == .lessOrEqual
      let (t, f) = (c.op == .greaterThan || c.op == .greaterOrEqual) ? (ifTrue, ifFalse) : (ifFalse, ifTrue)
      let low = emitWord(op: strict ? .greaterThan : .greaterOrEqual, value: vl, valueTwo: 0, width: .max, offset: lo, ifTrue: t, ifFalse: f, into: &e)
      if vh == 0 {
        // hi > 0 decides; otherwise hi == 0.
        return emitWord(op: .greaterThan, value: 0, valueTwo: 0, width: .max, offset: hi, ifTrue: t, ifFalse: low, into: &e)
      }
      if vh == .max {
        return emitWord(op: .equal, value: vh, valueTwo: 0, width: .max, offset: hi, ifTrue: low, ifFalse: f, into: &e)
      }
      let eq = e.branch(BPF.jeq, vh, jt: e.skippingLoad(low, holding: hi), jf: e.skippingLoad(f, holding: hi))
      let gt = e.branch(BPF.jgt, vh, jt: e.skippingLoad(t, holding: hi), jf: .label(eq))
      return .label(e.emit(.load(hi), after: gt))
    case .maskedEqual:
      let mh = UInt32(truncatingIfNeeded: c.value >> 32), ml = UInt32(truncatingIfNeeded: c.value)
      let dh = UInt32(truncatingIfNeeded: c.valueTwo >> 32), dl = UInt32(truncatingIfNeeded: c.valueTwo)
      var t = ifTrue
      if ml != 0 {
        t = emitWord(op: .maskedEqual, value: ml, valueTwo: dl, width: .max, offset: lo, ifTrue: t, ifFalse: ifFalse, into: &e)
      }
      if mh != 0 {
        t = emitWord(op: .maskedEqual, value: mh, valueTwo: dh, width: .max, offset: hi, ifTrue: t, ifFalse: ifFalse, into: &e)
      }
      return t
    }
  }

  /// Emits `ld offset` and a 32-bit test of it (the word cut to `width` first when
  /// the argument is narrower).
  static func emitWord(
    op: ComparisonOperator, value v: UInt32, valueTwo d: UInt32, width: UInt32, offset: UInt32,
    ifTrue: Emitter.Target, ifFalse: Emitter.Target, into e: inout Emitter
  ) -> Emitter.Target {
    var mask: UInt32? = op == .maskedEqual ? nil : (width == .max ? nil : width)
    var jumpOp: UInt16
    var k = v
    var swap = false
    switch op {
    case .equal: jumpOp = BPF.jeq
    case .notEqual: jumpOp = BPF.jeq; swap = true
    case .greaterThan: jumpOp = BPF.jgt
    case .greaterOrEqual: jumpOp = BPF.jge
    case .lessThan: jumpOp = BPF.jge; swap = true
    case .lessOrEqual: jumpOp = BPF.jgt; swap = true
    case .maskedEqual:
      if v == 0 { return ifTrue }  // (a & 0) == 0 always
      if d == 0 {
        jumpOp = BPF.jset; swap = true  // no bit of the mask set
      } else if d == v && v.nonzeroBitCount == 1 {
        jumpOp = BPF.jset  // the one bit set
      } else {
        jumpOp = BPF.jeq; k = d; mask = v
      }
    }
    // Targets reached with the loaded word still in A can skip their own load of it.
    var t = ifTrue, f = ifFalse
    if mask == nil {
      t = e.skippingLoad(t, holding: offset)
      f = e.skippingLoad(f, holding: offset)
    }
    if swap { (t, f) = (f, t) }
    var label = e.branch(jumpOp, k, jt: t, jf: f)
    if let mask { label = e.emit(.and(mask), after: label) }
    return .label(e.emit(.load(offset), after: label))
  }
}
