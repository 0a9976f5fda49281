import Syscalls

/// The ABIs the tracer counts calls of, one slot of `TraceABI.numbers` numbers each: the
/// three x86 ABIs a process on an x86_64 kernel can use. A call of another AUDIT_ARCH, or
/// a number past the slot, is counted as unplaced (`TraceCounts.unknown`).
public enum TraceABI: Int, CaseIterable, Sendable {
  /// AUDIT_ARCH_X86_64 without x32's bit 30.
  case x86_64 = 0
  /// AUDIT_ARCH_I386: a 32-bit process, or `int 0x80` from a 64-bit one.
  case ia32 = 1
  /// AUDIT_ARCH_X86_64 with bit 30 (counted with the bit removed).
  case x32 = 2

  /// The numbers per slot.
  public static let numbers = 1024
  /// The slots' entries in all (the size of each array of `TraceCounts`).
  public static let entries = 3 * 1024

  /// The profile arch of the slot.
  public var arch: Arch {
    switch self {
    case .x86_64: .x86_64
    case .ia32: .x86
    case .x32: .x32
    }
  }

  /// What the slot's numbers are offset by in `arch` (x32's bit 30).
  public var base: Int32 { self == .x32 ? SyscallNumber.x32Bit : 0 }

  /// The slot of `arch`, nil for an arch of another machine.
  public init?(_ arch: Arch) {
    switch arch {
    case .x86_64: self = .x86_64
    case .x86: self = .ia32
    case .x32: self = .x32
    default: return nil
    }
  }

  /// The entry of number `nr` (without `base`) in this slot.
  @inline(__always)
  public func index(_ nr: Int) -> Int { rawValue &* Self.numbers &+ nr }

  // AUDIT_ARCH_X86_64 and AUDIT_ARCH_I386 (linux/audit.h), as `Arch.x86_64.auditArch` and
  // `Arch.x86.auditArch` hold them; literal here for the stop loop.
  static let auditX86_64: UInt32 = 0xC000_003E
  static let auditI386: UInt32 = 0x4000_0003
  static let x32Bit: UInt64 = 0x4000_0000

  /// The entry of a call as the kernel reports it (AUDIT_ARCH_*, number with x32's bit),
  /// or -1 when it falls outside the slots.
  @inline(__always)
  static func index(auditArch: UInt32, number: UInt64) -> Int {
    var nr = number
    let slot: TraceABI
    if auditArch == auditI386 {
      slot = .ia32
    } else if auditArch == auditX86_64 {
      if nr & x32Bit != 0 {
        slot = .x32
        nr &= ~x32Bit
      } else {
        slot = .x86_64
      }
    } else {
      return -1
    }
    guard nr < UInt64(numbers) else { return -1 }
    return slot.index(Int(nr))
  }
}

/// What a trace counts: calls, and with timing errors and times, per (`TraceABI`, number),
/// in arrays allocated once, before the program starts (the stop loop never allocates).
public final class TraceCounts: @unchecked Sendable {
  /// Entries per entry index (`TraceABI.index(_:)`).
  let calls: UnsafeMutableBufferPointer<UInt64>
  /// Exits with an error (is_error, or a return value in -4095...-1): timing only.
  let errors: UnsafeMutableBufferPointer<UInt64>
  /// CLOCK_MONOTONIC nanoseconds from entry stop to exit stop, summed: timing only.
  let nanoseconds: UnsafeMutableBufferPointer<UInt64>
  /// Entries whose ABI or number falls outside the slots.
  public internal(set) var unknown: UInt64 = 0
  /// ptrace stops handled.
  public internal(set) var stops: UInt64 = 0

  /// Zeroed counts.
  public init() {
    calls = .allocate(capacity: TraceABI.entries)
    errors = .allocate(capacity: TraceABI.entries)
    nanoseconds = .allocate(capacity: TraceABI.entries)
    calls.initialize(repeating: 0)
    errors.initialize(repeating: 0)
    nanoseconds.initialize(repeating: 0)
  }

  deinit {
    calls.deallocate()
    errors.deallocate()
    nanoseconds.deallocate()
  }

  /// One counted syscall of one ABI.
  public struct Row: Hashable, Sendable {
    public var abi: TraceABI
    /// The number in `abi.arch` (`abi.base` included).
    public var number: SyscallNumber
    public var calls: UInt64
    public var errors: UInt64
    public var nanoseconds: UInt64
  }

  /// The syscalls seen, by slot then number.
  public var rows: [Row] {
    var rows: [Row] = []
    for abi in TraceABI.allCases {
      for nr in 0..<TraceABI.numbers {
        let i = abi.index(nr)
        guard calls[i] > 0 else { continue }
        rows.append(
          Row(
            abi: abi, number: SyscallNumber(Int32(nr) + abi.base), calls: calls[i], errors: errors[i],
            nanoseconds: nanoseconds[i]))
      }
    }
    return rows
  }

  /// The calls counted of number `nr` (without `abi.base`) in `abi`.
  public func calls(_ abi: TraceABI, _ nr: Int) -> UInt64 {
    nr >= 0 && nr < TraceABI.numbers ? calls[abi.index(nr)] : 0
  }
}
