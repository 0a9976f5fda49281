import Seccomp
import Syscalls

/// A profile as a systemd-nspawn settings file (`MACHINE.nspawn`): an `[Exec]` section of
/// `SystemCallFilter=` lines, syscall names only.
///
/// systemd-nspawn's semantics (systemd 252, src/nspawn/nspawn-seccomp.c and
/// nspawn-settings.c, and as it runs), which the conversion follows:
/// - nspawn installs its own allow-list (groups such as `@file-system` and `@process`,
///   a few dozen names, and some names by capability), with ERRNO(EPERM) for the other
///   calls its libseccomp knows and ERRNO(ENOSYS) for the rest. `SystemCallFilter=NAME`
///   adds NAME to that allow-list; `SystemCallFilter=~NAME` takes NAME out of it (EPERM).
///   Lines add up; nothing resets the lists.
/// - A `~` entry takes out exactly the string written: `~mkdir` refuses mkdir, `~@mount`
///   only stops the group from being added as a whole (its members stay allowed when
///   another group adds them), and `~mkdir:EPERM` matches no call, so mkdir stays allowed.
///   The file therefore lists names, never groups, and never `name:ERRNO`.
/// - Every refusal is EPERM (ENOSYS for a call nspawn does not know, even when listed):
///   no other errno, no kill, no log, no argument rules, one list for every ABI of the host.
/// - A file in /etc/systemd/nspawn or /run/systemd/nspawn is trusted; one next to the
///   image is not, and there nspawn ignores the file's `SystemCallFilter=` lines as soon as
///   one of them allows a call (`--settings=trusted` trusts it). `--system-call-filter=`
///   on the command line takes the same values and overrides the file's.
///
/// The result is never looser than the profile: for a profile that refuses by default,
/// every call the profile allows is listed and every other call syscage knows on the host's
/// ABIs is refused by name (nspawn's own allow-list would let it through otherwise); for a
/// profile that allows by default, the calls it refuses are refused by name and nspawn's
/// own list stays in force (stricter than the profile; `notes` says where). What the file
/// cannot say is in `warnings`, and such a call is refused (fail closed), but for a call
/// the profile allows and logs, which is allowed without the log entry.
public struct NspawnConversion: Sendable {
  /// The names the file allows (added to nspawn's allow-list), sorted.
  public var allowed: [String]
  /// The names the file refuses (`~`), sorted.
  public var refused: [String]
  /// The `SystemCallFilter=` lines, allowing ones first.
  public var directives: [String]
  /// What could not be expressed exactly, one sentence each.
  public var warnings: [String]
  /// Where nspawn itself answers otherwise than the profile (stricter), one sentence each.
  public var notes: [String]
  /// Comment lines for the top of the file (without `#`).
  public var header: [String]
  /// The syscalls the warnings speak about: their answer under nspawn may differ from the profile's.
  public var inexact: Set<String>

  /// The settings file: the header, notes and warnings as comments, then `[Exec]` and the directives.
  public var text: String {
    SystemdConversion.settingsFile(
      comments: header + notes, warnings: warnings, of: "systemd-nspawn", section: "Exec", directives: directives)
  }

  /// The same filter as systemd-nspawn options: `--system-call-filter=VALUE`, one per line.
  public var commandLineArguments: [String] {
    directives.map { "--system-call-filter=" + $0.dropFirst("SystemCallFilter=".count) }
  }

  public init(profile: Profile, target: ConversionTarget, header: [String] = []) {
    var b = Builder(profile: profile, target: target)
    b.build()
    allowed = b.allowed
    refused = b.refused
    directives = b.directives
    warnings = b.warnings
    notes = b.notes
    inexact = b.inexact
    let mode =
      b.allowList
      ? ["An allow-list: the calls the profile allows are listed; every other call syscage knows on these ABIs",
         "is refused by name, since nspawn's own allow-list would allow many of them."]
      : ["A deny-list: the calls the profile refuses are refused by name; nspawn's own allow-list still",
         "refuses what it refuses (EPERM), which is stricter than the profile."]
    self.header =
      header + [
        "Expanded for \(target.describe(for: profile)).",
        "For systemd-nspawn (as systemd 252 reads it): copy to /etc/systemd/nspawn/MACHINE.nspawn (MACHINE: --machine,",
        "else the directory's or image's name). Next to the image the file is untrusted and nspawn ignores these",
        "lines (unless --settings=trusted). On the command line: --system-call-filter=VALUE for each line's value.",
        "nspawn adds a listed name to its own allow-list and refuses a ~name with EPERM (ENOSYS when it does not",
        "know the call); it takes names and groups only, no name:ERRNO, and one list for every ABI of the host.",
      ] + mode
  }

  /// Where the file goes and how else to pass it, in one sentence.
  public static let usage =
    "/etc/systemd/nspawn/MACHINE.nspawn (MACHINE: --machine, else the directory's or image's name; next to the image "
    + "the file is untrusted and nspawn ignores its SystemCallFilter= lines unless --settings=trusted), "
    + "or give each SystemCallFilter= value as --system-call-filter=VALUE"

