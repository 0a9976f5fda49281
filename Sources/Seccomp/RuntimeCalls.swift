/// A container runtime whose own calls after installing the container's filter a profile
/// must allow (`record --for`).
public enum ContainerRuntime: String, CaseIterable, Sendable {
  case runc
  /// Docker runs its containers with runc (through containerd), with noNewPrivileges off
  /// unless `--security-opt no-new-privileges` is given.
  case docker

  /// The calls the runtime's init process makes under the container's filter before the
  /// container's program runs (x86_64), sorted.
  public var callsAfterFilter: [String] { RuntimeCalls.runc }
}

/// What runc does after installing a container's filter, found by recording runc.
///
/// runc (1.1) installs the filter in its init process: with noNewPrivileges false (Docker's
/// default) before dropping privileges, because loading a filter without no_new_privs
/// needs CAP_SYS_ADMIN; so its capset, setgroups, setresuid, prctl calls, the Go runtime
/// and the final execve all run under the container's filter. `derive` (in Recording) records that by
/// running runc under the tracer and collecting every call made by a thread that carries
/// more seccomp filters than the tracer gave it, until that process's execve.
/// `derive-runtime-calls` runs it; a test checks that what it finds is in `runc`.
public enum RuntimeCalls {
  /// runc 1.1.5's calls after installing the filter with noNewPrivileges false, recorded
  /// on x86_64 by `swift run derive-runtime-calls --runs 40` (the union of the runs; the
  /// same 24 with both cores busy). With noNewPrivileges true runc installs the filter
  /// just before execve and makes a subset of these.
  public static let runc: [String] = [
    "capget", "capset", "chdir", "close", "epoll_ctl", "execve", "faccessat2", "fcntl", "fstat", "fstatfs", "futex",
    "getcwd", "getdents64", "getpid", "getppid", "newfstatat", "openat", "prctl", "read", "rt_sigreturn", "setgid",
    "setgroups", "setuid", "write",
  ]
}
