/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`.
public struct BPFInstruction: Hashable, Sendable {
  public var code: UInt16
  public var jt: UInt8
  public var jf: UInt8
  public var k: UInt32

  @inlinable public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32 = 0) {
    self.code = code
    self.jt = jt
    self.jf = jf
    self.k = k
  }
}

/// Opcode parts of classic BPF (linux/filter.h, linux/bpf_common.h).
public enum BPF {
  // Instruction classes.
  public static let ld: UInt16 = 0x00
  public static let ldx: UInt16 = 0x01
  public static let st: UInt16 = 0x02
  public static let stx: UInt16 = 0x03
  public static let alu: UInt16 = 0x04
  public static let jmp: UInt16 = 0x05
  public static let ret: UInt16 = 0x06
  public static let misc: UInt16 = 0x07
  // Sizes and modes.
  public static let w: UInt16 = 0x00
  public static let h: UInt16 = 0x08
  public static let b: UInt16 = 0x10
  public static let imm: UInt16 = 0x00
  public static let abs: UInt16 = 0x20
  public static let ind: UInt16 = 0x40
  public static let mem: UInt16 = 0x60
  public static let len: UInt16 = 0x80
  public static let msh: UInt16 = 0xa0
  // ALU and jump operations.
  public static let add: UInt16 = 0x00
  public static let sub: UInt16 = 0x10
  public static let mul: UInt16 = 0x20
  public static let div: UInt16 = 0x30
  public static let or: UInt16 = 0x40
  public static let and: UInt16 = 0x50
  public static let lsh: UInt16 = 0x60
  public static let rsh: UInt16 = 0x70
  public static let neg: UInt16 = 0x80
  public static let mod: UInt16 = 0x90
  public static let xor: UInt16 = 0xa0
  public static let ja: UInt16 = 0x00
  public static let jeq: UInt16 = 0x10
  public static let jgt: UInt16 = 0x20
  public static let jge: UInt16 = 0x30
  public static let jset: UInt16 = 0x40
  // Sources.
  public static let k: UInt16 = 0x00
  public static let x: UInt16 = 0x08
  public static let a: UInt16 = 0x10
  // misc
  public static let tax: UInt16 = 0x00
  public static let txa: UInt16 = 0x80

  /// The kernel's limit on one program's length.
  public static let maxInstructions = 4096
  /// Scratch memory words.
  public static let memWords = 16

  /// `SECCOMP_RET_KILL_PROCESS`: what the kernel does for a program that runs off its
  /// end or reaches an instruction it cannot run.
  public static let retKillProcess: UInt32 = 0x8000_0000
  /// `SECCOMP_RET_ALLOW`: the value the kernel's constant-action cache looks for.
  public static let retAllow: UInt32 = 0x7fff_0000
}

extension BPFInstruction {
  /// `ld [k]`: load a 32-bit word of `seccomp_data`.
  @inlinable public static func load(_ offset: UInt32) -> BPFInstruction { .init(code: BPF.ld | BPF.w | BPF.abs, k: offset) }
  /// `ret k`.
  @inlinable public static func ret(_ value: UInt32) -> BPFInstruction { .init(code: BPF.ret | BPF.k, k: value) }
  /// `ja +k`.
  @inlinable public static func jump(_ offset: UInt32) -> BPFInstruction { .init(code: BPF.jmp | BPF.ja, k: offset) }
  /// A conditional jump against a constant: `op` is BPF.jeq, jgt, jge or jset.
  @inlinable public static func jump(_ op: UInt16, _ k: UInt32, _ jt: UInt8, _ jf: UInt8) -> BPFInstruction {
    .init(code: BPF.jmp | op | BPF.k, jt: jt, jf: jf, k: k)
  }
  /// `and #k`.
  @inlinable public static func and(_ k: UInt32) -> BPFInstruction { .init(code: BPF.alu | BPF.and | BPF.k, k: k) }

  /// The instruction class (`BPF.ld` ... `BPF.misc`).
  public var instructionClass: UInt16 { code & 0x07 }
}

/// The layout of `struct seccomp_data`.
public enum SeccompDataLayout {
  public static let nr: UInt32 = 0
  public static let arch: UInt32 = 4
  public static let instructionPointer: UInt32 = 8
  /// Byte offset of the low (`high == false`) or high 32-bit half of argument `index`.
  public static func argument(_ index: Int, high: Bool, endianness: Endianness) -> UInt32 {
    let base = UInt32(16 + 8 * index)
    let hiFirst = endianness == .big
    return base + (high == hiFirst ? 0 : 4)
  }
}

import Syscalls

extension Array where Element == BPFInstruction {
  /// The program as raw `struct sock_filter` records in this machine's byte order,
  /// as `bwrap --seccomp` and crun's `run.oci.seccomp_bpf_data` load it.
  public var rawBytes: [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(count * 8)
    for i in self {
      Swift.withUnsafeBytes(of: i.code) { out.append(contentsOf: $0) }
      out.append(i.jt)
      out.append(i.jf)
      Swift.withUnsafeBytes(of: i.k) { out.append(contentsOf: $0) }
    }
    return out
  }

  /// Reads raw `struct sock_filter` records written in `endianness` (libseccomp writes a
  /// filter for big-endian ABIs in their byte order); nil when the length is not a multiple of 8.
  public init?(rawBytes bytes: [UInt8], endianness: Endianness) {
    guard bytes.count % 8 == 0 else { return nil }
    let big = endianness == .big
    self = stride(from: 0, to: bytes.count, by: 8).map { o in
      let b = bytes[o..<o + 8].map { UInt32($0) }
      let code = big ? b[0] << 8 | b[1] : b[1] << 8 | b[0]
      let k = big ? b[4] << 24 | b[5] << 16 | b[6] << 8 | b[7] : b[7] << 24 | b[6] << 16 | b[5] << 8 | b[4]
      return BPFInstruction(code: UInt16(code), jt: bytes[o + 2], jf: bytes[o + 3], k: k)
    }
  }

  /// Reads raw `struct sock_filter` records in this machine's byte order; nil when the
  /// length is not a multiple of 8.
  public init?(rawBytes bytes: [UInt8]) {
    guard bytes.count % 8 == 0 else { return nil }
    self = stride(from: 0, to: bytes.count, by: 8).map { o in
      bytes.withUnsafeBytes { raw in
        BPFInstruction(
          code: raw.loadUnaligned(fromByteOffset: o, as: UInt16.self), jt: bytes[o + 2], jf: bytes[o + 3],
          k: raw.loadUnaligned(fromByteOffset: o + 4, as: UInt32.self))
      }
    }
  }
}
