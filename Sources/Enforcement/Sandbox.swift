import BPF
import CLinux
import Foundation
import Seccomp
import Syscalls

/// Puts the calling process under a seccomp filter: a Swift program sandboxing itself.
///
/// A Swift program has threads it did not start (the runtime's, Dispatch's), so
/// `apply` installs the filter on every thread at once (SECCOMP_FILTER_FLAG_TSYNC).
/// A filter can never be removed, only made stricter by another.
///
/// ```swift
/// let profile = try Profile.load(path: "self.json").profile
/// try Sandbox.apply(Policy(profile: profile, options: PolicyOptions(context: HostFacts.dockerDefault())))
/// ```
public enum Sandbox {
  /// Why a filter could not be installed.
  public struct Failure: Error, Sendable, CustomStringConvertible {
    public var errno: Int32
    /// For TSYNC, the thread that could not be synchronised (it runs under another filter).
    public var thread: Int32?
    public var description: String {
      if let thread { return "thread \(thread) could not be put under the filter (it has a different filter)" }
      if errno == EACCES { return "installing a filter needs no_new_privs or CAP_SYS_ADMIN" }
      return "seccomp refused the filter: \(String(cString: strerror(errno)))"
    }
  }

  /// Compiles `policy` and installs it on every thread of this process; sets
  /// no_new_privs first unless `noNewPrivileges` is false (then CAP_SYS_ADMIN is needed).
  public static func apply(_ policy: Policy, allThreads: Bool = true, noNewPrivileges: Bool = true) throws {
    let program = try Compiler.compile(policy)
    var flags = policy.flags.reduce(UInt32(0)) { $0 | $1.bit }
    if allThreads { flags |= FilterFlag.tsync.bit } else { flags &= ~FilterFlag.tsync.bit }
    try install(program, flags: flags, noNewPrivileges: noNewPrivileges)
  }

  /// Installs a compiled program with seccomp(2) `flags`.
  public static func install(_ program: [BPFInstruction], flags: UInt32, noNewPrivileges: Bool = true) throws(Failure) {
    if noNewPrivileges && clinux_set_no_new_privs() != 0 { throw Failure(errno: errno, thread: nil) }
    let rc = program.withUnsafeBytes { clinux_seccomp_install($0.baseAddress, UInt32(program.count), flags) }
    if rc < 0 { throw Failure(errno: errno, thread: nil) }
    if rc > 0 { throw Failure(errno: ESRCH, thread: Int32(rc)) }
  }

  /// Enters seccomp's strict mode on the calling thread only: from then on the thread
  /// can only `read`, `write` (to descriptors it already has), `_exit` and `sigreturn`;
  /// any other call kills it. Other threads are unaffected, and the Swift runtime's own
  /// calls (allocation, locks) are any other call: run only code that makes none of
  /// these, and end the thread with `exitThread`.
  public static func enterStrictMode() throws(Failure) {
    if clinux_seccomp_strict() != 0 { throw Failure(errno: errno, thread: nil) }
  }

  /// Ends the calling thread with `_exit` (the only exit strict mode allows).
  public static func exitThread(_ status: Int32) -> Never { clinux_exit_thread(status) }
}
