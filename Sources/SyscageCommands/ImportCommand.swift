import ArgumentParser
import Foundation
import Host
import Inspection
import OutputFiles
import Profiles
import Recording
import Seccomp
import Syscalls

struct ImportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import",
    abstract: "Build a profile from strace output, kernel seccomp audit records, an LXC seccomp policy or a list of syscall names.",
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

      --lxc reads an LXC seccomp policy (lxc.seccomp.profile) as LXC 5 reads it on the \
      --arch host (default this machine's): version 1 (syscall numbers, an allow-list \
      that kills everything else) or version 2 (allowlist or denylist, the default \
      action after it, [x86_64]-style sections, `name errno N|kill|trap|notify|allow` \
      lines with [index,value,op] argument rules). The profile has the same decisions, \
      for every ABI LXC's filter covers on that host. What makes LXC refuse the file is \
      an error naming the line (exit 65); names that are no syscall (LXC skips them) are \
      listed once.

      --names reads a plain list of syscall names (one or more per line, /* */ and // \
      comments, as Docker's old mkseccomp.sample): an allow-list of those names for the \
      --arch ABI, with the guard rails and ENOSYS fallbacks as above. Names that are no \
      syscall, and names that are not syscalls of that ABI, are listed once each.

      The profile goes to standard output or -o (atomically; an input is never \
      overwritten); a summary goes to standard error (one JSON object with --json). \
      Malformed lines are skipped with a warning naming the file and line; with \
      --strict they, and unknown syscall names, are errors (exit 65, nothing written).

      Examples:
        strace -f -o app.trace ./app && syscage import --strace app.trace -o app.json
        strace -ff -o trace ./app && syscage import --strace trace -o app.json
        syscage import --audit /var/log/audit/audit.log --exe /usr/bin/app -o a.json
        dmesg | syscage import --audit - --comm app -o app.json
        syscage import --lxc /usr/share/lxc/config/common.seccomp -o common.json
        syscage import --names mkseccomp.sample --arch x86_64 -o allow.json
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable {
    case docker, oci
    var outputFormat: OutputFormat { self == .docker ? .docker : .oci }
  }

  @Option(name: .customLong("strace"), parsing: .upToNextOption, help: ArgumentHelp("strace output files (- for standard input).", valueName: "file"))
  var straceFiles: [String] = []

  @Option(name: .customLong("audit"), parsing: .upToNextOption, help: ArgumentHelp("Logs holding seccomp audit records (- for standard input).", valueName: "file"))
  var auditFiles: [String] = []

  @Option(name: .customLong("lxc"), help: ArgumentHelp("An LXC seccomp policy, version 1 or 2 (- for standard input).", valueName: "file"))
  var lxcFile: String?

  @Option(name: .customLong("names"), help: ArgumentHelp("A list of syscall names (- for standard input).", valueName: "file"))
  var namesFile: String?

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

  @Option(help: "The ABI strace ran on, which its '32 bit mode' and syscall_NNN refer to; the LXC host (--lxc) or the profile's ABI (--names) (default: this machine's).")
  var arch: Arch?

  @OptionGroup var defaultAction: AllowListDefaultAction

  @Flag(help: "Malformed lines and unknown syscall names are errors.")
  var strict = false

  @Flag(help: "Print the summary as one JSON object on standard error.")
  var json = false

  func validate() throws {
    let sources = [!straceFiles.isEmpty, !auditFiles.isEmpty, lxcFile != nil, namesFile != nil].filter { $0 }.count
    if sources != 1 {
      throw ValidationError("give --strace FILE..., --audit FILE..., --lxc FILE or --names FILE (one of them)")
    }
    if lxcFile != nil || namesFile != nil {
      if !comm.isEmpty || !exe.isEmpty || !pid.isEmpty {
        throw ValidationError("--comm, --exe and --pid select records of --strace and --audit")
      }
      if lxcFile != nil && defaultAction.given != nil {
        throw ValidationError("--default-action: an LXC policy says its own default action")
      }
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
  }

  func run() throws {
    if let lxcFile { return try importLXC(lxcFile) }
    if let namesFile { return try importNames(namesFile) }
    let (action, errno) = (defaultAction.value.action, defaultAction.value.errno)
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
      if !straceFiles.isEmpty && pid.isEmpty {
        printError("syscage: a list of syscall names (one or more per line, /* */ and // comments) is read with --names FILE")
      }
      throw fail(message, code: ExitStatus.dataError)
    }

    let profile = allowList(seen.mapValues { Set($0.keys) }, action, errno)
    try emit(try profileJSON(profile, as: format.outputFormat), to: out)
    warnIfTooLong(profile, what: "the imported profile")

    let allowed = profile.syscalls?.first?.names ?? []
    let enosys = (profile.syscalls ?? []).dropFirst().flatMap(\.names)
    summary["abis"] = ProfileBuilder.order(Array(seen.keys)).map { arch -> [String: Any] in
      ["arch": arch.name, "syscalls": seen[arch]!.count, "calls": seen[arch]!.values.reduce(0, +)]
    }
    summary["allowed"] = allowed
    summary["enosys"] = enosys
    summary["defaultAction"] = SeccompAction(returnValue: action.action(errnoRet: profile.defaultErrnoRet).returnValue).description
    report(summary, diagnostics) { humanSummary($0, seen: seen) }
  }

  /// The import's summary on stderr: with --json one JSON line (the output and the
  /// diagnostics in it), else the diagnostics, then the line `human` makes of the summary.
  func report(_ summary: [String: Any], _ diagnostics: [Diagnostic], human: ([String: Any]) -> String) {
    var summary = summary
    if let output, output != "-" { summary["output"] = output }
    if json {
      summary["diagnostics"] = diagnostics.map(diagnosticJSON)
      printError(jsonLine(summary))
      return
    }
    for d in diagnostics { printError(d.description) }
    printError(human(summary))
  }

  /// The allow-list of the calls read, made as record and watch --learn make theirs:
  /// one run, no runtimes, no container runtime's calls.
  func allowList(_ calls: [Arch: Set<String>], _ action: ActionName, _ errno: UInt32?) -> Profile {
    let options = ProfileOptions(defaultAction: action, defaultErrnoRet: errno, languageRuntimes: false)
    return ProfileAssembly.assemble(ObservedCalls(calls), options: options).profile
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

  func diagnosticJSON(_ d: Diagnostic) -> [String: Any] { d.jsonObject }

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

// MARK: - LXC policies and name lists

extension ImportCommand {
  /// `import --lxc FILE`: the policy as a profile with the same decisions.
  func importLXC(_ path: String) throws {
    let out = try output.map { try checkedOutput($0, inputs: [path]) }
    let host = arch ?? .native
    let policy: LXCPolicyImport
    do {
      let bytes = try readInputFile(path)
      policy = try LXCPolicyImport(text: String(decoding: bytes, as: UTF8.self), file: path == "-" ? nil : path, host: host)
    } catch {
      throw report(error)
    }
    let diagnostics = policy.diagnostics(strict: strict, file: path == "-" ? nil : path)
    let unknown = policy.noSyscall, elsewhere = policy.notOnTheseABIs
    let abis = (policy.profile.architectures ?? []).map(\.name).joined(separator: ", ")
    if diagnostics.contains(where: { $0.severity == .error }) { throw report(InputError(diagnostics)) }
    try emit(try profileJSON(policy.profile, as: format.outputFormat), to: out)
    let entries = policy.profile.syscalls ?? []
    let rules = entries.reduce(0) { $0 + $1.names.count }
    let defaultAction = (policy.profile.defaultAction ?? .allow).action(errnoRet: policy.profile.defaultErrnoRet)
    let summary: [String: Any] = [
      "source": "lxc", "version": policy.version, "lines": policy.lineCount, "rules": rules, "abis": policy.profile.architectures?.map(\.name) ?? [],
      "defaultAction": defaultAction.description, "unknown": unknown.map(\.name), "notOnABIs": elsewhere.map(\.name),
    ]
    report(summary, diagnostics) { _ in
      "syscage: read \(policy.lineCount) lines of an LXC policy, version \(policy.version), for \(host) hosts: \(rules) rule\(rules == 1 ? "" : "s"), default \(defaultAction), ABIs \(abis)"
        + ((output.map { $0 != "-" } ?? false) ? "; wrote \(output!)" : "")
    }
  }

  /// `import --names FILE`: an allow-list of the names on the --arch ABI.
  func importNames(_ path: String) throws {
    let (action, errno) = (defaultAction.value.action, defaultAction.value.errno)
    let out = try output.map { try checkedOutput($0, inputs: [path]) }
    let abi = arch ?? .native
    let list: SyscallNameList
    do {
      let bytes = try readInputFile(path)
      list = try SyscallNameList(text: String(decoding: bytes, as: UTF8.self), file: path == "-" ? nil : path)
    } catch {
      throw report(error)
    }
    let diagnostics = list.diagnostics(on: abi, strict: strict, file: path == "-" ? nil : path)
    let unknown = list.unknown, missing = list.missing(on: abi), present = list.present(on: abi)
    if diagnostics.contains(where: { $0.severity == .error }) { throw report(InputError(diagnostics)) }
    if present.isEmpty {
      for d in diagnostics { printError(d.description) }
      throw fail("no syscall of \(abi) in \(display(path)); nothing written", code: ExitStatus.dataError)
    }
    let profile = allowList([abi: Set(present)], action, errno)
    try emit(try profileJSON(profile, as: format.outputFormat), to: out)
    warnIfTooLong(profile, what: "the imported profile")
    let allowed = profile.syscalls?.first?.names ?? []
    let enosys = (profile.syscalls ?? []).dropFirst().flatMap(\.names)
    let defaultText = SeccompAction(returnValue: action.action(errnoRet: profile.defaultErrnoRet).returnValue).description
    let summary: [String: Any] = [
      "source": "names", "lines": list.lineCount, "names": list.names.count, "abis": [abi.name], "allowed": allowed, "enosys": enosys,
      "unknown": unknown, "notOnABI": missing, "defaultAction": defaultText,
    ]
    report(summary, diagnostics) { _ in
      var wrote = "syscage: read \(list.lineCount) lines, \(list.names.count) names: profile for \(abi): \(allowed.count) allowed"
      if !enosys.isEmpty { wrote += ", ENOSYS for \(enosys.joined(separator: " "))" }
      wrote += ", default \(defaultText)"
      if let output, output != "-" { wrote += "; wrote \(output)" }
      return wrote
    }
  }
}
