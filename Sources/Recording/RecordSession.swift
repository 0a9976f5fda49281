import Foundation
import Host
import Processes
import Profiles
import Seccomp
import Syscalls

/// How the calls are counted: ptrace stops, or eBPF in the kernel (native calls).
public enum RecordBackend: String, CaseIterable, Sendable {
  case ptrace, ebpf
}

/// What `record` is asked to do, as values: what runs (a program or processes to attach
/// to), how often, how it is recorded, and how the profile is made.
public struct RecordPlan: Sendable {
  /// The program and its arguments (its name is resolved on `PATH`); empty with `pids`.
  public var program: [String]
  /// The processes to attach to instead of starting a program.
  public var pids: [Int32]
  /// How many times the program runs (their union is recorded).
  public var runs: Int
  /// Run the program again under the profile and report what it denies.
  public var verify: Bool
  /// With `verify`: add the denied calls and verify again, up to `RecordSession.amendRounds`.
  public var amend: Bool
  /// Two stops per call (errors and times), else one.
  public var timing: Bool
  public var backend: RecordBackend
  /// Where a started program runs.
  public var cpus: CPUPlacement
  /// Argument rules for the calls `ArgumentRules` knows (`--args`).
  public var argumentRules: Bool
  /// The `--baseline` profile's path: its calls run without a stop, and the profile is it
  /// plus the new calls (loaded by `RecordSession.loadBaseline` once the program is found).
  public var baseline: String?
  /// The profile's default action.
  public var defaultAction: DefaultActionArgument
  /// The container runtime whose calls after its filter the profile allows.
  public var runtime: RuntimeSelection
  /// Whether `runtime` was chosen (`--for`) rather than the format's: then verification
  /// runs as such a container runs, without no_new_privs when the runtime may.
  public var runtimeChosen: Bool
  /// Allow the occasional calls of the language runtimes the program is built on.
  public var languageRuntimes: Bool
  /// Whether a profile is written (the container runtime's added calls are said then).
  public var writesProfile: Bool
  /// Print strace -c's table (`RecordEvent.text`) before the profile is written.
  public var table: Bool

  public init(
    program: [String], pids: [Int32] = [], runs: Int = 1, verify: Bool = false, amend: Bool = false, timing: Bool = false,
    backend: RecordBackend = .ptrace, cpus: CPUPlacement = .auto, argumentRules: Bool = false, baseline: String? = nil,
    defaultAction: DefaultActionArgument = .errnoEPERM, runtime: RuntimeSelection = RuntimeSelection(.oci), runtimeChosen: Bool = false,
    languageRuntimes: Bool = true, writesProfile: Bool = true, table: Bool = false
  ) {
    self.program = program
    self.pids = pids
    self.runs = runs
    self.verify = verify
    self.amend = amend
    self.timing = timing
    self.backend = backend
    self.cpus = cpus
    self.argumentRules = argumentRules
    self.baseline = baseline
    self.defaultAction = defaultAction
    self.runtime = runtime
    self.runtimeChosen = runtimeChosen
    self.languageRuntimes = languageRuntimes
    self.writesProfile = writesProfile
    self.table = table
  }

  /// How `ProfileAssembly.assemble` makes the profile of this plan, against `baseline`.
  public func profileOptions(baseline: Profile?) -> ProfileOptions {
    ProfileOptions(
      defaultAction: defaultAction.action, defaultErrnoRet: defaultAction.errno, baseline: baseline,
      containerRuntime: runtime, argumentRules: argumentRules, languageRuntimes: languageRuntimes)
  }

  /// Verification runs without no_new_privs when a chosen runtime runs containers that
  /// way (noNewPrivileges false) and this process is root.
  public var verifiesAsAContainer: Bool {
    runtimeChosen && runtime.modes.contains(false) && !runtime.isNone
  }
}

