import ArgumentParser
import Enforcement
import Foundation
import Recording
import Seccomp
import Syscalls

struct RecordCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "record",
    abstract: "Record the syscalls a program makes and write an allow-list profile.",
    discussion: """
      Runs the program under ptrace (following its children and threads, as strace -f \
      does), counts every syscall per ABI at its entry (exit and exit_group included), \
      and writes an allow-list profile for exactly the ABIs seen to -o: the calls seen \
      plus the guard rails (exit, exit_group, rt_sigreturn, restart_syscall and the vDSO \
      calls), ERRNO(EPERM) for the rest (--default-action) and ERRNO(ENOSYS) for clone3, \
      faccessat2, fchmodat2 and openat2 when they were not seen. With -c, prints the \
      table strace -c prints on stderr (time is the latency from entry to exit, as \
      strace -c -w). Recording waits until every traced process has ended.

      Without -c and --json (a profile only), the program stops once per call: \
      before its execve, the child sets no_new_privs and loads a seccomp filter \
      that sends every call to the tracer (SECCOMP_RET_TRACE), which only counts \
      it; this is about twice as fast as stopping at entry and exit. no_new_privs \
      means setuid/setgid programs run without their privileges (and file \
      capabilities are not gained), as they will under the profile anyway; use \
      --stops two to record without it. -c and --json stop at entry and exit to \
      see errors and times.

      --baseline P: the filter lets the calls P allows (without argument rules) run \
      without a stop, and only the others reach the tracer; the profile is P's calls \
      plus the new ones. Repeated recordings of a program run at nearly full speed.

      -p PID (repeatable) attaches to running processes, every thread, and what they \
      start from then on, until they end or syscage gets Ctrl-C (SIGINT, SIGTERM or \
      SIGHUP): then it detaches and they run on. What they did before the attach is \
      not seen, and a running process cannot get a filter: attaching stops twice per \
      call, and --baseline, --verify and the eBPF backend need a program to start.

      --args: argument rules for the calls whose arguments name a capability: socket \
      and socketpair (address family and type), personality, clone and unshare \
      (namespace flags), prctl (option) and ioctl (request), one ALLOW rule per value \
      seen. clone3 passes its flags behind a pointer that seccomp cannot read, so with \
      clone rules clone3 gets ENOSYS and libc falls back to clone.

      --for runc|docker: a container runtime installs the filter before its own last \
      steps (with noNewPrivileges false, Docker's default: capset, setgroups, prctl, \
      its Go runtime, execve), so the profile also allows the calls runc was recorded \
      making after it installs the filter (swift run derive-runtime-calls), and \
      --verify runs without no_new_privs as such a container does.

      With --verify, after writing the profile syscage runs the program again under \
      it (no_new_privs set) with every call the profile does not allow sent to \
      the tracer, which prints it on stderr ("denied: ...") and fails it with the \
      profile's errno (EPERM for KILL/TRAP actions, so the run goes on), and \
      compares the exit status with the recording's. The program's standard output is \
      discarded in that second run. The exit status is still the recorded run's. \
      Ctrl-C reaches the program as it would without syscage; the profile is still \
      written.

      Formats: docker, oci (the runtime-spec linux.seccomp object), spo (a \
      security-profiles-operator SeccompProfile; --name), systemd (a [Service] \
      drop-in), k8s-pod (-o is a directory: pod.yaml and profiles/NAME.json).

      Exits with the program's status (128 + signal when it was killed; 0 after \
      detaching); syscage's own failures exit 125 (cannot trace, cannot write the \
      profile), 126 (cannot execute) and 127 (not found). Nothing is written to the \
      program's stdout.

      Examples:
        syscage record -o ls.json -- ls -l /
        syscage record -o app.json --format oci -c -- ./app --selftest
        syscage record -o make.json --verify -- make -j2
        syscage record -o web.json -p 4242          # Ctrl-C to stop
        syscage record -o app2.json --baseline app.json -- ./app --other-mode
        syscage record -o app.json --args --for docker --verify -- ./app
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable {
    case docker, oci, spo, systemd
    case k8sPod = "k8s-pod"
  }

  @Option(name: .shortAndLong, help: "Where to write the profile (a directory for --format k8s-pod).")
  var output: String

  @Option(help: "The profile format.")
  var format: Format = .docker

  @Option(help: "The profile's name, a DNS-1123 subdomain (spo, k8s-pod; default: from -o or the program).")
  var name: String?

  @Flag(name: .customShort("c"), help: "Print an strace -c style table on stderr.")
  var count = false

  @Flag(help: "Print the statistics as JSON on stderr.")
  var json = false

  enum Stops: String, ExpressibleByArgument, CaseIterable {
    case one, two
  }

  @Option(
    help: ArgumentHelp(
      "one: a seccomp stop per call (counts only, sets no_new_privs); two: entry and exit stops (errors and times).",
      discussion: "Defaults to one, or two with -c or --json (one with --baseline)."))
  var stops: Stops?

  @Flag(help: "Run the program again under the profile and report every call it would deny.")
  var verify = false

  @Option(name: [.customShort("p"), .customLong("pid")], help: "Attach to this running process (repeatable).")
  var pids: [Int32] = []

  @Flag(help: "Argument rules for socket families and types, personality, namespaces, prctl options and ioctl requests.")
  var args = false

  @Option(help: ArgumentHelp("A profile whose allowed calls run without stopping; the output adds the new ones.", valueName: "profile"))
  var baseline: String?

  @Option(name: .customLong("for"), help: ArgumentHelp("Add the calls this container runtime makes after installing the filter.", valueName: "runc|docker"))
  var runtime: ContainerRuntime?

  @Option(help: ArgumentHelp("The action for calls not seen: errno (EPERM), errno:NAME|N, kill-process, kill-thread, trap, log.", valueName: "action"))
  var defaultAction: DefaultAction = DefaultAction(action: .errno, errno: nil)

  @Option(
    help: ArgumentHelp(
      "Where the program runs: auto (the default), one (the tracer's CPU), all.",
      discussion: "A ptrace stop hands the CPU from the program to the tracer and back: on one CPU a plain context switch, across CPUs a wake-up of the other CPU (expensive in a VM). auto (the default) keeps the program on the tracer's CPU until it starts a second process or thread or asks for its CPUs (sched_getaffinity), then gives it every CPU it had; one keeps it there (the program sees one CPU: nproc says 1); all leaves it to the scheduler.",
      valueName: "placement"))
  var cpus: CPUPlacement?

  enum Backend: String, ExpressibleByArgument, CaseIterable {
    case ptrace, ebpf
  }

  @Option(
    help: ArgumentHelp(
      "ptrace, or ebpf: count native calls in the kernel (raw_syscalls:sys_enter), non-native ones by ptrace; needs root.",
      valueName: "backend"))
  var backend: Backend = .ptrace

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
    if !pids.isEmpty {
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
    if let baseline, URL(fileURLWithPath: baseline).standardizedFileURL == URL(fileURLWithPath: output).standardizedFileURL {
      throw ValidationError("-o names the --baseline file; write the new profile to another file (syscage never overwrites an input)")
    }
    if baseline != nil && (count || stops == .two) {
      throw ValidationError("--baseline stops only on new calls; -c and --stops two stop on every call (leave them out)")
    }
    if name != nil && format != .spo && format != .k8sPod { throw ValidationError("--name applies to --format spo and k8s-pod only") }
    if let name, !KubernetesPodConversion.isValidName(name) {
      throw ValidationError("--name '\(name)' is not a Kubernetes name; use lower-case letters, digits, '-' and '.'")
    }
  }

  func run() throws {
    let argv = program
    var path: String?
    if let name = argv.first {
      guard let resolved = Launcher.resolve(name) else { throw fail("\(name): command not found", code: 127) }
      path = resolved
    }
    let baselineProfile = try baseline.map(loadBaseline)
    let collector = args ? ArgumentCollector() : nil
    let recording: Recording
    if let path {
      recording = try launch(path, argv, baseline: baselineProfile, observer: collector?.observer())
    } else {
      recording = try attach(observer: collector?.observer())
    }

    var seen = recording.syscallsByArch.mapValues { Set($0.keys) }
    // Calls that stay allowed whatever their arguments: the baseline's and the runtime's.
    var unconditional: Set<String> = []
    let baselineEntries = baselineProfile?.expanded(for: .dockerDefault()).syscalls ?? []
    if let baselineProfile {
      let names = Set(baselineEntries.filter { $0.action == .allow && ($0.args ?? []).isEmpty }.flatMap(\.names))
      for arch in baselineProfile.filterArches(native: .native) { seen[arch, default: []].formUnion(names) }
      unconditional.formUnion(names)
    }
    if let runtime {
      seen[.native, default: []].formUnion(runtime.callsAfterFilter)
      unconditional.formUnion(runtime.callsAfterFilter)
    }
    let builder = ProfileBuilder(defaultAction: defaultAction.action, defaultErrnoRet: defaultAction.errno)
    var profile = builder.build(seen)
    if let collector {
      let (ruled, notes) = ArgumentRules.apply(collector.seen, to: profile, unconditional: unconditional)
      profile = ruled
      for note in notes { printError("syscage: note: \(note)") }
    }
    profile = keepingArgumentRules(of: baselineEntries, in: profile)
    try write(profile)

    for e in recording.unnamed {
      printError("syscage: warning: \(e.arch) syscall \(e.number) has no name in the table; it is not in the profile")
    }
    if recording.unplaced > 0 {
      printError("syscage: warning: \(recording.unplaced) calls of an unknown ABI or number were not recorded")
    }
    if count { FileHandle.standardError.write(Data(StraceTable(recording).text.utf8)) }
    var verification: Verification?
    if verify, let path {
      verification = runVerification(path, argv, profile: profile, recorded: recording.termination)
    }
    if json {
      var object = jsonObject(recording)
      if let v = verification {
        object["verify"] = [
          "status": Int(v.termination.shellStatus), "same": v.termination == recording.termination,
          "deniedCount": v.deniedCount,
          "denied": v.denials.map { d -> [String: Any] in
            [
              "name": d.name, "arch": d.arch.name, "number": Int(d.number.rawValue), "errno": Int(d.errno),
              "args": d.arguments.map { "0x" + String($0, radix: 16) }, "action": "\(d.action)",
            ]
          },
        ] as [String: Any]
      }
      printError(jsonLine(object))
    }
    if recording.detached {
      printError("syscage: detached from \(pids.map(String.init).joined(separator: ", ")); they run on")
      throw ExitCode.success
    }
    throw ExitCode(recording.termination.shellStatus)
  }

  /// Starts the program and records it (ptrace, one or two stops, or against a baseline).
  func launch(_ path: String, _ argv: [String], baseline: Profile?, observer: CallObserver?) throws -> Recording {
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
  func attach(observer: CallObserver?) throws -> Recording {
    if let missing = pids.first(where: { !FileManager.default.fileExists(atPath: "/proc/\($0)") }) {
      throw fail("no process \(missing)", code: ExitStatus.usage)
    }
    let list = pids.map(String.init).joined(separator: ", ")
    printError(
      "syscage: attaching to \(list): calls made before now are not seen; attached processes stop twice per call (no filter can be added to a running process); Ctrl-C stops recording and detaches"
    )
    do {
      return try Recorder.attach(pids: pids, timing: timing, observer: observer)
    } catch {
      throw fail("\(error)", code: error.errno == ESRCH ? ExitStatus.usage : 125)
    }
  }

  /// `profile` with the baseline's conditional ALLOW entries added, for the calls the
  /// profile does not allow unconditionally: the output is the baseline plus what is new.
  func keepingArgumentRules(of baseline: [SyscallEntry], in profile: Profile) -> Profile {
    var profile = profile
    var syscalls = profile.syscalls ?? []
    let allowed = Set(syscalls.filter { $0.action == .allow && ($0.args ?? []).isEmpty }.flatMap(\.names))
    for entry in baseline where entry.action == .allow && !(entry.args ?? []).isEmpty {
      var kept = entry
      kept.names = entry.names.filter { !allowed.contains($0) }
      let duplicate = syscalls.contains { $0.names == kept.names && $0.args == kept.args && $0.action == kept.action }
      if !kept.names.isEmpty && !duplicate { syscalls.append(kept) }
    }
    profile.syscalls = syscalls.isEmpty ? nil : syscalls
    return profile
  }

  /// Loads --baseline; bad input ends the command with 65.
  func loadBaseline(_ path: String) throws -> Profile {
    do {
      let loaded = try Profile.load(path: path)
      for w in loaded.warnings { printError(w.description) }
      return loaded.profile
    } catch {
      throw fail(error)
    }
  }

  /// Writes the profile to -o in --format.
  func write(_ profile: Profile) throws {
    let host = ConversionTarget(context: .dockerDefault(), arches: profile.architectures)
    let header = ["Recorded by syscage from: \(program.isEmpty ? "processes " + pids.map(String.init).joined(separator: ", ") : program.joined(separator: " "))."]
    let inputs = [baseline].compactMap { $0 }
    switch format {
    case .docker, .oci:
      try writeOutput(Array(profile.encode(format: format == .oci ? .oci : .docker).utf8), to: output, inputs: inputs, failure: 125)
    case .spo:
      let spo = SPOConversion(profile: profile, target: host, name: try profileName(), header: header)
      for w in spo.warnings { printError("syscage: warning: \(w)") }
      try writeOutput(Array(spo.yaml.utf8), to: output, inputs: inputs, failure: 125)
    case .systemd:
      let unit = SystemdConversion(profile: profile, target: host, header: header)
      for note in unit.notes { printError("syscage: note: \(note)") }
      for w in unit.warnings { printError("syscage: warning: \(w)") }
      try writeOutput(Array(unit.text.utf8), to: output, inputs: inputs, failure: 125)
    case .k8sPod:
      let pod = KubernetesPodConversion(profile: profile, target: host, name: try profileName(), header: header)
      try writeKubernetes(pod, into: output, inputs: inputs, failure: 125)
    }
  }

  /// --name, else a Kubernetes name from -o's base name, else from the program.
  func profileName() throws -> String {
    if let name { return name }
    if let derived = KubernetesPodConversion.name(fromPath: output) { return derived }
    if let first = program.first, let derived = KubernetesPodConversion.name(fromPath: first) { return derived }
    throw fail("cannot make a Kubernetes name from '\(output)'; give --name", code: ExitStatus.usage)
  }

  /// Runs the program again under the profile, its standard output discarded, and reports.
  func runVerification(_ path: String, _ argv: [String], profile: Profile, recorded: Termination) -> Verification? {
    let noNewPrivileges = runtime == nil || geteuid() != 0
    if runtime != nil && geteuid() != 0 {
      printError("syscage: verify: without root the filter needs no_new_privs; a \(runtime!.rawValue) container with noNewPrivileges false runs without it")
    }
    let savedStdout = dup(1)
    let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
    if savedStdout >= 0 && null >= 0 { dup2(null, 1) }
    defer {
      if savedStdout >= 0 {
        dup2(savedStdout, 1)
        close(savedStdout)
      }
      if null >= 0 { close(null) }
    }
    do {
      let v = try Verifier.verify(executable: path, arguments: argv, profile: profile, noNewPrivileges: noNewPrivileges)
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

  func jsonObject(_ r: Recording) -> [String: Any] {
    var arches: [String: Any] = [:]
    for arch in r.arches {
      var calls: [String: Any] = [:]
      for e in r.entries where e.arch == arch {
        calls[e.name] = [
          "number": Int(e.number.rawValue), "calls": e.statistics.calls, "errors": e.statistics.errors,
          "seconds": e.statistics.seconds,
        ]
      }
      arches[arch.name] = calls
    }
    var termination: [String: Any] = ["status": Int(r.termination.shellStatus)]
    switch r.termination {
    case .exited(let code): termination["exited"] = Int(code)
    case .signaled(let sig): termination["signal"] = Int(sig)
    }
    if r.detached { termination = ["detached": true] }
    return [
      "pid": Int(r.pid), "termination": termination, "arches": arches, "profile": output, "tracees": r.tracees,
      "stops": backend == .ebpf ? "none" : (r.oneStop ? "one" : "two"), "backend": backend.rawValue,
    ]
  }
}

/// `--default-action`: an action and, for errno, its number.
struct DefaultAction: ExpressibleByArgument {
  var action: ActionName
  var errno: UInt32?

  init(action: ActionName, errno: UInt32?) {
    self.action = action
    self.errno = errno
  }

  init?(argument: String) {
    let parts = argument.split(separator: ":", maxSplits: 1).map(String.init)
    var name = parts[0].uppercased().replacingOccurrences(of: "-", with: "_")
    if !name.hasPrefix("SCMP_ACT_") { name = "SCMP_ACT_" + name }
    guard let action = ActionName(rawValue: name), action != .allow, action != .notify, action != .trace else { return nil }
    self.action = action
    if parts.count == 2 {
      guard action == .errno else { return nil }
      if let n = UInt32(parts[1]), n > 0, n < 4096 {
        errno = n
      } else if let n = ConversionTables.errnoNames.first(where: { $0.value == parts[1].uppercased() })?.key {
        errno = UInt32(n)
      } else {
        return nil
      }
    }
  }

  static var allValueStrings: [String] { ["errno", "errno:ENOSYS", "kill-process", "kill-thread", "trap", "log"] }

  var defaultValueDescription: String {
    let name = action.rawValue.dropFirst("SCMP_ACT_".count).lowercased().replacingOccurrences(of: "_", with: "-")
    return errno.map { "\(name):\($0)" } ?? name
  }
}

extension ContainerRuntime: ExpressibleByArgument {}
extension CPUPlacement: ExpressibleByArgument {}
