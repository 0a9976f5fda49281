import ArgumentParser
import Foundation
import Inspection

struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "The seccomp state of processes and the kernel's seccomp support.",
    discussion: """
      Per process: the seccomp mode (0 disabled, 1 strict, 2 filter), how many filters \
      are attached, no_new_privs, comm and cgroup. With --kernel: CONFIG_SECCOMP and \
      CONFIG_SECCOMP_FILTER (read from /proc/config.gz, decompressed in process with the \
      system's libz.so.1, else from /boot/config-RELEASE; when neither can be read, what \
      failed), and the actions the kernel offers and logs. Without \
      arguments: the kernel and syscage's parent (the calling shell).

      Examples:
        syscage status 1234
        syscage status --all | awk '$2 == 2'
        syscage status --kernel --json
      """)

  @Argument(help: "Process ids.")
  var pids: [Int32] = []

  @Flag(help: "Every process.")
  var all = false

  @Flag(help: "The kernel's seccomp support.")
  var kernel = false

  @Flag(help: "Print JSON.")
  var json = false

  func run() throws {
    let showKernel = kernel || (pids.isEmpty && !all)
    var targets = all ? ProcessSeccompStatus.allPids() : pids
    if pids.isEmpty && !all && !kernel { targets = [getppid()] }
    var missing: [Int32] = []
    var rows: [ProcessSeccompStatus] = []
    for pid in targets {
      if let s = ProcessSeccompStatus.read(pid: pid) { rows.append(s) } else if !all { missing.append(pid) }
    }
    if json {
      var obj: [String: Any] = [:]
      obj["processes"] = rows.map { r -> [String: Any] in
        var o: [String: Any] = ["pid": Int(r.pid), "comm": r.comm]
        if let m = r.mode { o["seccomp"] = m.rawValue }
        if let f = r.filters { o["filters"] = f }
        if let n = r.noNewPrivileges { o["no_new_privs"] = n }
        if let c = r.cgroup { o["cgroup"] = c }
        return o
      }
      if showKernel { obj["kernel"] = kernelObject(KernelSeccompSupport.read()) }
      print(jsonLine(obj))
    } else {
      if showKernel { printKernel(KernelSeccompSupport.read()) }
      if !rows.isEmpty {
        print("PID      SECCOMP       FILTERS  NNP  COMM             CGROUP")
        for r in rows {
          print(
            String(r.pid).padding(toLength: 9, withPad: " ", startingAt: 0)
              + (r.mode?.description ?? "?").padding(toLength: 14, withPad: " ", startingAt: 0)
              + (r.filters.map(String.init) ?? "-").padding(toLength: 9, withPad: " ", startingAt: 0)
              + (r.noNewPrivileges.map { $0 ? "1" : "0" } ?? "-").padding(toLength: 5, withPad: " ", startingAt: 0)
              + r.comm.padding(toLength: 17, withPad: " ", startingAt: 0) + (r.cgroup ?? "-"))
        }
      }
    }
    if !missing.isEmpty {
      throw fail("no such process (or /proc/PID/status unreadable): \(missing.map(String.init).joined(separator: ", "))", code: ExitStatus.dataError)
    }
  }

  func kernelObject(_ k: KernelSeccompSupport) -> [String: Any] {
    var o: [String: Any] = ["release": k.release, "actions_avail": k.actionsAvailable, "actions_logged": k.actionsLogged]
    if let c = k.configSeccomp { o["CONFIG_SECCOMP"] = c }
    if let c = k.configSeccompFilter { o["CONFIG_SECCOMP_FILTER"] = c }
    if let s = k.configSource { o["config_source"] = s }
    if let p = k.configProblem { o["config_problem"] = p }
    return o
  }

  func printKernel(_ k: KernelSeccompSupport) {
    func yn(_ b: Bool?) -> String { b.map { $0 ? "y" : "n" } ?? "unknown" }
    print("kernel \(k.release)")
    print("  CONFIG_SECCOMP=\(yn(k.configSeccomp))  CONFIG_SECCOMP_FILTER=\(yn(k.configSeccompFilter))" + (k.configSource.map { "  (\($0))" } ?? ""))
    if let p = k.configProblem { print("  kernel config unreadable: \(p)") }
    print("  actions available: \(k.actionsAvailable.joined(separator: " "))")
    print("  actions logged:    \(k.actionsLogged.joined(separator: " "))")
  }
}
