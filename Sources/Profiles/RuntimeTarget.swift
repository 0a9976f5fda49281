import Seccomp
import Syscalls

/// Who starts the container a profile is for (`--for`): the runtimes whose own calls
/// after loading the container's filter the profile must allow, and the noNewPrivileges
/// mode when the engine always uses one.
public enum RuntimeTarget: String, CaseIterable, Sendable, CustomStringConvertible {
  case runc, crun
  /// Any OCI runtime, runc or crun: what a Docker, OCI or Kubernetes profile may meet
  /// (Docker and containerd run runc; podman and CRI-O run crun or runc).
  case oci
  /// podman runs runc or crun, whichever it is configured with.
  case podman
  /// Docker, containerd (ctr and its CRI) and the kubelet start containers with runc.
  case docker, containerd, kubernetes
  case lxc, nspawn, bwrap
  /// A profile only `syscage run` or a program's own filter loads: nothing is added.
  case none

  /// The runtimes that may load the filter, in the order they are named.
  public var runtimes: [ContainerRuntime] {
    switch self {
    case .runc, .docker, .containerd, .kubernetes: [.runc]
    case .crun: [.crun]
    case .podman, .oci: [.crun, .runc]
    case .lxc: [.lxc]
    case .nspawn: [.nspawn]
    case .bwrap: [.bwrap]
    case .none: []
    }
  }

  /// The noNewPrivileges mode the engine always runs its containers in; nil when a
  /// container may have either (bubblewrap always sets no_new_privs).
  public var fixedNoNewPrivileges: Bool? { self == .bwrap ? true : nil }

  /// `runc`, `podman (crun and runc)`, `docker (runc)`.
  public var description: String {
    let names = runtimes.map(\.rawValue)
    if self == .none || names == [rawValue] { return rawValue }
    return "\(rawValue) (\(names.joined(separator: " and ")))"
  }

  /// The runtime each output format is for, by the format's name (`--format`, `--to`):
  /// Docker JSON (what `docker run` and `podman run` take), OCI, a Kubernetes Pod's
  /// profile and a SeccompProfile run under runc or crun; LXC's and systemd-nspawn's
  /// formats under those. A systemd unit has no container runtime: systemd loads the filter just
  /// before it executes the service, and its allow-lists always let through the calls it
  /// makes itself (execve, exit_group, ...).
  public static let formatDefaults: [String: RuntimeTarget] = [
    "docker": .oci, "oci": .oci, "k8s-pod": .oci, "spo": .oci,
    "lxc": .lxc, "nspawn": .nspawn,
    "systemd": .none,
  ]

  /// The default `--for` of the format named `format` (`none` for one not listed).
  public static func defaultTarget(forFormat format: String) -> RuntimeTarget { formatDefaults[format] ?? .none }
}

/// One runtime in one noNewPrivileges mode.
public struct RuntimeMode: Hashable, Sendable {
  public var runtime: ContainerRuntime
  public var noNewPrivileges: Bool
  public init(_ runtime: ContainerRuntime, noNewPrivileges: Bool) {
    self.runtime = runtime
    self.noNewPrivileges = noNewPrivileges
  }
}

/// A `--for` target and the noNewPrivileges modes its containers run in.
public struct RuntimeSelection: Hashable, Sendable, CustomStringConvertible {
  public var target: RuntimeTarget
  /// The modes, false first: both unless the engine, the bundle or the user fixed one.
  public var modes: [Bool]

  /// `target` in the mode given, else the one the engine always uses, else both.
  public init(_ target: RuntimeTarget, noNewPrivileges: Bool? = nil) {
    self.target = target
    modes = (noNewPrivileges ?? target.fixedNoNewPrivileges).map { [$0] } ?? [false, true]
  }

  public var isNone: Bool { target.runtimes.isEmpty }

  /// The calls the target's runtimes make after loading the filter in one mode, sorted.
  public func calls(noNewPrivileges: Bool) -> [String] {
    Set(target.runtimes.flatMap { $0.callsAfterFilter(noNewPrivileges: noNewPrivileges) }).sorted()
  }

  /// The calls of every mode, sorted.
  public var calls: [String] { Set(modes.flatMap { calls(noNewPrivileges: $0) }).sorted() }

  /// Which runtimes make `name` in which modes.
  public func makers(of name: String) -> [RuntimeMode] {
    target.runtimes.flatMap { rt in
      modes.filter { rt.callsAfterFilter(noNewPrivileges: $0).contains(name) }.map { RuntimeMode(rt, noNewPrivileges: $0) }
    }
  }

  /// `noNewPrivileges true and false`, `noNewPrivileges false`.
  public var modeDescription: String { Self.describe(modes: modes) }

  static func describe(modes: [Bool]) -> String {
    "noNewPrivileges " + modes.sorted { $0 && !$1 }.map { $0 ? "true" : "false" }.joined(separator: " and ")
  }

  /// `runc with noNewPrivileges true and false`.
  public var description: String { isNone ? "none" : "\(target) with \(modeDescription)" }

