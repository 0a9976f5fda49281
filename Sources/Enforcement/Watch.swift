import CLinux
import Foundation
import Processes
import Profiles
import Seccomp
import Syscalls

/// What `syscage watch` does with a call the profile does not allow.
public enum WatchMode: String, Sendable, CaseIterable {
  /// Report it and let it run (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
  case alert
  /// Report it and fail it as the profile says (its errno; EPERM for a KILL or TRAP decision).
  case deny
  /// Report it and SIGKILL the whole process tree.
  case kill
}

/// What the supervisor did with a violation.
public enum WatchResponse: Hashable, Sendable, CustomStringConvertible {
  /// The call ran.
  case allowed
  /// The call failed with `errno` (0: returned 0 without running). `substituted` when the
  /// profile's decision was not an errno (KILL, TRAP, TRACE, NOTIFY) and syscage chose it.
  case denied(errno: Int32, substituted: Bool)
  /// The process tree was killed (`signals` SIGKILLs sent to the program and its descendants).
  case killed(signals: Int)
  /// The caller was gone before the supervisor answered (it died or was interrupted).
  case gone

  public var description: String {
    switch self {
    case .allowed: "allowed"
    case .denied(let e, let sub):
      (e == 0 ? "denied (returned 0)" : "denied with \(errnoName(e))") + (sub ? " (substituted for the profile's action)" : "")
    case .killed(let n): "killed the process tree (\(n) processes)"
    case .gone: "none (the caller was gone)"
    }
  }

  var tag: String {
    switch self {
    case .allowed: "allowed"
    case .denied: "denied"
    case .killed: "killed"
    case .gone: "gone"
    }
  }
}

/// One call outside the profile, as the supervisor saw it.
public struct Violation: Sendable {
  public var time: Date
  /// The process (thread group) and the calling thread.
  public var pid: Int32
  public var tid: Int32
  public var comm: String?
  public var exe: String?
  /// The call's ABI (nil for an `AUDIT_ARCH` value syscage does not know).
  public var arch: Arch?
  public var auditArch: UInt32
  /// `seccomp_data.nr` as the kernel gave it.
  public var nr: Int32
  public var name: String?
  public var args: [UInt64]
  /// What the profile says about the call.
  public var decision: Decision
  /// What made the decision, as `check` says it (`Policy.explanation(of:arch:)`).
  public var explanation: String
  /// The deciding rule's place in the profile (`syscalls[2]`), when a rule decided.
  public var rule: String?
  public var response: WatchResponse

  /// A violation as the supervisor builds it; `arch` is `.x32` for an x86_64 call with the
  /// x32 bit, and `nr` the number as the kernel gave it (with that bit).
  public init(
    time: Date, pid: Int32, tid: Int32, comm: String?, exe: String?, arch: Arch?, auditArch: UInt32, nr: Int32,
    name: String?, args: [UInt64], decision: Decision, explanation: String? = nil, rule: String? = nil,
    response: WatchResponse
  ) {
    self.time = time
    self.pid = pid
    self.tid = tid
    self.comm = comm
    self.exe = exe
    self.arch = arch
    self.auditArch = auditArch
    self.nr = nr
    self.name = name
    self.args = args
    self.decision = decision
    self.explanation = explanation ?? Self.fallbackExplanation(decision)
    self.rule = rule
    self.response = response
  }

  /// What `explanation` says without the policy at hand.
  static func fallbackExplanation(_ decision: Decision) -> String {
    switch decision.reason {
    case .rule(let i): "rule \(i)"
    case .defaultAction: "default action"
    case .enosysStub: "newer than every syscall the profile names"
    case .badArch, .x32Rejected, .x86_64Rejected: "ABI not in the profile"
    }
  }

  /// The profile's decision the way a profile spells it: `SCMP_ACT_ERRNO(1)`.
  public var decisionText: String {
    let (name, errno) = decision.action.profileAction
    return errno.map { "\(name.rawValue)(\($0))" } ?? name.rawValue
  }

  nonisolated(unsafe) static let timeFormatter: ISO8601DateFormatter = {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f
  }()

  /// One JSON object on one line (no trailing newline).
  public var jsonLine: String {
    var fields: [(String, String)] = []
    fields.append(("time", quote(Self.timeFormatter.string(from: time))))
    fields.append(("pid", "\(pid)"))
    fields.append(("tid", "\(tid)"))
    fields.append(("comm", comm.map(quote) ?? "null"))
    fields.append(("exe", exe.map(quote) ?? "null"))
    fields.append(("arch", arch.map { quote($0.name) } ?? "null"))
    fields.append(("audit_arch", quote("0x" + String(auditArch, radix: 16))))
    fields.append(("syscall", name.map(quote) ?? "null"))
    fields.append(("nr", "\(arch == .x32 ? nr & ~Int32(SyscallNumber.x32Bit) : nr)"))
    fields.append(("args", "[" + args.map { "\($0)" }.joined(separator: ",") + "]"))
    let (actionName, errno) = decision.action.profileAction
    fields.append(("decision", quote(actionName.rawValue)))
    if let errno { fields.append(("errno", "\(errno)")) }
    fields.append(("reason", quote(decisionReason)))
    if let rule { fields.append(("rule", quote(rule))) }
    fields.append(("explanation", quote(explanation)))
    fields.append(("action", quote(response.tag)))
    if case .denied(let e, let sub) = response {
      fields.append(("returned_errno", "\(e)"))
      fields.append(("substituted", sub ? "true" : "false"))
    }
    if case .killed(let n) = response { fields.append(("killed", "\(n)")) }
    return "{" + fields.map { "\(quote($0.0)):\($0.1)" }.joined(separator: ",") + "}"
  }

