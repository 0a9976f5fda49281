import Foundation
import Processes
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
      guard let elf = ELFFile(path: path), elf.arch == .x86_64 else { return .unknown }
      return elf.interpreter.map { .dynamic(interpreter: $0) } ?? .static
    }
    return .unknown
  }
}
