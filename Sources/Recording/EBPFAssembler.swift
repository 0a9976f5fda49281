/// A small assembler for the 64-bit eBPF instruction set (linux/bpf.h, the kernel's
/// Documentation/bpf/standardization/instruction-set.rst): typed instructions, their
/// 8-byte encoding, and a builder with labels that resolves jump offsets. It knows what
/// syscage's recorder programs need (ALU64, conditional and unconditional jumps, loads
/// and stores, atomic add, 64-bit immediates and map references, helper calls, exit),
/// not the whole ISA (no JMP32, no ALU32 beyond what `EBPFInstruction(code:…)` can spell).

/// An eBPF register: r0 (return values), r1–r5 (arguments, clobbered by calls), r6–r9
/// (kept across calls), r10 (the read-only frame pointer; the stack is the 512 bytes below it).
public struct EBPFRegister: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public let rawValue: UInt8

  /// nil unless `rawValue` is 0...10.
  public init?(rawValue: UInt8) {
    guard rawValue <= 10 else { return nil }
    self.rawValue = rawValue
  }

  private init(_ value: UInt8) { rawValue = value }

  public static let r0 = EBPFRegister(0)
  public static let r1 = EBPFRegister(1)
  public static let r2 = EBPFRegister(2)
  public static let r3 = EBPFRegister(3)
  public static let r4 = EBPFRegister(4)
  public static let r5 = EBPFRegister(5)
  public static let r6 = EBPFRegister(6)
  public static let r7 = EBPFRegister(7)
  public static let r8 = EBPFRegister(8)
  public static let r9 = EBPFRegister(9)
  public static let r10 = EBPFRegister(10)
  /// r10.
  public static let framePointer = r10

  public var description: String { "r\(rawValue)" }
}

/// The width of a memory access (the BPF_SIZE bits of a load or store).
public enum EBPFSize: UInt8, Hashable, Sendable, CaseIterable {
  case byte = 0x10  // BPF_B
  case half = 0x08  // BPF_H
  case word = 0x00  // BPF_W
  case doubleWord = 0x18  // BPF_DW

  /// The width in bytes.
  public var bytes: Int {
    switch self {
    case .byte: 1
    case .half: 2
    case .word: 4
    case .doubleWord: 8
    }
  }

  /// The size of a field of `bytes` bytes, if it is 1, 2, 4 or 8.
  public init?(bytes: Int) {
    guard let size = Self.allCases.first(where: { $0.bytes == bytes }) else { return nil }
    self = size
  }
}

/// An arithmetic operation (the BPF_OP bits of an ALU64 instruction).
public enum EBPFOperation: UInt8, Hashable, Sendable {
  case add = 0x00, sub = 0x10, mul = 0x20, div = 0x30, or = 0x40, and = 0x50, lsh = 0x60, rsh = 0x70
  case neg = 0x80, mod = 0x90, xor = 0xa0, mov = 0xb0, arsh = 0xc0
}

/// The comparison of a conditional jump (the BPF_OP bits of a JMP instruction).
/// Unsigned unless its name starts with `s`.
public enum EBPFCondition: UInt8, Hashable, Sendable {
  case equal = 0x10  // BPF_JEQ
  case greater = 0x20  // BPF_JGT
  case greaterOrEqual = 0x30  // BPF_JGE
  case anyBitSet = 0x40  // BPF_JSET
  case notEqual = 0x50  // BPF_JNE
  case signedGreater = 0x60  // BPF_JSGT
  case signedGreaterOrEqual = 0x70  // BPF_JSGE
  case less = 0xa0  // BPF_JLT
  case lessOrEqual = 0xb0  // BPF_JLE
  case signedLess = 0xc0  // BPF_JSLT
  case signedLessOrEqual = 0xd0  // BPF_JSLE
}

