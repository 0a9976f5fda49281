import BPF
import Processes
import Foundation
import Host
import Profiles
import Seccomp
import Syscalls

/// One call a profile would have denied during a verification run.
public struct Denial: Hashable, Sendable {
  public var thread: Int32
  public var arch: Arch
  public var number: SyscallNumber
  /// The table's name, or `syscall_N`.
  public var name: String
  public var arguments: [UInt64]
  /// What the profile decides for the call.
  public var action: SeccompAction
  /// The errno the call was failed with in the verification run.
  public var errno: Int32

  public init(
    thread: Int32, arch: Arch, number: SyscallNumber, name: String, arguments: [UInt64], action: SeccompAction, errno: Int32
  ) {
    self.thread = thread
    self.arch = arch
    self.number = number
    self.name = name
    self.arguments = arguments
    self.action = action
    self.errno = errno
  }

  /// `mkdir (83, x86_64) args 0x7ffd…, 0x1ff, … → EPERM (errno)`.
  public var description: String {
    let args = arguments.map { "0x" + String($0, radix: 16) }.joined(separator: ", ")
    let kind = action.kind == .errno ? "" : " (profile: \(action))"
    return "\(name) (\(number.rawValue), \(arch.name)) args \(args) → \(Denial.errnoName(errno))\(kind)"
  }

  static func errnoName(_ e: Int32) -> String { ErrnoNames.symbol(e) ?? "errno \(e)" }
}

/// A run of a program under a profile where every call the profile does not allow goes
/// to the tracer, which records it and fails it as the profile would.
public struct Verification: Sendable {
  public var termination: Termination
  public var denials: [Denial]
  /// Denied calls in all (`denials` keeps the first `Verifier.keep`).
  public var deniedCount: Int
  public var pid: Int32
}

public enum Verifier {
  /// How many denials are kept with their arguments.
  public static let keep = 4096

  /// The policy of `profile`, expanded for `context`, with every decision that does not
  /// let the call run (ALLOW, LOG) turned into SECCOMP_RET_TRACE with a code, and per code
  /// the original action.
  public static func tracingPolicy(_ profile: Profile, context: ExpansionContext) -> (policy: Policy, actions: [SeccompAction]) {
    var policy = Policy(profile: profile, options: PolicyOptions(context: context))
    var actions: [SeccompAction] = []
    var codes: [SeccompAction: UInt16] = [:]
    func rewrite(_ a: SeccompAction) -> SeccompAction {
      if a.permits { return a }
      if let c = codes[a] { return .trace(c) }
      let c = UInt16(actions.count)
      codes[a] = c
      actions.append(a)
      return .trace(c)
    }
    policy.badArchAction = rewrite(policy.badArchAction)
    for i in policy.arches.indices {
      policy.arches[i].defaultAction = rewrite(policy.arches[i].defaultAction)
      for j in policy.arches[i].rules.indices {
        policy.arches[i].rules[j].action = rewrite(policy.arches[i].rules[j].action)
      }
    }
    policy.flags = []
    return (policy, actions)
  }

  /// The errno a denied call gets in verification: the profile's errno for ERRNO, ENOSYS
  /// for TRACE (what the kernel returns without a tracer), EPERM for the actions that kill
  /// or trap (the run goes on, so every denial shows up).
  static func errno(for action: SeccompAction) -> Int32 {
    switch action.kind {
    case .errno: action.effectiveErrno ?? 1
    case .trace, .userNotif: 38
    default: 1
    }
  }

  /// Runs the program under `profile` with denials routed to the tracer; no_new_privs is
  /// set unless `noNewPrivileges` is false (as runc with noNewPrivileges false and Docker
  /// run containers; loading a filter then needs CAP_SYS_ADMIN). The profile is expanded
  /// for the program that runs under it: the bounding set it inherits from this process
  /// (`HostFacts.thisProcess()`) and the running kernel.
  public static func verify(
    executable: String, arguments: [String], environment: [String]? = nil, profile: Profile,
    noNewPrivileges: Bool = true
  ) throws(Recorder.Failure) -> Verification {
    #if arch(x86_64)
      let (policy, actions) = tracingPolicy(profile, context: HostFacts.thisProcess())
      let program: [BPFInstruction]
      do {
        program = try Compiler.compile(policy)
      } catch {
        throw Recorder.Failure(step: .filter, errno: E2BIG)
      }
      let errnos = actions.map { Errno(rawValue: errno(for: $0)) }
      let counts = TraceCounts()
      let denied = Tracer.Denials(capacity: keep)
      // Allowed calls never stop here, so a pinned program would stay pinned: leave
      // placement to the scheduler.
      let outcome = try Tracer.verify(
        executable: executable, arguments: arguments, environment: environment, filter: program,
        noNewPrivileges: noNewPrivileges, errnos: errnos, denials: denied, placement: .anywhere, counts: counts)
      var denials: [Denial] = []
      for d in denied.kept {
        let arch = Arch(auditArch: d.auditArch, number: Int64(bitPattern: d.number)) ?? .x86_64
        let number = SyscallNumber(Int32(truncatingIfNeeded: d.number))
        denials.append(
          Denial(
            thread: d.thread, arch: arch, number: number,
            name: arch.name(of: number) ?? "syscall_\(number.rawValue)",
            arguments: d.arguments,
            action: Int(d.code) < actions.count ? actions[Int(d.code)] : .trace(UInt16(truncatingIfNeeded: d.code)),
            errno: d.errno.rawValue))
      }
      return Verification(
        termination: outcome.termination, denials: denials, deniedCount: denied.count, pid: outcome.pid)
    #else
      throw Recorder.Failure(step: .trace, errno: ENOSYS)
    #endif
  }
}
