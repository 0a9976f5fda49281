import Enforcement
import Foundation
import Seccomp
import Syscalls

/// Finding `RuntimeCalls.runc` again: runc recorded under the tracer.
extension RuntimeCalls {
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
