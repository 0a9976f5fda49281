/// A syscall number as the kernel puts it in `seccomp_data.nr`: for x32 with
/// bit 30 set, for MIPS with the ABI's base (4000, 5000, 6000) added.
public struct SyscallNumber: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
  public let rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }
  public init(_ value: Int32) { self.rawValue = value }

  /// The number as the filter loads it: an unsigned 32-bit word.
  public var word: UInt32 { UInt32(bitPattern: rawValue) }

  /// The number a tracer writes to skip a call; filters must let it reach the default action.
  public static let skipped = SyscallNumber(-1)

  /// Bit 30, which marks a call made through the x32 ABI.
  public static let x32Bit: Int32 = 0x4000_0000

  public static func < (a: SyscallNumber, b: SyscallNumber) -> Bool { a.rawValue < b.rawValue }
  public var description: String { String(rawValue) }
}

/// A column of the syscall table: the numbering of one syscall ABI.
public enum SyscallABI: String, CaseIterable, Sendable, Hashable {
  case x86, x86_64, x32, arm, aarch64, loongarch64, m68k, mips, mips64, mips64n32
  case parisc, parisc64, ppc, ppc64, riscv64, s390, s390x, sh

  /// What the kernel adds to the table's number: x32's bit 30, MIPS's ABI base.
  public var numberBase: Int32 {
    switch self {
    case .x32: SyscallNumber.x32Bit
    case .mips: 4000
    case .mips64: 5000
    case .mips64n32: 6000
    default: 0
    }
  }

  /// The multiplexer calls of this ABI (`socketcall`, `ipc`) through which
  /// socket and SysV IPC calls can also be made.
  public var hasMultiplexers: Bool {
    switch self {
    case .x86, .s390, .s390x, .ppc, .ppc64, .mips, .sh, .m68k: true
    default: false
    }
  }
}
