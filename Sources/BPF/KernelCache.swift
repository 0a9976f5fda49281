import Syscalls

/// An emulation of the kernel's constant-action cache (Linux 5.11+,
/// `seccomp_is_const_allow`): when a filter is attached, the kernel runs it for every
/// syscall number of the native and compat ABI knowing only `nr` and `arch`; a number
/// whose path reaches `ret ALLOW` using only loads of nr/arch, `jeq`/`jge`/`jgt`/`jset`
/// with a constant, `ja`, `and` with a constant and `ret` of a constant is cached and
/// never runs the filter again.
public enum KernelCache {
  /// Whether the kernel would cache syscall `nr` of `arch` as always allowed.
  public static func isCached(_ program: [BPFInstruction], arch: AuditArch, nr: UInt32) -> Bool {
    constantResult(program, arch: arch, nr: nr) == BPF.retAllow
  }

  /// What the program returns for syscall `nr` of `arch` whatever the arguments: the
  /// `ret` value its path reaches using only the cache emulator's instructions, or nil
  /// when the path reads anything else (arguments, the instruction pointer).
  public static func constantResult(_ program: [BPFInstruction], arch: AuditArch, nr: UInt32) -> UInt32? {
    var a: UInt32 = 0
    var pc = 0
    var steps = 0
    while pc < program.count, steps <= program.count {
      let ins = program[pc]
      pc += 1
      steps += 1
      switch ins.code {
      case BPF.ld | BPF.w | BPF.abs:
        switch ins.k {
        case SeccompDataLayout.nr: a = nr
        case SeccompDataLayout.arch: a = arch.rawValue
        default: return nil
        }
      case BPF.jmp | BPF.ja:
        pc += Int(ins.k)
      case BPF.jmp | BPF.jeq | BPF.k:
        pc += Int(a == ins.k ? ins.jt : ins.jf)
      case BPF.jmp | BPF.jge | BPF.k:
        pc += Int(a >= ins.k ? ins.jt : ins.jf)
      case BPF.jmp | BPF.jgt | BPF.k:
        pc += Int(a > ins.k ? ins.jt : ins.jf)
      case BPF.jmp | BPF.jset | BPF.k:
        pc += Int(a & ins.k != 0 ? ins.jt : ins.jf)
      case BPF.alu | BPF.and | BPF.k:
        a &= ins.k
      case BPF.ret | BPF.k:
        return ins.k
      default:
        return nil
      }
    }
    return nil
  }
}