/// What a recording session says while it works, for the command line to print on
/// standard error.
public enum RecordEvent: Sendable, Equatable {
  /// `syscage: note: TEXT`.
  case note(String)
  /// `syscage: warning: TEXT`.
  case warning(String)
  /// `syscage: TEXT` (progress, verification, amendments).
  case message(String)
  /// A line as it is (an input's diagnostic).
  case line(String)
  /// Text as it is (strace -c's table).
  case text(String)
}

/// A failure that ends the command: the message (after `syscage: `) or the input's
/// diagnostics, and what kind of failure it is (the command line maps it to an exit status).
public struct RecordFailure: Error, Sendable, CustomStringConvertible {
  /// What went wrong, as far as the caller's answer depends on it.
  public enum Kind: Sendable, Equatable {
    /// The command line asked for something impossible (no such process, a zombie, no name).
    case usage
    /// An input (a baseline, a profile) is invalid.
    case badInput
    /// The program is not on PATH.
    case commandNotFound
    /// The program could not be started: the launch step that failed.
    case launch(Launcher.Failure)
    /// syscage itself failed (tracing, attaching, the kernel).
    case failed
  }

  /// The message, nil when the diagnostics say it.
  public var message: String?
  public var diagnostics: [Diagnostic]
  public var kind: Kind

  public init(_ message: String, _ kind: Kind) {
    self.message = message
    diagnostics = []
    self.kind = kind
  }

  public init(_ error: InputError) {
    message = nil
    diagnostics = error.diagnostics
    kind = .badInput
  }

  public var description: String { message ?? diagnostics.map(\.description).joined(separator: "\n") }
}

/// What a recording session made: the runs, the profile, and the verification.
public struct RecordOutcome: Sendable {
  /// The runs and what their observers collected.
  public var recorded: RecordedRuns
  /// The runs as one recording (`RecordedRuns.merged`).
  public var recording: RecordedRun
  /// The profile last written, with what its assembly added.
  public var assembled: AssembledProfile
  /// The last verification run (nil without `verify`, or when it could not run).
  public var verification: Verification?
  public var amendments: [Amendment]
  /// The first run's standard input and output kinds, replayed for the later runs.
  public var replay: ReplayConditions?

  /// The exit status of the program's first run.
  public var programStatus: Int32 { recorded.runs[0].termination.shellStatus }
}

/// `record`: runs (or attaches to) the program, records it, makes its profile, hands it
/// to `write`, and with `verify` runs it again under the profile (amending and writing
/// again with `amend`). `report` is told what happens, in order.
public enum RecordSession {
  /// How many times `amend` adds calls and verifies again at most.
  public static let amendRounds = 3

  /// Loads a `--baseline` profile: bad input and a profile that disables seccomp are
  /// failures (65); its warnings, and a warning when it allows io_uring, are reported.
  public static func loadBaseline(_ path: String, report: (RecordEvent) -> Void) throws(RecordFailure) -> Profile {
    let loaded: (profile: Profile, warnings: [Diagnostic])
    do {
      loaded = try Profile.load(path: path)
    } catch {
      throw RecordFailure(error)
    }
    for w in loaded.warnings { report(.line(w.description)) }
    if loaded.profile.isDisabled {
      throw RecordFailure(
        "--baseline " + Profile.disabledMessage(path, warnings: loaded.warnings) + ": there are no decisions to keep", .badInput)
    }
    let options = PolicyOptions(context: ExpansionContext(native: .native, capabilities: Capabilities.bounding(), kernel: .running))
    if let warning = Lint.ioUringWarning(loaded.profile, named: path, options: options) { report(.warning(warning)) }
    return loaded.profile
  }

