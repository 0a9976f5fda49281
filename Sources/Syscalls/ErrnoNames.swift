/// Linux's errno names (asm-generic/errno-base.h and errno.h): one table for every
/// message and converter.
public enum ErrnoNames {
  /// Linux's generic errno names (asm-generic/errno-base.h and errno.h), by number.
  /// x86, arm, aarch64, riscv64, s390, ppc and loongarch64 use these numbers; MIPS and
  /// PA-RISC number many of them differently.
  public static let generic: [UInt16: String] = {
    let names = [
      "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF", "ECHILD",
      "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR",
      "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE", "EROFS",
      "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP",
      "", "ENOMSG", "EIDRM", "ECHRNG", "EL2NSYNC", "EL3HLT", "EL3RST", "ELNRNG", "EUNATCH", "ENOCSI",
      "EL2HLT", "EBADE", "EBADR", "EXFULL", "ENOANO", "EBADRQC", "EBADSLT", "", "EBFONT", "ENOSTR",
      "ENODATA", "ETIME", "ENOSR", "ENONET", "ENOPKG", "EREMOTE", "ENOLINK", "EADV", "ESRMNT", "ECOMM",
      "EPROTO", "EMULTIHOP", "EDOTDOT", "EBADMSG", "EOVERFLOW", "ENOTUNIQ", "EBADFD", "EREMCHG", "ELIBACC", "ELIBBAD",
      "ELIBSCN", "ELIBMAX", "ELIBEXEC", "EILSEQ", "ERESTART", "ESTRPIPE", "EUSERS", "ENOTSOCK", "EDESTADDRREQ", "EMSGSIZE",
      "EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT", "ESOCKTNOSUPPORT", "EOPNOTSUPP", "EPFNOSUPPORT", "EAFNOSUPPORT",
      "EADDRINUSE", "EADDRNOTAVAIL", "ENETDOWN",
      "ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET", "ENOBUFS", "EISCONN", "ENOTCONN", "ESHUTDOWN",
      "ETOOMANYREFS", "ETIMEDOUT",
      "ECONNREFUSED", "EHOSTDOWN", "EHOSTUNREACH", "EALREADY", "EINPROGRESS", "ESTALE", "EUCLEAN", "ENOTNAM", "ENAVAIL",
      "EISNAM",
      "EREMOTEIO", "EDQUOT", "ENOMEDIUM", "EMEDIUMTYPE", "ECANCELED", "ENOKEY", "EKEYEXPIRED", "EKEYREVOKED",
      "EKEYREJECTED", "EOWNERDEAD",
      "ENOTRECOVERABLE", "ERFKILL", "EHWPOISON",
    ]
    var table: [UInt16: String] = [:]
    for (i, name) in names.enumerated() where !name.isEmpty { table[UInt16(i + 1)] = name }
    return table
  }()

  /// `EPERM` for 1, or nil for a number the generic table does not name.
  public static func symbol(_ e: Int32) -> String? {
    guard e > 0, e <= Int32(UInt16.max) else { return nil }
    return generic[UInt16(e)]
  }
}
