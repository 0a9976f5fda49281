/// Builds a program backwards, so every jump target exists before the jump: a label
/// is an instruction's distance from the end of the program.
public struct Emitter {
  public typealias Label = Int

  public enum Target: Hashable {
    case label(Label)
    case ret(UInt32)
  }

  /// The program, last instruction first.
  public var code: [BPFInstruction] = []
  /// The nearest `ret` of each value, for sharing.
  public var lastRet: [UInt32: Label] = [:]

  @inlinable public init() {}

  /// Instructions emitted so far.
  @inlinable public var count: Int { code.count }

  /// Emits `i` before everything emitted so far; returns its label.
  @inlinable public mutating func emit(_ i: BPFInstruction) -> Label {
    code.append(i)
    if i.instructionClass == BPF.ret && i.code & BPF.a == 0 { lastRet[i.k] = code.count - 1 }
    return code.count - 1
  }

  /// Emits `i` to run just before `next`, which must be the last instruction emitted.
  @inlinable public mutating func emit(_ i: BPFInstruction, after next: Label) -> Label {
    if next != count - 1 {
      // `next` is elsewhere (a shared target): fall into it through a jump.
      _ = emit(.jump(UInt32(count - next - 1)))
    }
    return emit(i)
  }

  /// A label to jump to for `t` from an instruction `margin` places ahead, within a
  /// conditional jump's reach of 255: a shared `ret`, or a new one, or a `ja` trampoline.
  @inlinable public mutating func resolve(_ t: Target, margin: Int) -> Label {
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
  @inlinable public mutating func branch(_ op: UInt16, _ k: UInt32, jt: Target, jf: Target) -> Label {
    if jt == jf { return resolve(jt, margin: 0) }
    let t = resolve(jt, margin: 2)
    let f = resolve(jf, margin: 1)
    if t == f { return t }
    let here = count
    return emit(.jump(op, k, UInt8(here - t - 1), UInt8(here - f - 1)))
  }

  /// `t`, or the instruction after it when `t` starts by loading the word A already holds.
  @inlinable public func skippingLoad(_ t: Target, holding offset: UInt32) -> Target {
    if case .label(let l) = t, l > 0, code[l] == .load(offset) { return .label(l - 1) }
    return t
  }
}
