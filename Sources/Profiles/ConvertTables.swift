import Syscalls

/// Small kernel tables the format converters need: errno names, address families,
/// namespace flags, and systemd's spelling of the ABIs.
public enum ConversionTables {
  /// Whether an ABI numbers errnos as asm-generic does (so that names are safe to write).
  public static func usesGenericErrnos(_ arch: Arch) -> Bool {
    switch arch.abi {
    case .mips, .mips64, .mips64n32, .parisc, .parisc64: false
    default: true
    }
  }

  /// `EPERM` for 1 on ABIs with the generic numbering; the number itself otherwise or
  /// when it has no name.
  public static func errnoName(_ e: UInt16, for arch: Arch) -> String {
    guard usesGenericErrnos(arch), let name = ErrnoNames.generic[e] else { return String(e) }
    return name
  }

  /// Address families (linux/socket.h) 0..<46, as systemd's RestrictAddressFamilies= names them.
  public static let addressFamilies: [String] = [
    "AF_UNSPEC", "AF_UNIX", "AF_INET", "AF_AX25", "AF_IPX", "AF_APPLETALK", "AF_NETROM", "AF_BRIDGE",
    "AF_ATMPVC", "AF_X25", "AF_INET6", "AF_ROSE", "AF_DECnet", "AF_NETBEUI", "AF_SECURITY", "AF_KEY",
    "AF_NETLINK", "AF_PACKET", "AF_ASH", "AF_ECONET", "AF_ATMSVC", "AF_RDS", "AF_SNA", "AF_IRDA",
    "AF_PPPOX", "AF_WANPIPE", "AF_LLC", "AF_IB", "AF_MPLS", "AF_CAN", "AF_TIPC", "AF_BLUETOOTH",
    "AF_IUCV", "AF_RXRPC", "AF_ISDN", "AF_PHONET", "AF_IEEE802154", "AF_CAIF", "AF_ALG", "AF_NFC",
    "AF_VSOCK", "AF_KCM", "AF_QIPCRTR", "AF_SMC", "AF_XDP", "AF_MCTP",
  ]

  /// Namespace kinds as systemd's RestrictNamespaces= names them, with their CLONE_NEW* flag.
  public static let namespaces: [(name: String, flag: UInt64)] = [
    ("cgroup", 0x0200_0000), ("ipc", 0x0800_0000), ("net", 0x4000_0000), ("mnt", 0x0002_0000),
    ("pid", 0x2000_0000), ("user", 0x1000_0000), ("uts", 0x0400_0000), ("time", 0x0000_0080),
  ]

  /// Every CLONE_NEW* flag.
  public static var allNamespaceFlags: UInt64 { namespaces.reduce(0) { $0 | $1.flag } }

  /// systemd's name for an ABI in SystemCallArchitectures= (`x86-64`, `arm64`, `mips64-le`),
  /// or nil for ABIs systemd does not know (m68k, sh).
  public static func systemdArchName(_ arch: Arch) -> String? {
    switch arch.name {
    case "x86": "x86"
    case "x86_64": "x86-64"
    case "x32": "x32"
    case "arm": "arm"
    case "aarch64": "arm64"
    case "loongarch64": "loongarch64"
    case "mips": "mips"
    case "mipsel": "mips-le"
    case "mips64": "mips64"
    case "mipsel64": "mips64-le"
    case "mips64n32": "mips64-n32"
    case "mipsel64n32": "mips64-le-n32"
    case "parisc": "parisc"
    case "parisc64": "parisc64"
    case "ppc": "ppc"
    case "ppc64": "ppc64"
    case "ppc64le": "ppc64-le"
    case "riscv64": "riscv64"
    case "s390": "s390"
    case "s390x": "s390x"
    default: nil
    }
  }

  /// The ABIs whose sockets systemd's RestrictAddressFamilies= does not filter (they
  /// reach socket() through socketcall, whose arguments are behind a pointer).
  public static func systemdFiltersAddressFamilies(on arch: Arch) -> Bool {
    switch arch.name {
    case "x86_64", "x32", "arm", "aarch64", "mips64", "mipsel64", "mips64n32", "mipsel64n32", "riscv64":
      true
    default: false
    }
  }

  /// The ABIs the security-profiles-operator's SeccompProfile accepts in `architectures`.
  public static func spoAccepts(_ arch: Arch) -> Bool {
    !["loongarch64", "m68k", "sh", "sheb"].contains(arch.name)
  }
}