/// A kernel helper function, by its number in linux/bpf.h's `enum bpf_func_id`.
public struct EBPFHelper: RawRepresentable, Hashable, Sendable {
  public let rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }

  /// `void *bpf_map_lookup_elem(map, const void *key)`: the value, or NULL.
  public static let mapLookupElement = EBPFHelper(rawValue: 1)
  /// `long bpf_map_update_elem(map, const void *key, const void *value, u64 flags)`.
  public static let mapUpdateElement = EBPFHelper(rawValue: 2)
  /// `long bpf_map_delete_elem(map, const void *key)`.
  public static let mapDeleteElement = EBPFHelper(rawValue: 3)
  /// `u64 bpf_ktime_get_ns(void)`.
  public static let ktimeGetNanoseconds = EBPFHelper(rawValue: 5)
  /// `u32 bpf_get_smp_processor_id(void)`.
  public static let smpProcessorID = EBPFHelper(rawValue: 8)
  /// `u64 bpf_get_current_pid_tgid(void)`: tgid << 32 | tid, as the initial pid namespace sees them.
  public static let currentPidTgid = EBPFHelper(rawValue: 14)
  /// `long bpf_probe_read_kernel(void *dst, u32 size, const void *unsafe_ptr)` (GPL only).
  public static let probeReadKernel = EBPFHelper(rawValue: 113)
}

/// One 8-byte eBPF instruction (`struct bpf_insn`). A 64-bit immediate load takes two.
public struct EBPFInstruction: Hashable, Sendable, CustomStringConvertible {
  /// The opcode: class | size/op | mode/source.
  public var code: UInt8
  public var destination: UInt8
  public var source: UInt8
  public var offset: Int16
  public var immediate: Int32

  /// The raw fields (`destination` and `source` are 4-bit register numbers or, for
  /// `source` of a 64-bit immediate load, a BPF_PSEUDO_* kind).
  public init(code: UInt8, destination: UInt8 = 0, source: UInt8 = 0, offset: Int16 = 0, immediate: Int32 = 0) {
    self.code = code
    self.destination = destination & 0x0f
    self.source = source & 0x0f
    self.offset = offset
    self.immediate = immediate
  }

  // Instruction classes.
  static let ld: UInt8 = 0x00
  static let ldx: UInt8 = 0x01
  static let st: UInt8 = 0x02
  static let stx: UInt8 = 0x03
  static let jmp: UInt8 = 0x05
  static let alu64: UInt8 = 0x07
  // Modes and sources.
  static let imm: UInt8 = 0x00
  static let mem: UInt8 = 0x60
  static let atomic: UInt8 = 0xc0
  static let k: UInt8 = 0x00
  static let x: UInt8 = 0x08
  // Jump operations without a condition.
  static let ja: UInt8 = 0x00
  static let callOp: UInt8 = 0x80
  static let exitOp: UInt8 = 0x90
  /// `src` of a 64-bit immediate load whose immediate is a map's file descriptor.
  public static let pseudoMapFD: UInt8 = 1

  /// The kernel's byte encoding (host byte order, as `bpf(BPF_PROG_LOAD)` takes it): code,
  /// the registers (dst in the low nibble on little-endian hosts), offset, immediate.
  public var bytes: [UInt8] {
    let off = UInt16(bitPattern: offset)
    let imm = UInt32(bitPattern: immediate)
    #if _endian(big)
      return [
        code, destination << 4 | source, UInt8(off >> 8), UInt8(off & 0xff),
        UInt8(imm >> 24), UInt8((imm >> 16) & 0xff), UInt8((imm >> 8) & 0xff), UInt8(imm & 0xff),
      ]
    #else
      return [
        code, source << 4 | destination, UInt8(off & 0xff), UInt8(off >> 8),
        UInt8(imm & 0xff), UInt8((imm >> 8) & 0xff), UInt8((imm >> 16) & 0xff), UInt8(imm >> 24),
      ]
    #endif
  }

  /// The encoding of a whole program.
  public static func encode(_ program: [EBPFInstruction]) -> [UInt8] { program.flatMap(\.bytes) }

  // MARK: Constructors, named after what the verifier's log prints.

