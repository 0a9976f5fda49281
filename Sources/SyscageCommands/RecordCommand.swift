import ArgumentParser
import Foundation
import Host
import OutputFiles
import Processes
import Profiles
import Recording
import Seccomp
import Syscalls

struct RecordCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "record",
    abstract: "Record the syscalls a program makes and write an allow-list profile.",
    discussion: """
      Runs the program under ptrace (its children and threads too, as strace -f), \
      counts every syscall per ABI at entry, and writes an allow-list profile for the \
      ABIs seen: the calls seen, the guard rails (exit, exit_group, rt_sigreturn, \
      restart_syscall, the vDSO calls), ERRNO(ENOSYS) for clone3, faccessat2, \
      fchmodat2 and openat2 when not seen, and --default-action for the rest. \
      Recording waits until every traced process has ended.

      Language runtimes: calls that Go (async preemption: getpid, tgkill; \
      sched_yield, nanosleep, madvise), the JVM, node, CPython's multiprocessing \
      (kill, when the program starts processes) and GNU sort make only in some runs \
      are added in an entry per runtime, its comment saying why, when an executable \
      the program ran is built on one (Go: .go.buildinfo or the Go build-id note; \
      JVM: libjvm/libjli; node; CPython: libpython or Py_BytesMain). --no-runtimes \
      leaves them out.

      --runs N records N times and writes the union; calls only some runs made get \
      an entry "seen in K of N recorded runs", -c a runs column, --json a runs count \
      per call. Later runs and --verify's run get the first run's standard input \
      again (a pipe is read through syscage and kept, up to 64 MiB; a file is read \
      again from its offset; a terminal is not replayed: they read /dev/null) and a \
      standard output of the same kind (a file, a pipe, a pseudo-terminal; \
      discarded). When the first run changed files, syscage says so: later runs \
      start from what it left.

      --verify runs the program again under the profile, every call the profile does \
      not allow sent to the tracer, which prints it ("denied: ...") and fails it with \
      the profile's errno (EPERM for kill and trap actions, so the run goes on), and \
      compares the exit status. --amend then adds the denied calls (an entry per \
      round, "denied in verification round K") and verifies again, up to 3 rounds.

      Stops: one (the default for a profile) loads a filter before execve that sends \
      every call to the tracer; it sets no_new_privs (setuid programs run without \
      their privileges). two (the default for -c and --json) stops at entry and exit \
      for errors and times (-c is strace -c -w's table). --backend ebpf counts \
      native calls in the kernel (raw_syscalls:sys_enter; root), others by ptrace. \
      Ctrl-C reaches the program as it would without syscage (and ends --runs); the \
      profile is still written.

      --baseline P: P's calls run without a stop; the profile is P plus the new calls. \
      -p PID attaches to running processes until they end or Ctrl-C (then they run \
      on); it stops twice per call and sees nothing from before. --args: one ALLOW \
      rule per value seen for socket, socketpair, personality, clone, unshare, prctl \
      and ioctl (clone3 then gets ENOSYS, so that libc uses clone).

      Container runtimes make calls of their own after they load the container's \
      filter, before the program runs; a profile that refuses them stops the \
      container from starting. So the profile allows the calls of the runtime its \
      format is for (docker, oci, spo, k8s-pod: the OCI runtimes, runc and crun, \
      noNewPrivileges true and false; lxc: LXC; nspawn: systemd-nspawn; systemd: none), \
      those the program did not make in an entry of their own whose comment names the \
      runtime and modes. --for RUNTIME chooses another: oci (runc and crun), runc, \
      crun, podman (crun and runc), docker, containerd and kubernetes (runc), lxc, \
      nspawn, bwrap; --for none adds nothing, for a profile only `syscage run` or \
      the program's own filter loads. With --baseline, a runtime call the baseline \
      decides by a rule of its own keeps the baseline's decision. With an explicit \
      --for, --verify runs without no_new_privs (as root), as a container with \
      noNewPrivileges false does.

      Formats: docker, oci (linux.seccomp), spo (SeccompProfile; --name), systemd \
      (a [Service] drop-in), nspawn (a systemd-nspawn .nspawn file), k8s-pod (-o is a \
      directory), lxc (lxc.seccomp.profile).

      Exits with the program's status (the first run's; 128 + signal; 0 after \
      detaching); syscage's own failures exit 125, 126 (cannot execute), 127 (not \
      found). Nothing is written to the program's stdout.

      Examples:
        syscage record -o ls.json -- ls -l /
        syscage record -o app.json --runs 5 --verify --amend -- ./app --selftest
        syscage record -o web.json -p 4242          # Ctrl-C to stop
        syscage record -o app2.json --baseline app.json -- ./app --other-mode
        syscage record -o app.json --args --for podman --format oci -- ./app
        syscage record -o self.json --for none -- ./app   # for syscage run only
      """)

  enum Stops: String, ExpressibleByArgument, CaseIterable {
    case one, two
  }

  typealias Backend = RecordBackend

  /// The profile written.
  struct ProfileGroup: ParsableArguments {
    @Option(name: .shortAndLong, help: "Where to write the profile (a directory for k8s-pod); optional with -c or --json.")
    var output: String?

    @Option(help: "The profile format.")
    var format: OutputFormat = .docker

    @Option(help: ArgumentHelp("The profile's name (spo, k8s-pod; default: from -o).", valueName: "name"))
    var name: String?

    @OptionGroup var defaultAction: AllowListDefaultAction

    @Flag(help: "Argument rules for socket, personality, clone, unshare, prctl, ioctl.")
    var args = false

    @Option(help: ArgumentHelp("Keep this profile's calls; they run without stopping.", valueName: "profile"))
    var baseline: String?

    @Option(
      name: .customLong("for"),
      help: ArgumentHelp(
        "Allow what this runtime does under the container's filter (default: the format's; none adds nothing).",
        valueName: "runtime"))
    var runtimeChoice: RuntimeTarget?

    @Flag(help: "Leave out the occasional calls of detected runtimes.")
    var noRuntimes = false
  }

  /// Which runs.
  struct RunsGroup: ParsableArguments {
    @Option(help: ArgumentHelp("Record N runs and write their union.", valueName: "N"))
    var runs = 1

    @Flag(help: "Run again under the profile; report what it denies.")
    var verify = false

    @Flag(help: "With --verify: add the denied calls, verify again.")
    var amend = false

    @Option(name: [.customShort("p"), .customLong("pid")], help: "Attach to a running process (repeatable).")
    var pids: [Int32] = []
  }

  /// How the recording is made and reported.
  struct TracingGroup: ParsableArguments {
    @Flag(name: .customShort("c"), help: "Print an strace -c style table on stderr.")
    var count = false

    @Flag(help: "Print the statistics as JSON on stderr.")
    var json = false

    @Option(help: ArgumentHelp("A stop per call, or at entry and exit (errors, times).", valueName: "one|two"))
    var stops: Stops?

    @Option(
      help: ArgumentHelp(
        "Where the program runs: auto, one (the tracer's CPU), all.",
        discussion: "auto: on the tracer's CPU (cheaper stops) until it starts a thread or process or asks for its CPUs.",
        valueName: "placement"))
    var cpus: CPUPlacement?

    @Option(help: ArgumentHelp("ptrace, or ebpf (count in the kernel; root).", valueName: "backend"))
    var backend: Backend = .ptrace
  }

  @OptionGroup(title: "Profile") var profileGroup: ProfileGroup
  @OptionGroup(title: "Runs") var runsGroup: RunsGroup
  @OptionGroup(title: "Recording") var tracingGroup: TracingGroup

  var output: String? { profileGroup.output }
  var format: OutputFormat { profileGroup.format }
  var name: String? { profileGroup.name }
  var defaultAction: DefaultActionArgument { profileGroup.defaultAction.value }
  var args: Bool { profileGroup.args }
  var baseline: String? { profileGroup.baseline }
  /// The runtime whose calls the profile allows: --for, else the format's.
  var runtime: RuntimeSelection {
    RuntimeSelection(profileGroup.runtimeChoice ?? RuntimeTarget.defaultTarget(forFormat: format.rawValue))
  }
  var noRuntimes: Bool { profileGroup.noRuntimes }
  var runs: Int { runsGroup.runs }
  var verify: Bool { runsGroup.verify }
  var amend: Bool { runsGroup.amend }
  var pids: [Int32] { runsGroup.pids }
  var count: Bool { tracingGroup.count }
  var json: Bool { tracingGroup.json }
  var stops: Stops? { tracingGroup.stops }
  var cpus: CPUPlacement? { tracingGroup.cpus }
  var backend: Backend { tracingGroup.backend }

  @Argument(parsing: .captureForPassthrough, help: "The program and its arguments (after --).")
  var command: [String] = []

  var program: [String] {
    var argv = command
    if argv.first == "--" { argv.removeFirst() }
    return argv
  }

  /// Two stops per call: asked for, or for -c and --json's times (not against a baseline,
  /// whose filter lets the known calls run without a stop).
  var timing: Bool { stops == .two || (stops == nil && baseline == nil && (count || json)) }

  func validate() throws {
    try rejectUnknownOptions(in: command, of: Self.self)
    if runs < 1 { throw ValidationError("--runs wants a number of runs, 1 or more, not \(runs)") }
    if amend && !verify { throw ValidationError("--amend adds what verification denies; give --verify too") }
    if !pids.isEmpty {
      if runs > 1 { throw ValidationError("--runs starts the program N times; with -p there is no program to start") }
      if !program.isEmpty { throw ValidationError("give a program after -- or -p PID, not both") }
      if verify { throw ValidationError("--verify runs the program again; with -p there is no program to start") }
      if baseline != nil { throw ValidationError("--baseline needs a filter in the program, which only a program syscage starts can get; leave out -p") }
      if stops == .one { throw ValidationError("--stops one needs a filter in the program, which only a program syscage starts can get; attaching stops twice per call") }
      if cpus != nil { throw ValidationError("--cpus places a program syscage starts; attached processes stay where they run") }
      if let bad = pids.first(where: { $0 <= 0 }) { throw ValidationError("-p wants a process id, not \(bad)") }
    } else if program.isEmpty {
      throw ValidationError("name a program to record after --, or attach with -p PID")
    }
    if backend == .ebpf {
      if !pids.isEmpty { throw ValidationError("--backend ebpf starts the program; it does not attach (leave out -p)") }
      if count || stops != nil { throw ValidationError("--backend ebpf counts calls in the kernel; it has no stops, errors or times (leave out -c and --stops)") }
      if args { throw ValidationError("--args reads arguments at each call's stop; --backend ebpf has none for native calls") }
      if baseline != nil { throw ValidationError("--baseline and --backend ebpf are two ways of not stopping; choose one") }
    }
    // Without a required option left to miss, a --help before any program is captured as
    // the program: it is a request for help.
    if let first = command.first, first == "--help" || first == "-h" { throw CleanExit.helpRequest(self) }
    if output == nil && !count && !json {
      throw ValidationError("give -o FILE for the profile (-c or --json alone print the statistics and write no profile)")
    }
    if output == "-" {
      throw ValidationError("-o -: standard output is the program's; name a file for the profile")
    }
    if let baseline, let output, URL(fileURLWithPath: baseline).standardizedFileURL == URL(fileURLWithPath: output).standardizedFileURL {
      throw ValidationError("-o names the --baseline file; write the new profile to another file (syscage never overwrites an input)")
    }
    if baseline != nil && (count || stops == .two) {
      throw ValidationError("--baseline stops only on new calls; -c and --stops two stop on every call (leave them out)")
    }
    if name != nil && format != .spo && format != .k8sPod { throw ValidationError("--name applies to --format spo and k8s-pod only") }
    if let name, !KubernetesPodConversion.isValidName(name) {
      throw ValidationError("--name '\(name)' is not a Kubernetes name; use lower-case letters, digits, '-' and '.'")
    }
    // -o is examined before the program starts: 73 when it cannot be created.
    if let profileOutput {
      if format == .k8sPod {
        let name: String
        do {
          name = try profileOutput.kubernetesName()
        } catch {
          throw reportFailure(error)
        }
        _ = try checkedKubernetesDirectory(profileOutput.path, name: name, patch: false, inputs: outputInputs)
      } else {
        _ = try checkedOutput(profileOutput.path, inputs: outputInputs)
      }
    }
  }

  /// The files -o must not be.
  var outputInputs: [String] { [baseline].compactMap { $0 } }

  /// The profile written (-o).
  var profileOutput: RecordOutput? {
    output.map { RecordOutput(path: $0, format: format, name: name, program: program, pids: pids) }
  }

  /// The recording asked for.
  var plan: RecordPlan {
    RecordPlan(
      program: program, pids: pids, runs: runs, verify: verify, amend: amend, timing: timing, backend: backend, cpus: cpus ?? .auto,
      argumentRules: args, baseline: baseline, defaultAction: defaultAction, runtime: runtime,
      runtimeChosen: profileGroup.runtimeChoice != nil, languageRuntimes: !noRuntimes, writesProfile: output != nil, table: count)
  }

  func run() throws {
    let outcome: RecordOutcome
    do {
      outcome = try RecordSession.run(plan, report: Self.print, write: write)
    } catch let failure as RecordFailure {
      throw reportFailure(failure)
    }
    if json {
      let report = RecordReport(
        recording: outcome.recording, recorded: outcome.recorded, assembled: outcome.assembled, output: output,
        countedInKernel: backend == .ebpf, backend: backend.rawValue, containerRuntime: runtime.target, verification: outcome.verification,
        amendments: outcome.amendments, replay: outcome.replay)
      printError(jsonLine(report.object))
    }
    if outcome.recording.detached {
      printError("syscage: detached from \(pids.map(String.init).joined(separator: ", ")); they run on")
      throw ExitCode.success
    }
    if verify && outcome.verification == nil {
      // The profile is written, but what --verify was asked to show is not known: syscage's own failure.
      printError("syscage: verify: the profile is not verified (it is written to \(output ?? "-")); exit 125")
      throw ExitCode(125)
    }
    throw ExitCode(outcome.programStatus)
  }

  /// Renders the profile for -o and writes it (nothing without -o); when that fails after
  /// the run, it is saved in $TMPDIR and the message says where (exit 125).
  func write(_ profile: Profile) throws {
    guard let profileOutput else { return }
    let rendered: RenderedProfile
    do {
      rendered = try profileOutput.render(profile)
    } catch {
      throw reportFailure(error)
    }
    try report(rendered, format: format)
    try writeOrSave(rendered, to: profileOutput.path, inputs: outputInputs, what: "recording")
  }

  /// Prints what the recording says on standard error.
  static func print(_ event: RecordEvent) {
    switch event {
    case .note(let text): printError("syscage: note: \(text)")
    case .warning(let text): printError("syscage: warning: \(text)")
    case .message(let text): printError("syscage: \(text)")
    case .line(let text): printError(text)
    case .text(let text): FileHandle.standardError.write(Data(text.utf8))
    }
  }

  /// Prints a failure of the recording and returns its exit.
  func reportFailure(_ failure: RecordFailure) -> ExitCode {
    if let message = failure.message { printError("syscage: " + message) }
    for d in failure.diagnostics { printError(d.description) }
    return ExitCode(Self.exitStatus(failure.kind))
  }

  /// The exit status of each kind of failure: 64 usage, 65 bad input, 127 not found, the
  /// launch's own (126, 127, 125), 125 for syscage's own failure.
  static func exitStatus(_ kind: RecordFailure.Kind) -> Int32 {
    switch kind {
    case .usage: ExitStatus.usage
    case .badInput: ExitStatus.dataError
    case .commandNotFound: 127
    case .launch(let failure): failure.exitStatus
    case .failed: 125
    }
  }
}

extension RecordBackend: ExpressibleByArgument {}