  /// systemd-nspawn's own allow-list (systemd 252, src/nspawn/nspawn-seccomp.c): groups
  /// and names allowed to every container.
  public static let builtinItems: [String] = [
    "@aio", "@basic-io", "@chown", "@default", "@file-system", "@io-event", "@ipc", "@mount", "@network-io",
    "@process", "@resources", "@setuid", "@signal", "@sync", "@timer",
    "arm_fadvise64_64", "brk", "capget", "capset", "copy_file_range", "fadvise64", "fadvise64_64", "flock",
    "get_mempolicy", "getcpu", "getpriority", "getrandom", "ioctl", "ioprio_get", "kcmp", "madvise", "mincore",
    "mprotect", "mremap", "name_to_handle_at", "oldolduname", "olduname", "personality", "readahead", "readdir",
    "remap_file_pages", "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_yield",
    "sendfile", "sendfile64", "setdomainname", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "sethostname",
    "setpgid", "setsid", "splice", "sysinfo", "tee", "umask", "uname", "userfaultfd", "vmsplice",
  ]

  /// The items of nspawn's allow-list that depend on a capability the container keeps.
  public static let builtinCapabilityItems: [(capability: String, item: String)] = [
    ("CAP_SYS_TIME", "@clock"), ("CAP_SYS_MODULE", "@module"), ("CAP_SYS_RAWIO", "@raw-io"),
    ("CAP_IPC_LOCK", "@memlock"), ("CAP_SYS_PACCT", "acct"), ("CAP_SYS_PTRACE", "process_vm_readv"),
    ("CAP_SYS_PTRACE", "process_vm_writev"), ("CAP_SYS_PTRACE", "ptrace"), ("CAP_SYS_BOOT", "reboot"),
    ("CAP_SYSLOG", "syslog"), ("CAP_SYS_TTY_CONFIG", "vhangup"),
  ]

  /// The capabilities a systemd-nspawn container keeps by default (systemd 252).
  public static let defaultCapabilities: Set<String> = [
    "CAP_AUDIT_CONTROL", "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID", "CAP_IPC_OWNER", "CAP_KILL", "CAP_LEASE", "CAP_LINUX_IMMUTABLE", "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
    "CAP_SETUID", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_CHROOT", "CAP_SYS_NICE", "CAP_SYS_PTRACE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TTY_CONFIG",
  ]

  /// The names nspawn's own allow-list allows to a container keeping `capabilities`, its
  /// groups expanded as syscage knows systemd's groups.
  public static func builtinAllowList(capabilities: Set<String> = defaultCapabilities) -> Set<String> {
    let items = builtinItems + builtinCapabilityItems.filter { capabilities.contains($0.capability) }.map(\.item)
    var names = Set<String>()
    for item in items {
      if item.hasPrefix("@") { names.formUnion(SyscallGroups.expand(item) ?? []) } else { names.insert(item) }
    }
    return names
  }

  /// The conversion's working state.
  struct Builder {
    let profile: Profile
    let policy: Policy
    let native: Arch
    var allowed: [String] = []
    var refused: [String] = []
    var directives: [String] = []
    var warnings: [String] = []
    var notes: [String] = []
    var inexact: Set<String> = []
    var allowList = false
    /// Approximations of actions, by the sentence that explains them.
    var approximations: [String: [String]] = [:]

    init(profile: Profile, target: ConversionTarget) {
      self.profile = profile
      policy = Policy(profile: profile, options: target.policyOptions)
      native = policy.arches.first?.arch ?? target.context.native
    }

    func errnoText(_ e: UInt16) -> String { ConversionTables.errnoName(e, for: native) }

    /// Whether nspawn allows a call the profile answers with `a`, noting the approximation.
    mutating func permits(_ a: SeccompAction, for name: String?) -> Bool {
      func note(_ why: String) {
        approximations[why, default: []].append(name ?? "the default action")
        if let name { inexact.insert(name) }
      }
      switch a.kind {
      case .allow: return true
      case .log:
        note("SCMP_ACT_LOG: nspawn cannot log; allowed without a log entry")
        return true
      case .errno:
        if a.data == SeccompAction.enosys {
          note("SCMP_ACT_ERRNO(ENOSYS): nspawn refuses with EPERM instead, and libc falls back to an older call on ENOSYS only")
        } else if a.data != SeccompAction.eperm {
          note("SCMP_ACT_ERRNO(\(errnoText(a.data))): nspawn refuses with EPERM instead")
        }
        return false
      case .killProcess, .killThread:
        note("SCMP_ACT_\(a.kind == .killProcess ? "KILL_PROCESS" : "KILL_THREAD"): nspawn cannot kill; refused with EPERM, and the process goes on")
        return false
      case .trap:
        note("SCMP_ACT_TRAP: nspawn cannot trap; refused with EPERM, no SIGSYS")
        return false
      case .trace:
        note("SCMP_ACT_TRACE: nspawn cannot hand calls to a tracer; refused with EPERM")
        return false
      case .userNotif:
        note("SCMP_ACT_NOTIFY: nspawn has no user-notification supervisor; refused with EPERM")
        return false
      }
    }

