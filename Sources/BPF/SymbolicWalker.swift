import Syscalls

// Symbolic execution of classic seccomp BPF.
//
// For one ABI and one syscall number, `nr` and `arch` are constants and every other
// 32-bit word of `seccomp_data` (the instruction pointer's and each argument's halves)
// is a variable. The walker follows every path of a program, keeping per word a
// conjunction of `WordAtom`s (`word & mask` in an interval, or different from a value),
// and drops a branch as soon as its conditions have no solution. A, X and the scratch
// words hold a constant or a word ANDed with a constant; anything else (arithmetic on
// a word, comparing two words, returning a computed value) stops with `TooComplex`.
//
// The paths of a program partition the argument space; a stack of filters is walked
// filter after filter inside each region of the ones before, so the final regions
// partition the space too. Every region carries a witness found by an exact bit-level
// search, and the Interpreter is run on each witness before a result is returned: a
// disagreement is reported as `TooComplex`, never as an answer.

/// One condition on a 32-bit word of `seccomp_data`: `word & mask` in `[lo, hi]`, or,
/// when `excludes` is set, `word & mask != lo`.
public struct WordAtom: Hashable, Sendable, CustomStringConvertible {
  public var mask: UInt32
  public var lo: UInt32
  public var hi: UInt32
  public var excludes: Bool

  /// `word & mask` in `[lo, hi]`.
  public static func range(_ mask: UInt32, _ lo: UInt32, _ hi: UInt32) -> WordAtom {
    WordAtom(mask: mask, lo: lo, hi: hi, excludes: false)
  }
  /// `word & mask != value`.
  public static func notEqual(_ mask: UInt32, _ value: UInt32) -> WordAtom {
    WordAtom(mask: mask, lo: value, hi: value, excludes: true)
  }

  public func holds(_ word: UInt32) -> Bool {
    let v = word & mask
    return excludes ? v != lo : (v >= lo && v <= hi)
  }

  /// Atoms whose union is the complement of this one.
  public var negation: [WordAtom] {
    if excludes { return [.range(mask, lo, lo)] }
    var out: [WordAtom] = []
    if lo > 0 { out.append(.range(mask, 0, lo - 1)) }
    if hi < .max { out.append(.range(mask, hi + 1, .max)) }
    return out
  }

  /// True when every word meets it.
  public var isTrivial: Bool { !excludes && lo == 0 && hi >= mask }

  public var description: String { text(name: "w") }

  /// The atom as text about `name` (`a0`, `a0.hi`, `ip.lo`).
  public func text(name: String) -> String {
    let subject = mask == .max ? name : "\(name) & \(hexText(UInt64(mask)))"
    let v: (UInt32) -> String = { mask == .max ? numberText(UInt64($0)) : hexText(UInt64($0)) }
    if excludes { return "\(subject) != \(v(lo))" }
    if lo == hi { return "\(subject) == \(v(lo))" }
    if lo == 0 { return "\(subject) <= \(v(hi))" }
    if hi >= mask { return "\(subject) >= \(v(lo))" }
    return "\(subject) in [\(v(lo)), \(v(hi))]"
  }
}

/// Bounds on the symbolic walk.
public struct SymbolicLimits: Hashable, Sendable {
  /// Paths followed through one program for one region.
  public var maxPaths: Int
  /// Regions of one syscall under the whole stack.
  public var maxRegions: Int
  /// Nodes of all witness searches for one syscall.
  public var maxSearchNodes: Int

  public init(maxPaths: Int = 4096, maxRegions: Int = 4096, maxSearchNodes: Int = 4_000_000) {
    self.maxPaths = maxPaths
    self.maxRegions = maxRegions
    self.maxSearchNodes = maxSearchNodes
  }
  public static let standard = SymbolicLimits()
}

// MARK: - The walker

/// What A, X or a scratch word holds.
enum SymbolicValue: Hashable {
  case constant(UInt32)
  /// The word at this offset of `seccomp_data`, ANDed with `mask` (never 0).
  case word(UInt32, mask: UInt32)
}

/// Follows the paths of one program for one syscall number of one ABI.
public struct Walker {
  public let arch: AuditArch
  public let nr: UInt32
  public let endianness: Endianness
  public let limits: SymbolicLimits
  /// Nodes the witness searches have visited so far.
  public var searchNodes = 0

