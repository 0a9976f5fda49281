import BPF
import Syscalls

/// Figures of a compiled program, measured by running it in the interpreter on every
/// syscall of each ABI with zero arguments (libseccomp's published figures are
/// measured the same way) and by emulating the kernel's action cache.
public struct FilterStatistics: Sendable {
  /// Instructions executed over a set of syscalls.
  public struct Steps: Sendable {
    public var count = 0
    public var total = 0
    public var worst = 0
    public var average: Double { count == 0 ? 0 : Double(total) / Double(count) }

    mutating func add(_ steps: Int) {
      count += 1
      total += steps
      worst = max(worst, steps)
    }
  }

  /// The figures of one ABI.
  public struct ArchFigures: Sendable {
    public var arch: Arch
    /// Syscalls the program returns ALLOW for (zero arguments).
    public var allowed = Steps()
    public var denied = Steps()
    /// Allowed syscalls whose decision does not depend on arguments.
    public var allowedArgumentFree = 0
    /// Of those, the ones the kernel caches (never cached on x32).
    public var cacheable = 0
    /// Steps per syscall name.
    public var perSyscall: [String: Int] = [:]
  }

  public var length: Int
  public var arches: [ArchFigures]

  public init(program: [BPFInstruction], policy: Policy) {
    length = program.count
    arches = policy.arches.map { ap in
      var f = ArchFigures(arch: ap.arch)
      for (name, number) in SyscallTable.entries(in: ap.arch.abi) {
        let r = Interpreter.run(program, on: SeccompData(nr: number.word, arch: ap.arch.auditArch), endianness: ap.arch.endianness)
        f.perSyscall[name] = r.steps
        if r.action == .allow {
          f.allowed.add(r.steps)
          if ap.rules(for: number).allSatisfy({ $0.conditions.isEmpty }) {
            f.allowedArgumentFree += 1
            if ap.arch != .x32 && KernelCache.isCached(program, arch: ap.arch.auditArch, nr: number.word) { f.cacheable += 1 }
          }
        } else {
          f.denied.add(r.steps)
        }
      }
      return f
    }
  }
}
