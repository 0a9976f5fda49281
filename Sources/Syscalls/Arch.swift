/// The byte order of an ABI, which decides where the high and low words of a
/// 64-bit syscall argument sit in `struct seccomp_data`.
public enum Endianness: String, Sendable, Hashable, Codable {
  case little
  case big
}

/// The `AUDIT_ARCH_*` value the kernel stores in `seccomp_data.arch`.
public struct AuditArch: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
  public let rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }

  public static func < (a: AuditArch, b: AuditArch) -> Bool { a.rawValue < b.rawValue }
  public var description: String { "0x" + String(rawValue, radix: 16) }

  static let bits64: UInt32 = 0x8000_0000
  static let littleEndian: UInt32 = 0x4000_0000
  static let mipsN32: UInt32 = 0x2000_0000
}

/// A syscall ABI that a seccomp filter can meet: one `SCMP_ARCH_*` name of a profile.
///
/// Byte-order variants (mipsel, ppc64le, sheb) share a syscall table with their
/// sibling but have their own audit value. x32 shares `AUDIT_ARCH_X86_64` with
/// x86_64 and is told apart by bit 30 of the syscall number.
public struct Arch: Hashable, Sendable, CustomStringConvertible, Comparable {
  /// The short name (`x86_64`, `aarch64`, `mipsel64n32`), as libseccomp's tools spell it.
  public let name: String
  /// The profile name (`SCMP_ARCH_X86_64`).
  public let profileName: String
  /// `seccomp_data.arch` for calls made in this ABI.
  public let auditArch: AuditArch
  /// The Go `GOARCH` value of this ABI, if Go has one.
  public let goArch: String?
  /// The string moby's `includes.arches` / `excludes.arches` compare against
  /// (`amd64`, `arm64`, `x86`, ...); nil where moby has none.
  public let dockerName: String?
  /// The width of a machine word, and so of `long` and pointers: 32 or 64.
  public let wordBits: Int
  public let endianness: Endianness
  /// The column of the syscall table that numbers this ABI's calls.
  public let abi: SyscallABI

  public var description: String { name }
  public static func < (a: Arch, b: Arch) -> Bool { a.name < b.name }

  public static func == (a: Arch, b: Arch) -> Bool { a.name == b.name }
  public func hash(into h: inout Hasher) { h.combine(name) }

  init(
    _ name: String, _ profileName: String, em: UInt32, flags: UInt32,
    go: String?, docker: String?, abi: SyscallABI
  ) {
    self.name = name
    self.profileName = profileName
    self.auditArch = AuditArch(rawValue: em | flags)
    self.goArch = go
    self.dockerName = docker
    self.wordBits = flags & AuditArch.bits64 != 0 ? 64 : 32
    self.endianness = flags & AuditArch.littleEndian != 0 ? .little : .big
    self.abi = abi
  }
}

extension Arch {
  private static let le = AuditArch.littleEndian
  private static let b64 = AuditArch.bits64

  public static let x86 = Arch("x86", "SCMP_ARCH_X86", em: 3, flags: le, go: "386", docker: "x86", abi: .x86)
  public static let x86_64 = Arch("x86_64", "SCMP_ARCH_X86_64", em: 62, flags: b64 | le, go: "amd64", docker: "amd64", abi: .x86_64)
  public static let x32 = Arch("x32", "SCMP_ARCH_X32", em: 62, flags: b64 | le, go: nil, docker: "x32", abi: .x32)
  public static let arm = Arch("arm", "SCMP_ARCH_ARM", em: 40, flags: le, go: "arm", docker: "arm", abi: .arm)
  public static let aarch64 = Arch("aarch64", "SCMP_ARCH_AARCH64", em: 183, flags: b64 | le, go: "arm64", docker: "arm64", abi: .aarch64)
  public static let loongarch64 = Arch("loongarch64", "SCMP_ARCH_LOONGARCH64", em: 258, flags: b64 | le, go: "loong64", docker: "loongarch64", abi: .loongarch64)
  public static let m68k = Arch("m68k", "SCMP_ARCH_M68K", em: 4, flags: 0, go: nil, docker: nil, abi: .m68k)
  public static let mips = Arch("mips", "SCMP_ARCH_MIPS", em: 8, flags: 0, go: "mips", docker: "mips", abi: .mips)
  public static let mipsel = Arch("mipsel", "SCMP_ARCH_MIPSEL", em: 8, flags: le, go: "mipsle", docker: "mipsel", abi: .mips)
  public static let mips64 = Arch("mips64", "SCMP_ARCH_MIPS64", em: 8, flags: b64, go: "mips64", docker: "mips64", abi: .mips64)
  public static let mipsel64 = Arch("mipsel64", "SCMP_ARCH_MIPSEL64", em: 8, flags: b64 | le, go: "mips64le", docker: "mipsel64", abi: .mips64)
  public static let mips64n32 = Arch("mips64n32", "SCMP_ARCH_MIPS64N32", em: 8, flags: b64 | AuditArch.mipsN32, go: "mips64p32", docker: "mips64n32", abi: .mips64n32)
  // moby spells the little-endian n32 native name "mips3l64n32"; kept so includes.arches match as in moby.
  public static let mipsel64n32 = Arch("mipsel64n32", "SCMP_ARCH_MIPSEL64N32", em: 8, flags: b64 | le | AuditArch.mipsN32, go: "mips64p32le", docker: "mips3l64n32", abi: .mips64n32)
  public static let parisc = Arch("parisc", "SCMP_ARCH_PARISC", em: 15, flags: 0, go: nil, docker: nil, abi: .parisc)
  public static let parisc64 = Arch("parisc64", "SCMP_ARCH_PARISC64", em: 15, flags: b64, go: nil, docker: nil, abi: .parisc64)
  public static let ppc = Arch("ppc", "SCMP_ARCH_PPC", em: 20, flags: 0, go: "ppc", docker: "ppc", abi: .ppc)
  public static let ppc64 = Arch("ppc64", "SCMP_ARCH_PPC64", em: 21, flags: b64, go: "ppc64", docker: "ppc64", abi: .ppc64)
  public static let ppc64le = Arch("ppc64le", "SCMP_ARCH_PPC64LE", em: 21, flags: b64 | le, go: "ppc64le", docker: "ppc64le", abi: .ppc64)
  public static let riscv64 = Arch("riscv64", "SCMP_ARCH_RISCV64", em: 243, flags: b64 | le, go: "riscv64", docker: "riscv64", abi: .riscv64)
  public static let s390 = Arch("s390", "SCMP_ARCH_S390", em: 22, flags: 0, go: "s390", docker: "s390", abi: .s390)
  public static let s390x = Arch("s390x", "SCMP_ARCH_S390X", em: 22, flags: b64, go: "s390x", docker: "s390x", abi: .s390x)
  // libseccomp's SCMP_ARCH_SH is the little-endian ABI (AUDIT_ARCH_SHEL); SHEB is big-endian.
  public static let sh = Arch("sh", "SCMP_ARCH_SH", em: 42, flags: le, go: nil, docker: nil, abi: .sh)
  public static let sheb = Arch("sheb", "SCMP_ARCH_SHEB", em: 42, flags: 0, go: nil, docker: nil, abi: .sh)