  /// Runs `plan` (see the type). `write` is called with each profile made (after the
  /// recording, and after each amendment); what it throws ends the session.
  public static func run(
    _ plan: RecordPlan, report: @escaping (RecordEvent) -> Void, write: (Profile) throws -> Void
  ) throws -> RecordOutcome {
    let argv = plan.program
    var path: String?
    if let name = argv.first {
      guard let resolved = Launcher.resolve(name) else { throw RecordFailure("\(name): command not found", .commandNotFound) }
      path = resolved
    }
    var baseline: (profile: Profile, path: String)?
    if let path = plan.baseline { baseline = (try loadBaseline(path, report: report), path) }
    let collector = plan.argumentRules ? ArgumentCollector() : nil
    let baselineCollector = baseline.map { BaselineCollector(baseline: $0.profile) }
    let later = plan.verify || plan.runs > 1
    let replay = path != nil && later ? ReplayConditions() : nil
    var recorded = RecordedRuns(runs: [])
    var changes: RunObserver?
    let faults = RecordFaults(privilegesDropped: RecordFaults.privilegesDropped(noNewPrivileges: path != nil && !plan.timing)) {
      report(.warning($0))
    }
    if let path, plan.backend != .ebpf { faults.checkExecutable(path) }
    for index in 0..<max(1, plan.runs) {
      let watcher = RunObserver(watchChanges: index == 0 && later)
      let observer =
        plan.backend == .ebpf
        ? nil
        : CallObserver.combined([collector?.observer(), baselineCollector?.observer(), watcher.observer(), faults.observer()].compactMap { $0 })
      let recording: RecordedRun
      if let path {
        let start = { [baseline] in try launch(path, argv, plan, baseline: baseline, observer: observer, report: report) }
        if let replay, index > 0 {
          recording = try replay.again(start)
        } else if let replay {
          recording = try replay.first(start)
        } else {
          recording = try start()
        }
        if index == 0 { changes = watcher }
        for exe in [path] + watcher.executables where !recorded.executables.contains(exe) { recorded.executables.append(exe) }
      } else {
        for pid in plan.pids {
          if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe") { recorded.executables.append(exe) }
        }
        recording = try attach(plan, observer: observer, report: report)
        for exe in watcher.executables where !recorded.executables.contains(exe) { recorded.executables.append(exe) }
      }
      if let first = recorded.runs.first, recording.termination != first.termination {
        report(.note("run \(index + 1) \(recording.termination) (run 1: \(first.termination))"))
      }
      recorded.runs.append(recording)
      if index + 1 < plan.runs, case .signaled(let sig) = recording.termination, [SIGINT, SIGTERM, SIGHUP].contains(sig) {
        report(.note("run \(index + 1) ended by signal \(sig); no more runs (\(index + 1) of \(plan.runs) recorded)"))
        break
      }
    }
    recorded.arguments = collector?.seen ?? [:]
    recorded.argumentsOverflowed = collector?.overflowed ?? []
    recorded.baselineRefused = plan.backend == .ebpf ? nil : baselineCollector?.refused
    let recording = recorded.merged
    if let changes, changes.changeCount > 0 {
      let shown = changes.changedFiles.prefix(3).joined(separator: ", ")
      report(
        .note(
          "the first run changed files or opened them for writing (\(shown)\(changes.changedFiles.count > 3 ? ", ..." : "")): later runs start from what it left, not from what it found"
        ))
    }
    for note in replay?.notes ?? [] { report(.note(note)) }

    let options = plan.profileOptions(baseline: baseline?.profile)
    var assembled = ProfileAssembly.assemble(recorded, options: options)
    for note in assembled.notes { report(.note(note)) }
    if !assembled.containerCalls.isEmpty && plan.writesProfile {
      report(.note(plan.runtime.addedNote(assembled.containerCalls, what: "the program did not make")))
    }
    if let warning = tooLongWarning(assembled.profile, what: "the recorded profile") { report(.warning(warning)) }
    for (runtime, calls) in assembled.runtimeCalls {
      report(.note("\(runtime.rawValue) runtime detected: also allowing \(calls.joined(separator: ", ")) (\(runtime.comment))"))
    }
    if !assembled.occasional.isEmpty {
      let list = assembled.occasional.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map { "\($0.key) \($0.value)/\(recorded.runs.count)" }
      report(.note("calls seen in some runs only: \(list.joined(separator: ", "))"))
    }
    // The table first: a write that fails after the run still leaves it on the screen.
    for e in recording.unnamed {
      report(.warning("\(e.arch) syscall \(e.number) has no name in the table; it is not in the profile"))
    }
    if recording.unplaced > 0 {
      report(.warning("\(recording.unplaced) calls of an unknown ABI or number were not recorded"))
    }
    if plan.table {
      var table = StraceTable(recording)
      if recorded.runs.count > 1 { table.runs = (recorded.runCounts, recorded.runs.count) }
      report(.text(table.text))
    }
    try write(assembled.profile)

    var verification: Verification?
    var amendments: [Amendment] = []
    if plan.verify, let path {
      let first = recorded.runs[0].termination
      verification = verify(path, argv, plan, profile: assembled.profile, recorded: first, replay: replay, report: report)
      while plan.amend, let v = verification, v.deniedCount > 0, amendments.count < amendRounds {
        let amendment = Amendment(round: amendments.count + 1, denials: v.denials, argumentRules: plan.argumentRules)
        if amendment.isEmpty {
          report(.message("amend: the denied calls have no name in the table; nothing to add"))
          break
        }
        amendments.append(amendment)
        assembled = ProfileAssembly.assemble(recorded, options: options, amendments: amendments)
        for line in amendment.lines(denials: v.denials) { report(.message("amend: \(line)")) }
        try write(assembled.profile)
        verification = verify(path, argv, plan, profile: assembled.profile, recorded: first, replay: replay, report: report)
      }
      if plan.amend, let v = verification, v.deniedCount > 0 {
        report(.message("amend: calls still denied after \(amendments.count) rounds; the profile has what was added"))
      }
    }
    return RecordOutcome(
      recorded: recorded, recording: recording, assembled: assembled, verification: verification, amendments: amendments, replay: replay)
  }