  var decisionReason: String {
    switch decision.reason {
    case .badArch: "abi-not-in-profile"
    case .x32Rejected: "x32-not-in-profile"
    case .x86_64Rejected: "x86_64-not-in-profile"
    case .enosysStub: "enosys-stub"
    case .rule: "rule"
    case .defaultAction: "default"
    }
  }

  /// A line for a person.
  public var summary: String {
    let who = "\(comm ?? "?")[\(pid)\(tid != pid ? "/\(tid)" : "")]"
    let call = "\(name ?? "syscall") (\(arch == .x32 ? nr & ~Int32(SyscallNumber.x32Bit) : nr), \(arch?.name ?? "arch 0x" + String(auditArch, radix: 16)))"
    let shown = args.prefix(6).map { "0x" + String($0, radix: 16) }.joined(separator: ", ")
    return "syscage: watch: \(who) \(call)(\(shown)): profile says \(decisionText) (\(explanation)); \(response)"
  }
}

func errnoName(_ e: Int32) -> String {
  ErrnoNames.symbol(e).map { "\($0) (\(e))" } ?? "errno \(e)"
}

func quote(_ s: String) -> String { JSONValue.quoted(s) }

extension Policy {
  /// The filter `watch` loads: every decision that is not ALLOW or LOG becomes
  /// SECCOMP_RET_USER_NOTIF (rule actions, default actions, the bad-arch action; the ENOSYS
  /// stub is dropped, its calls reach the default). Allowed calls never leave the kernel.
  /// The supervisor re-decides each notified call with `decide` on this (original) policy.
  public var watchPolicy: Policy {
    var p = self
    p.arches = arches.map { a in
      var a = a
      a.rules = a.rules.map { r in
        var r = r
        if !r.action.permits { r.action = .userNotif }
        return r
      }
      if !a.defaultAction.permits { a.defaultAction = .userNotif }
      a.enosysAbove = nil
      return a
    }
    if !badArchAction.permits { p.badArchAction = .userNotif }
    p.flags = flags.filter { $0 != .tsync }
    return p
  }
}

/// The seccomp state syscage itself runs under, which the program inherits.
public struct InheritedSeccomp: Sendable {
  /// /proc/self/status `Seccomp:` (0 none, 1 strict, 2 filter).
  public var mode: Int
  /// `Seccomp_filters:` (nil on kernels without the field).
  public var filters: Int?

  public static func current() -> InheritedSeccomp {
    let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    var mode = 0
    var filters: Int? = nil
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      guard parts.count == 2 else { continue }
      if parts[0] == "Seccomp" { mode = Int(parts[1]) ?? 0 }
      if parts[0] == "Seccomp_filters" { filters = Int(parts[1]) }
    }
    return InheritedSeccomp(mode: mode, filters: filters)
  }

  /// What it means for the watch, or nil when nothing is inherited.
  public var warning: String? {
    switch mode {
    case 0: return nil
    case 1: return "syscage runs in strict seccomp mode: nothing can be watched"
    default:
      let n = filters.map { "\($0) seccomp filter\($0 == 1 ? "" : "s")" } ?? "seccomp filters"
      return "syscage already runs under \(n) (e.g. a container's); the program inherits them. "
        + "The kernel applies the most restrictive result of all filters, so calls they deny (ERRNO) or kill never "
        + "reach the watch (USER_NOTIF loses to ERRNO, TRAP and KILL): they are not reported, and --learn cannot see them"
    }
  }
}

/// Runs a program under a profile's watch filter and supervises it on the calling thread.
public enum Watcher {
  public struct Outcome: Sendable {
    /// How the program (the first process) ended.
    public var termination: Termination
    public var pid: Int32
    public var violations: Int
    /// Processes still running under the filter when a second signal after the program's
    /// end stopped the watch (0: the watch saw every process out). Their calls outside
    /// the profile fail with ENOSYS from then on (the listener is closed).
    public var abandoned: Int
    /// `--on-violation kill` killed the process tree (perhaps after the program had ended:
    /// a descendant's call).
    public var killedTree: Bool
    /// In `deny` and `kill` mode, processes still under the filter that a second signal after
    /// the program's end killed (instead of leaving them unwatched).
    public var killedAtStop: Int
    /// The guard process (the program's parent) was killed: the program died with it and
    /// the rest of the tree was killed.
    public var guardLost: Bool
  }

