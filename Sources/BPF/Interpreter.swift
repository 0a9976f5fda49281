import Syscalls

/// `struct seccomp_data`: what a filter sees of one call.
public struct SeccompData: Hashable, Sendable {
  public var nr: UInt32
  public var arch: AuditArch
  public var instructionPointer: UInt64
  public var args: [UInt64]

  public init(nr: UInt32, arch: AuditArch, instructionPointer: UInt64 = 0, args: [UInt64] = []) {
    self.nr = nr
    self.arch = arch
    self.instructionPointer = instructionPointer
    self.args = args + Array(repeating: 0, count: max(0, 6 - args.count))
  }

  /// The 32-bit word at byte `offset`, in the byte order of `endianness`.
  public func word(at offset: UInt32, endianness: Endianness) -> UInt32 {
    switch offset {
    case 0: return nr
    case 4: return arch.rawValue
    default:
      let value = offset < 16 ? instructionPointer : args[Int(offset - 16) / 8]
      let lowFirst = endianness == .little
      let isFirstHalf = (offset % 8) == 0
      return isFirstHalf == lowFirst ? UInt32(truncatingIfNeeded: value) : UInt32(truncatingIfNeeded: value >> 32)
    }
  }
}

/// A problem that makes the kernel refuse a program.
public struct BPFValidationError: Error, Hashable, Sendable, CustomStringConvertible {
  public var index: Int
  public var message: String
  public var description: String { "instruction \(index): \(message)" }
}

/// Runs seccomp BPF programs as the kernel does, counting instructions.
public enum Interpreter {
  /// The result of one run.
  public struct Result: Hashable, Sendable {
    public var returnValue: UInt32
    /// Instructions executed, the `ret` included.
    public var steps: Int
  }

  /// Checks a program as `bpf_check_classic` and `seccomp_check_filter` do: length
  /// 1...4096, known opcodes, forward jumps within the program, a final `ret`, loads of
  /// aligned words inside `seccomp_data`, no division by a zero constant, scratch
  /// memory written before it is read on every path.
  public static func validate(_ program: [BPFInstruction]) throws(BPFValidationError) {
    guard !program.isEmpty, program.count <= BPF.maxInstructions else {
      throw BPFValidationError(index: 0, message: "length \(program.count) is outside 1...\(BPF.maxInstructions)")
    }
    // memValid[i]: scratch words certainly written on every path reaching i.
    var memValid = [UInt16?](repeating: nil, count: program.count)
    memValid[0] = 0
    for (i, ins) in program.enumerated() {
      let n = program.count
      let cls = ins.instructionClass
      let valid = memValid[i] ?? 0xffff  // unreachable: anything goes
      var out = valid
      func flow(_ target: Int) throws(BPFValidationError) {
        guard target < n else { throw BPFValidationError(index: i, message: "jump beyond the end of the program") }
        memValid[target] = memValid[target].map { $0 & out } ?? out
      }
      switch cls {
      case BPF.ld, BPF.ldx:
        let mode = ins.code & 0xe0
        let size = ins.code & 0x18
        switch mode {
        case BPF.abs:
          guard cls == BPF.ld || true, size == BPF.w, ins.k % 4 == 0, ins.k < 64 else {
            throw BPFValidationError(index: i, message: "load of \(ins.k) is not an aligned word of seccomp_data")
          }
        case BPF.imm, BPF.len: break
        case BPF.mem:
          guard ins.k < BPF.memWords else { throw BPFValidationError(index: i, message: "scratch index \(ins.k) out of range") }
          guard valid & (1 << UInt16(ins.k)) != 0 else {
            throw BPFValidationError(index: i, message: "scratch word \(ins.k) read before written")
          }
        default: throw BPFValidationError(index: i, message: "load mode 0x\(String(mode, radix: 16)) is not allowed in seccomp")
        }
        if ins.code & 0x18 != 0 && mode != BPF.abs { throw BPFValidationError(index: i, message: "bad load size") }
        try flow(i + 1)
      case BPF.st, BPF.stx:
        guard ins.k < BPF.memWords else { throw BPFValidationError(index: i, message: "scratch index \(ins.k) out of range") }
        out |= 1 << UInt16(ins.k)
        try flow(i + 1)
      case BPF.alu:
        let op = ins.code & 0xf0
        guard [BPF.add, BPF.sub, BPF.mul, BPF.div, BPF.or, BPF.and, BPF.lsh, BPF.rsh, BPF.neg, BPF.xor].contains(op) else {
          throw BPFValidationError(index: i, message: "ALU operation 0x\(String(op, radix: 16)) is not allowed in seccomp")
        }
        if op == BPF.div && ins.code & BPF.x == 0 && ins.k == 0 {
          throw BPFValidationError(index: i, message: "division by zero")
        }
        try flow(i + 1)
      case BPF.jmp:
        let op = ins.code & 0xf0
        if op == BPF.ja {
          guard Int(ins.k) < n - i - 1 else { throw BPFValidationError(index: i, message: "jump beyond the end of the program") }
          try flow(i + 1 + Int(ins.k))
        } else {
          guard [BPF.jeq, BPF.jgt, BPF.jge, BPF.jset].contains(op) else {
            throw BPFValidationError(index: i, message: "unknown jump 0x\(String(ins.code, radix: 16))")
          }
          try flow(i + 1 + Int(ins.jt))
          try flow(i + 1 + Int(ins.jf))
        }
      case BPF.ret:
        let src = ins.code & 0x18
        guard src == BPF.k || src == BPF.a else { throw BPFValidationError(index: i, message: "bad ret source") }
      case BPF.misc:
        guard ins.code == BPF.misc | BPF.tax || ins.code == BPF.misc | BPF.txa else {
          throw BPFValidationError(index: i, message: "unknown misc instruction")
        }
        try flow(i + 1)
      default:
        throw BPFValidationError(index: i, message: "unknown opcode 0x\(String(ins.code, radix: 16))")
      }
    }
    guard program.last!.instructionClass == BPF.ret else {
      throw BPFValidationError(index: program.count - 1, message: "the program does not end with ret")
    }
  }