  /// `dst op= src` (64-bit).
  public static func alu(_ op: EBPFOperation, _ dst: EBPFRegister, _ src: EBPFRegister) -> EBPFInstruction {
    EBPFInstruction(code: alu64 | op.rawValue | x, destination: dst.rawValue, source: src.rawValue)
  }

  /// `dst op= imm` (64-bit; `imm` is sign-extended).
  public static func alu(_ op: EBPFOperation, _ dst: EBPFRegister, _ imm: Int32) -> EBPFInstruction {
    EBPFInstruction(code: alu64 | op.rawValue | k, destination: dst.rawValue, immediate: imm)
  }

  /// `dst = src`.
  public static func mov(_ dst: EBPFRegister, _ src: EBPFRegister) -> EBPFInstruction { .alu(.mov, dst, src) }

  /// `dst = imm` (sign-extended to 64 bits).
  public static func mov(_ dst: EBPFRegister, _ imm: Int32) -> EBPFInstruction { .alu(.mov, dst, imm) }

  /// `dst = *(size *)(src + offset)`, zero-extended.
  public static func load(_ size: EBPFSize, _ dst: EBPFRegister, _ src: EBPFRegister, _ offset: Int16)
    -> EBPFInstruction
  {
    EBPFInstruction(code: ldx | mem | size.rawValue, destination: dst.rawValue, source: src.rawValue, offset: offset)
  }

  /// `*(size *)(dst + offset) = src`.
  public static func store(_ size: EBPFSize, _ dst: EBPFRegister, _ offset: Int16, _ src: EBPFRegister)
    -> EBPFInstruction
  {
    EBPFInstruction(code: stx | mem | size.rawValue, destination: dst.rawValue, source: src.rawValue, offset: offset)
  }

  /// `*(size *)(dst + offset) = imm`.
  public static func store(_ size: EBPFSize, _ dst: EBPFRegister, _ offset: Int16, _ imm: Int32) -> EBPFInstruction {
    EBPFInstruction(code: st | mem | size.rawValue, destination: dst.rawValue, offset: offset, immediate: imm)
  }

  /// `lock *(size *)(dst + offset) += src` (word or double word).
  public static func atomicAdd(_ size: EBPFSize, _ dst: EBPFRegister, _ offset: Int16, _ src: EBPFRegister)
    -> EBPFInstruction
  {
    EBPFInstruction(
      code: stx | atomic | size.rawValue, destination: dst.rawValue, source: src.rawValue, offset: offset,
      immediate: Int32(EBPFOperation.add.rawValue))
  }

  /// `dst = imm64`: two instructions.
  public static func loadImmediate(_ dst: EBPFRegister, _ value: UInt64) -> [EBPFInstruction] {
    [
      EBPFInstruction(
        code: ld | imm | EBPFSize.doubleWord.rawValue, destination: dst.rawValue,
        immediate: Int32(bitPattern: UInt32(truncatingIfNeeded: value))),
      EBPFInstruction(code: 0, immediate: Int32(bitPattern: UInt32(truncatingIfNeeded: value >> 32))),
    ]
  }

  /// `dst = map[fd]`: the map with file descriptor `fd` (BPF_PSEUDO_MAP_FD), two
  /// instructions; the kernel replaces the descriptor by the map's address at load time.
  public static func loadMap(_ dst: EBPFRegister, fd: Int32) -> [EBPFInstruction] {
    [
      EBPFInstruction(
        code: ld | imm | EBPFSize.doubleWord.rawValue, destination: dst.rawValue, source: pseudoMapFD, immediate: fd),
      EBPFInstruction(code: 0),
    ]
  }

  /// `goto +offset` (in instructions, from the next one).
  public static func jump(_ offset: Int16) -> EBPFInstruction { EBPFInstruction(code: jmp | ja, offset: offset) }

  /// `if dst cond imm goto +offset` (`imm` sign-extended to 64 bits).
  public static func jump(_ condition: EBPFCondition, _ dst: EBPFRegister, _ imm: Int32, _ offset: Int16)
    -> EBPFInstruction
  {
    EBPFInstruction(code: jmp | condition.rawValue | k, destination: dst.rawValue, offset: offset, immediate: imm)
  }

