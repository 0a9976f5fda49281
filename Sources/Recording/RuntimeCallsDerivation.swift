import Processes
import Foundation
import Seccomp
import Syscalls

/// Finding `RuntimeCalls.recorded` again: a container runtime recorded under the tracer.
///
/// The tracer follows every fork, exec and thread of the runtime (daemonising helpers too)
/// and, at each call, reads the thread's `Seccomp_filters` count from /proc. A call is the
/// runtime's own, made under the container's filter, when its thread carries more than
/// `filtersBefore` filters (the ones the runtime stacks before the container's; the tracer
/// itself installs none) and its process has not yet exec'd: the process's execve or
/// execveat is the last such call; after it the container's program runs (its calls, and
/// those of the processes it starts, are `Derivation.programCalls`). Helper processes
/// that never install a filter, and calls before the container's filter, are not counted.
/// A process under the filter that never execs (LXC's container init, which starts the
/// program and waits for it) is counted to its end.
///
/// How the container's filter is recognised, per runtime: runc, crun, LXC and bubblewrap
/// install exactly one filter, the container's, so `filtersBefore` is 0. systemd-nspawn
/// stacks five filters with or without `--system-call-filter`: one per ABI (x86, x32, then
/// x86_64 last, so that a profile refusing seccomp still lets nspawn load them) with the
/// container's rules folded in, then two small ones of its own. The x86_64 calls meet the
/// container's rules from the third on, so for nspawn `filtersBefore` is 2; a profile that
/// refuses seccomp shows it: exactly three filters load and the last two fail with EPERM.
/// `Derivation.filtersAtExec` says how many filters the program was started under, which
/// checks that the stack is still what the derivation assumes.
extension RuntimeCalls {
  /// What one derivation saw.
  public struct Derivation: Sendable {
    /// The calls made under the container's filter, sorted.
    public var calls: [String]
    /// How the runtime ended.
    public var termination: Termination
    /// The processes that ran under the container's filter (runc init, LXC's init and the
    /// program's process...).
    public var filteredProcesses: Int
    /// The x86_64 calls of the container's program after its execve (and of its children), sorted.
    public var programCalls: [String]
    /// The filters the first process to exec under the container's filter carried at its
    /// execve (nil: none exec'd).
    public var filtersAtExec: Int?
  }

  /// Records `executable` (argv in `arguments`, argv[0] included) and returns the x86_64
  /// calls made by threads carrying more than `filtersBefore` seccomp filters, up to and
  /// including each such process's execve. Blocks; the calling process must not wait for
  /// children of its own meanwhile.
  public static func derive(
    executable: String, arguments: [String], filtersBefore: Int = 0
  ) throws(Recorder.Failure) -> Derivation {
    let collector = Collector(filtersBefore: filtersBefore)
    let observer = CallObserver(calls: nil) { call in collector.see(call) }
    let recording = try Recorder.record(executable: executable, arguments: arguments, timing: false, oneStop: false, observer: observer)
    return Derivation(
      calls: collector.calls.sorted(), termination: recording.termination, filteredProcesses: collector.filtered.count,
      programCalls: collector.programCalls.sorted(), filtersAtExec: collector.filtersAtExec)
  }

  /// Per call: is its thread under the container's filter, and has its process exec'd?
  final class Collector: @unchecked Sendable {
    let filtersBefore: Int
    var calls: Set<String> = []
    var programCalls: Set<String> = []
    /// Processes (thread group ids) seen under the container's filter.
    var filtered: Set<Int32> = []
    /// Processes whose execve under the filter was seen: later calls are the container program's.
    var done: Set<Int32> = []
    var filtersAtExec: Int?

    init(filtersBefore: Int) { self.filtersBefore = filtersBefore }

    func see(_ call: TracedCall) {
      guard let (tgid, parent, filters) = Self.status(of: call.thread), filters > filtersBefore else { return }
      let name = call.name ?? "syscall_\(call.number.rawValue)"
      // A child of the container's program is the program's too.
      if !done.contains(tgid) && done.contains(parent) && !filtered.contains(tgid) { done.insert(tgid) }
      if done.contains(tgid) {
        if call.arch == .x86_64 { programCalls.insert(name) }
        return
      }
      filtered.insert(tgid)
      if call.arch == .x86_64 { calls.insert(name) }
      if name == "execve" || name == "execveat" {
        done.insert(tgid)
        if filtersAtExec == nil { filtersAtExec = filters }
      }
    }

    /// The thread's process, that process's parent and its `Seccomp_filters` count, from /proc.
    static func status(of tid: Int32) -> (Int32, Int32, Int)? {
      guard let text = try? String(contentsOfFile: "/proc/\(tid)/status", encoding: .utf8) else { return nil }
      var tgid: Int32?
      var parent: Int32?
      var filters: Int?
      for line in text.split(separator: "\n") {
        if line.hasPrefix("Tgid:") { tgid = Int32(line.dropFirst(5).trimmingCharacters(in: .whitespaces)) }
        if line.hasPrefix("PPid:") { parent = Int32(line.dropFirst(5).trimmingCharacters(in: .whitespaces)) }
        if line.hasPrefix("Seccomp_filters:") { filters = Int(line.dropFirst(16).trimmingCharacters(in: .whitespaces)) }
      }
      guard let tgid, let parent, let filters else { return nil }
      return (tgid, parent, filters)
    }
  }
}