  /// The warning when `profile`'s filter is longer than the running kernel takes on some
  /// ABI it lists (nil when it fits, or disables seccomp).
  public static func tooLongWarning(_ profile: Profile, what: String) -> String? {
    guard !profile.isDisabled else { return nil }
    let size = ProgramSize(profile: profile, kernel: .running)
    return size.fits ? nil : "\(what): its filter is too long for the kernel to load: \(size)"
  }

  /// Starts the program and records it (ptrace, one or two stops, or against a baseline; or eBPF).
  static func launch(
    _ path: String, _ argv: [String], _ plan: RecordPlan, baseline: (profile: Profile, path: String)?, observer: CallObserver?,
    report: @escaping (RecordEvent) -> Void
  ) throws(RecordFailure) -> RecordedRun {
    let notice = { (text: String) in report(.message(text)) }
    if plan.backend == .ebpf {
      do {
        return try EBPFRecorder.record(executable: path, arguments: argv, notice: notice)
      } catch {
        throw RecordFailure("\(argv[0]): \(error)", error.launchFailure.map { .launch($0) } ?? .failed)
      }
    }
    var filter = Recorder.traceAll
    if let baseline {
      do {
        // The baseline's calls do not stop, execve and file changes included: runtimes
        // are detected from the program's own executable.
        filter = try Recorder.baselineFilter(baseline.profile, tracing: plan.argumentRules ? Set(ArgumentRules.arguments.keys) : [])
      } catch {
        throw RecordFailure("--baseline \(baseline.path): cannot compile it: \(error)", .badInput)
      }
    }
    do {
      return try Recorder.record(
        executable: path, arguments: argv, timing: plan.timing, oneStop: !plan.timing, filter: filter, observer: observer,
        cpus: plan.cpus, notice: notice)
    } catch {
      throw RecordFailure("\(argv[0]): \(error)", .launch(error))
    }
  }