  public init(arch: AuditArch, nr: UInt32, endianness: Endianness, limits: SymbolicLimits) {
    self.arch = arch
    self.nr = nr
    self.endianness = endianness
    self.limits = limits
  }

  /// One path: the conditions on the words of `seccomp_data` that lead to it and the
  /// value its `ret` returns.
  public struct Path {
    public var words: [UInt32: [WordAtom]]
    public var returnValue: UInt32
  }

  struct State {
    var pc: Int
    var a: SymbolicValue = .constant(0)
    var x: SymbolicValue = .constant(0)
    var mem = [SymbolicValue](repeating: .constant(0), count: BPF.memWords)
    var words: [UInt32: [WordAtom]]
  }

  /// Every feasible path of `program` for calls meeting `initial`.
  public mutating func paths(_ program: [BPFInstruction], within initial: [UInt32: [WordAtom]]) throws(TooComplex) -> [Path] {
    var done: [Path] = []
    var stack = [State(pc: 0, words: initial)]
    var steps = 0
    while var s = stack.popLast() {
      while true {
        steps += 1
        if steps > limits.maxPaths * BPF.maxInstructions {
          throw TooComplex(reason: "too many instructions on the program's paths")
        }
        guard s.pc < program.count else {
          done.append(Path(words: s.words, returnValue: BPF.retKillProcess))
          break
        }
        let ins = program[s.pc]
        s.pc += 1
        let kill = BPF.retKillProcess
        switch ins.code & 0x07 {
        case BPF.ld, BPF.ldx:
          let v: SymbolicValue
          switch ins.code & 0xe0 {
          case BPF.abs:
            switch ins.k {
            case 0: v = .constant(nr)
            case 4: v = .constant(arch.rawValue)
            case let k where k % 4 == 0 && k >= 8 && k < 64: v = .word(k, mask: .max)
            default: throw TooComplex(reason: "a load of offset \(ins.k) outside seccomp_data's words")
            }
          case BPF.imm: v = .constant(ins.k)
          case BPF.len: v = .constant(64)
          case BPF.mem: v = s.mem[Int(ins.k) % BPF.memWords]
          default:
            done.append(Path(words: s.words, returnValue: kill))
            s.pc = -1
            v = .constant(0)
          }
          if s.pc < 0 { break }
          if ins.code & 0x07 == BPF.ld { s.a = v } else { s.x = v }
          continue
        case BPF.st:
          s.mem[Int(ins.k) % BPF.memWords] = s.a
          continue
        case BPF.stx:
          s.mem[Int(ins.k) % BPF.memWords] = s.x
          continue
        case BPF.alu:
          let operand: SymbolicValue = ins.code & BPF.x != 0 ? s.x : .constant(ins.k)
          let op = ins.code & 0xf0
          if op == BPF.div, case .constant(0) = operand {
            done.append(Path(words: s.words, returnValue: 0))
            break
          }
          guard let r = Walker.alu(op, s.a, operand) else {
            if [BPF.add, BPF.sub, BPF.mul, BPF.div, BPF.or, BPF.and, BPF.lsh, BPF.rsh, BPF.neg, BPF.xor].contains(op) {
              throw TooComplex(reason: "instruction \(s.pc - 1) computes on an argument beyond masking it with a constant")
            }
            done.append(Path(words: s.words, returnValue: kill))
            break
          }
          s.a = r
          continue
        case BPF.jmp:
          let op = ins.code & 0xf0
          if op == BPF.ja {
            s.pc += Int(ins.k)
            continue
          }
          guard [BPF.jeq, BPF.jgt, BPF.jge, BPF.jset].contains(op) else {
            done.append(Path(words: s.words, returnValue: kill))
            break
          }
          let operand: SymbolicValue = ins.code & BPF.x != 0 ? s.x : .constant(ins.k)
          let (ifTrue, ifFalse) = try branch(op, s.a, operand, words: s.words, at: s.pc - 1)
          if var f = ifFalse {
            f.pc = s.pc + Int(ins.jf)
            f.a = s.a; f.x = s.x; f.mem = s.mem
            stack.append(f)
          }
          if var t = ifTrue {
            t.pc = s.pc + Int(ins.jt)
            t.a = s.a; t.x = s.x; t.mem = s.mem
            s = t
            continue
          }
          if let f = stack.popLast() { s = f; continue }
        case BPF.ret:
          if ins.code & BPF.a != 0 {
            switch s.a {
            case .constant(let v): done.append(Path(words: s.words, returnValue: v))
            case .word: throw TooComplex(reason: "instruction \(s.pc - 1) returns a value computed from the arguments")
            }
          } else {
            done.append(Path(words: s.words, returnValue: ins.k))
          }
        case BPF.misc:
          if ins.code & 0xf8 == BPF.txa { s.a = s.x } else { s.x = s.a }
          continue
        default:
          done.append(Path(words: s.words, returnValue: kill))
        }
        break
      }
      if done.count > limits.maxPaths {
        throw TooComplex(reason: "more than \(limits.maxPaths) paths through one filter")
      }
    }
    return done
  }

