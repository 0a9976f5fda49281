import BPF
import Syscalls

// The decisions of stacks of seccomp filters, from the BPF walker's paths: each path's
// return value read as a `SeccompAction`, stacked filters combined by the kernel's
// precedence, and every region checked against the Interpreter on its witness.

/// A set of calls of one syscall on which a stack of filters decides one way: a
/// conjunction of conditions on the words of `seccomp_data`.
public struct SymbolicRegion: Hashable, Sendable {
  /// The conditions, by the word's byte offset in `seccomp_data` (8 and 12 are the
  /// instruction pointer, 16 and up the arguments). Words not listed are free.
  public var words: [UInt32: [WordAtom]]
  /// What the stack returns for every call in the region.
  public var action: SeccompAction
  /// A call in the region.
  public var witness: SeccompData
  /// The byte order that places argument halves in `seccomp_data`.
  public var endianness: Endianness

  /// Whether a call falls in this region (`nr` and `arch` are not checked).
  public func contains(_ data: SeccompData) -> Bool {
    words.allSatisfy { offset, atoms in
      let w = data.word(at: offset, endianness: endianness)
      return atoms.allSatisfy { $0.holds(w) }
    }
  }

  /// Whether some condition reads the instruction pointer.
  public var readsInstructionPointer: Bool { words.keys.contains { $0 < 16 } }

  /// The arguments some condition reads, in order.
  public var arguments: [Int] { Set(words.keys.filter { $0 >= 16 }.map { Int($0 - 16) / 8 }).sorted() }

  /// The conditions on argument `index`: on its low and its high 32-bit half.
  public func atoms(argument index: Int) -> (low: [WordAtom], high: [WordAtom]) {
    (words[SeccompDataLayout.argument(index, high: false, endianness: endianness)] ?? [],
     words[SeccompDataLayout.argument(index, high: true, endianness: endianness)] ?? [])
  }

  /// The conditions on argument `index` as one `ArgumentCell` on its 64-bit value (or
  /// on its low 32 bits when the high half is free); nil when they cannot be one
  /// (an interval on a masked word, an interval on both halves).
  public func cell(argument index: Int) -> ArgumentCell? {
    let (low, high) = atoms(argument: index)
    let width: UInt64 = high.isEmpty ? 0xffff_ffff : .max
    var lo: UInt64 = 0, hi: UInt64 = width
    var masks: [UInt64: MaskClass] = [:]
    func addMask(_ m: UInt64, equals: UInt64?, excluded: UInt64?) -> Bool {
      var c = masks[m] ?? MaskClass(mask: m, equals: nil, excluded: [])
      if let equals {
        if let e = c.equals, e != equals { return false }
        c.equals = equals
      }
      if let excluded { c.excluded.append(excluded) }
      masks[m] = c
      return true
    }
    var lowRange: (UInt32, UInt32)? = nil, highRange: (UInt32, UInt32)? = nil
    for (atoms, shift) in [(low, UInt64(0)), (high, UInt64(32))] {
      for a in atoms {
        let m = UInt64(a.mask) << shift
        if a.excludes {
          if !addMask(m, equals: nil, excluded: UInt64(a.lo) << shift) { return nil }
        } else if a.mask == .max {
          if shift == 0 { if lowRange != nil { return nil }; lowRange = (a.lo, a.hi) } else {
            if highRange != nil { return nil }
            highRange = (a.lo, a.hi)
          }
        } else if a.lo == a.hi {
          if !addMask(m, equals: UInt64(a.lo) << shift, excluded: nil) { return nil }
        } else {
          return nil
        }
      }
    }
    switch (highRange, lowRange) {
    case (nil, nil): break
    case (nil, let l?):
      if !high.isEmpty {
        // The high half has only mask conditions: the low range must be written per
        // high value, which one interval cannot do.
        return nil
      }
      lo = UInt64(l.0); hi = UInt64(l.1)
    case (let h?, nil):
      lo = UInt64(h.0) << 32; hi = UInt64(h.1) << 32 | 0xffff_ffff
    case (let h?, let l?):
      guard h.0 == h.1 else { return nil }
      lo = UInt64(h.0) << 32 | UInt64(l.0); hi = UInt64(h.0) << 32 | UInt64(l.1)
    }
    let classes = masks.keys.sorted().map { k -> MaskClass in
      var c = masks[k]!
      if c.equals != nil { c.excluded = [] }
      return c
    }
    let w = witness.args[index] & width
    return ArgumentCell(index: index, width: width, lo: lo, hi: hi, masks: classes, witness: w)
  }