  /// `runc (noNewPrivileges false), crun (noNewPrivileges true and false)`.
  public static func describe(_ makers: [RuntimeMode]) -> String {
    var order: [ContainerRuntime] = []
    var modes: [ContainerRuntime: [Bool]] = [:]
    for m in makers {
      if modes[m.runtime] == nil { order.append(m.runtime) }
      modes[m.runtime, default: []].append(m.noNewPrivileges)
    }
    return order.map { "\($0.rawValue) (\(describe(modes: modes[$0]!)))" }.joined(separator: ", ")
  }

  /// The comment of the entry that allows the runtime's calls.
  public var entryComment: String {
    "the calls \(target) makes after loading the container's filter (\(modeDescription)), before the program runs: without them the container does not start (--for none leaves them out)"
  }
}

/// What a profile does to the calls a runtime makes after loading it.
public struct RuntimeCallReview: Hashable, Sendable {
  /// A runtime call the profile refuses (for some arguments at least).
  public struct Refusal: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    /// The action for it (with all-zero arguments for a conditional rule's own action).
    public var action: SeccompAction
    /// `syscalls[i]` of the refusing rule, or `defaultAction`.
    public var path: String
    /// True when only some of its arguments are refused.
    public var conditional: Bool
    /// Who makes it, in which modes.
    public var makers: [RuntimeMode]

    /// Whether the profile refuses it by a rule of its own (not by the default action).
    public var byRule: Bool { path != "defaultAction" }

    /// `chdir is refused by syscalls[0] (SCMP_ACT_ERRNO): runc (noNewPrivileges false) makes it after ...`.
    public var description: String {
      let how = action.kind == .killProcess || action.kind == .killThread ? "kills" : "refuses"
      let whose = byRule ? path : "the default action"
      let some = conditional ? " for some arguments" : ""
      let outcome = action.kind == .killProcess || action.kind == .killThread
        ? "the runtime is killed and the container does not start"
        : "the runtime fails and the container does not start"
      return "\(whose) \(how) \(name)\(some) (\(action)): \(RuntimeSelection.describe(makers)) calls it after loading the container's filter; \(outcome)"
    }
  }

  /// The runtime calls the profile refuses, in the order of the selection's calls.
  public var refusals: [Refusal]
  /// The calls an ALLOW entry makes work: those the default action refuses, and those
  /// ALLOW rules allow for some arguments only, with no rule refusing them.
  public var toAllow: [String]
  /// The refusals an added entry does not change: a rule of the profile's own refuses
  /// (or kills) the call.
  public var byRule: [Refusal] { refusals.filter(\.byRule) }
}

extension RuntimeSelection {
  /// Reviews `profile` as `options` builds it, on the native ABI (the runtimes' calls are
  /// native calls): every call of the selection's runtimes the filter refuses, and why.
  /// ERRNO(ENOSYS) for a call libc and Go fall back from (`Lint.libcProbed`) is no refusal.
  public func review(_ profile: Profile, options: PolicyOptions) -> RuntimeCallReview {
    let policy = Policy(profile: profile, options: options)
    guard !isNone, let ap = policy.arches.first(where: { $0.arch == options.context.native }) ?? policy.arches.first else {
      return RuntimeCallReview(refusals: [], toAllow: [])
    }
    var refusals: [RuntimeCallReview.Refusal] = []
    var toAllow: [String] = []
    for name in calls {
      guard let number = ap.arch.number(of: name) else { continue }
      let makers = makers(of: name)
      let rules = ap.rules(for: number)
      // ENOSYS for a call libc and Go probe (faccessat2, clone3, ...) is their fallback.
      if Lint.libcProbed.contains(name), ap.decide(nr: number.word, args: [0, 0, 0, 0, 0, 0]).action == .errno(SeccompAction.enosys) {
        continue
      }
      if let refusing = rules.first(where: { !$0.action.permits && $0.conditions.isEmpty })
        ?? rules.first(where: { !$0.action.permits })
      {
        refusals.append(
          .init(name: name, action: refusing.action, path: Linter.entryPath(refusing.source),
            conditional: !refusing.conditions.isEmpty, makers: makers))
        continue
      }
      guard !ap.defaultAction.permits, !rules.contains(where: { $0.action.permits && $0.conditions.isEmpty }) else { continue }
      toAllow.append(name)
      refusals.append(
        .init(name: name, action: ap.defaultAction, path: "defaultAction", conditional: !rules.isEmpty, makers: makers))
    }
    return RuntimeCallReview(refusals: refusals, toAllow: toAllow)
  }

  /// `profile` with an ALLOW entry (commented `entryComment`) for the runtime calls it
  /// refuses by its default action or allows for some arguments only, and the review it
  /// was made from. A call a rule of the profile's own refuses is not added (the most
  /// restrictive match wins): it stays in the review's `byRule`.
  public func adding(to profile: Profile, options: PolicyOptions) -> (profile: Profile, added: [String], review: RuntimeCallReview) {
    let review = review(profile, options: options)
    guard !review.toAllow.isEmpty else { return (profile, [], review) }
    var out = profile
    out.syscalls = (profile.syscalls ?? []) + [SyscallEntry(names: review.toAllow, action: .allow, comment: entryComment)]
    return (out, review.toAllow, review)
  }
}