  /// An ALU operation on symbolic values; nil when the result cannot be tracked.
  static func alu(_ op: UInt16, _ a: SymbolicValue, _ b: SymbolicValue) -> SymbolicValue? {
    switch (a, b) {
    case (.constant(let x), .constant(let y)):
      switch op {
      case BPF.add: return .constant(x &+ y)
      case BPF.sub: return .constant(x &- y)
      case BPF.mul: return .constant(x &* y)
      case BPF.div: return .constant(y == 0 ? 0 : x / y)
      case BPF.or: return .constant(x | y)
      case BPF.and: return .constant(x & y)
      case BPF.lsh: return .constant(y >= 32 ? 0 : x << y)
      case BPF.rsh: return .constant(y >= 32 ? 0 : x >> y)
      case BPF.neg: return .constant(0 &- x)
      case BPF.xor: return .constant(x ^ y)
      default: return nil
      }
    case (.word(let w, let m), .constant(let k)):
      switch op {
      case BPF.and: return m & k == 0 ? .constant(0) : .word(w, mask: m & k)
      case BPF.or: return k & m == m ? .constant(k) : (k == 0 ? a : nil)
      case BPF.add, BPF.sub, BPF.xor, BPF.lsh, BPF.rsh: return k == 0 ? a : nil
      case BPF.mul: return k == 1 ? a : (k == 0 ? .constant(0) : nil)
      case BPF.div: return k == 1 ? a : nil
      default: return nil
      }
    case (.constant(let k), .word(let w, let m)):
      switch op {
      case BPF.and: return m & k == 0 ? .constant(0) : .word(w, mask: m & k)
      case BPF.or, BPF.add, BPF.xor: return k == 0 ? b : nil
      case BPF.mul: return k == 1 ? b : (k == 0 ? .constant(0) : nil)
      case BPF.lsh, BPF.rsh: return k == 0 ? .constant(0) : nil
      case BPF.neg: return .constant(0 &- k)
      default: return nil
      }
    case (.word(let w1, let m1), .word(let w2, let m2)):
      if op == BPF.and && w1 == w2 { return m1 & m2 == 0 ? .constant(0) : .word(w1, mask: m1 & m2) }
      if op == BPF.or && w1 == w2 && m1 == m2 { return a }
      if op == BPF.neg { return nil }
      return nil
    }
  }

