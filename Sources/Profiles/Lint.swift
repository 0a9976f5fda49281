import Seccomp
import Syscalls

/// One thing `lint` has to say about a profile.
public struct LintFinding: Hashable, Sendable, CustomStringConvertible {
  public enum Level: String, Hashable, Sendable, Comparable, CaseIterable {
    case info, warning, error
    var rank: Int {
      switch self {
      case .info: 0
      case .warning: 1
      case .error: 2
      }
    }
    public static func < (a: Level, b: Level) -> Bool { a.rank < b.rank }
  }

  public var level: Level
  /// Stable, kebab-case: one of `Lint.checks`.
  public var id: String
  /// The JSON path of the entry or argument the finding is about (`syscalls[2].args[0]`),
  /// or empty when it is about the whole profile.
  public var path: String
  /// The ABIs it concerns, in the policy's order; empty when it does not depend on one.
  public var arches: [Arch]
  /// What is wrong, what happens where, and what to do.
  public var message: String
  /// The names the message is about when there are many (`capset, chown, ...`), printed
  /// after it, one list per label.
  public var lists: [LintList]

  public init(_ level: Level, _ id: String, path: String = "", arches: [Arch] = [], _ message: String, lists: [LintList] = []) {
    self.level = level
    self.id = id
    self.path = path
    self.arches = arches
    self.message = message
    self.lists = lists
  }

  /// `warning: syscalls[2].args[0]: message [id]`, then each list on indented lines of at
  /// most 80 columns.
  public var description: String {
    let at = path.isEmpty ? "" : "\(path): "
    let on = arches.isEmpty ? "" : " (\(arches.map(\.name).joined(separator: ", ")))"
    let head = "\(level.rawValue): \(at)\(message)\(on) [\(id)]"
    return ([head] + lists.map { $0.wrapped(columns: 80, indent: 4) }).joined(separator: "\n")
  }
}

/// Names a finding lists, under a label saying what they have in common (`@privileged`).
public struct LintList: Hashable, Sendable, CustomStringConvertible {
  public var label: String
  public var names: [String]

  public init(_ label: String, _ names: [String]) {
    self.label = label
    self.names = names
  }

  /// `label: a, b, c`
  public var description: String { "\(label): \(names.joined(separator: ", "))" }

  /// The list on lines of at most `columns` (longer names aside): the first indented by
  /// `indent`, the others by two more.
  func wrapped(columns: Int, indent: Int) -> String {
    var lines: [String] = []
    var line = String(repeating: " ", count: indent) + label + ":"
    let continuation = String(repeating: " ", count: indent + 2)
    for (i, name) in names.enumerated() {
      let word = name + (i == names.count - 1 ? "" : ",")
      if line.count + 1 + word.count > columns, line.count > continuation.count {
        lines.append(line)
        line = continuation + word
      } else {
        line += " " + word
      }
    }
    lines.append(line)
    return lines.joined(separator: "\n")
  }
}

/// A profile to compare against with `Lint.run(..., against:)`.
public struct LintReference: Sendable {
  public var name: String
  public var profile: Profile
  public init(name: String, profile: Profile) {
    self.name = name
    self.profile = profile
  }

  /// Docker's default profile (moby `profiles/seccomp/default.json`), as shipped in `Data/`.
  public static var dockerDefault: LintReference {
    // The embedded copy is a valid profile by construction; a test compares it with Data/.
    let profile = Profile.dockerDefault
    return LintReference(name: "Docker's default profile", profile: profile)
  }
}