  /// The region as text, e.g. `a0 == 1 && a2 & 0x3 != 0`; `any arguments` when free.
  /// `widths` gives the bits the kernel keeps of each argument (a 32-bit argument's
  /// low half is then written as the argument).
  public func describe(widths: (Int) -> UInt64 = { _ in .max }) -> String {
    var parts: [String] = []
    for offset: UInt32 in [8, 12] {
      guard let atoms = words[offset] else { continue }
      let low = (offset == 8) == (endianness == .little)
      parts += atoms.map { $0.text(name: low ? "ip.lo" : "ip.hi") }
    }
    for index in arguments {
      let (low, high) = atoms(argument: index)
      let narrow = widths(index) <= 0xffff_ffff
      if let cell = cell(argument: index), high.isEmpty ? narrow : true {
        parts.append(SymbolicRegion.text(cell))
        continue
      }
      parts += low.map { $0.text(name: narrow ? "a\(index)" : "a\(index).lo") }
      parts += high.map { $0.text(name: "a\(index).hi") }
    }
    return parts.isEmpty ? "any arguments" : parts.joined(separator: " && ")
  }

  /// A cell as `diff` writes it, with `==` and `!=` for single values.
  static func text(_ c: ArgumentCell) -> String {
    var parts: [String] = []
    if c.lo == c.hi {
      parts.append("a\(c.index) == \(ArgumentValue(c.lo))")
    } else if c.lo == 0 && c.hi != c.width {
      parts.append("a\(c.index) <= \(ArgumentValue(c.hi))")
    } else if c.lo != 0 && c.hi == c.width {
      parts.append("a\(c.index) >= \(ArgumentValue(c.lo))")
    } else if !c.isWholeInterval {
      parts.append("a\(c.index) in [\(ArgumentValue(c.lo)), \(ArgumentValue(c.hi))]")
    }
    for m in c.masks {
      if m.mask == c.width, m.equals == nil {
        parts += m.excluded.map { "a\(c.index) != \(ArgumentValue($0))" }
      } else if let e = m.equals {
        parts.append("a\(c.index) & \(ArgumentValue(m.mask).hex) == \(ArgumentValue(e).hex)")
      } else {
        parts.append("a\(c.index) & \(ArgumentValue(m.mask).hex) ∉ {\(m.excluded.map { ArgumentValue($0).hex }.joined(separator: ", "))}")
      }
    }
    return parts.isEmpty ? "any a\(c.index)" : parts.joined(separator: " && ")
  }
}

/// The decisions of a stack of filters for one syscall number of one ABI, on every
/// argument region.
public struct SymbolicDecisions: Hashable, Sendable {
  public var arch: AuditArch
  public var nr: UInt32
  /// Disjoint regions covering every value of the instruction pointer and arguments.
  public var regions: [SymbolicRegion]

  /// The decision when it does not depend on the arguments or instruction pointer.
  public var constantAction: SeccompAction? {
    let actions = Set(regions.map(\.action))
    return actions.count == 1 ? actions.first : nil
  }

  /// The region a call falls in.
  public func region(of data: SeccompData) -> SymbolicRegion? {
    regions.first { $0.contains(data) }
  }
}

/// A place where two stacks of filters decide differently, with a call that shows it.
public struct SymbolicDifference: Hashable, Sendable {
  public var region: SymbolicRegion
  public var first: SeccompAction
  public var second: SeccompAction
}

/// Symbolic execution of seccomp BPF programs.
public enum SymbolicFilter {
  /// The decisions of `filters` (newest first, as the kernel runs them) for calls of
  /// `nr` on `arch`, over every value of the arguments and instruction pointer, combined
  /// by the kernel's precedence (the most restrictive action; among equal ones the
  /// first filter run gives the data). `within` confines the calls looked at (e.g. to
  /// `keptSpace(widths:endianness:)`); the regions then cover that set only.
  public static func decisions(
    _ filters: [[BPFInstruction]], arch: AuditArch, nr: UInt32, endianness: Endianness,
    limits: SymbolicLimits = .standard, within: [UInt32: [WordAtom]] = [:]
  ) throws(TooComplex) -> SymbolicDecisions {
    var walker = Walker(arch: arch, nr: nr, endianness: endianness, limits: limits)
    var regions: [(words: [UInt32: [WordAtom]], action: SeccompAction?)] = [(within, nil)]
    for program in filters {
      var next: [(words: [UInt32: [WordAtom]], action: SeccompAction?)] = []
      for r in regions {
        for path in try walker.paths(program, within: r.words) {
          let a = SeccompAction(returnValue: path.returnValue)
          let combined = r.action.map { $0.kind <= a.kind ? $0 : a } ?? a
          next.append((path.words, combined))
          if next.count > limits.maxRegions {
            throw TooComplex(reason: "more than \(limits.maxRegions) argument regions")
          }
        }
      }
      regions = next
    }
    var out: [SymbolicRegion] = []
    for r in regions {
      let words = try walker.simplify(r.words)
      var data = SeccompData(nr: nr, arch: arch)
      try walker.fill(&data, words)
      let action = r.action ?? .allow
      let region = SymbolicRegion(words: words, action: action, witness: data, endianness: endianness)
      let check = decide(filters, data, endianness: endianness)
      guard check == action else {
        throw TooComplex(reason: "internal check failed: the witness \(data.args) gives \(check), not \(action)")
      }
      out.append(region)
    }
    return SymbolicDecisions(arch: arch, nr: nr, regions: out)
  }