  /// Every ABI syscage knows, in the order of the syscall table's columns.
  public static let all: [Arch] = [
    .x86, .x86_64, .x32, .arm, .aarch64, .loongarch64, .m68k,
    .mips, .mipsel, .mips64, .mipsel64, .mips64n32, .mipsel64n32,
    .parisc, .parisc64, .ppc, .ppc64, .ppc64le, .riscv64, .s390, .s390x, .sh, .sheb,
  ]

  /// The ABI of the machine syscage was built for.
  public static var native: Arch {
    #if arch(x86_64)
      return .x86_64
    #elseif arch(arm64)
      return .aarch64
    #elseif arch(i386)
      return .x86
    #elseif arch(arm)
      return .arm
    #elseif arch(riscv64)
      return .riscv64
    #elseif arch(s390x)
      return .s390x
    #elseif arch(powerpc64le)
      return .ppc64le
    #elseif arch(powerpc64)
      return .ppc64
    #else
      return .x86_64
    #endif
  }

  /// The ABIs a process of this ABI can also enter the kernel through
  /// (x86_64: ia32 by `int 0x80`, x32 by bit 30), as Docker's archMap lists them.
  public var family: [Arch] {
    switch name {
    case "x86_64": [.x86_64, .x86, .x32]
    case "aarch64": [.aarch64, .arm]
    case "mips64": [.mips64, .mips, .mips64n32]
    case "mipsel64": [.mipsel64, .mipsel, .mipsel64n32]
    case "s390x": [.s390x, .s390]
    case "ppc64": [.ppc64, .ppc]
    default: [self]
    }
  }

  /// The ABI of a call as seccomp sees it: its `AUDIT_ARCH_*` value and its number as
  /// the filter saw it (an x86_64 call with bit 30 set is x32); nil for an unknown value.
  public init?(auditArch value: UInt32, number: Int64) {
    if value == Arch.x86_64.auditArch.rawValue {
      self = number >= 0 && number & Int64(SyscallNumber.x32Bit) != 0 ? .x32 : .x86_64
      return
    }
    guard let arch = Arch.all.first(where: { $0.auditArch.rawValue == value }) else { return nil }
    self = arch
  }

  /// Finds an ABI by any of its spellings: `x86_64`, `SCMP_ARCH_X86_64`, `amd64`,
  /// `i386`/`ia32`, case-insensitively.
  public init?(named spelling: String) {
    let s = spelling.lowercased()
    let aliases: [String: String] = [
      "i386": "x86", "i686": "x86", "ia32": "x86", "386": "x86", "amd64": "x86_64",
      "x86-64": "x86_64", "arm64": "aarch64", "loong64": "loongarch64", "riscv": "riscv64",
      "mipsle": "mipsel", "mips64le": "mipsel64", "mips64p32": "mips64n32",
      "mips64p32le": "mipsel64n32", "mips3l64n32": "mipsel64n32", "powerpc": "ppc",
      "powerpc64": "ppc64", "powerpc64le": "ppc64le", "armv7": "arm", "armhf": "arm",
    ]
    let bare = s.hasPrefix("scmp_arch_") ? String(s.dropFirst("scmp_arch_".count)) : s
    let key = aliases[bare] ?? bare
    guard let found = Arch.all.first(where: { $0.name == key }) else { return nil }
    self = found
  }

  /// Finds an ABI by its exact profile name (`SCMP_ARCH_X86_64`).
  public init?(profileName: String) {
    guard let found = Arch.all.first(where: { $0.profileName == profileName }) else { return nil }
    self = found
  }
}
