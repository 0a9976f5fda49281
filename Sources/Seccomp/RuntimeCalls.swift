/// A container runtime whose own calls after installing the container's filter a profile
/// must allow, or the container does not start.
public enum ContainerRuntime: String, CaseIterable, Sendable {
  /// runc (Docker, containerd and its CRI, podman with `--runtime runc`).
  case runc
  /// crun (podman's default on most distributions).
  case crun
  /// LXC's lxc-start and lxc-execute.
  case lxc
  /// systemd-nspawn.
  case nspawn
  /// bubblewrap's `--seccomp FD`.
  case bwrap

  /// The calls the runtime makes under the container's filter before the container's
  /// program runs (x86_64), sorted: for `noNewPrivileges` true or false, or with nil the
  /// union of both modes.
  public func callsAfterFilter(noNewPrivileges: Bool? = nil) -> [String] {
    let sets = RuntimeCalls.recorded[self] ?? [:]
    if let noNewPrivileges { return sets[noNewPrivileges] ?? [] }
    return Set(sets.values.joined()).sorted()
  }
}

/// What each runtime does after installing a container's filter, found by recording it.
///
/// runc (1.1) installs the filter in its init process: with noNewPrivileges false (Docker's
/// default) before dropping privileges, because loading a filter without no_new_privs
/// needs CAP_SYS_ADMIN; so its capset, setgroups, setresuid, prctl calls, the Go runtime
/// and the final execve all run under the container's filter. `derive` (in Recording) records that by
/// running the runtime under the tracer and collecting every call made by a thread that carries
/// more seccomp filters than the tracer gave it, until that process's execve.
/// `derive-runtime-calls` runs it; a test checks that what it finds is listed here.
public enum RuntimeCalls {
  /// Per runtime, per noNewPrivileges mode: the calls after the filter (x86_64).
  public static let recorded: [ContainerRuntime: [Bool: [String]]] = [
    .runc: [false: runc, true: runc]
  ]

  /// runc 1.1.5's calls after installing the filter with noNewPrivileges false, recorded
  /// on x86_64 by `swift run derive-runtime-calls --runs 40` (the union of the runs; the
  /// same 24 with both cores busy).
  public static let runc: [String] = [
    "capget", "capset", "chdir", "close", "epoll_ctl", "execve", "faccessat2", "fcntl", "fstat", "fstatfs", "futex",
    "getcwd", "getdents64", "getpid", "getppid", "newfstatat", "openat", "prctl", "read", "rt_sigreturn", "setgid",
    "setgroups", "setuid", "write",
  ]
}