  /// The states after a conditional jump: each nil when its side cannot happen.
  mutating func branch(
    _ op: UInt16, _ a: SymbolicValue, _ b: SymbolicValue, words: [UInt32: [WordAtom]], at index: Int
  ) throws(TooComplex) -> (State?, State?) {
    func state(_ w: [UInt32: [WordAtom]]) -> State { State(pc: 0, words: w) }
    switch (a, b) {
    case (.constant(let x), .constant(let y)):
      let taken: Bool
      switch op {
      case BPF.jeq: taken = x == y
      case BPF.jgt: taken = x > y
      case BPF.jge: taken = x >= y
      default: taken = x & y != 0
      }
      return taken ? (state(words), nil) : (nil, state(words))
    case (.word(let w, let m), .constant(let k)):
      // word & m compared with k.
      let (t, f): ([WordAtom], [WordAtom])
      switch op {
      case BPF.jeq: (t, f) = ([.range(m, k, k)], [.notEqual(m, k)])
      case BPF.jgt: (t, f) = (k == .max ? [.range(m, 1, 0)] : [.range(m, k + 1, .max)], [.range(m, 0, k)])
      case BPF.jge: (t, f) = ([.range(m, k, .max)], k == 0 ? [.range(m, 1, 0)] : [.range(m, 0, k - 1)])
      default:
        let bits = m & k
        if bits == 0 { return (nil, state(words)) }
        (t, f) = ([.notEqual(bits, 0)], [.range(bits, 0, 0)])
      }
      return (try add(t, to: w, words).map(state), try add(f, to: w, words).map(state))
    case (.constant(let k), .word(let w, let m)):
      // k compared with word & m: the same tests seen from the word.
      let (t, f): ([WordAtom], [WordAtom])
      switch op {
      case BPF.jeq: (t, f) = ([.range(m, k, k)], [.notEqual(m, k)])
      case BPF.jgt: (t, f) = (k == 0 ? [.range(m, 1, 0)] : [.range(m, 0, k - 1)], [.range(m, k, .max)])
      case BPF.jge: (t, f) = ([.range(m, 0, k)], k == .max ? [.range(m, 1, 0)] : [.range(m, k + 1, .max)])
      default:
        let bits = m & k
        if bits == 0 { return (nil, state(words)) }
        (t, f) = ([.notEqual(bits, 0)], [.range(bits, 0, 0)])
      }
      return (try add(t, to: w, words).map(state), try add(f, to: w, words).map(state))
    case (.word(let w1, let m1), .word(let w2, let m2)) where w1 == w2 && m1 == m2:
      switch op {
      case BPF.jeq, BPF.jge: return (state(words), nil)
      case BPF.jgt: return (nil, state(words))
      default: return (try add([.notEqual(m1, 0)], to: w1, words).map(state), try add([.range(m1, 0, 0)], to: w1, words).map(state))
      }
    case (.word, .word):
      throw TooComplex(reason: "instruction \(index) compares two argument words with each other")
    }
  }

  /// `words` with `atoms` added to word `w`; nil when no value of the word meets them all.
  public mutating func add(_ atoms: [WordAtom], to w: UInt32, _ words: [UInt32: [WordAtom]]) throws(TooComplex) -> [UInt32: [WordAtom]]? {
    var list = words[w] ?? []
    for a in atoms where !a.isTrivial {
      if a.lo > a.hi && !a.excludes { return nil }
      if !list.contains(a) { list.append(a) }
    }
    list = Walker.merge(list)
    guard try witness(list) != nil else { return nil }
    var out = words
    out[w] = list.isEmpty ? nil : list
    return out
  }

  /// Intersects the ranges on one mask and drops duplicates.
  public static func merge(_ atoms: [WordAtom]) -> [WordAtom] {
    var ranges: [UInt32: (UInt32, UInt32)] = [:]
    var order: [UInt32] = []
    var excl: [WordAtom] = []
    for a in atoms {
      if a.excludes {
        if !excl.contains(a) { excl.append(a) }
      } else if let r = ranges[a.mask] {
        ranges[a.mask] = (max(r.0, a.lo), min(r.1, a.hi))
      } else {
        ranges[a.mask] = (a.lo, min(a.hi, a.mask))
        order.append(a.mask)
      }
    }
    return order.map { WordAtom.range($0, ranges[$0]!.0, ranges[$0]!.1) } + excl
  }

  /// The least word meeting every atom, found bit by bit from the top; nil when none does.
  public mutating func witness(_ atoms: [WordAtom]) throws(TooComplex) -> UInt32? {
    if atoms.allSatisfy({ $0.holds(0) }) { return 0 }
    for a in atoms where !a.excludes {
      if a.lo > a.hi || a.lo > a.mask { return nil }
    }
    var search = WordSearch(atoms: atoms, budget: limits.maxSearchNodes - searchNodes)
    let found = search.run(31, 0, atoms.map { $0.excludes ? UInt8(1) : UInt8(3) })
    searchNodes += search.nodes
    if search.exhausted { throw TooComplex(reason: "the argument conditions are too many to solve") }
    return found
  }