/// Reviews a profile: dangerous calls it allows, rules that do not mean what they seem
/// to, and places where syscage and runc + libseccomp read it differently.
public enum Lint {
  /// Every check: its id, the highest level it reports at, and what it looks for.
  public static let checks: [(id: String, level: LintFinding.Level, summary: String)] = [
    ("dangerous-syscall-allowed", .warning, "a call Docker's default refuses, or one of systemd's @privileged, @mount, @module, @raw-io, @reboot, @swap, @debug, is allowed (info when only @privileged, or gated on a capability)"),
    ("io-uring-allowed", .error, "io_uring_setup/enter/register allowed: io_uring requests bypass seccomp"),
    ("allow-list-missing-essential", .error, "an allow-list without exit_group, execve or rt_sigreturn"),
    ("libc-probe-not-enosys", .warning, "clone3, faccessat2, fchmodat2 or openat2 denied with something other than ENOSYS: libc cannot fall back"),
    ("kill-thread", .warning, "SCMP_ACT_KILL / KILL_THREAD kills one thread and leaves the process half alive"),
    ("errno-zero", .warning, "ERRNO with errno 0 makes the call succeed without running"),
    ("errno-too-large", .warning, "an errno above 4095 is capped by the kernel (and cut to 16 bits)"),
    ("signed-order-comparison", .warning, "LT/LE/GT/GE on a signed argument: the compare is unsigned, negative values are huge"),
    ("masked-eq-datum-outside-mask", .warning, "MASKED_EQ valueTwo has bits outside the mask; it is masked"),
    ("narrow-argument-64-bit-compare", .warning, "a rule on a 16/32-bit argument that runc + libseccomp compare as 64 bits (warning when that fails open, info when closed)"),
    ("datum-wider-than-argument", .warning, "a datum with bits the argument does not have"),
    ("clone-flags-while-clone3-allowed", .warning, "rules on clone's flags while clone3 (flags behind a pointer) is allowed"),
    ("argument-rule-on-multiplexed-call", .warning, "an argument rule on a socket/ipc call on an ABI with socketcall/ipc (syscage fails closed, runc lets it through)"),
    ("rule-action-equals-default", .warning, "a rule whose action is the default: runc drops it, syscage keeps it in precedence (info unless it changes a decision)"),
    ("overlapping-rules", .warning, "two rules for one syscall with different actions match the same call (info: may overlap)"),
    ("same-argument-twice", .warning, "two conditions on one argument in one entry: syscage ANDs them, runc ORs them"),
    ("unknown-syscall", .warning, "a name no ABI knows"),
    ("syscall-missing-on-arch", .info, "names that do not exist on some ABI of the filter (no rule there)"),
    ("deny-list-missing-equivalent", .warning, "a deny-list denies a call but not its equivalents (open/openat/openat2, ...)"),
    ("deny-list-missing-32-bit-abi", .warning, "a deny-list whose filter leaves out the native arch's 32-bit ABIs"),
    ("allowed-beyond-reference", .warning, "with --against: calls the profile allows that the reference refuses (or allows only conditionally)"),
    ("runtime-call-refused", .error, "with --for: a call the container runtime makes after loading the filter is refused or killed (the container does not start), mode by mode"),
  ]

  /// Runs every check on `profile` as `options` builds it, and, with `against`,
  /// compares with that profile; with `runtime`, names the calls that runtime makes after
  /// loading the filter that the profile refuses. Findings are in check order, then file order.
  public static func run(
    _ profile: Profile, options: PolicyOptions, against: LintReference? = nil, runtime: RuntimeSelection? = nil
  ) -> [LintFinding] {
    var linter = Linter(profile: profile, options: options)
    linter.runAll()
    if let against { linter.compare(with: against) }
    if let runtime { linter.checkRuntime(runtime) }
    return linter.findings
  }

  /// The calls that set up and drive io_uring.
  public static let ioUringCalls = ["io_uring_setup", "io_uring_enter", "io_uring_register"]

  /// Why allowing io_uring undoes a profile (lint's io-uring-allowed, and run's and record's warning).
  public static let ioUringBypass =
    "requests submitted through io_uring (openat, connect, ...) never pass through seccomp, so they escape every other rule"

  /// The io_uring calls `profile` allows (on some ABI, for some arguments) as `options` builds it,
  /// in the order of `ioUringCalls`: lint's io-uring-allowed check alone.
  public static func ioUringAllowed(_ profile: Profile, options: PolicyOptions) -> [String] {
    Linter(profile: profile, options: options).allowed(ioUringCalls).map(\.name)
  }

