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

  /// What a run of syscall numbers does: return, or test arguments.
  enum Outcome: Hashable {
    case ret(UInt32)
    case args(ArgumentBlock)
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

  /// The outcome of number `nr` in `p`, without looking at arguments when possible.
  static func outcome(_ p: ArchPolicy, nr: UInt32) -> Outcome {
    let rules = p.rules(for: SyscallNumber(Int32(bitPattern: nr)))
    let base = p.decide(nr: nr, args: [UInt64](repeating: 0, count: 6))
    var fallback = rules.isEmpty ? base.action.returnValue : baseAction(p, nr: nr).returnValue
    // Most restrictive first; among equals, file order (a stable sort).
    var ordered = rules.enumerated().sorted { ($0.element.action.kind, $0.offset) < ($1.element.action.kind, $1.offset) }
      .map(\.element)
    if let firstAlways = ordered.firstIndex(where: { $0.conditions.isEmpty }) {
      fallback = ordered[firstAlways].action.returnValue
      ordered.removeSubrange(firstAlways...)
    }
    while let last = ordered.last, last.action.returnValue == fallback { ordered.removeLast() }
    if ordered.isEmpty { return .ret(fallback) }
    return .args(ArgumentBlock(rules: ordered, fallback: fallback, endianness: p.arch.endianness))
  }

  /// What a number gets when no rule matches: the ENOSYS stub or the default action.
  static func baseAction(_ p: ArchPolicy, nr: UInt32) -> SeccompAction {
    var noRules = p
    noRules.rules = []
    return noRules.decide(nr: nr, args: []).action
  }

  /// The numbers `lo...hi` of `p` as runs of equal outcome.
  static func segments(_ p: ArchPolicy, _ lo: UInt32, _ hi: UInt32) -> [(UInt32, UInt32, Outcome)] {
    var out: [(UInt32, UInt32, Outcome)] = []
    func base(_ a: UInt32, _ b: UInt32) {
      guard a <= b else { return }
      // The base action changes only at 0/1 (s390's nr 0) and above the ENOSYS threshold,
      var cuts: [UInt32] = [a]
      // ... and at nr = -1, which always reaches the default action.
      for c in [UInt32(1), p.enosysAbove.map { $0.word &+ 1 } ?? 0, UInt32.max] where c > a && c <= b && !cuts.contains(c) {
        cuts.append(c)
      }
      cuts.sort()
      for (i, c) in cuts.enumerated() {
        let end = i + 1 < cuts.count ? cuts[i + 1] - 1 : b
        out.append((c, end, .ret(baseAction(p, nr: c).returnValue)))
      }
    }
    var cursor = lo
    var done = false
    for n in p.numbers.map(\.word).sorted() where n >= lo && n <= hi {
      if n > cursor { base(cursor, n - 1) }
      out.append((n, n, outcome(p, nr: n)))
      if n == UInt32.max { done = true; break }
      cursor = n + 1
    }
    if !done && cursor <= hi && !(cursor == 0 && out.last.map { $0.1 == UInt32.max } == true) { base(cursor, hi) }
    return out
  }

  /// The whole 32-bit number space of one audit arch, x86_64's x32 ranges included.
  static func numberSpace(_ members: [ArchPolicy], badArch: UInt32) -> [(UInt32, UInt32, Outcome, ArchPolicy?)] {
    var raw: [(UInt32, UInt32, Outcome, ArchPolicy?)] = []
    let x64 = members.first { $0.arch == .x86_64 }
    let x32 = members.first { $0.arch == .x32 }
    if x64 == nil && x32 == nil {
      let p = members[0]
      raw = segments(p, 0, .max).map { ($0.0, $0.1, $0.2, p) }
    } else {
      func part(_ p: ArchPolicy?, _ lo: UInt32, _ hi: UInt32) {
        if let p { raw += segments(p, lo, hi).map { ($0.0, $0.1, $0.2, p) } } else { raw.append((lo, hi, .ret(badArch), nil)) }
      }
      part(x64, 0, 0x3fff_ffff)
      part(x32, 0x4000_0000, 0x7fff_ffff)
      part(x64, 0x8000_0000, 0xbfff_ffff)
      part(x32, 0xc000_0000, 0xffff_fffe)
      let owner = x64 ?? x32!
      raw.append((0xffff_ffff, 0xffff_ffff, .ret(owner.defaultAction.returnValue), owner))
    }
    return raw
  }

  static func emitArchBlock(audit: AuditArch, members: [ArchPolicy], badArch: UInt32, into e: inout Emitter) -> Emitter.Label {
    // Merge neighbouring runs with equal outcomes, weighting each run by the syscalls in it.
    var segs: [Segment] = []
    for (lo, hi, outcome, owner) in numberSpace(members, badArch: badArch) {
      let w = weight(lo, hi, outcome, owner)
      if let last = segs.last, last.outcome == outcome, last.hi &+ 1 == lo {
        segs[segs.count - 1].hi = hi
        segs[segs.count - 1].weight += w
      } else {
        segs.append(Segment(lo: lo, hi: hi, outcome: outcome, weight: w))
      }
    }
    // Argument blocks first (they sit after the tree), shared between equal blocks.
    var blockLabels: [ArgumentBlock: Emitter.Label] = [:]
    for s in segs {
      if case .args(let block) = s.outcome, blockLabels[block] == nil {
        blockLabels[block] = emitArgumentBlock(block, into: &e)
      }
    }
    func target(_ o: Outcome) -> Emitter.Target {
      switch o {
      case .ret(let v): .ret(v)
      case .args(let b): .label(blockLabels[b]!)
      }
    }
    let roots = optimalSplits(segs.map(\.weight))
    func tree(_ i: Int, _ j: Int) -> Emitter.Target {
      if i == j { return target(segs[i].outcome) }
      let k = roots[i * segs.count + j]
      let right = tree(k, j)
      let left = tree(i, k - 1)
      return .label(e.branch(BPF.jge, segs[k].lo, jt: right, jf: left))
    }
    let root = tree(0, segs.count - 1)
    if case .ret(let v) = root {
      // One outcome for every number: no need to load it.
      return e.resolve(.ret(v), margin: 0)
    }
    guard case .label(let l) = root else { fatalError("unreachable") }
    return e.emit(.load(SeccompDataLayout.nr), after: l)
  }

  /// How much a run matters for the search tree: the syscalls of the table in it that
  /// get past the filter count fully, other syscalls a little, empty number space barely.
  static func weight(_ lo: UInt32, _ hi: UInt32, _ outcome: Outcome, _ owner: ArchPolicy?) -> Double {
    guard let owner else { return 0.001 }
    let abi = owner.arch.abi
    let numbers = tableNumbers(abi)
    let count = countInRange(numbers, lo, hi)
    let permits: Bool
    switch outcome {
    case .ret(let v): permits = SeccompAction(returnValue: v).kind >= .userNotif
    case .args: permits = true
    }
    return (permits ? Double(count) : 0.25 * Double(count)) + 0.001
  }

  static func tableNumbers(_ abi: SyscallABI) -> [UInt32] {
    SyscallTable.entries(in: abi).map(\.number.word).sorted()
  }

  static func countInRange(_ sorted: [UInt32], _ lo: UInt32, _ hi: UInt32) -> Int {
    func lowerBound(_ v: UInt32) -> Int {
      var a = 0, b = sorted.count
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

  /// For leaves with weights `w`, the split of every range i...j (left i..<k, right
  /// k...j) that minimises the weighted depth: the optimal alphabetic tree, with Knuth's
  /// bound on the roots (quadratic time). Large inputs fall back to balanced halves.
  static func optimalSplits(_ w: [Double]) -> [Int] {
    let n = w.count
    var root = [Int](repeating: 0, count: n * n)
    if n > 1500 {
      func halve(_ i: Int, _ j: Int) {
        guard i < j else { return }
        let k = (i + j + 1) / 2
        root[i * n + j] = k
        halve(i, k - 1)
        halve(k, j)
      }
      halve(0, n - 1)
      return root
    }
    var prefix = [Double](repeating: 0, count: n + 1)
    for i in 0..<n { prefix[i + 1] = prefix[i] + w[i] }
    var cost = [Double](repeating: 0, count: n * n)
    for i in 0..<n { root[i * n + i] = i }
    if n >= 2 {
      for len in 2...n {
        for i in 0...(n - len) {
          let j = i + len - 1
          let lo = len == 2 ? i + 1 : max(i + 1, root[i * n + j - 1])
          let hi = len == 2 ? j : min(j, root[(i + 1) * n + j])
          var best = Double.infinity
          var bestK = lo
          for k in lo...max(lo, hi) {
            let c = cost[i * n + k - 1] + cost[k * n + j]
            if c < best {
              best = c
              bestK = k
            }
          }
          cost[i * n + j] = best + prefix[j + 1] - prefix[i]
          root[i * n + j] = bestK
        }
      }
    }
    return root
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

/// Builds a program backwards, so every jump target exists before the jump: a label
/// is an instruction's distance from the end of the program.
struct Emitter {
  typealias Label = Int

  enum Target: Hashable {
    case label(Label)
    case ret(UInt32)
  }

  /// The program, last instruction first.
  var code: [BPFInstruction] = []
  /// The nearest `ret` of each value, for sharing.
  var lastRet: [UInt32: Label] = [:]

  var count: Int { code.count }

  mutating func emit(_ i: BPFInstruction) -> Label {
    code.append(i)
    if i.instructionClass == BPF.ret && i.code & BPF.a == 0 { lastRet[i.k] = code.count - 1 }
    return code.count - 1
  }

  /// Emits `i` to run just before `next`, which must be the last instruction emitted.
  mutating func emit(_ i: BPFInstruction, after next: Label) -> Label {
    if next != count - 1 {
      // `next` is elsewhere (a shared target): fall into it through a jump.
      _ = emit(.jump(UInt32(count - next - 1)))
    }
    return emit(i)
  }

  /// A label to jump to for `t` from an instruction `margin` places ahead, within a
  /// conditional jump's reach of 255: a shared `ret`, or a new one, or a `ja` trampoline.
  mutating func resolve(_ t: Target, margin: Int) -> Label {
    let from = count + margin
    switch t {
    case .ret(let v):
      if let l = lastRet[v], from - l - 1 <= 255 { return l }
      return emit(.ret(v))
    case .label(let l):
      if from - l - 1 <= 255 { return l }
      if code[l].instructionClass == BPF.ret && code[l].code & BPF.a == 0 { return resolve(.ret(code[l].k), margin: margin) }
      return emit(.jump(UInt32(count - l - 1)))
    }
  }

  /// A conditional jump on A against `k`; returns its label, or the common target when both are the same.
  mutating func branch(_ op: UInt16, _ k: UInt32, jt: Target, jf: Target) -> Label {
    if jt == jf { return resolve(jt, margin: 0) }
    let t = resolve(jt, margin: 2)
    let f = resolve(jf, margin: 1)
    if t == f { return t }
    let here = count
    return emit(.jump(op, k, UInt8(here - t - 1), UInt8(here - f - 1)))
  }

  /// `t`, or the instruction after it when `t` starts by loading the word A already holds.
  func skippingLoad(_ t: Target, holding offset: UInt32) -> Target {
    if case .label(let l) = t, l > 0, code[l] == .load(offset) { return .label(l - 1) }
    return t
  }
}
