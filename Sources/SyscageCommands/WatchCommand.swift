import ArgumentParser
import BPF
import Enforcement
import Foundation
import OutputFiles
import Processes
import Profiles
import Recording
import Seccomp
import Syscalls

extension WatchMode: ExpressibleByArgument {}

struct WatchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "watch",
    abstract: "Trip wire: report every syscall outside a profile, then allow, deny or kill.",
    discussion: """
      Compiles a watch filter from the profile: every call the profile would not ALLOW \
      (or LOG) is handed to syscage through seccomp user notification; allowed calls never \
      leave the kernel. syscage re-decides each notified call with the profile and acts \
      as --on-violation says.

      alert (the default): report the call and let it run.

      deny: report it and fail it with the profile's errno (EPERM for a KILL or TRAP \
      decision, ENOSYS for TRACE or NOTIFY, and the report says it was substituted).

      kill: report it and SIGKILL every process of the program's tree (orphans are \
      found too: the program's parent is a guard process, their subreaper); the status \
      is 137, also when the program had ended and a process that outlived it made the call.

      Each violation is one JSON line (time, pid, tid, comm, exe, arch, syscall, nr, args, \
      decision, action) appended to --alerts FILE, or printed on stderr, and a line for a \
      person on stderr. --learn OUT writes the profile extended with ALLOW entries for what \
      was seen.

      The listener is taken from the child with pidfd_getfd before it execs (needs ptrace \
      access to the child: the same user, or root). Children and threads are watched too, \
      and so are processes that outlive the program: the watch ends when the last process \
      under the filter is gone. After the program ended, a signal to syscage (INT, TERM, \
      HUP, QUIT, USR1, USR2) goes to those processes and a second one stops the watch: \
      in alert mode they run on (their calls outside the profile then fail with ENOSYS), \
      in deny and kill mode they are killed. If syscage dies (kill -9 too), the guard \
      kills the program's whole tree, in every mode. \
      Filters syscage already runs under win over the watch for calls they deny or kill: \
      those are never seen. Exits with the program's status (128 + signal); 125 syscage \
      failed, 126 cannot execute, 127 not found.

      Examples:
        syscage watch --profile app.json -- ./app
        syscage watch --profile app.json --on-violation deny --alerts a.jsonl -- ./a
        syscage watch --profile app.json --learn app-learnt.json -- ./app --selftest
      """)

  @Option(help: "The profile (Docker or OCI JSON).")
  var profile: String

  @Option(name: .customLong("on-violation"), help: "alert, deny or kill.")
  var onViolation: WatchMode = .alert

  @Option(help: "Append the JSON lines to this file, FIFO or device (stderr otherwise).")
  var alerts: String?

  @Option(help: "Write the profile extended with what was seen to this file (atomically) after the run.")
  var learn: String?

  @Flag(help: "Leave no_new_privs unset (needs CAP_SYS_ADMIN).")
  var allowNewPrivs = false

  @Flag(help: "Treat warnings as errors.")
  var strict = false

  @Flag(help: "Run the program even when the profile disables seccomp (no defaultAction and no syscalls).")
  var unconfined = false

  @Argument(parsing: .captureForPassthrough, help: "The program and its arguments (after --).")
  var command: [String] = []

  func validate() throws {
    try rejectUnknownOptions(in: command, of: Self.self)
    _ = try wrappedCommand(command)
  }

  func run() throws {
    let argv = try wrappedCommand(command)
    let name = argv[0]
    // Outputs are examined before anything runs (73); standard output is the program's.
    if alerts == "-" || learn == "-" {
      throw fail("--alerts - and --learn -: standard output is the program's; name a file (or leave out --alerts for stderr)", code: ExitStatus.usage)
    }
    let alertsOutput = try alerts.map { try checkedOutput($0, inputs: [profile]) }
    if let learn { _ = try checkedOutput(learn, inputs: [profile]) }
    let (loadedProfile, policy) = try loadForWrapping(profile, strict: strict, enosysStub: true, unconfined: unconfined)
    for f in Preflight.check(policy, linking: .unknown) where f.isFatal && onViolation != .alert {
      printError("syscage: \(profile) does not allow execve on \(f.arch) (\(f.decision.action)): the program cannot start; allow execve or use --on-violation alert")
      throw ExitCode(125)
    }
    let inherited = InheritedSeccomp.current()
    if let warning = inherited.warning {
      printError("syscage: warning: \(warning)")
      if inherited.mode == 1 { throw ExitCode(125) }
    }
    let program: [BPFInstruction]
    do {
      program = try Compiler.compile(policy.watchPolicy)
    } catch {
      printError("syscage: \(profile): \(error)")
      throw ExitCode(125)
    }
    guard let path = Launcher.resolve(name) else {
      printError("syscage: \(name): command not found")
      throw ExitCode(127)
    }
    var sink: FileHandle? = nil
    if let alertsOutput {
      do {
        sink = FileHandle(fileDescriptor: try alertsOutput.openForAppending(), closeOnDealloc: true)
      } catch {
        throw fail(error)
      }
    }
    let flags = policy.watchPolicy.flags.reduce(UInt32(0)) { $0 | $1.bit }
    let request = Launcher.Request(executable: path, arguments: argv, program: program, flags: flags, noNewPrivileges: !allowNewPrivs)
    var seen: [Arch: Set<String>] = [:]
    var unnamed: [String] = []
    let outcome: Watcher.Outcome
    do {
      outcome = try Watcher.run(request, policy: policy, mode: onViolation) { v in
        let line = Data((v.jsonLine + "\n").utf8)
        if let sink { sink.write(line) } else { FileHandle.standardError.write(line) }
        printError(v.summary)
        if let arch = v.arch, let n = v.name, v.decision.arch != nil { seen[arch, default: []].insert(n) }
        else { unnamed.append("\(v.name ?? "#\(v.nr)") (\(v.arch?.name ?? "arch 0x" + String(v.auditArch, radix: 16)))") }
      }
    } catch {
      printError("syscage: \(name): \(error)")
      throw ExitCode(error.exitStatus)
    }
    if let learn {
      let learnt = ProfileAssembly.assemble(ObservedCalls(seen), options: ProfileOptions(baseline: loadedProfile, baselineUse: .learn))
      if !learnt.unrefused.isEmpty {
        printError("syscage: --learn: removed \(learnt.unrefused.joined(separator: ", ")) from entries that deny them")
      }
      if !unnamed.isEmpty {
        printError("syscage: --learn: cannot add \(Set(unnamed).sorted().joined(separator: ", ")): ABI not in the profile or no name")
      }
      try writeOrSave(try profileJSON(learnt.profile, as: .docker), to: learn, inputs: [profile], what: "learnt profile")
    }
    if outcome.abandoned > 0 {
      printError("syscage: watch: stopped watching \(outcome.abandoned) process\(outcome.abandoned == 1 ? "" : "es") still under the filter (signalled twice); their calls outside the profile now fail with ENOSYS")
    }
    if outcome.killedAtStop > 0 {
      printError("syscage: watch: killed \(outcome.killedAtStop) process\(outcome.killedAtStop == 1 ? "" : "es") still under the filter (signalled twice; --on-violation \(onViolation) leaves none unwatched)")
    }
    if outcome.guardLost {
      printError("syscage: watch: the guard process (the program's parent) was killed; the program's tree was killed with it")
    }
    if outcome.violations > 0 {
      printError("syscage: watch: \(outcome.violations) violation\(outcome.violations == 1 ? "" : "s"); the program \(outcome.termination)")
    }
    if outcome.killedTree, outcome.termination != .signaled(SIGKILL) {
      printError("syscage: watch: the program had \(outcome.termination) before; the processes that outlived it were killed")
      throw ExitCode(128 + SIGKILL)
    }
    throw ExitCode(outcome.termination.shellStatus)
  }
}