  /// Calls that mean the same to the kernel: denying one but not the others in a
  /// deny-list leaves a way around.
  public static let equivalents: [[String]] = [
    ["open", "openat", "openat2", "creat", "open_by_handle_at"],
    ["execve", "execveat"],
    ["mkdir", "mkdirat"],
    ["rmdir", "unlink", "unlinkat"],
    ["rename", "renameat", "renameat2"],
    ["link", "linkat"],
    ["symlink", "symlinkat"],
    ["mknod", "mknodat"],
    ["chmod", "fchmod", "fchmodat", "fchmodat2"],
    ["chdir", "fchdir"],
    ["chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32"],
    ["access", "faccessat", "faccessat2"],
    ["readlink", "readlinkat"],
    ["utime", "utimes", "futimesat", "utimensat", "utimensat_time64"],
    ["stat", "lstat", "fstat", "newfstatat", "fstatat64", "stat64", "lstat64", "fstat64", "statx", "oldstat", "oldlstat", "oldfstat"],
    ["statfs", "fstatfs", "statfs64", "fstatfs64"],
    ["truncate", "truncate64", "ftruncate", "ftruncate64"],
    ["dup", "dup2", "dup3"],
    ["fork", "vfork", "clone", "clone3"],
    ["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal"],
    ["mount", "fsopen", "fsmount", "fsconfig", "move_mount", "open_tree", "open_tree_attr", "mount_setattr"],
    ["umount", "umount2"],
    ["setxattr", "lsetxattr", "fsetxattr", "setxattrat"],
    ["removexattr", "lremovexattr", "fremovexattr", "removexattrat"],
    ["pipe", "pipe2"],
    ["eventfd", "eventfd2"],
    ["signalfd", "signalfd4"],
    ["inotify_init", "inotify_init1"],
    ["epoll_create", "epoll_create1"],
    ["accept", "accept4"],
    ["sendfile", "sendfile64", "splice", "copy_file_range"],
    ["init_module", "finit_module"],
    ["kexec_load", "kexec_file_load"],
    ["ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd"],
    ["setuid", "setuid32", "setreuid", "setreuid32", "setresuid", "setresuid32"],
    ["setgid", "setgid32", "setregid", "setregid32", "setresgid", "setresgid32"],
    ["getdents", "getdents64", "readdir"],
    ["select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64"],
  ]

  /// Calls libc probes and falls back from only on ENOSYS.
  public static let libcProbed = ["clone3", "faccessat2", "fchmodat2", "openat2"]

  /// The groups `dangerous-syscall-allowed` names.
  public static let dangerousGroups = ["@docker-default-refused", "@privileged", "@mount", "@module", "@raw-io", "@reboot", "@swap", "@debug"]
}

/// Whether and how a call is allowed on one ABI.
struct Allowance {
  /// True when only some arguments are allowed.
  var conditional: Bool
  /// The JSON path of what allows it: `syscalls[i]` or `defaultAction`.
  var path: String
  /// Rules allowing it (empty when the default does).
  var rules: [Rule]
  /// Rules that deny some of its calls.
  var exceptions: [Rule]

  var detail: String {
    if !rules.isEmpty && rules.allSatisfy({ !$0.conditions.isEmpty }) {
      return "only when " + rules.map { $0.conditions.map(\.description).joined(separator: " && ") }.joined(separator: " or ")
    }
    if !exceptions.isEmpty {
      return "except when " + exceptions.map { $0.conditions.map(\.description).joined(separator: " && ") }.joined(separator: " or ")
    }
    return ""
  }
}

extension Policy {
  /// Whether some call of `name` on `arch` is allowed, by a rule or by the default action.
  public func allows(_ name: String, on arch: Arch) -> Bool {
    guard let ap = arches.first(where: { $0.arch == arch }), let nr = arch.number(of: name) else { return false }
    return ap.allowance(of: nr) != nil
  }
}

extension ArchPolicy {
  /// Whether some call of `number` is allowed (ALLOW or LOG), and by what.
  func allowance(of number: SyscallNumber) -> Allowance? { allowance(of: number, rules: rules(for: number)) }

  /// `allowance(of:)` given the rules for `number`, in file order: what the rules say,
  /// checked on the decision map (a conditional allow that a deny with the same
  /// conditions overrides allows nothing).
  func allowance(of number: SyscallNumber, rules: [Rule]) -> Allowance? {
    guard var a = writtenAllowance(of: number, rules: rules) else { return nil }
    guard rules.contains(where: { !$0.conditions.isEmpty }) else { return a }
    let only = ArchPolicy(arch: arch, defaultAction: defaultAction, rules: rules, enosysAbove: enosysAbove)
    if let d = try? SyscallDecisions.compute(arch: arch, number: number, policies: [(only, .killProcess)]) {
      let permitted = d.actions[0].filter(\.permits).count
      if permitted == 0 { return nil }
      a.conditional = permitted < d.regionCount
    }
    return a
  }

