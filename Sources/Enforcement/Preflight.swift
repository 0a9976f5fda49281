import Foundation
import Seccomp
import Syscalls

/// What a policy must allow for a program to start, checked before running it.
public enum Preflight {
  /// A call the program needs that the policy does not allow.
  public struct Finding: Hashable, Sendable, CustomStringConvertible {
    public var syscall: String
    public var arch: Arch
    public var decision: Decision
    /// True when the program cannot start at all (execve refused).
    public var isFatal: Bool

    public var description: String { "\(syscall) on \(arch): \(decision)" }
  }

  /// How an executable is started, read from its ELF header (a `#!` script: its interpreter's).
  public enum Linking: Hashable, Sendable {
    /// An x86_64 ELF with a PT_INTERP program header: the dynamic loader runs before main.
    case dynamic(interpreter: String)
    /// An ELF without PT_INTERP: no loader runs.
    case `static`
    /// Not an x86_64 ELF, or unreadable: nothing is known.
    case unknown
  }

  /// A call the dynamic loader (glibc's ld.so on x86_64) makes before `main` in every run,
  /// and whether the program still starts when the call fails with an errno (it never
  /// does when the call kills or traps).
  public struct LoaderCall: Hashable, Sendable {
    public var name: String
    public var survivesErrno: Bool
  }

  /// The loader's calls, as a recording of `/bin/true` shows them (ld.so.cache and libc
  /// opened, mapped, relocated; TLS set up), with what each one's failure with EPERM does:
  /// refusing mmap, openat, newfstatat, close, read, pread64, arch_prctl or mprotect stops
  /// the loader ("error while loading shared libraries", exit 127, or a crash); glibc
  /// carries on without brk, access, set_tid_address, set_robust_list, rseq, prlimit64
  /// and munmap. exit_group is libc's exit.
  public static let loaderCalls: [LoaderCall] = [
    ("brk", true), ("mmap", false), ("access", true), ("openat", false), ("newfstatat", false), ("close", false),
    ("read", false), ("pread64", false), ("arch_prctl", false), ("set_tid_address", true), ("set_robust_list", true),
    ("rseq", true), ("mprotect", false), ("prlimit64", true), ("munmap", true), ("exit_group", true),
  ].map { LoaderCall(name: $0.0, survivesErrno: $0.1) }

  /// Whether the loader stops when `decision` is what it gets for `call`.
  static func breaks(_ call: LoaderCall, _ decision: Decision) -> Bool {
    switch decision.action.kind {
    case .allow, .log: false
    case .killProcess, .killThread, .trap: true
    case .errno, .trace, .userNotif: !call.survivesErrno  // TRACE and USER_NOTIF without a tracer: ENOSYS
    }
  }

  /// execve, and the loader calls `policy` refuses on the native ABI in a way that stops
  /// the loader, when `linking` says the loader runs (`.dynamic`). A static program, or one
  /// syscage cannot read, gets the execve check only.
  public static func check(_ policy: Policy, linking: Linking, arch: Arch = .native) -> [Finding] {
    var findings: [Finding] = []
    if let n = arch.number(of: "execve") {
      let d = policy.decide(arch: arch, number: n)
      if !d.action.permits && !allowsSome(policy, arch, n) {
        findings.append(Finding(syscall: "execve", arch: arch, decision: d, isFatal: true))
      }
    }
    guard case .dynamic = linking, arch == .x86_64 else { return findings }
    for call in loaderCalls {
      guard let n = arch.number(of: call.name) else { continue }
      let d = policy.decide(arch: arch, number: n)
      // The loader's calls carry arguments; a rule that allows some of them is not refusal.
      if breaks(call, d) && !allowsSome(policy, arch, n) {
        findings.append(Finding(syscall: call.name, arch: arch, decision: d, isFatal: false))
      }
    }
    return findings
  }

  static func allowsSome(_ policy: Policy, _ arch: Arch, _ n: SyscallNumber) -> Bool {
    policy.policy(for: arch)?.rules(for: n).contains { !$0.conditions.isEmpty && $0.action.permits } ?? false
  }

  /// How `path` starts: its ELF program headers, or for a `#!` script its interpreter's
  /// (up to four levels, as the kernel allows).
  public static func linking(of path: String) -> Linking {
    var path = path
    for _ in 0..<5 {
      guard let handle = FileHandle(forReadingAtPath: path) else { return .unknown }
      defer { try? handle.close() }
      guard let head = try? handle.read(upToCount: 256), head.count >= 4 else { return .unknown }
      let bytes = [UInt8](head)
      if bytes[0] == 0x23, bytes[1] == 0x21 {  // #!
        let line = bytes[2...].prefix { $0 != 0x0a }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        guard let interpreter = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).first else { return .unknown }
        path = String(interpreter)
        continue
      }
      return elfLinking(handle, bytes)
    }
    return .unknown
  }

  /// PT_INTERP of a little-endian 64-bit x86_64 ELF.
  static func elfLinking(_ handle: FileHandle, _ head: [UInt8]) -> Linking {
    guard head.count >= 64, head[0] == 0x7f, head[1] == 0x45, head[2] == 0x4c, head[3] == 0x46, head[4] == 2,
      head[5] == 1, u16(head, 18) == 62
    else { return .unknown }
    let phoff = u64(head, 0x20)
    let phentsize = Int(u16(head, 0x36))
    let phnum = Int(u16(head, 0x38))
    guard phentsize >= 56, phnum > 0, phnum < 4096 else { return .unknown }
    guard (try? handle.seek(toOffset: phoff)) != nil,
      let table = try? handle.read(upToCount: phentsize * phnum), table.count == phentsize * phnum
    else { return .unknown }
    let headers = [UInt8](table)
    for i in 0..<phnum {
      let base = i * phentsize
      guard u32(headers, base) == 3 else { continue }  // PT_INTERP
      let offset = u64(headers, base + 8)
      let size = Int(min(u64(headers, base + 0x20), 4096))
      guard (try? handle.seek(toOffset: offset)) != nil, let name = try? handle.read(upToCount: size) else {
        return .dynamic(interpreter: "")
      }
      return .dynamic(interpreter: String(decoding: name.prefix { $0 != 0 }, as: UTF8.self))
    }
    return .static
  }

  static func u16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }
  static func u32(_ b: [UInt8], _ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[at + $1]) << (8 * $1) } }
  static func u64(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * $1) } }
}