  /// Runs a program on one call. The program must be valid (see `validate`);
  /// running off the end or a bad opcode returns KILL_PROCESS's value.
  public static func run(_ program: [BPFInstruction], on data: SeccompData, endianness: Endianness = .little) -> Result {
    var a: UInt32 = 0
    var x: UInt32 = 0
    var mem = [UInt32](repeating: 0, count: BPF.memWords)
    var pc = 0
    var steps = 0
    while pc < program.count {
      let ins = program[pc]
      steps += 1
      pc += 1
      switch ins.instructionClass {
      case BPF.ld, BPF.ldx:
        let value: UInt32
        switch ins.code & 0xe0 {
        case BPF.abs: value = data.word(at: ins.k, endianness: endianness)
        case BPF.imm: value = ins.k
        case BPF.len: value = 64
        case BPF.mem: value = mem[Int(ins.k) % BPF.memWords]
        default: return Result(returnValue: BPF.retKillProcess, steps: steps)
        }
        if ins.instructionClass == BPF.ld { a = value } else { x = value }
      case BPF.st: mem[Int(ins.k) % BPF.memWords] = a
      case BPF.stx: mem[Int(ins.k) % BPF.memWords] = x
      case BPF.alu:
        let operand = ins.code & BPF.x != 0 ? x : ins.k
        switch ins.code & 0xf0 {
        case BPF.add: a = a &+ operand
        case BPF.sub: a = a &- operand
        case BPF.mul: a = a &* operand
        case BPF.div: a = operand == 0 ? 0 : a / operand
        case BPF.or: a |= operand
        case BPF.and: a &= operand
        case BPF.lsh: a = operand >= 32 ? 0 : a << operand
        case BPF.rsh: a = operand >= 32 ? 0 : a >> operand
        case BPF.neg: a = 0 &- a
        case BPF.xor: a ^= operand
        default: return Result(returnValue: BPF.retKillProcess, steps: steps)
        }
        if ins.code & 0xf0 == BPF.div && operand == 0 { return Result(returnValue: 0, steps: steps) }
      case BPF.jmp:
        let operand = ins.code & BPF.x != 0 ? x : ins.k
        let taken: Bool
        switch ins.code & 0xf0 {
        case BPF.ja:
          pc += Int(ins.k)
          continue
        case BPF.jeq: taken = a == operand
        case BPF.jgt: taken = a > operand
        case BPF.jge: taken = a >= operand
        case BPF.jset: taken = a & operand != 0
        default: return Result(returnValue: BPF.retKillProcess, steps: steps)
        }
        pc += Int(taken ? ins.jt : ins.jf)
      case BPF.ret:
        return Result(returnValue: ins.code & BPF.a != 0 ? a : ins.k, steps: steps)
      case BPF.misc:
        if ins.code & 0xf8 == BPF.txa { a = x } else { x = a }
      default:
        return Result(returnValue: BPF.retKillProcess, steps: steps)
      }
    }
    return Result(returnValue: BPF.retKillProcess, steps: steps)
  }
}
