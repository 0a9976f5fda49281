import Foundation
import Enforcement
import Seccomp
import Syscalls

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
/// and the final execve all run under the container's filter. `derive` records that by
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

  /// What one derivation saw.
  public struct Derivation: Sendable {
    /// The calls made under the container's filter, sorted.
    public var calls: [String]
    /// How the runtime ended.
    public var termination: Termination
    /// The processes that installed a filter (normally one: runc init).
    public var filteredProcesses: Int
  }

  /// Records `runtime` (argv, argv[0] included) and returns the x86_64 calls made by
  /// threads under a filter the program installed, up to and including each such process's
  /// execve. The tracer itself installs no filter (two stops per call). Blocks; the calling
  /// process must not wait for children of its own meanwhile.
  public static func derive(executable: String, arguments: [String]) throws(Recorder.Failure) -> Derivation {
    let collector = Collector()
    let observer = CallObserver(calls: nil) { call in collector.see(call) }
    let recording = try Recorder.record(executable: executable, arguments: arguments, timing: false, oneStop: false, observer: observer)
    return Derivation(
      calls: collector.calls.sorted(), termination: recording.termination, filteredProcesses: collector.filtered.count)
  }

  /// Per call: is its thread under a filter of its own process, and has that process exec'd?
  final class Collector: @unchecked Sendable {
    var calls: Set<String> = []
    /// Processes (thread group ids) seen under a filter.
    var filtered: Set<Int32> = []
    /// Processes whose execve under the filter was seen: later calls are the container program's.
    var done: Set<Int32> = []

    func see(_ call: TracedCall) {
      guard let (tgid, filters) = Self.status(of: call.thread), filters > 0, !done.contains(tgid) else { return }
      filtered.insert(tgid)
      let name = call.name ?? "syscall_\(call.number.rawValue)"
      if call.arch == .x86_64 { calls.insert(name) }
      if name == "execve" || name == "execveat" { done.insert(tgid) }
    }

    /// The thread's process and its `Seccomp_filters` count, from /proc.
    static func status(of tid: Int32) -> (Int32, Int)? {
      guard let text = try? String(contentsOfFile: "/proc/\(tid)/status", encoding: .utf8) else { return nil }
      var tgid: Int32?
      var filters: Int?
      for line in text.split(separator: "\n") {
        if line.hasPrefix("Tgid:") { tgid = Int32(line.dropFirst(5).trimmingCharacters(in: .whitespaces)) }
        if line.hasPrefix("Seccomp_filters:") { filters = Int(line.dropFirst(16).trimmingCharacters(in: .whitespaces)) }
      }
      guard let tgid, let filters else { return nil }
      return (tgid, filters)
    }
  }
}
