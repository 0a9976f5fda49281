import CLinux
import Foundation
import Seccomp
import Syscalls

/// The seccomp filters a live process runs under, read from the kernel with
/// PTRACE_SECCOMP_GET_FILTER.
public enum FilterDump {
  /// The filters of one thread, newest first (the order the kernel runs them in).
  public struct ThreadFilters: Sendable {
    public var tid: Int32
    public var filters: [[BPFInstruction]]
  }

  /// Why the filters cannot be read.
  public struct Problem: Error, Sendable, CustomStringConvertible {
    public var description: String
  }

  /// What reading filters needs that this process or kernel lacks: CAP_SYS_ADMIN, a
  /// caller not itself under seccomp, CONFIG_CHECKPOINT_RESTORE. Empty when all is there.
  public static func missingRequirements() -> [String] {
    var missing: [String] = []
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    var capEff: UInt64 = 0
    var seccompMode = "0"
    for line in status.split(separator: "\n") {
      if line.hasPrefix("CapEff:") { capEff = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) ?? 0 }
      if line.hasPrefix("Seccomp:") { seccompMode = line.dropFirst(8).trimmingCharacters(in: .whitespaces) }
    }
    if capEff & (1 << 21) == 0 { missing.append("CAP_SYS_ADMIN (run as root)") }
    if seccompMode != "0" { missing.append("a caller not itself under seccomp (this process runs in seccomp mode \(seccompMode))") }
    if KernelSeccompSupport.read().configCheckpointRestore == false {
      missing.append("a kernel built with CONFIG_CHECKPOINT_RESTORE")
    }
    return missing
  }

  /// The filters of every thread of `pid` (threads may differ: a filter is per thread
  /// unless installed with TSYNC). Each thread is stopped briefly and left running.
  public static func read(pid: Int32) throws(Problem) -> [ThreadFilters] {
    let taskDir = "/proc/\(pid)/task"
    guard let tids = try? FileManager.default.contentsOfDirectory(atPath: taskDir).compactMap({ Int32($0) }).sorted(),
      !tids.isEmpty
    else { throw Problem(description: "no process \(pid)") }
    var result: [ThreadFilters] = []
    for tid in tids {
      guard clinux_dump_attach(tid) == 0 else {
        let e = errno
        if e == ESRCH { continue }  // the thread ended meanwhile
        if let tracer = tracerPid(tid), tracer != 0 {
          throw Problem(description: "thread \(tid) is already traced by process \(tracer), and a thread can have one tracer only; reading its filters needs to trace it")
        }
        throw Problem(description: "cannot stop thread \(tid) with ptrace: \(String(cString: strerror(e)))" + (e == EPERM ? " (see /proc/sys/kernel/yama/ptrace_scope)" : ""))
      }
      defer { _ = clinux_dump_detach(tid) }
      var filters: [[BPFInstruction]] = []
      var index: UInt = 0
      while true {
        let length = clinux_dump_filter(tid, index, nil, 0)
        if length < 0 {
          let e = errno
          // ENOENT: past the last filter; EINVAL: the thread is not in filter mode.
          if e == ENOENT || e == EINVAL || e == EMEDIUMTYPE { break }
          if e == EACCES { throw Problem(description: "the kernel refused: reading filters needs CAP_SYS_ADMIN and a caller not under seccomp") }
          if e == EIO { throw Problem(description: "the kernel cannot: PTRACE_SECCOMP_GET_FILTER needs CONFIG_CHECKPOINT_RESTORE") }
          throw Problem(description: "PTRACE_SECCOMP_GET_FILTER failed for thread \(tid): \(String(cString: strerror(e)))")
        }
        var raw = [UInt8](repeating: 0, count: Int(length) * 8)
        let got = raw.withUnsafeMutableBytes { clinux_dump_filter(tid, index, $0.baseAddress, UInt(length)) }
        guard got == length, let program = [BPFInstruction](rawBytes: raw) else {
          throw Problem(description: "thread \(tid): filter \(index) changed while it was read")
        }
        filters.append(program)
        index += 1
      }
      result.append(ThreadFilters(tid: tid, filters: filters))
    }
    return result
  }

  /// `TracerPid` of a thread, from /proc.
  static func tracerPid(_ tid: Int32) -> Int32? {
    guard let status = try? String(contentsOfFile: "/proc/\(tid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("TracerPid:") {
      return Int32(line.dropFirst("TracerPid:".count).trimmingCharacters(in: .whitespaces))
    }
    return nil
  }

  /// The combined decision of stacked filters for one call, as the kernel takes it:
  /// the most restrictive action, and among equals the newest filter's data.
  public static func decide(_ filters: [[BPFInstruction]], _ data: SeccompData, endianness: Endianness) -> SeccompAction {
    var best: SeccompAction? = nil
    for program in filters {  // newest first
      let a = Interpreter.run(program, on: data, endianness: endianness).action
      if best == nil || a.kind < best!.kind { best = a }
    }
    return best ?? .allow
  }

  /// The combined result of stacked filters for a call when none of them reads
  /// arguments on its path; nil when one does (the decision depends on arguments).
  public static func constantDecision(_ filters: [[BPFInstruction]], arch: AuditArch, nr: UInt32) -> SeccompAction? {
    var best: SeccompAction? = nil
    for program in filters {
      guard let r = KernelCache.constantResult(program, arch: arch, nr: nr) else { return nil }
      let a = SeccompAction(returnValue: r)
      if best == nil || a.kind < best!.kind { best = a }
    }
    return best ?? .allow
  }
}
