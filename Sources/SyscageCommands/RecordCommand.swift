import ArgumentParser
import Enforcement
import Foundation
import Host
import OutputFiles
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

  enum Backend: String, ExpressibleByArgument, CaseIterable {
    case ptrace, ebpf
  }

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
    if let output {
      if format == .k8sPod {
        _ = try checkedKubernetesDirectory(output, name: try profileName(), patch: false, inputs: outputInputs)
      } else {
        _ = try checkedOutput(output, inputs: outputInputs)
      }
    }
  }

  /// The files -o must not be.
  var outputInputs: [String] { [baseline].compactMap { $0 } }

  func run() throws {
    let argv = program
    var path: String?
    if let name = argv.first {
      guard let resolved = Launcher.resolve(name) else { throw fail("\(name): command not found", code: 127) }
      path = resolved
    }
    let baselineProfile = try baseline.map(loadBaseline)
    let collector = args ? ArgumentCollector() : nil
    let baselineCollector = baselineProfile.map(BaselineCollector.init)
    let later = verify || runs > 1
    let replay = path != nil && later ? ReplayConditions() : nil
    var recorded = RecordedRuns(runs: [])
    var changes: RunObserver?
    let faults = RecordFaults(privilegesDropped: RecordFaults.privilegesDropped(noNewPrivileges: path != nil && !timing)) {
      printError("syscage: warning: \($0)")
    }
    if let path, backend != .ebpf { faults.checkExecutable(path) }
    for index in 0..<max(1, runs) {
      let watcher = RunObserver(watchChanges: index == 0 && later)
      let observer =
        backend == .ebpf
        ? nil : CallObserver.combined([collector?.observer(), baselineCollector?.observer(), watcher.observer(), faults.observer()].compactMap { $0 })
      let recording: RecordedRun
      if let path {
        if let replay, index > 0 {
          recording = try replay.again { try launch(path, argv, baseline: baselineProfile, observer: observer) }
        } else if let replay {
          recording = try replay.first { try launch(path, argv, baseline: baselineProfile, observer: observer) }
        } else {
          recording = try launch(path, argv, baseline: baselineProfile, observer: observer)
        }
        if index == 0 { changes = watcher }
        for exe in [path] + watcher.executables where !recorded.executables.contains(exe) { recorded.executables.append(exe) }
      } else {
        for pid in pids {
          if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe") { recorded.executables.append(exe) }
        }
        recording = try attach(observer: observer)
        for exe in watcher.executables where !recorded.executables.contains(exe) { recorded.executables.append(exe) }
      }
      if let first = recorded.runs.first, recording.termination != first.termination {
        printError("syscage: note: run \(index + 1) \(recording.termination) (run 1: \(first.termination))")
      }
      recorded.runs.append(recording)
      if index + 1 < runs, case .signaled(let sig) = recording.termination, [SIGINT, SIGTERM, SIGHUP].contains(sig) {
        printError("syscage: note: run \(index + 1) ended by signal \(sig); no more runs (\(index + 1) of \(runs) recorded)")
        break
      }
    }
    recorded.arguments = collector?.seen ?? [:]
    recorded.argumentsOverflowed = collector?.overflowed ?? []
    recorded.baselineRefused = backend == .ebpf ? nil : baselineCollector?.refused
    let recording = recorded.merged
    if let changes, changes.changeCount > 0 {
      let shown = changes.changedFiles.prefix(3).joined(separator: ", ")
      printError(
        "syscage: note: the first run changed files or opened them for writing (\(shown)\(changes.changedFiles.count > 3 ? ", ..." : "")): later runs start from what it left, not from what it found"
      )
    }
    for note in replay?.notes ?? [] { printError("syscage: note: \(note)") }

    let options = ProfileOptions(
      defaultAction: defaultAction.action, defaultErrnoRet: defaultAction.errno, baseline: baselineProfile,
      containerRuntime: runtime, argumentRules: args, languageRuntimes: !noRuntimes)
    var assembled = ProfileAssembly.assemble(recorded, options: options)
    for note in assembled.notes { printError("syscage: note: \(note)") }
    if !assembled.containerCalls.isEmpty && output != nil {
      printError(runtimeAddedLine(runtime, added: assembled.containerCalls, what: "the program did not make"))
    }
    warnIfTooLong(assembled.profile, what: "the recorded profile")
    for (runtime, calls) in assembled.runtimeCalls {
      printError("syscage: note: \(runtime.rawValue) runtime detected: also allowing \(calls.joined(separator: ", ")) (\(runtime.comment))")
    }
    if !assembled.occasional.isEmpty {
      let list = assembled.occasional.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map { "\($0.key) \($0.value)/\(recorded.runs.count)" }
      printError("syscage: note: calls seen in some runs only: \(list.joined(separator: ", "))")
    }
    // The table first: a write that fails after the run still leaves it on the screen.
    for e in recording.unnamed {
      printError("syscage: warning: \(e.arch) syscall \(e.number) has no name in the table; it is not in the profile")
    }
    if recording.unplaced > 0 {
      printError("syscage: warning: \(recording.unplaced) calls of an unknown ABI or number were not recorded")
    }
    if count {
      var table = StraceTable(recording)
      if recorded.runs.count > 1 { table.runs = (recorded.runCounts, recorded.runs.count) }
      FileHandle.standardError.write(Data(table.text.utf8))
    }
    try write(assembled.profile)

    var verification: Verification?
    var amendments: [Amendment] = []
    if verify, let path {
      let first = recorded.runs[0].termination
      verification = runVerification(path, argv, profile: assembled.profile, recorded: first, replay: replay)
      while amend, let v = verification, v.deniedCount > 0, amendments.count < Self.amendRounds {
        let amendment = Amendment(round: amendments.count + 1, denials: v.denials, argumentRules: args)
        if amendment.isEmpty {
          printError("syscage: amend: the denied calls have no name in the table; nothing to add")
          break
        }
        amendments.append(amendment)
        assembled = ProfileAssembly.assemble(recorded, options: options, amendments: amendments)
        for line in amendLines(amendment, denials: v.denials) { printError("syscage: amend: \(line)") }
        try write(assembled.profile)
        verification = runVerification(path, argv, profile: assembled.profile, recorded: first, replay: replay)
      }
      if amend, let v = verification, v.deniedCount > 0 {
        printError("syscage: amend: calls still denied after \(amendments.count) rounds; the profile has what was added")
      }
    }
    if json {
      let report = RecordReport(
        recording: recording, recorded: recorded, assembled: assembled, output: output, countedInKernel: backend == .ebpf,
        backend: backend.rawValue, containerRuntime: runtime.target, verification: verification, amendments: amendments, replay: replay)
      printError(jsonLine(report.object))
    }
    if recording.detached {
      printError("syscage: detached from \(pids.map(String.init).joined(separator: ", ")); they run on")
      throw ExitCode.success
    }
    if verify && verification == nil {
      // The profile is written, but what --verify was asked to show is not known: syscage's own failure.
      printError("syscage: verify: the profile is not verified (it is written to \(output ?? "-")); exit 125")
      throw ExitCode(125)
    }
    throw ExitCode(recorded.runs[0].termination.shellStatus)
  }

  /// How many times `--amend` adds calls and verifies again at most.
  static let amendRounds = 3

  /// What an amendment round added and why: each call with its first denial's arguments.
  func amendLines(_ amendment: Amendment, denials: [Denial]) -> [String] {
    var lines: [String] = []
    for (arch, names) in amendment.calls.sorted(by: { $0.key.name < $1.key.name }) {
      for name in names.sorted() {
        let d = denials.first { $0.arch == arch && $0.name == name }
        let argsText = d.map { " args " + $0.arguments.map { "0x" + String($0, radix: 16) }.joined(separator: ", ") } ?? ""
        lines.append("round \(amendment.round): added \(name) (\(arch.name)): denied in verification\(argsText)")
      }
    }
    for (arch, calls) in amendment.arguments.sorted(by: { $0.key.name < $1.key.name }) {
      for (name, keys) in calls.sorted(by: { $0.key < $1.key }) {
        let values = keys.map { $0.map { "0x" + String($0, radix: 16) }.joined(separator: "/") }.sorted()
        lines.append("round \(amendment.round): added an argument rule for \(name) (\(arch.name)) \(values.joined(separator: ", ")): denied in verification")
      }
    }
    return lines
  }

  /// Starts the program and records it (ptrace, one or two stops, or against a baseline).
  func launch(_ path: String, _ argv: [String], baseline: Profile?, observer: CallObserver?) throws -> RecordedRun {
    if backend == .ebpf {
      do {
        return try EBPFRecorder.record(executable: path, arguments: argv, notice: { printError("syscage: \($0)") })
      } catch {
        throw fail("\(argv[0]): \(error)", code: error.exitStatus)
      }
    }
    do {
      var filter = Recorder.traceAll
      if let baseline {
        do {
          // The baseline's calls do not stop, execve and file changes included: runtimes
          // are detected from the program's own executable.
          filter = try Recorder.baselineFilter(baseline, tracing: args ? Set(ArgumentRules.arguments.keys) : [])
        } catch {
          throw fail("--baseline \(self.baseline ?? ""): cannot compile it: \(error)", code: ExitStatus.dataError)
        }
      }
      return try Recorder.record(
        executable: path, arguments: argv, timing: timing, oneStop: !timing, filter: filter, observer: observer,
        cpus: cpus ?? .auto, notice: { printError("syscage: \($0)") })
    } catch let error as Recorder.Failure {
      throw fail("\(argv[0]): \(error)", code: error.exitStatus)
    }
  }

  /// Attaches to -p and records until they end or Ctrl-C.
  func attach(observer: CallObserver?) throws -> RecordedRun {
    if let missing = pids.first(where: { !FileManager.default.fileExists(atPath: "/proc/\($0)") }) {
      throw fail("no process \(missing)", code: ExitStatus.usage)
    }
    if let zombie = pids.first(where: { Recorder.isZombie($0) }) {
      throw fail("process \(zombie) is a zombie (it has exited; its parent has not reaped it): nothing to record", code: ExitStatus.usage)
    }
    let list = pids.map(String.init).joined(separator: ", ")
    printError(
      "syscage: attaching to \(list): calls made before now are not seen; attached processes stop twice per call (no filter can be added to a running process); Ctrl-C stops recording and detaches"
    )
    do {
      return try Recorder.attach(pids: pids, timing: timing, observer: observer)
    } catch {
      throw fail("\(error)", code: error.errno == .noSuchProcess ? ExitStatus.usage : 125)
    }
  }

  /// Loads --baseline; bad input ends the command with 65.
  func loadBaseline(_ path: String) throws -> Profile {
    let loaded: (profile: Profile, warnings: [Diagnostic])
    do {
      loaded = try Profile.load(path: path)
    } catch {
      throw fail(error)
    }
    for w in loaded.warnings { printError(w.description) }
    if loaded.profile.isDisabled {
      throw fail("--baseline " + disabledMessage(path, warnings: loaded.warnings) + ": there are no decisions to keep", code: ExitStatus.dataError)
    }
    warnIfIoUring(loaded.profile, named: path)
    return loaded.profile
  }

  /// Writes the profile to -o in --format (nothing without -o). When that fails after the
  /// run, the profile is saved in $TMPDIR and the message says where (exit 125).
  func write(_ profile: Profile) throws {
    guard let output else { return }
    let header = ["Recorded by syscage from: \(program.isEmpty ? "processes " + pids.map(String.init).joined(separator: ", ") : program.joined(separator: " "))."]
    let options = RenderOptions(
      target: ConversionTarget(context: HostFacts.dockerDefault(), arches: profile.architectures), header: header,
      name: format == .spo || format == .k8sPod ? try profileName() : nil, command: program.isEmpty ? nil : program)
    let rendered: RenderedProfile
    do {
      rendered = try ProfileRendering.render(profile, as: format, options: options)
    } catch {
      throw fail("\(error)", code: ExitStatus.dataError)
    }
    try report(rendered, format: format)
    guard case .kubernetes(let pod) = rendered.content else {
      return try writeOrSave(rendered.bytes, to: output, inputs: outputInputs, what: "recording")
    }
    do {
      try writeKubernetes(pod, into: try OutputDirectory(output, files: KubernetesPodConversion.files(name: pod.name, patch: false), inputs: outputInputs))
      return
    } catch {
      printError("syscage: \(error)")
    }
    do {
      let dir = try OutputDirectory.temporary(prefix: "syscage-recording", files: KubernetesPodConversion.files(name: pod.name, patch: false))
      try writeKubernetes(pod, into: dir)
      printError("syscage: the recording is saved in \(dir.path)")
    } catch {
      printError("syscage: \(error); the recording follows on standard error")
      FileHandle.standardError.write(Data(pod.combined.utf8))
    }
    throw ExitCode(125)
  }

  /// --name, else a Kubernetes name from -o's base name, else from the program.
  func profileName() throws -> String {
    if let name { return name }
    if let output, let derived = KubernetesPodConversion.name(fromPath: output) { return derived }
    if let first = program.first, let derived = KubernetesPodConversion.name(fromPath: first) { return derived }
    throw fail("cannot make a Kubernetes name from '\(output ?? "")'; give --name", code: ExitStatus.usage)
  }

  /// Runs the program again under the profile, with the first run's standard input and
  /// a standard output of the same kind (discarded), and reports.
  func runVerification(
    _ path: String, _ argv: [String], profile: Profile, recorded: Termination, replay: ReplayConditions?
  ) -> Verification? {
    // As the container runs: without no_new_privs when --for names a runtime that may.
    let container = profileGroup.runtimeChoice != nil && runtime.modes.contains(false) && !runtime.isNone
    let noNewPrivileges = !container || geteuid() != 0
    if container && geteuid() != 0 {
      printError("syscage: verify: without root the filter needs no_new_privs; a \(runtime.target) container with noNewPrivileges false runs without it")
    }
    do {
      let run = { () throws(Recorder.Failure) -> Verification in
        try Verifier.verify(executable: path, arguments: argv, profile: profile, noNewPrivileges: noNewPrivileges)
      }
      let v = try replay.map { r in try r.again { try run() } } ?? run()
      for d in v.denials { printError("syscage: denied: \(d.description)") }
      if v.deniedCount > v.denials.count {
        printError("syscage: … and \(v.deniedCount - v.denials.count) more denied calls")
      }
      if v.termination == recorded && v.deniedCount == 0 {
        printError("syscage: verify: the program ran the same under the profile (\(v.termination)), no call denied")
      } else if v.termination == recorded {
        printError("syscage: verify: \(v.deniedCount) calls denied; the exit status is the same (\(v.termination))")
      } else {
        printError(
          "syscage: verify: DIFFERS: under the profile the program \(v.termination) (recorded: \(recorded)); \(v.deniedCount) calls denied"
        )
      }
      return v
    } catch {
      printError("syscage: verify: cannot run \(argv[0]) under the profile: \(error)")
      return nil
    }
  }
}