  /// Attaches to the plan's processes and records until they end or Ctrl-C.
  static func attach(_ plan: RecordPlan, observer: CallObserver?, report: (RecordEvent) -> Void) throws(RecordFailure) -> RecordedRun {
    let pids = plan.pids
    if let missing = pids.first(where: { !FileManager.default.fileExists(atPath: "/proc/\($0)") }) {
      throw RecordFailure("no process \(missing)", .usage)
    }
    if let zombie = pids.first(where: { Recorder.isZombie($0) }) {
      throw RecordFailure("process \(zombie) is a zombie (it has exited; its parent has not reaped it): nothing to record", .usage)
    }
    let list = pids.map(String.init).joined(separator: ", ")
    report(
      .message(
        "attaching to \(list): calls made before now are not seen; attached processes stop twice per call (no filter can be added to a running process); Ctrl-C stops recording and detaches"
      ))
    do {
      return try Recorder.attach(pids: pids, timing: plan.timing, observer: observer)
    } catch {
      throw RecordFailure("\(error)", error.errno == .noSuchProcess ? .usage : .failed)
    }
  }

  /// Runs the program again under the profile, with the first run's standard input and
  /// a standard output of the same kind (discarded), and reports; nil when it cannot run.
  static func verify(
    _ path: String, _ argv: [String], _ plan: RecordPlan, profile: Profile, recorded: Termination, replay: ReplayConditions?,
    report: (RecordEvent) -> Void
  ) -> Verification? {
    // As the container runs: without no_new_privs when --for names a runtime that may.
    let container = plan.verifiesAsAContainer
    let noNewPrivileges = !container || geteuid() != 0
    if container && geteuid() != 0 {
      report(.message("verify: without root the filter needs no_new_privs; a \(plan.runtime.target) container with noNewPrivileges false runs without it"))
    }
    do {
      let run = { () throws(Recorder.Failure) -> Verification in
        try Verifier.verify(executable: path, arguments: argv, profile: profile, noNewPrivileges: noNewPrivileges)
      }
      let v = try replay.map { r in try r.again { try run() } } ?? run()
      for line in v.lines(recorded: recorded) { report(.message(line)) }
      return v
    } catch {
      report(.message("verify: cannot run \(argv[0]) under the profile: \(error)"))
      return nil
    }
  }
}

extension Verification {
  /// What a verification says (each after `syscage: `): the denials kept, how many more
  /// there were, and whether the program ran as it did when `recorded`.
  public func lines(recorded: Termination) -> [String] {
    var lines = denials.map { "denied: \($0.description)" }
    if deniedCount > denials.count {
      lines.append("… and \(deniedCount - denials.count) more denied calls")
    }
    if termination == recorded && deniedCount == 0 {
      lines.append("verify: the program ran the same under the profile (\(termination)), no call denied")
    } else if termination == recorded {
      lines.append("verify: \(deniedCount) calls denied; the exit status is the same (\(termination))")
    } else {
      lines.append("verify: DIFFERS: under the profile the program \(termination) (recorded: \(recorded)); \(deniedCount) calls denied")
    }
    return lines
  }
}

extension Amendment {
  /// What the round added and why: each call with its first denial's arguments.
  public func lines(denials: [Denial]) -> [String] {
    var lines: [String] = []
    for (arch, names) in calls.sorted(by: { $0.key.name < $1.key.name }) {
      for name in names.sorted() {
        let d = denials.first { $0.arch == arch && $0.name == name }
        let argsText = d.map { " args " + $0.arguments.map { "0x" + String($0, radix: 16) }.joined(separator: ", ") } ?? ""
        lines.append("round \(round): added \(name) (\(arch.name)): denied in verification\(argsText)")
      }
    }
    for (arch, calls) in arguments.sorted(by: { $0.key.name < $1.key.name }) {
      for (name, keys) in calls.sorted(by: { $0.key < $1.key }) {
        let values = keys.map { $0.map { "0x" + String($0, radix: 16) }.joined(separator: "/") }.sorted()
        lines.append("round \(round): added an argument rule for \(name) (\(arch.name)) \(values.joined(separator: ", ")): denied in verification")
      }
    }
    return lines
  }
}