  /// Runs `request` (its `program` must be compiled from `policy.watchPolicy`) and answers
  /// every notification as `mode` says; `report` is called once per violation, after the
  /// supervisor acted on it. Returns when no process uses the filter any more: the program
  /// and every descendant that outlived it (a daemon keeps the watch going), or when a
  /// second signal after the program's end stops it (the first goes to the descendants;
  /// in `deny` and `kill` mode the second kills them, and the watch sees them out).
  ///
  /// The program's parent is a guard process (clinux_watch.h): the subreaper of the
  /// program's tree, which kills the whole tree when this process dies, SIGKILL included.
  /// While it runs, the calling process is a child subreaper too and reaps any child that
  /// ends: it must not have children of its own to wait for.
  public static func run(
    _ request: Launcher.Request, policy: Policy, mode: WatchMode, report: (Violation) -> Void
  ) throws(Launcher.Failure) -> Outcome {
    var w = clinux_watch()
    let env = request.environment ?? ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
    let rc = withCStrings(request.arguments) { argv in
      withCStrings(env) { envp in
        request.program.withUnsafeBytes { prog in
          clinux_watch_start(
            request.executable, argv, envp, request.noNewPrivileges ? 1 : 0, prog.baseAddress,
            UInt32(request.program.count), request.flags, &w)
        }
      }
    }
    defer { clinux_watch_end(&w) }
    if rc != 0 { throw Launcher.Failure(step: Launcher.Step(rawValue: Int32(w.failed_step)), errno: Int32(w.error)) }
    // deny and kill never leave a process running unwatched.
    w.stop_kills = mode == .alert ? 0 : 1
    var count = 0
    var killed = false
    loop: while true {
      var n = clinux_watch_notif()
      switch clinux_watch_next(&w, -1, &n) {
      case Int32(CLINUX_WATCH_NOTIFICATION):
        if killed {
          // The tree is dying and this call never returns; a process that escaped the
          // first sweep (forked meanwhile) is killed now.
          _ = clinux_watch_kill_tree(50)
          continue
        }
        let args = withUnsafeBytes(of: n.args) { Array($0.bindMemory(to: UInt64.self)) }
        let decision = policy.decide(auditArch: AuditArch(rawValue: n.arch), nr: UInt32(bitPattern: n.nr), args: args)
        let tid = Int32(bitPattern: n.pid)
        let arch = Arch(auditArch: n.arch, number: Int64(n.nr))
        let name = arch.flatMap { $0.name(of: SyscallNumber(n.nr)) }
        var v = Violation(
          time: Date(), pid: tgid(of: tid) ?? tid, tid: tid, comm: procComm(tid), exe: procExe(tid), arch: arch,
          auditArch: n.arch, nr: n.nr, name: name, args: args, decision: decision,
          explanation: policy.explanation(of: decision, arch: arch), rule: policy.rule(of: decision).flatMap { $0.source.isEmpty ? nil : $0.source },
          response: .gone)
        // The /proc reads above are about this call only if it is still waiting.
        if decision.action.permits {
          // Cannot happen with a filter from watchPolicy; let it run unreported.
          _ = clinux_watch_reply(&w, n.id, 0, 0, 1)
          continue
        }
        guard clinux_watch_id_valid(&w, n.id) != 0 else {
          v.comm = nil
          v.exe = nil
          count += 1
          report(v)
          continue
        }
        switch mode {
        case .alert:
          v.response = clinux_watch_reply(&w, n.id, 0, 0, 1) == 0 ? .allowed : .gone
        case .deny:
          let (e, sub): (Int32, Bool)
          switch decision.action.kind {
          case .errno: (e, sub) = (decision.action.effectiveErrno ?? 1, false)
          case .trace, .userNotif: (e, sub) = (ENOSYS, true)  // what the kernel returns with no tracer/listener
          default: (e, sub) = (EPERM, true)
          }
          v.response = clinux_watch_reply(&w, n.id, e, 0, 0) == 0 ? .denied(errno: e, substituted: sub) : .gone
        case .kill:
          killed = true
          v.response = .killed(signals: Int(clinux_watch_kill_tree(50)))
        }
        count += 1
        report(v)
      case Int32(CLINUX_WATCH_EXITED):
        break loop
      case Int32(CLINUX_WATCH_EXEC_FAILED):
        throw Launcher.Failure(step: Launcher.Step(rawValue: Int32(w.failed_step)), errno: Int32(w.error))
      default:
        continue
      }
    }
    return Outcome(
      termination: Termination(waitStatus: w.wait_status), pid: w.pid, violations: count, abandoned: Int(w.abandoned),
      killedTree: killed, killedAtStop: Int(w.stop_killed), guardLost: w.guard_lost != 0)
  }

  static func procComm(_ tid: Int32) -> String? {
    (try? String(contentsOfFile: "/proc/\(tid)/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines)
  }

  static func procExe(_ tid: Int32) -> String? {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/\(tid)/exe", &buf, buf.count - 1)
    guard n > 0 else { return nil }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  static func tgid(of tid: Int32) -> Int32? {
    guard let text = try? String(contentsOfFile: "/proc/\(tid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("Tgid:") {
      return Int32(line.dropFirst(5).trimmingCharacters(in: .whitespaces))
    }
    return nil
  }
}