    mutating func build() {
      guard let nativePolicy = policy.arches.first else { return }
      let names = NameActions(policy: policy, native: native, engine: "nspawn")
      var permitted: [String: Bool] = [:]
      for name in names.fixed.keys.sorted() { permitted[name] = permits(names.fixed[name]!, for: name) }
      // Different refusals on different ABIs are all EPERM here; only allowed-on-one, refused-on-another matters.
      for (why, list) in names.divergent.sorted(by: { $0.key < $1.key }) {
        let mixed = list.filter { Set((names.divergentActions[$0] ?? []).map(\.permits)).count > 1 }
        guard !mixed.isEmpty else { continue }
        warnings.append("\(mixed.joined(separator: ", ")): the profile answers differently per ABI \(why)")
        inexact.formUnion(mixed)
      }
      for (name, rules) in names.conditional.sorted(by: { $0.key < $1.key }) {
        let closed = names.closedAction(name, rules)
        let ok = permits(closed, for: name)
        permitted[name] = ok
        let list = rules.map(\.description).joined(separator: "; ")
        warnings.append(
          "\(name): argument rules cannot be expressed (\(list)); \(name) is \(ok ? "allowed" : "refused (EPERM)") for every call (fail closed)")
        inexact.insert(name)
      }

      // nspawn applies one list to every ABI of the host; the profile may leave some out.
      let profileABIs = policy.arches.map(\.arch)
      let hostABIs = native.family
      let uncovered = hostABIs.filter { !profileABIs.contains($0) }
      if !uncovered.isEmpty {
        let list = uncovered.map(\.name).joined(separator: ", ")
        warnings.append(
          "\(list): the profile does not cover \(uncovered.count == 1 ? "this ABI" : "these ABIs") (it refuses every call there), but nspawn "
            + "filters every ABI of the host (\(hostABIs.map(\.name).joined(separator: ", "))) with the same lists: there \(list) calls get \(native.name)'s answers")
      }

      let defaultPermits = nativePolicy.defaultAction.permits
      _ = permits(nativePolicy.defaultAction, for: nil)
      if defaultPermits {
        // A deny-list: refuse what the profile refuses; nspawn's own list does the rest.
        refused = permitted.filter { !$0.value }.map(\.key).sorted()
        let own = NspawnConversion.builtinAllowList()
        let stricter = permitted.filter { $0.value && !own.contains($0.key) && native.number(of: $0.key) != nil }.map(\.key).sorted()
        if !stricter.isEmpty {
          notes.append(
            "systemd-nspawn's own allow-list (systemd 252, default capabilities) refuses \(stricter.count) call\(stricter.count == 1 ? "" : "s") the profile allows on \(native.name) "
              + "(\(stricter.prefix(16).joined(separator: ", "))\(stricter.count > 16 ? ", ..." : "")); a SystemCallFilter=NAME line allows one")
        }
      } else {
        // An allow-list: list what the profile allows, refuse by name every other call on the host's ABIs.
        allowList = true
        allowed = permitted.filter { $0.value }.map(\.key).sorted()
        var everywhere = names.universe
        for abi in hostABIs { everywhere.formUnion(SyscallTable.entries(in: abi.abi).map(\.name)) }
        refused = everywhere.subtracting(allowed).sorted()
        let defaultAction = nativePolicy.defaultAction
        if !(defaultAction.kind == .errno && defaultAction.data == SeccompAction.eperm) {
          inexact.formUnion(refused.filter { permitted[$0] == nil || names.fixed[$0] == defaultAction })
        }
      }

      for (why, list) in approximations.sorted(by: { $0.key < $1.key }) {
        let shown = list.count > 24 ? list.prefix(24).joined(separator: ", ") + ", ... (\(list.count))" : list.joined(separator: ", ")
        warnings.append("\(why) (\(shown))")
      }
      if nativePolicy.enosysAbove != nil, !defaultPermits {
        notes.append("runc's ENOSYS for syscalls newer than the profile is EPERM here too, for the calls nspawn knows")
      }
      for flag in policy.flags where flag != .tsync {
        warnings.append("\(flag.rawValue): nspawn does not set this filter flag")
      }
      if let path = profile.listenerPath, !path.isEmpty {
        warnings.append("listenerPath \(path): nspawn cannot hand calls to a seccomp agent")
      }
      emit(allowed, prefix: "")
      emit(refused, prefix: "~")
    }

    /// `SystemCallFilter=` lines of at most about 100 characters (nspawn adds up repeated lines).
    mutating func emit(_ items: [String], prefix: String) {
      directives += SystemdConversion.wrappedLines("SystemCallFilter", items, prefix: prefix)
    }
  }
}