  /// Drops every atom the others imply.
  public mutating func simplify(_ words: [UInt32: [WordAtom]]) throws(TooComplex) -> [UInt32: [WordAtom]] {
    var out: [UInt32: [WordAtom]] = [:]
    for (w, atoms) in words {
      var kept = Walker.merge(atoms).filter { !$0.isTrivial }
      var i = 0
      while i < kept.count && kept.count <= 64 {
        let others = Array(kept[..<i] + kept[(i + 1)...])
        var implied = true
        for n in kept[i].negation where try witness(Walker.merge(others + [n])) != nil {
          implied = false
          break
        }
        if implied { kept.remove(at: i) } else { i += 1 }
      }
      // A range narrowed by the mask's reach reads better at its real bound.
      kept = kept.map { a in
        var a = a
        if !a.excludes { a.hi = min(a.hi, a.mask) }
        return a
      }.filter { !$0.isTrivial }
      if !kept.isEmpty { out[w] = kept }
    }
    return out
  }

  /// Puts a witness of every word into `data`.
  public mutating func fill(_ data: inout SeccompData, _ words: [UInt32: [WordAtom]]) throws(TooComplex) {
    for (offset, atoms) in words {
      guard let v = try witness(atoms) else {
        throw TooComplex(reason: "internal check failed: a region has no witness")
      }
      let index = Int(offset / 8) - 2
      let firstHalf = offset % 8 == 0
      let low = firstHalf == (endianness == .little)
      let shift: UInt64 = low ? 0 : 32
      let keep: UInt64 = low ? 0xffff_ffff_0000_0000 : 0x0000_0000_ffff_ffff
      if index < 0 {
        data.instructionPointer = data.instructionPointer & keep | UInt64(v) << shift
      } else {
        data.args[index] = data.args[index] & keep | UInt64(v) << shift
      }
    }
  }
}

/// The bit-by-bit search for the least word meeting some atoms. Per atom the state
/// keeps, for a range, bit 0 "still equal to lo" and bit 1 "still equal to hi"; for an
/// exclusion, bit 0 "still equal to the excluded value". States that failed are remembered.
struct WordSearch {
  struct Key: Hashable {
    var pos: Int
    var state: [UInt8]
  }
  let atoms: [WordAtom]
  let budget: Int
  var nodes = 0
  var exhausted = false
  var failed: Set<Key> = []

  init(atoms: [WordAtom], budget: Int) {
    self.atoms = atoms
    self.budget = budget
  }

  mutating func run(_ pos: Int, _ x: UInt32, _ state: [UInt8]) -> UInt32? {
    if pos < 0 {
      for (i, a) in atoms.enumerated() where a.excludes && state[i] != 0 { return nil }
      return x
    }
    let key = Key(pos: pos, state: state)
    if failed.contains(key) { return nil }
    nodes += 1
    if nodes > budget {
      exhausted = true
      return nil
    }
    let bit: UInt32 = 1 << UInt32(pos)
    let below = bit &- 1
    for b: UInt32 in [0, 1] {
      var next = state
      var dead = false
      for (i, a) in atoms.enumerated() {
        let v: UInt32 = a.mask & bit != 0 ? b : 0
        if a.excludes {
          guard next[i] != 0 else { continue }
          if v != (a.lo & bit != 0 ? 1 : 0) { next[i] = 0 } else if a.mask & below == 0 { dead = true; break }
        } else {
          if next[i] & 1 != 0 {
            let l: UInt32 = a.lo & bit != 0 ? 1 : 0
            if v < l { dead = true; break }
            if v > l { next[i] &= ~1 }
          }
          if next[i] & 2 != 0 {
            let h: UInt32 = a.hi & bit != 0 ? 1 : 0
            if v > h { dead = true; break }
            if v < h { next[i] &= ~2 }
          }
        }
      }
      if dead { continue }
      if let found = run(pos - 1, x | (b << UInt32(pos)), next) { return found }
      if exhausted { return nil }
    }
    failed.insert(key)
    return nil
  }
}

private func numberText(_ v: UInt64) -> String { v < 0x10000 ? String(v) : hexText(v) }
private func hexText(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