  /// `if dst cond src goto +offset`.
  public static func jump(_ condition: EBPFCondition, _ dst: EBPFRegister, _ src: EBPFRegister, _ offset: Int16)
    -> EBPFInstruction
  {
    EBPFInstruction(
      code: jmp | condition.rawValue | x, destination: dst.rawValue, source: src.rawValue, offset: offset)
  }

  /// `call helper`: arguments in r1–r5, the result in r0; r1–r5 are clobbered.
  public static func call(_ helper: EBPFHelper) -> EBPFInstruction {
    EBPFInstruction(code: jmp | callOp, immediate: helper.rawValue)
  }

  /// `exit`: return r0.
  public static let exit = EBPFInstruction(code: jmp | exitOp)

  public var description: String {
    let hex = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
    return hex.joined(separator: " ")
  }
}

/// Builds a program from instructions and labels; `assemble()` resolves the labels into
/// jump offsets (counted in instructions from the one after the jump; a 64-bit immediate
/// load counts as two).
public struct EBPFAssembler: Sendable {
  /// A place in the program, made by `label()` and placed by `bind(_:)`.
  public struct Label: Hashable, Sendable {
    fileprivate let id: Int
  }

  public enum Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
    /// A jump names a label that was never bound.
    case unboundLabel
    /// A label was bound twice.
    case labelBoundTwice
    /// A jump is farther than a 16-bit offset reaches.
    case jumpTooFar(from: Int, to: Int)

    public var description: String {
      switch self {
      case .unboundLabel: "a jump goes to a label that was never placed"
      case .labelBoundTwice: "a label was placed twice"
      case .jumpTooFar(let from, let to): "the jump at instruction \(from) to \(to) is out of range"
      }
    }
  }

  private enum Item: Sendable {
    case instruction(EBPFInstruction)
    /// A jump whose offset is filled in from the label.
    case jump(EBPFInstruction, Label)
  }

  private var items: [Item] = []
  private var positions: [Int: Int] = [:]
  private var labels = 0
  private var doubleBound = false

  public init() {}

  /// The number of instruction slots so far.
  public var count: Int { items.count }

  /// A new label, to `bind` somewhere.
  public mutating func label() -> Label {
    labels += 1
    return Label(id: labels)
  }

  /// Places `label` before the next instruction.
  public mutating func bind(_ label: Label) {
    if positions[label.id] != nil { doubleBound = true }
    positions[label.id] = items.count
  }

  /// Appends instructions as they are.
  public mutating func emit(_ instructions: EBPFInstruction...) { emit(instructions) }

  /// Appends instructions as they are.
  public mutating func emit(_ instructions: [EBPFInstruction]) {
    items += instructions.map { .instruction($0) }
  }

  /// `goto label`.
  public mutating func jump(to label: Label) { items.append(.jump(.jump(0), label)) }

  /// `if dst cond imm goto label`.
  public mutating func jump(if dst: EBPFRegister, _ condition: EBPFCondition, _ imm: Int32, to label: Label) {
    items.append(.jump(.jump(condition, dst, imm, 0), label))
  }

  /// `if dst cond src goto label`.
  public mutating func jump(if dst: EBPFRegister, _ condition: EBPFCondition, _ src: EBPFRegister, to label: Label) {
    items.append(.jump(.jump(condition, dst, src, 0), label))
  }

  /// The instructions, with every jump's offset resolved.
  public func assemble() throws(Error) -> [EBPFInstruction] {
    if doubleBound { throw .labelBoundTwice }
    var program: [EBPFInstruction] = []
    program.reserveCapacity(items.count)
    for (index, item) in items.enumerated() {
      switch item {
      case .instruction(let instruction): program.append(instruction)
      case .jump(var instruction, let label):
        guard let target = positions[label.id] else { throw .unboundLabel }
        guard let offset = Int16(exactly: target - (index + 1)) else { throw .jumpTooFar(from: index, to: target) }
        instruction.offset = offset
        program.append(instruction)
      }
    }
    return program
  }
}
