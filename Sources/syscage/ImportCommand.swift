import ArgumentParser
import Foundation
import Inspection
import OutputFiles
import Seccomp
import Syscalls

struct ImportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import",
    abstract: "Build a profile from strace output or kernel seccomp audit records.",
    discussion: """
      --strace reads what strace wrote: plain or -f lines ([pid N] or N prefixes), one \
      file per process (-ff -o PREFIX: give PREFIX or the PREFIX.PID files), -t/-tt/-ttt/-r \
      timestamps, -y/-yy decorations, unfinished/resumed pairs, signal and exit lines, \
      personality markers ([ Process PID=N runs in 32 bit mode. ]) and -c summary tables. \
      --audit reads type=1326 / type=SECCOMP records from dmesg, /dev/kmsg, syslog, \
      kern.log, journalctl or audit.log; other lines are ignored. Every record counts, \
      whatever its action (a logged, denied or killed call was a call the program made).

      The profile allows the calls seen (names as the syscall table spells them), the \
      guard rails (exit, exit_group, rt_sigreturn, restart_syscall, and the vDSO's \
      clock_gettime, gettimeofday, time, getcpu), and returns ENOSYS for clone3, \
      faccessat2, fchmodat2 and openat2 when they were not seen (libc falls back on \
      ENOSYS only). Everything else gets the default action (SCMP_ACT_ERRNO, EPERM). \
      architectures lists exactly the ABIs seen. One allow list serves every listed ABI.

      The profile goes to standard output or -o (atomically; an input is never \
      overwritten); a summary goes to standard error (one JSON object with --json). \
      Malformed lines are skipped with a warning naming the file and line; with \
      --strict they, and unknown syscall names, are errors (exit 65, nothing written).

      Examples:
        strace -f -o app.trace ./app && syscage import --strace app.trace -o app.json
        strace -ff -o trace ./app && syscage import --strace trace -o app.json
        syscage import --audit /var/log/audit/audit.log --exe /usr/bin/app -o a.json
        dmesg | syscage import --audit - --comm app -o app.json
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable {
    case docker, oci
    var profileFormat: ProfileFormat { self == .docker ? .docker : .oci }
  }

  @Option(name: .customLong("strace"), parsing: .upToNextOption, help: ArgumentHelp("strace output files (- for standard input).", valueName: "file"))
  var straceFiles: [String] = []

  @Option(name: .customLong("audit"), parsing: .upToNextOption, help: ArgumentHelp("Logs holding seccomp audit records (- for standard input).", valueName: "file"))
  var auditFiles: [String] = []

  @Option(name: .shortAndLong, help: "Write the profile here instead of standard output (- is standard output).")
  var output: String?

  @Option(help: "docker or oci.")
  var format: Format = .docker

  @Option(help: "Only records of this command name (--audit; repeatable).")
  var comm: [String] = []

  @Option(help: "Only records of this executable, a path or its last component (--audit; repeatable).")
  var exe: [String] = []

  @Option(help: "Only this process (repeatable).")
  var pid: [Int] = []

  @Option(help: "The ABI strace ran on, which its '32 bit mode' and syscall_NNN refer to (default: this machine's).")
  var arch: Arch?

  @Option(help: "The action for everything else: SCMP_ACT_ERRNO (EPERM), ERRNO(38), SCMP_ACT_KILL_PROCESS, SCMP_ACT_LOG, ...")
  var defaultAction: String = "SCMP_ACT_ERRNO"

  @Flag(help: "Malformed lines and unknown syscall names are errors.")
  var strict = false

  @Flag(help: "Print the summary as one JSON object on standard error.")
  var json = false

  func validate() throws {
    if straceFiles.isEmpty == auditFiles.isEmpty {
      throw ValidationError("give --strace FILE... or --audit FILE... (one of them)")
    }
    if !straceFiles.isEmpty && (!comm.isEmpty || !exe.isEmpty) {
      throw ValidationError("--comm and --exe select audit records; strace logs carry only pids (--pid)")
    }
    if !auditFiles.isEmpty && arch != nil {
      throw ValidationError("--arch applies to --strace; audit records name their ABI")
    }
    if (straceFiles + auditFiles).filter({ $0 == "-" }).count > 1 {
      throw ValidationError("standard input (-) can be read once")
    }
    _ = try parsedDefaultAction()
  }

  /// `SCMP_ACT_ERRNO`, `errno`, `ERRNO(38)`, `errno:38`, `kill_process`, ...
  func parsedDefaultAction() throws -> (ActionName, UInt32?) {
    var text = defaultAction.trimmingCharacters(in: .whitespaces)
    var errno: UInt32?
    if let open = text.firstIndex(where: { $0 == "(" || $0 == ":" }) {
      var digits = text[text.index(after: open)...]
      if digits.hasSuffix(")") { digits = digits.dropLast() }
      guard let e = UInt32(digits) else { throw ValidationError("--default-action: '\(defaultAction)' has no errno number") }
      errno = e
      text = String(text[..<open])
    }
    let name = text.uppercased().hasPrefix("SCMP_ACT_") ? text.uppercased() : "SCMP_ACT_" + text.uppercased()
    guard let action = ActionName(rawValue: name) else {
      throw ValidationError(
        "--default-action wants one of \(ActionName.allCases.map(\.rawValue).joined(separator: ", ")), not '\(defaultAction)'")
    }
    if errno != nil && !action.takesErrno {
      throw ValidationError("--default-action: \(action.rawValue) takes no errno")
    }
    return (action, errno)
  }

  func run() throws {
    let (action, errno) = try parsedDefaultAction()
    let out = try output.map { try checkedOutput($0, inputs: straceFiles + auditFiles + straceFiles.flatMap(StraceLog.perProcessFiles)) }
    var summary: [String: Any] = [:]
    var diagnostics: [Diagnostic]
    let seen: [Arch: [String: Int]]

    if !straceFiles.isEmpty {
      let expanded = straceFiles.flatMap(StraceLog.perProcessFiles)
      var log: StraceLog
      do {
        log = try StraceLog.load(paths: expanded, native: arch ?? .native, strict: strict)
      } catch {
        throw report(error)
      }
      diagnostics = log.diagnostics
      if !pid.isEmpty { log = log.filtered(pids: Set(pid)) }
      seen = log.syscallsByArch
      summary["source"] = "strace"
      summary["files"] = expanded.count
      summary["lines"] = log.lineCount
      summary["syscallLines"] = log.syscallLines
      summary["skippedLines"] = log.skippedLines
      summary["pids"] = log.pids
      summary["unknown"] = Dictionary(uniqueKeysWithValues: log.unknown.map { ($0.key.name, $0.value.keys.sorted()) })
    } else {
      var log: AuditLog
      do {
        log = try AuditLog.load(paths: auditFiles, strict: strict)
      } catch {
        throw report(error)
      }
      diagnostics = log.diagnostics
      log = log.filtered(comm: comm, exe: exe, pids: pid).uniqued()
      seen = log.syscallsByArch
      summary["source"] = "audit"
      summary["files"] = auditFiles.count
      summary["lines"] = log.lineCount
      summary["records"] = log.records.count
      summary["skippedLines"] = log.skippedLines
      summary["pids"] = Set(log.records.compactMap(\.pid)).sorted()
      summary["executables"] = Set(log.records.compactMap { $0.exe ?? $0.comm }).sorted()
      var actions: [String: Int] = [:]
      for r in log.records { actions[r.action?.description ?? "?", default: 0] += 1 }
      summary["actions"] = actions
    }

    if diagnostics.contains(where: { $0.severity == .error }) {
      throw report(InputError(diagnostics))
    }
    if seen.isEmpty {
      let filters = pid.isEmpty && comm.isEmpty && exe.isEmpty ? "" : " (after --pid/--comm/--exe)"
      let message = "no syscalls found in \((straceFiles + auditFiles).map(display).joined(separator: ", "))\(filters); nothing written"
      if json {
        printError(jsonLine(["error": message, "diagnostics": diagnostics.map(diagnosticJSON)]))
        throw ExitCode(ExitStatus.dataError)
      }
      for d in diagnostics { printError(d.description) }
      throw fail(message, code: ExitStatus.dataError)
    }

    let profile = ProfileBuilder(defaultAction: action, defaultErrnoRet: errno).build(seen)
    let text = profile.encode(format: format.profileFormat)
    try emit(Array(text.utf8), to: out)
    warnIfTooLong(profile, what: "the imported profile")

    let allowed = profile.syscalls?.first?.names ?? []
    let enosys = (profile.syscalls ?? []).dropFirst().flatMap(\.names)
    summary["abis"] = ProfileBuilder.order(Array(seen.keys)).map { arch -> [String: Any] in
      ["arch": arch.name, "syscalls": seen[arch]!.count, "calls": seen[arch]!.values.reduce(0, +)]
    }
    summary["allowed"] = allowed
    summary["enosys"] = enosys
    summary["defaultAction"] = SeccompAction(returnValue: action.action(errnoRet: profile.defaultErrnoRet).returnValue).description
    if let output, output != "-" { summary["output"] = output }

    if json {
      summary["diagnostics"] = diagnostics.map(diagnosticJSON)
      printError(jsonLine(summary))
      return
    }
    for d in diagnostics { printError(d.description) }
    printError(humanSummary(summary, seen: seen))
  }

  func display(_ path: String) -> String { path == "-" ? "standard input" : path }

  /// Prints an input error (text or JSON) and returns the data-error exit.
  func report(_ error: InputError) -> ExitCode {
    if json {
      printError(jsonLine(["error": "bad input", "diagnostics": error.diagnostics.map(diagnosticJSON)]))
      return ExitCode(ExitStatus.dataError)
    }
    return fail(error)
  }

  func diagnosticJSON(_ d: Diagnostic) -> [String: Any] {
    var o: [String: Any] = ["severity": d.severity.rawValue, "message": d.message]
    if let f = d.file { o["file"] = f }
    if let l = d.line { o["line"] = l }
    return o
  }

  func humanSummary(_ s: [String: Any], seen: [Arch: [String: Int]]) -> String {
    var lines: [String] = []
    let abis = ProfileBuilder.order(Array(seen.keys)).map { a in
      "\(a.name) (\(seen[a]!.count) syscalls, \(seen[a]!.values.reduce(0, +)) calls)"
    }
    let files = s["files"] as? Int ?? 0
    let read = "\(s["lines"] as? Int ?? 0) lines of \(files) file\(files == 1 ? "" : "s")"
    if s["source"] as? String == "strace" {
      let pids = (s["pids"] as? [Int])?.count ?? 0
      lines.append("syscage: read \(read): \(s["syscallLines"] as? Int ?? 0) syscall lines, \(pids) pid\(pids == 1 ? "" : "s")")
    } else {
      let all = (s["executables"] as? [String]) ?? []
      let exes = all.count > 6 ? Array(all.prefix(5)) + ["and \(all.count - 5) more"] : all
      let actions = ((s["actions"] as? [String: Int]) ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
      lines.append(
        "syscage: read \(read): \(s["records"] as? Int ?? 0) seccomp records (\(actions.joined(separator: ", "))) from \(exes.isEmpty ? "?" : exes.joined(separator: ", "))")
    }
    lines.append("syscage: ABIs: \(abis.joined(separator: ", "))")
    let skipped = s["skippedLines"] as? Int ?? 0
    if skipped > 0 { lines.append("syscage: skipped \(skipped) malformed line\(skipped == 1 ? "" : "s")") }
    if let unknown = s["unknown"] as? [String: [String]], !unknown.isEmpty {
      lines.append("syscage: left out (not in the table): " + unknown.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.joined(separator: " "))" }.joined(separator: "; "))
    }
    let allowed = (s["allowed"] as? [String])?.count ?? 0
    let enosys = (s["enosys"] as? [String]) ?? []
    var wrote = "syscage: profile: \(allowed) allowed"
    if !enosys.isEmpty { wrote += ", ENOSYS for \(enosys.joined(separator: " "))" }
    wrote += ", default \(s["defaultAction"] as? String ?? "?")"
    if let o = s["output"] as? String { wrote += "; wrote \(o)" }
    lines.append(wrote)
    return lines.joined(separator: "\n")
  }
}