  /// The paths of one program for calls of `nr` on `arch`: the conditions of each and
  /// the value it returns.
  public static func paths(
    _ program: [BPFInstruction], arch: AuditArch, nr: UInt32, endianness: Endianness,
    limits: SymbolicLimits = .standard
  ) throws(TooComplex) -> [(words: [UInt32: [WordAtom]], returnValue: UInt32)] {
    var walker = Walker(arch: arch, nr: nr, endianness: endianness, limits: limits)
    return try walker.paths(program, within: [:]).map { ($0.words, $0.returnValue) }
  }

  /// Where two stacks decide differently for calls of `nr` on `arch`: the common
  /// refinement of their regions, each cell with a witness; empty when they agree
  /// everywhere (everywhere in `within`).
  public static func differences(
    _ first: [[BPFInstruction]], _ second: [[BPFInstruction]], arch: AuditArch, nr: UInt32,
    endianness: Endianness, limits: SymbolicLimits = .standard, within: [UInt32: [WordAtom]] = [:]
  ) throws(TooComplex) -> [SymbolicDifference] {
    let a = try decisions(first, arch: arch, nr: nr, endianness: endianness, limits: limits, within: within)
    var walker = Walker(arch: arch, nr: nr, endianness: endianness, limits: limits)
    var out: [SymbolicDifference] = []
    for region in a.regions {
      // Walk the second stack inside this region.
      var cells: [(words: [UInt32: [WordAtom]], action: SeccompAction?)] = [(region.words, nil)]
      for program in second {
        var next: [(words: [UInt32: [WordAtom]], action: SeccompAction?)] = []
        for c in cells {
          for path in try walker.paths(program, within: c.words) {
            let act = SeccompAction(returnValue: path.returnValue)
            next.append((path.words, c.action.map { $0.kind <= act.kind ? $0 : act } ?? act))
          }
        }
        if next.count > limits.maxRegions { throw TooComplex(reason: "more than \(limits.maxRegions) argument regions") }
        cells = next
      }
      for c in cells where (c.action ?? .allow) != region.action {
        let words = try walker.simplify(c.words)
        var data = SeccompData(nr: nr, arch: arch)
        try walker.fill(&data, words)
        let x = decide(first, data, endianness: endianness), y = decide(second, data, endianness: endianness)
        guard x != y else { throw TooComplex(reason: "internal check failed: the witness \(data.args) decides alike") }
        out.append(SymbolicDifference(
          region: SymbolicRegion(words: words, action: y, witness: data, endianness: endianness), first: x, second: y))
      }
    }
    return out
  }

  /// The stack's decision for one call, run by the Interpreter: the most restrictive
  /// action, the first filter's data among equals.
  public static func decide(_ filters: [[BPFInstruction]], _ data: SeccompData, endianness: Endianness) -> SeccompAction {
    var best: SeccompAction? = nil
    for program in filters {
      let a = Interpreter.run(program, on: data, endianness: endianness).action
      if best == nil || a.kind < best!.kind { best = a }
    }
    return best ?? .allow
  }

  /// Disjoint `(mask, value)` patterns whose union is the words with `word & mask` in
  /// `[lo, hi]`: each is `word & patternMask == value`, with `patternMask` inside `mask`.
  public static func patterns(mask: UInt32, lo: UInt32, hi: UInt32) -> [(mask: UInt32, value: UInt32)] {
    var out: [(UInt32, UInt32)] = []
    // Walk the bits of the masked value from the top, keeping whether the prefix is
    // still equal to lo's and to hi's; a free subtree is one pattern.
    func walk(_ pos: Int, _ fixedMask: UInt32, _ value: UInt32, _ tl: Bool, _ th: Bool) {
      if !tl && !th { out.append((fixedMask, value)); return }
      if pos < 0 { out.append((fixedMask, value)); return }
      let bit: UInt32 = 1 << UInt32(pos)
      let lb = lo & bit != 0, hb = hi & bit != 0
      if mask & bit == 0 {
        // This bit of the masked value is 0.
        if tl && lb { return }
        walk(pos - 1, fixedMask, value, tl && !lb, th && !hb)
        return
      }
      for b in [false, true] {
        if tl && !b && lb { continue }
        if th && b && !hb { continue }
        walk(pos - 1, fixedMask | bit, b ? value | bit : value, tl && b == lb, th && b == hb)
      }
    }
    if lo <= hi { walk(31, 0, 0, true, true) }
    return out
  }

  /// Disjoint patterns whose union is the words with `word & mask != value`.
  public static func patterns(mask: UInt32, notEqual value: UInt32) -> [(mask: UInt32, value: UInt32)] {
    var out: [(UInt32, UInt32)] = []
    var above: UInt32 = 0
    for pos in stride(from: 31, through: 0, by: -1) {
      let bit: UInt32 = 1 << UInt32(pos)
      guard mask & bit != 0 else { continue }
      out.append((above | bit, (value & above) | (~value & bit)))
      above |= bit
    }
    return out
  }
}

extension ArgumentCell {
  /// The cell as `diff` writes it, with `==`, `<=` and `>=` where they say it shorter.
  public var conditionText: String { SymbolicRegion.text(self) }
}