  func writtenAllowance(of number: SyscallNumber, rules: [Rule]) -> Allowance? {
    let permits = rules.filter { $0.action.permits }
    let denies = rules.filter { !$0.action.permits }
    if denies.contains(where: { $0.conditions.isEmpty }) { return nil }
    if defaultAction.permits {
      if permits.contains(where: { $0.conditions.isEmpty }) || denies.isEmpty {
        let path = permits.first(where: { $0.conditions.isEmpty }).map { Linter.entryPath($0.source) } ?? "defaultAction"
        return Allowance(conditional: !denies.isEmpty, path: path, rules: permits.filter { $0.conditions.isEmpty }, exceptions: denies)
      }
      return Allowance(conditional: true, path: "defaultAction", rules: [], exceptions: denies)
    }
    guard !permits.isEmpty else { return nil }
    if let u = permits.first(where: { $0.conditions.isEmpty }) {
      return Allowance(conditional: !denies.isEmpty, path: Linter.entryPath(u.source), rules: [u], exceptions: denies)
    }
    return Allowance(conditional: true, path: Linter.entryPath(permits[0].source), rules: permits, exceptions: denies)
  }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

extension ArgumentCondition {
  /// The condition as written: `a0 > 0x28`, `a1 & 0x7e020000 == 0x0`.
  var written: String {
    let v = hex(value)
    switch op {
    case .notEqual: return "a\(index) != \(v)"
    case .lessThan: return "a\(index) < \(v)"
    case .lessOrEqual: return "a\(index) <= \(v)"
    case .equal: return "a\(index) == \(v)"
    case .greaterOrEqual: return "a\(index) >= \(v)"
    case .greaterThan: return "a\(index) > \(v)"
    case .maskedEqual: return "a\(index) & \(v) == \(hex(valueTwo ?? 0))"
    }
  }
}

/// Sets of argument values as sorted, disjoint closed ranges: exact reasoning about
/// single comparisons (all but most MASKED_EQ).
struct ValueSet: Equatable {
  var ranges: [ClosedRange<UInt64>]

  static func all(_ width: UInt64) -> ValueSet { ValueSet(ranges: [0...width]) }

  /// The values of a width-cut argument for which `c` holds, or nil when that is
  /// not a range set (a MASKED_EQ with a partial mask).
  init?(_ c: Condition) {
    let w = c.width, v = c.value
    switch c.op {
    case .equal: ranges = [v...v]
    case .notEqual: ranges = (v > 0 ? [0...(v - 1)] : []) + (v < w ? [(v + 1)...w] : [])
    case .lessThan: ranges = v == 0 ? [] : [0...(v - 1)]
    case .lessOrEqual: ranges = [0...v]
    case .greaterThan: ranges = v >= w ? [] : [(v + 1)...w]
    case .greaterOrEqual: ranges = [v...w]
    case .maskedEqual:
      if v == 0 { ranges = [0...w] } else if v == w { ranges = [c.valueTwo...c.valueTwo] } else { return nil }
    }
  }

  init(ranges: [ClosedRange<UInt64>]) { self.ranges = ranges }

  var isEmpty: Bool { ranges.isEmpty }

  func intersection(_ o: ValueSet) -> ValueSet {
    var out: [ClosedRange<UInt64>] = []
    for a in ranges {
      for b in o.ranges {
        let lo = max(a.lowerBound, b.lowerBound), hi = min(a.upperBound, b.upperBound)
        if lo <= hi { out.append(lo...hi) }
      }
    }
    return ValueSet(ranges: out.sorted { $0.lowerBound < $1.lowerBound })
  }

  func union(_ o: ValueSet) -> ValueSet {
    var all = (ranges + o.ranges).sorted { $0.lowerBound < $1.lowerBound }
    var out: [ClosedRange<UInt64>] = []
    while !all.isEmpty {
      let r = all.removeFirst()
      if let last = out.last, last.upperBound == .max || r.lowerBound <= last.upperBound + 1 {
        out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
      } else {
        out.append(r)
      }
    }
    return ValueSet(ranges: out)
  }

  /// `a0 == 0x5`, `0x0 <= a0 <= 0x25`, ...
  func describe(_ arg: String, width: UInt64) -> String {
    guard !ranges.isEmpty else { return "never" }
    if ranges == [0...width] { return "any \(arg)" }
    return ranges.prefix(3).map { r in
      if r.lowerBound == r.upperBound { return "\(arg) == \(hex(r.lowerBound))" }
      if r.lowerBound == 0 { return "\(arg) <= \(hex(r.upperBound))" }
      if r.upperBound == width { return "\(arg) >= \(hex(r.lowerBound))" }
      return "\(hex(r.lowerBound)) <= \(arg) <= \(hex(r.upperBound))"
    }.joined(separator: " or ") + (ranges.count > 3 ? " or ..." : "")
  }
}
