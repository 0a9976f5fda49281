import Foundation
import Syscalls

/// Watches a recording for what makes it differ from a run without syscage, and says so
/// while the program runs (through `report`, once per executable or request):
/// an executable that is setuid, setgid or has file capabilities (under ptrace the kernel
/// runs it without them), and a call of ptrace that fails because syscage traces: the
/// program's PTRACE_TRACEME, or an ATTACH or SEIZE of a process syscage traces (the kernel
/// allows one tracer). An ATTACH or SEIZE of a process syscage does not trace works and is
/// not reported.
public final class RecordFaults: @unchecked Sendable {
  /// What was said, in order.
  public private(set) var reports: [String] = []
  let report: (String) -> Void
  let dropped: String?
  var seenExecutables: Set<String> = []
  var seenRequests: Set<UInt64> = []

  /// The ptrace requests that make the caller a tracer or a tracee: TRACEME, ATTACH, SEIZE.
  static let tracing: [UInt64: String] = [0: "PTRACE_TRACEME", 16: "PTRACE_ATTACH", 0x4206: "PTRACE_SEIZE"]

  /// `report` gets each message as it is found (on the tracing thread: keep it short).
  /// `privilegesDropped` says why the kernel runs a privileged executable without its
  /// privileges in this recording ("under ptrace", "with no_new_privs"); nil when it does not.
  public init(privilegesDropped: String?, report: @escaping (String) -> Void) {
    self.dropped = privilegesDropped
    self.report = report
  }

  /// Why the kernel drops a setuid program's privileges in a recording: no_new_privs in one-stop
  /// mode (`noNewPrivileges`), else ptrace by a tracer without CAP_SYS_PTRACE; nil when it keeps them.
  public static func privilegesDropped(noNewPrivileges: Bool) -> String? {
    if noNewPrivileges { return "with no_new_privs (which the recording's filter needs)" }
    return hasEffectiveCapability(19) ? nil : "under ptrace"
  }

  /// Whether this process has capability `bit` in its effective set (/proc/self/status CapEff).
  static func hasEffectiveCapability(_ bit: Int) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
      let mask = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16)
    else { return false }
    return mask & (1 << UInt64(bit)) != 0
  }

  /// Warns about the program's own executable, before the run.
  public func checkExecutable(_ path: String) {
    guard seenExecutables.insert(path).inserted, dropped != nil, let privilege = Self.privilege(of: path) else { return }
    warn(path, privilege)
  }

  func warn(_ path: String, _ privilege: String) {
    say("\(path) is \(privilege); \(dropped!) the kernel runs it without its privileges, so the recording may differ from a real run")
  }

  /// The observer for the recorder, on these ABIs.
  public func observer(arches: [Arch] = [.x86_64, .x86, .x32]) -> CallObserver {
    CallObserver(calls: RunObserver.numbers(["execve", "execveat", "ptrace"], arches)) { [self] call in see(call) }
  }

  func say(_ message: String) {
    reports.append(message)
    report(message)
  }

  func see(_ call: TracedCall) {
    guard let name = call.name else { return }
    if name == "ptrace" {
      let request = call.arguments[0] & 0xffff_ffff
      guard let requestName = Self.tracing[request], !seenRequests.contains(request) else { return }
      if requestName == "PTRACE_TRACEME" {
        say(
          "the program called ptrace(PTRACE_TRACEME): a program recorded by syscage cannot trace (the kernel allows one tracer); "
            + "the recording is of a run where that failed: record the tracee directly")
      } else {
        let target = Int32(truncatingIfNeeded: call.arguments[1])
        guard Self.tracedByThisProcess(target) else { return }
        say(
          "the program called ptrace(\(requestName)) on process \(target), which syscage traces: a program recorded by syscage "
            + "cannot trace its own processes (the kernel allows one tracer); the recording is of a run where that failed: "
            + "record the tracee directly")
      }
      seenRequests.insert(request)
      return
    }
    let at = name == "execveat" ? (dirfd: Int?(0), path: 1) : (dirfd: Int?.none, path: 0)
    guard dropped != nil, let path = RunObserver(watchChanges: false).path(of: call, dirfd: at.dirfd, at: at.path),
      seenExecutables.insert(path).inserted, let privilege = Self.privilege(of: path)
    else { return }
    warn(path, privilege)
  }

  /// Whether a thread of this process traces `pid` (its TracerPid, a thread id, is one of ours).
  static func tracedByThisProcess(_ pid: Int32, procRoot: String = "/proc") -> Bool {
    guard pid > 0, let status = try? String(contentsOfFile: "\(procRoot)/\(pid)/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("TracerPid:") }),
      let tracer = Int32(line.dropFirst(10).trimmingCharacters(in: .whitespaces)), tracer > 0
    else { return false }
    return FileManager.default.fileExists(atPath: "\(procRoot)/self/task/\(tracer)")
  }

  /// "setuid root", "setgid adm", "given file capabilities": what the file would give the
  /// caller at execve that it does not have; nil for nothing.
  public static func privilege(of path: String) -> String? {
    var s = stat()
    guard stat(path, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG else { return nil }
    var what: [String] = []
    if s.st_mode & S_ISUID != 0 && s.st_uid != geteuid() { what.append("setuid " + (getpwuid(s.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "\(s.st_uid)")) }
    if s.st_mode & S_ISGID != 0 && s.st_mode & S_IXGRP != 0 && s.st_gid != getegid() {
      what.append("setgid " + (getgrgid(s.st_gid).map { String(cString: $0.pointee.gr_name) } ?? "\(s.st_gid)"))
    }
    if systemGetxattr(path, "security.capability", nil, 0) > 0 { what.append("given file capabilities") }
    return what.isEmpty ? nil : what.joined(separator: " and ")
  }
}

/// getxattr(2) from the C library (Glibc's module map leaves sys/xattr.h out).
@_silgen_name("getxattr")
func systemGetxattr(_ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeMutableRawPointer?, _ size: Int) -> Int

extension Recorder {
  /// Whether process `pid` is a zombie: every thread's State is Z (a leader that ended with
  /// pthread_exit is Z while its threads run on). It has exited and its parent has not
  /// reaped it, so there is nothing to attach to.
  public static func isZombie(_ pid: Int32, procRoot: String = "/proc") -> Bool {
    func zombie(_ path: String) -> Bool {
      guard let status = try? String(contentsOfFile: path, encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("State:") })
      else { return true }  // gone meanwhile
      return line.dropFirst(6).trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
    guard zombie("\(procRoot)/\(pid)/status"), FileManager.default.fileExists(atPath: "\(procRoot)/\(pid)") else { return false }
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "\(procRoot)/\(pid)/task")) ?? []
    return tasks.allSatisfy { zombie("\(procRoot)/\(pid)/task/\($0)/status") }
  }
}
