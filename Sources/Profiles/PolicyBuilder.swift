import Seccomp
import Syscalls

/// How the socketcall and ipc multiplexers number the calls made through them.
public enum Multiplexer {
  static let socketcall: [String: UInt64] = [
    "socket": 1, "bind": 2, "connect": 3, "listen": 4, "accept": 5, "getsockname": 6,
    "getpeername": 7, "socketpair": 8, "send": 9, "recv": 10, "sendto": 11, "recvfrom": 12,
    "shutdown": 13, "setsockopt": 14, "getsockopt": 15, "sendmsg": 16, "recvmsg": 17,
    "accept4": 18, "recvmmsg": 19, "sendmmsg": 20,
  ]
  static let ipc: [String: UInt64] = [
    "semop": 1, "semget": 2, "semctl": 3, "semtimedop": 4, "msgsnd": 11, "msgrcv": 12,
    "msgget": 13, "msgctl": 14, "shmat": 21, "shmdt": 22, "shmget": 23, "shmctl": 24,
  ]

  /// The multiplexer through which `name` can also be called on `arch`, and its call number.
  public static func route(_ name: String, on arch: Arch) -> (name: String, number: SyscallNumber, call: UInt64)? {
    if let call = socketcall[name], let n = arch.number(of: "socketcall") { return ("socketcall", n, call) }
    if let call = ipc[name], let n = arch.number(of: "ipc") { return ("ipc", n, call) }
    return nil
  }
}

/// Options for turning a profile into a policy.
public struct PolicyOptions: Hashable, Sendable {
  /// The host the Docker expansion assumes.
  public var context: ExpansionContext
  /// The ABIs to build for; nil means the profile's own (see `Profile.filterArches`).
  public var arches: [Arch]?
  /// runc's ENOSYS stub for numbers above the highest the profile names.
  public var enosysStub: Bool
  public var badArchAction: SeccompAction

  public init(
    context: ExpansionContext, arches: [Arch]? = nil, enosysStub: Bool = true,
    badArchAction: SeccompAction = .killProcess
  ) {
    self.context = context
    self.arches = arches
    self.enosysStub = enosysStub
    self.badArchAction = badArchAction
  }
}

extension Policy {
  /// Builds the policy of a profile: Docker expansion, names resolved per ABI
  /// (a name absent on an ABI makes no rule there), socketcall/ipc companions, and the
  /// ENOSYS stub.
  ///
  /// Argument conditions on a multiplexed call cannot be checked (its arguments are
  /// behind a pointer): a conditional rule that permits makes no companion, so the
  /// multiplexed form falls to the default (fail closed); a conditional rule that
  /// denies gives the companion its action unconditionally.
  public init(profile: Profile, options: PolicyOptions) {
    let context = options.context
    let arches = options.arches ?? profile.filterArches(native: context.native)
    let defaultAction = (profile.defaultAction ?? .allow).action(errnoRet: profile.defaultErrnoRet)
    // Resolve each applying entry's names once; number them per ABI below.
    struct Resolved {
      var index: Int
      var entry: SyscallEntry
      var action: SeccompAction
      var names: [(name: String, tableIndex: Int?, socketcall: UInt64?, ipc: UInt64?)]
    }
    var resolved: [Resolved] = []
    for (i, entry) in (profile.syscalls ?? []).enumerated() where Profile.entryApplies(entry, in: context) {
      resolved.append(Resolved(
        index: i, entry: entry, action: entry.action.action(errnoRet: entry.errnoRet),
        names: entry.names.map { ($0, SyscallTable.index(of: $0), Multiplexer.socketcall[$0], Multiplexer.ipc[$0]) }))
    }
    var archPolicies: [ArchPolicy] = []
    for arch in arches {
      var rules: [Rule] = []
      let socketcall = arch.number(of: "socketcall"), ipc = arch.number(of: "ipc")
      for r in resolved {
        let source = "syscalls[\(r.index)]"
        for (name, tableIndex, socketCall, ipcCall) in r.names {
          let conditions = (r.entry.args ?? []).map { c in
            Condition(
              index: c.index, op: c.op, value: c.value, valueTwo: c.valueTwo ?? 0,
              width: arch.argumentType(of: name, index: c.index).mask)
          }
          if let tableIndex, let number = SyscallTable.number(at: tableIndex, in: arch.abi) {
            rules.append(Rule(name: name, number: number, action: r.action, conditions: conditions, source: source))
          }
          // The multiplexed form: socketcall(SYS_*) / ipc(call).
          let mux: (String, SyscallNumber, UInt64)? =
            if let call = socketCall, let n = socketcall { ("socketcall", n, call) }
            else if let call = ipcCall, let n = ipc { ("ipc", n, call) }
            else { nil }
          if let (muxName, muxNumber, call) = mux, conditions.isEmpty || !r.action.permits {
            let callCheck = Condition(index: 0, op: .equal, value: call, width: arch.argumentType(of: muxName, index: 0).mask)
            rules.append(Rule(name: muxName, number: muxNumber, action: r.action, conditions: [callCheck], source: source + " via \(muxName)"))
          }
        }
      }
      var stub: SyscallNumber? = nil
      let stubApplies = ![.allow, .log, .trace].contains(defaultAction.kind)
        && !(defaultAction.kind == .errno && defaultAction.data == SeccompAction.enosys)
      if options.enosysStub && stubApplies {
        stub = rules.map(\.number).max()
      }
      archPolicies.append(ArchPolicy(arch: arch, defaultAction: defaultAction, rules: rules, enosysAbove: stub))
    }
    self.init(
      arches: archPolicies, badArchAction: options.badArchAction, flags: profile.flags ?? [], context: context)
  }
}
