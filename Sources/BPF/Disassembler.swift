import Syscalls

/// Prints programs in the layout of libseccomp's `scmp_bpf_disasm`, so the two can be diffed.
public enum Disassembler {
  /// The listing of `program`. With `annotate`, a comment names arch values and, after
  /// an arch check, the syscall a `jeq`/`jge`/`jgt` constant is.
  public static func listing(_ program: [BPFInstruction], annotate: Bool = false) -> String {
    var out = " line  OP   JT   JF   K\n=================================\n"
    let archByAudit = Dictionary(Arch.all.map { ($0.auditArch.rawValue, $0) }, uniquingKeysWith: { a, _ in a })
    // The arch each instruction is known to be under, when a path proves it.
    var archAt = [Arch?](repeating: nil, count: program.count)
    for (i, ins) in program.enumerated() {
      if ins.code == BPF.jmp | BPF.jeq | BPF.k, let arch = archByAudit[ins.k] {
        let t = i + 1 + Int(ins.jt)
        if t < program.count { archAt[t] = arch }
      } else if i + 1 < program.count, archAt[i + 1] == nil, ins.instructionClass != BPF.ret,
        ins.code != BPF.jmp | BPF.ja
      {
        archAt[i + 1] = archAt[i]
      }
      if ins.instructionClass == BPF.jmp, ins.code & 0xf0 != BPF.ja {
        for t in [i + 1 + Int(ins.jt), i + 1 + Int(ins.jf)] where t < program.count && archAt[t] == nil {
          archAt[t] = archAt[i]
        }
      } else if ins.code == BPF.jmp | BPF.ja, i + 1 + Int(ins.k) < program.count {
        let t = i + 1 + Int(ins.k)
        if archAt[t] == nil { archAt[t] = archAt[i] }
      }
    }
    for (i, ins) in program.enumerated() {
      var line = " " + pad(i) + ": " + hex(UInt32(ins.code), 2) + " " + hex(UInt32(ins.jt), 2) + " "
        + hex(UInt32(ins.jf), 2) + " " + hex(ins.k, 8) + "   " + text(ins, at: i)
      if annotate, let note = comment(ins, arch: archAt[i], archByAudit: archByAudit) {
        line += "  # " + note
      }
      out += line + "\n"
    }
    return out
  }

  static func pad(_ n: Int) -> String {
    let s = String(n)
    return String(repeating: "0", count: max(0, 4 - s.count)) + s
  }

  static func hex(_ v: UInt32, _ digits: Int) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, digits - s.count)) + s
  }

  /// The instruction as libseccomp's disassembler writes it.
  public static func text(_ ins: BPFInstruction, at i: Int) -> String {
    let src = ins.code & BPF.x != 0 ? "X" : String(ins.k)
    switch ins.instructionClass {
    case BPF.ld, BPF.ldx:
      let op = ins.instructionClass == BPF.ld ? "ld " : "ldx"
      switch ins.code & 0xe0 {
      case BPF.abs: return "\(op) $data[\(ins.k)]"
      case BPF.imm: return "\(op) \(ins.k)"
      case BPF.len: return "\(op) $data.len"
      case BPF.mem: return "\(op) $temp[\(ins.k)]"
      default: return "\(op) ???"
      }
    case BPF.st: return "st  $temp[\(ins.k)]"
    case BPF.stx: return "stx $temp[\(ins.k)]"
    case BPF.alu:
      let names: [UInt16: String] = [
        BPF.add: "add", BPF.sub: "sub", BPF.mul: "mul", BPF.div: "div", BPF.or: "or ", BPF.and: "and",
        BPF.lsh: "lsh", BPF.rsh: "rsh", BPF.neg: "neg", BPF.xor: "xor", BPF.mod: "mod",
      ]
      let op = names[ins.code & 0xf0] ?? "???"
      if ins.code & 0xf0 == BPF.neg { return "neg" }
      return ins.code & BPF.x != 0 ? "\(op) X" : "\(op) \(hex(ins.k, 8))"
    case BPF.jmp:
      let op = ins.code & 0xf0
      if op == BPF.ja { return "jmp \(pad(i + 1 + Int(ins.k)))" }
      let names: [UInt16: String] = [BPF.jeq: "jeq", BPF.jgt: "jgt", BPF.jge: "jge", BPF.jset: "jset"]
      let name = names[op] ?? "j??"
      return "\(name) \(src)" + " true:\(pad(i + 1 + Int(ins.jt))) false:\(pad(i + 1 + Int(ins.jf)))"
    case BPF.ret:
      return ins.code & BPF.a != 0 ? "ret A" : "ret \(actionText(ins.k))"
    case BPF.misc:
      return ins.code & 0xf8 == BPF.txa ? "txa" : "tax"
    default:
      return "???"
    }
  }

  /// A return value as libseccomp names it (`ALLOW`, `ERRNO(1)`, `KILL`), with
  /// `USER_NOTIF` named too.
  public static func actionText(_ value: UInt32) -> String {
    let data = value & 0xffff
    switch value & 0xffff_0000 {
    case 0x8000_0000: return "KILL_PROCESS"
    case 0x0000_0000: return "KILL"
    case 0x0003_0000: return data == 0 ? "TRAP" : "TRAP(\(data))"
    case 0x0005_0000: return "ERRNO(\(data))"
    case 0x7fc0_0000: return "USER_NOTIF"
    case 0x7ff0_0000: return "TRACE(\(data))"
    case 0x7ffc_0000: return "LOG"
    case 0x7fff_0000: return "ALLOW"
    default: return hex(value, 8)
    }
  }

  static func comment(_ ins: BPFInstruction, arch: Arch?, archByAudit: [UInt32: Arch]) -> String? {
    guard ins.instructionClass == BPF.jmp, ins.code & 0xf0 != BPF.ja, ins.code & BPF.x == 0 else {
      if ins.code == BPF.ld | BPF.w | BPF.abs {
        switch ins.k {
        case 0: return "nr"
        case 4: return "arch"
        case 8, 12: return "instruction pointer"
        default: return "a\((ins.k - 16) / 8) " + (((ins.k % 8 == 0) == (arch?.endianness != .big)) ? "low" : "high")
        }
      }
      return nil
    }
    if let a = archByAudit[ins.k], ins.code & 0xf0 == BPF.jeq, arch == nil { return a.name }
    guard let arch else { return nil }
    var abi = arch
    if arch == .x86_64, ins.k & 0x4000_0000 != 0, ins.k != 0xffff_ffff { abi = .x32 }
    if let name = abi.name(of: SyscallNumber(Int32(bitPattern: ins.k))) { return "\(name) (\(abi))" }
    return nil
  }
}
