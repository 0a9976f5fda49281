import BPF
import Processes
import Foundation
import Host
import Profiles
import Seccomp
import Syscalls

/// One or more recordings of the same program, and what their observers collected.
public struct RecordedRuns: Sendable {
  /// The runs, the first one first (its termination is the command's).
  public var runs: [RecordedRun]
  /// The capability arguments seen in any run (`record --args`), per ABI and call.
  public var arguments: [Arch: [String: Set<[UInt64]>]]
  /// The executables the runs started (execve, execveat), in the order first seen.
  public var executables: [String]
  /// With `--baseline`, per ABI, the calls the baseline decides by their arguments that
  /// a run made with arguments the baseline refuses (`BaselineCollector`); nil when not
  /// observed (then such a call counts as refused).
  public var baselineRefused: [Arch: Set<String>]?
  /// The calls whose distinct capability arguments went over what `ArgumentCollector`
  /// keeps: they get no argument rules.
  public var argumentsOverflowed: Set<String> = []

  public init(runs: [RecordedRun], arguments: [Arch: [String: Set<[UInt64]>]] = [:], executables: [String] = []) {
    self.runs = runs
    self.arguments = arguments
    self.executables = executables
  }

  /// Per ABI, per call name, how many runs made it.
  public var runCounts: [Arch: [String: Int]] {
    var counts: [Arch: [String: Int]] = [:]
    for run in runs {
      for (arch, calls) in run.syscallsByArch {
        for name in calls.keys { counts[arch, default: [:]][name, default: 0] += 1 }
      }
    }
    return counts
  }

  /// Per call name (any ABI), how many runs made it.
  public var runCountsByName: [String: Int] {
    var counts: [String: Int] = [:]
    for run in runs {
      for name in Set(run.syscallsByArch.values.flatMap(\.keys)) { counts[name, default: 0] += 1 }
    }
    return counts
  }

  /// The runs as one recording: statistics summed per ABI and number, the first run's
  /// termination and pid.
  public var merged: RecordedRun {
    guard var first = runs.first else { return RecordedRun(entries: [], termination: .exited(0)) }
    var sums: [RecordedRun.Entry] = []
    var index: [Int64: Int] = [:]
    for run in runs {
      for e in run.entries {
        let key = Int64(Arch.all.firstIndex(of: e.arch) ?? 0) << 32 | Int64(e.number.rawValue)
        if let i = index[key] {
          sums[i].statistics = sums[i].statistics + e.statistics
        } else {
          index[key] = sums.count
          sums.append(e)
        }
      }
    }
    first.entries = sums
    first.unplaced = runs.reduce(0) { $0 + $1.unplaced }
    first.tracees = runs.reduce(0) { $0 + $1.tracees }
    return first
  }
}

/// The calls a profile is made from: the runs of a recording, the calls an import read
/// (strace, audit records, a list of names), or the calls a watch saw outside its profile.
public struct ObservedCalls: Sendable {
  /// Per run, per ABI, the names of the calls made (one run for an import or a watch).
  public var runs: [[Arch: Set<String>]]
  /// The capability arguments seen (`record --args`), per ABI and call.
  public var arguments: [Arch: [String: Set<[UInt64]>]]
  /// The executables the program ran, for the language runtimes they are built on.
  public var executables: [String]
  /// See `RecordedRuns.baselineRefused`.
  public var baselineRefused: [Arch: Set<String>]?
  /// See `RecordedRuns.argumentsOverflowed`.
  public var argumentsOverflowed: Set<String>

  /// One run that made `calls`, with nothing else known of it.
  public init(_ calls: [Arch: Set<String>]) {
    runs = [calls]
    arguments = [:]
    executables = []
    baselineRefused = nil
    argumentsOverflowed = []
  }

  /// What `recorded` saw.
  public init(_ recorded: RecordedRuns) {
    runs = recorded.runs.map { $0.syscallsByArch.mapValues { Set($0.keys) } }
    arguments = recorded.arguments
    executables = recorded.executables
    baselineRefused = recorded.baselineRefused
    argumentsOverflowed = recorded.argumentsOverflowed
  }

  /// Per ABI, per call name, how many runs made it.
  public var runCounts: [Arch: [String: Int]] {
    var counts: [Arch: [String: Int]] = [:]
    for run in runs {
      for (arch, names) in run {
        for name in names { counts[arch, default: [:]][name, default: 0] += 1 }
      }
    }
    return counts
  }

  /// Per call name (any ABI), how many runs made it.
  public var runCountsByName: [String: Int] {
    var counts: [String: Int] = [:]
    for run in runs {
      for name in Set(run.values.joined()) { counts[name, default: 0] += 1 }
    }
    return counts
  }
}

/// Which calls a run made with arguments a `--baseline` profile refuses, for the calls
/// the baseline decides by their arguments (the others it allows or refuses whole).
public final class BaselineCollector: @unchecked Sendable {
  let policy: Policy
  /// Per ABI, the calls made at least once with arguments the baseline refuses.
  public private(set) var refused: [Arch: Set<String>] = [:]

  public init(baseline: Profile) { policy = Policy(profile: baseline, options: PolicyOptions(context: HostFacts.dockerDefault())) }

  /// The observer to pass to the recorder: it sees the calls that have conditional rules.
  public func observer() -> CallObserver {
    var calls: [Arch: Set<SyscallNumber>] = [:]
    for arch in policy.arches { calls[arch.arch] = Set(arch.rules.filter { !$0.conditions.isEmpty }.map(\.number)) }
    return CallObserver(calls: calls) { [self] call in
      guard let name = call.name, let arch = policy.policy(for: call.arch) else { return }
      let args = call.arguments + Array(repeating: 0, count: max(0, 6 - call.arguments.count))
      if arch.decide(nr: call.number.word, args: args).action != .allow {
        refused[call.arch, default: []].insert(name)
      }
    }
  }
}

/// Calls added to a profile after a verification run denied them (`record --verify --amend`).
public struct Amendment: Sendable, Hashable {
  /// The verification round (1 for the first) whose denials these are.
  public var round: Int
  /// The denied calls, per ABI.
  public var calls: [Arch: Set<String>]
  /// The capability arguments of denied calls that have argument rules, per ABI and call.
  public var arguments: [Arch: [String: Set<[UInt64]>]]

  /// The amendment for `denials`: every named call, and for a call with argument rules
  /// (when `argumentRules`) the denied value instead of the whole call.
  public init(round: Int, denials: [Denial], argumentRules: Bool) {
    self.round = round
    var calls: [Arch: Set<String>] = [:]
    var arguments: [Arch: [String: Set<[UInt64]>]] = [:]
    for d in denials where d.arch.number(of: d.name) != nil {
      let call = TracedCall(thread: d.thread, arch: d.arch, number: d.number, arguments: d.arguments)
      if argumentRules, let key = ArgumentRules.key(of: call) {
        arguments[d.arch, default: [:]][d.name, default: []].insert(key)
      } else {
        calls[d.arch, default: []].insert(d.name)
      }
    }
    self.calls = calls
    self.arguments = arguments
  }

  /// Whether it adds nothing.
  public var isEmpty: Bool { calls.values.allSatisfy(\.isEmpty) && arguments.values.allSatisfy(\.isEmpty) }
}

/// How `ProfileAssembly.assemble` makes a profile.
public struct ProfileOptions: Sendable {
  /// The action for calls not allowed, and its errno for ERRNO.
  public var defaultAction: ActionName
  public var defaultErrnoRet: UInt32?
  /// A profile whose calls (and argument rules) the output keeps (`--baseline`).
  /// With a baseline, the output is the baseline with the new calls added: its default
  /// action, architectures, entries, argument conditions and comments are kept, and
  /// `defaultAction` is not used.
  public var baseline: Profile?
  /// The container runtime whose calls after installing the filter are allowed (`--for`):
  /// those the program did not make go in an entry of their own, commented with the
  /// runtime and its noNewPrivileges modes. nil or `none` adds nothing.
  public var containerRuntime: RuntimeSelection?
  /// How `baseline` takes the new calls: kept decisions plus what the baseline's default
  /// refuses (`record --baseline`), or learnt (`watch --learn`).
  public var baselineUse: BaselineUse
  /// Argument rules from the recorded capability arguments (`--args`).
  public var argumentRules: Bool
  /// Allow the occasional calls of the language runtimes the executables are built on.
  public var languageRuntimes: Bool

  public init(
    defaultAction: ActionName = .errno, defaultErrnoRet: UInt32? = nil, baseline: Profile? = nil,
    containerRuntime: RuntimeSelection? = nil, argumentRules: Bool = false, languageRuntimes: Bool = true,
    baselineUse: BaselineUse = .extend
  ) {
    self.defaultAction = defaultAction
    self.defaultErrnoRet = defaultErrnoRet
    self.baseline = baseline
    self.baselineUse = baselineUse
    self.containerRuntime = containerRuntime
    self.argumentRules = argumentRules
    self.languageRuntimes = languageRuntimes
  }
}

/// How a baseline profile takes the calls observed.
public enum BaselineUse: Sendable, Hashable {
  /// Every decision of the baseline is kept; the calls its default action refuses are
  /// allowed (`ProfileAssembly.extending`), with the recording's entries and comments.
  case extend
  /// The baseline learns the calls: one ALLOW entry per ABI ("seen by syscage watch"),
  /// the names taken out of the entries that refuse them (`Profile.learning`); no other
  /// option applies.
  case learn
}

/// A profile and what went into it beyond the calls every run made.
public struct AssembledProfile: Sendable {
  public var profile: Profile
  /// Notes for the user (argument rules).
  public var notes: [String]
  /// Per detected runtime, the calls its entry adds (not made in every run), sorted.
  public var runtimeCalls: [(runtime: LanguageRuntime, calls: [String])]
  /// The calls made in some runs only and explained by no runtime: name → runs.
  public var occasional: [String: Int]
  /// The runtimes detected in the executables, whether or not they added a call.
  public var runtimes: [LanguageRuntime]
  /// The container runtime's calls in their own entry (the program did not make them), sorted.
  public var containerCalls: [String] = []
  /// With `BaselineUse.learn`: the names taken out of the baseline's refusing entries, sorted.
  public var unrefused: [String] = []
}

/// Turns recordings and options into the profile `record` writes.
///
/// The entries: one ALLOW entry for the calls every run made plus the guard rails (and
/// the baseline's calls); one ALLOW entry for the container runtime's calls the program
/// did not make, its comment naming the runtime and modes; one ALLOW entry per detected language
/// runtime for its occasional calls that not every run made, its comment saying why; with
/// several runs, one ALLOW entry per count for the other calls some runs made ("seen in 2
/// of 5 recorded runs"); one per amendment round ("denied in verification round 1");
/// ERRNO(ENOSYS) for the libc fallbacks not seen; then the argument rules (`--args`) and
/// the baseline's conditional entries.
///
/// `record`, `import` and `watch --learn` all make their profile here: an import is one
/// run without runtimes or arguments (the allow-list `ProfileBuilder` makes), a watch's
/// learnt profile its profile as baseline with `BaselineUse.learn`.
public enum ProfileAssembly {
  /// The profile for recorded runs (see the type).
  public static func assemble(_ recorded: RecordedRuns, options: ProfileOptions, amendments: [Amendment] = [])
    -> AssembledProfile
  {
    assemble(ObservedCalls(recorded), options: options, amendments: amendments)
  }

  /// The profile for observed calls and options (see the type): the one function from
  /// calls to a profile.
  public static func assemble(_ recorded: ObservedCalls, options: ProfileOptions, amendments: [Amendment] = [])
    -> AssembledProfile
  {
    if let baseline = options.baseline, options.baselineUse == .learn {
      var seen: [Arch: Set<String>] = [:]
      for run in recorded.runs {
        for (arch, names) in run { seen[arch, default: []].formUnion(names) }
      }
      for a in amendments {
        for (arch, names) in a.calls { seen[arch, default: []].formUnion(names) }
      }
      let learnt = baseline.learning(seen)
      return AssembledProfile(
        profile: learnt.profile, notes: [], runtimeCalls: [], occasional: [:], runtimes: [], unrefused: learnt.removed)
    }
    let runCount = max(1, recorded.runs.count)
    var seen: [Arch: Set<String>] = [:]
    for (arch, calls) in recorded.runCounts { seen[arch, default: []].formUnion(calls.keys) }
    let byName = recorded.runCountsByName

    // Calls that stay allowed whatever their arguments, and that no run-count marks.
    var unconditional: Set<String> = []
    let baselineEntries = options.baseline?.expanded(for: HostFacts.dockerDefault()).syscalls ?? []
    if options.baseline != nil {
      unconditional.formUnion(baselineEntries.filter { $0.action == .allow && ($0.args ?? []).isEmpty }.flatMap(\.names))
    }
    // A baseline's own rules for a runtime call (a conditional allow, a refusal) stand; and
    // what it allows needs no adding.
    let baselineNative = options.baseline.map { Policy(profile: $0, options: PolicyOptions(context: HostFacts.dockerDefault())) }?.arches.first { $0.arch == .native }
    let containerCalls = Set(options.containerRuntime?.calls ?? []).filter { name in
      guard let number = Arch.native.number(of: name) else { return false }
      guard let baselineNative else { return true }
      return baselineNative.rules(for: number).isEmpty && !baselineNative.defaultAction.permits
    }
    seen[.native, default: []].formUnion(containerCalls)
    unconditional.formUnion(containerCalls)
    let always = Set(byName.filter { $0.value >= runCount }.keys).union(unconditional)

    // Language runtimes, per ABI of the executable that has them.
    var runtimes: [LanguageRuntime] = []
    var runtimeNames: [(LanguageRuntime, Set<String>)] = []
    if options.languageRuntimes {
      var claimed = always
      var arches: [LanguageRuntime: Set<Arch>] = [:]
      for path in recorded.executables {
        let arch = LanguageRuntime.arch(of: path) ?? .native
        for runtime in LanguageRuntime.detect(executable: path) { arches[runtime, default: []].insert(arch) }
      }
      let seenNames = Set(byName.keys)
      for runtime in LanguageRuntime.allCases {
        guard let inArches = arches[runtime] else { continue }
        if let needs = runtime.needsAnyOf, needs.isDisjoint(with: seenNames) { continue }
        runtimes.append(runtime)
        let added = Set(runtime.occasionalCalls).subtracting(claimed)
        for arch in inArches {
          seen[arch, default: []].formUnion(added.filter { arch.number(of: $0) != nil })
        }
        claimed.formUnion(added)
        unconditional.formUnion(runtime.occasionalCalls)
        runtimeNames.append((runtime, added))
      }
    }
    var amended: [(Int, Set<String>)] = []
    var arguments = recorded.arguments
    for a in amendments {
      for (arch, names) in a.calls { seen[arch, default: []].formUnion(names) }
      for (arch, calls) in a.arguments {
        for (name, keys) in calls { arguments[arch, default: [:]][name, default: []].formUnion(keys) }
      }
      amended.append((a.round, Set(a.calls.values.joined())))
    }

    let builder = ProfileBuilder(defaultAction: options.defaultAction, defaultErrnoRet: options.defaultErrnoRet)
    var profile = builder.build(seen)
    var syscalls = profile.syscalls ?? []
    var extra: [SyscallEntry] = []
    var runtimeCalls: [(runtime: LanguageRuntime, calls: [String])] = []
    var occasional: [String: Int] = [:]
    var containerEntryCalls: [String] = []
    if let main = syscalls.firstIndex(where: { $0.action == .allow }) {
      var remaining = Set(syscalls[main].names)
      func take(_ names: Set<String>) -> [String] {
        let taken = remaining.intersection(names)
        remaining.subtract(taken)
        return taken.sorted()
      }
      if let selection = options.containerRuntime {
        // The calls no run made (nor a baseline or amendment added) are the runtime's alone.
        let made = Set(byName.keys).union(amendments.flatMap { $0.calls.values.joined() }).union(builder.guardRails)
        containerEntryCalls = take(containerCalls.subtracting(made))
        if !containerEntryCalls.isEmpty {
          extra.append(SyscallEntry(names: containerEntryCalls, action: .allow, comment: selection.entryComment))
        }
      }
      for (runtime, names) in runtimeNames {
        let calls = take(names)
        if !calls.isEmpty {
          extra.append(SyscallEntry(names: calls, action: .allow, comment: runtime.comment))
          runtimeCalls.append((runtime, calls))
        }
      }
      for (round, names) in amended {
        let calls = take(names)
        if !calls.isEmpty {
          extra.append(
            SyscallEntry(
              names: calls, action: .allow,
              comment: "denied in verification round \(round): not made while recording (record --amend)"))
        }
      }
      if runCount > 1 {
        let partial = byName.filter { $0.value < runCount && !always.contains($0.key) }
        for count in Set(partial.values).sorted(by: >) {
          let calls = take(Set(partial.filter { $0.value == count }.keys))
          for c in calls { occasional[c] = count }
          if !calls.isEmpty {
            extra.append(SyscallEntry(names: calls, action: .allow, comment: "seen in \(count) of \(runCount) recorded runs"))
          }
        }
      }
      syscalls[main].names = syscalls[main].names.filter { remaining.contains($0) }
      syscalls.insert(contentsOf: extra, at: main + 1)
      syscalls.removeAll { $0.names.isEmpty }
    }
    profile.syscalls = syscalls.isEmpty ? nil : syscalls

    var notes: [String] = []
    if options.argumentRules {
      let overflowed = recorded.argumentsOverflowed.subtracting(unconditional)
      for name in overflowed.sorted() {
        notes.append(
          "\(name): more than \(BPF.maxInstructions / 2) distinct values of its arguments, more rules than a filter can hold: allowed whatever its arguments")
      }
      let (ruled, ruleNotes) = ArgumentRules.apply(arguments, to: profile, unconditional: unconditional.union(overflowed))
      profile = ruled
      notes += ruleNotes
      if options.baseline == nil {
        let (fitted, fitNotes) = fitting(profile)
        profile = fitted
        notes += fitNotes
      }
    }
    if let baseline = options.baseline {
      let (extended, extensionNotes) = extending(baseline, with: profile, refused: recorded.baselineRefused)
      profile = extended
      notes = extensionNotes + notes
      if options.argumentRules {
        let (fitted, fitNotes) = fitting(profile, keeping: baseline.syscalls?.count ?? 0)
        profile = fitted
        notes += fitNotes
      }
    }
    return AssembledProfile(
      profile: profile, notes: notes, runtimeCalls: runtimeCalls, occasional: occasional, runtimes: runtimes,
      containerCalls: containerEntryCalls)
  }

  /// `profile` made to fit the kernel's limit on every ABI it lists: while its filter is
  /// too long, the call with the most single-call conditional ALLOW entries (argument
  /// rules) loses them for one unconditional ALLOW entry, with a note. The first `keeping`
  /// entries (a baseline's) are never changed.
  public static func fitting(_ profile: Profile, keeping: Int = 0) -> (Profile, [String]) {
    var profile = profile
    var notes: [String] = []
    var size = ProgramSize(profile: profile, kernel: .running)
    while !size.fits {
      var syscalls = profile.syscalls ?? []
      var counts: [String: Int] = [:]
      for entry in syscalls.dropFirst(keeping)
      where entry.action == .allow && entry.names.count == 1 && !(entry.args ?? []).isEmpty {
        counts[entry.names[0], default: 0] += 1
      }
      guard let (name, count) = counts.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }) else { break }
      let before = size.longest
      let kept = syscalls.prefix(keeping)
      syscalls = Array(kept) + syscalls.dropFirst(keeping).filter { entry in
        !(entry.action == .allow && entry.names == [name] && !(entry.args ?? []).isEmpty)
      }
      syscalls.append(
        SyscallEntry(
          names: [name], action: .allow,
          comment: "\(count) argument rules did not fit the kernel's limit of \(BPF.maxInstructions) instructions: allowed whatever its arguments"))
      profile.syscalls = syscalls
      size = ProgramSize(profile: profile, kernel: .running)
      notes.append(
        "\(name): its \(count) argument rules make a filter of \(before) instructions, more than the kernel's \(BPF.maxInstructions): allowed whatever its arguments (now \(size.longest))")
    }
    return (profile, notes)
  }

  /// `baseline` extended by the ALLOW entries of `recorded` (a profile assembled from the
  /// recording alone), and a note per call that changes or is kept refused.
  ///
  /// Every decision of the baseline is kept except for the calls the recording made that
  /// the baseline refuses by its default action: those are allowed (only for the recorded
  /// values when `recorded` has argument rules for them). A call the baseline refuses by
  /// an unconditional rule of its own stays refused; a conditional refusing rule keeps
  /// winning for its arguments (the most restrictive match wins). A call the baseline
  /// allows for some arguments only is added when the run made it with other arguments
  /// (`refused`; nil counts every such call as made with refused arguments). The entries
  /// of `recorded` that do not allow (ENOSYS fallbacks) are not added.
  public static func extending(_ baseline: Profile, with recorded: Profile, refused: [Arch: Set<String>]?)
    -> (Profile, [String])
  {
    let policy = Policy(profile: baseline, options: PolicyOptions(context: HostFacts.dockerDefault()))
    let entries = baseline.syscalls ?? []
    func entryIndex(_ name: String, where match: (SyscallEntry) -> Bool) -> String {
      entries.firstIndex { $0.names.contains(name) && match($0) }.map { "syscalls[\($0)]" } ?? "its entries"
    }
    enum Status { case allowed, refusedByRule, added(conditional: Bool) }
    func status(_ name: String) -> Status {
      var conditionalRefusal = false
      var refusedSomewhere = false
      for arch in policy.arches {
        guard let number = arch.arch.number(of: name) else { continue }
        let rules = arch.rules(for: number)
        if rules.contains(where: { $0.action != .allow && $0.conditions.isEmpty }) { return .refusedByRule }
        if rules.contains(where: { $0.action == .allow && $0.conditions.isEmpty }) || arch.defaultAction == .allow {
          continue
        }
        if rules.contains(where: { $0.action != .allow }) { conditionalRefusal = true }
        if rules.contains(where: { $0.action == .allow }) {
          if refused.map({ $0[arch.arch]?.contains(name) ?? false }) ?? true { refusedSomewhere = true }
        } else {
          refusedSomewhere = true
        }
      }
      return refusedSomewhere ? .added(conditional: conditionalRefusal) : .allowed
    }
    var notes: [String] = []
    var added: Set<String> = []
    let names = Set((recorded.syscalls ?? []).filter { $0.action == .allow }.flatMap(\.names))
    let defaultName = baseline.defaultAction?.rawValue ?? "SCMP_ACT_ALLOW"
    var plain: [String] = []
    for name in names.sorted() {
      switch status(name) {
      case .allowed: break
      case .refusedByRule:
        notes.append(
          "\(name) was called but the baseline refuses it (\(entryIndex(name) { $0.action != .allow && ($0.args ?? []).isEmpty })); kept refused: remove that rule from the baseline to allow it")
      case .added(let conditional):
        added.insert(name)
        if conditional {
          notes.append(
            "\(name) was called and the baseline's default action (\(defaultName)) refuses it: allowed, except for the arguments its rules refuse (\(entryIndex(name) { $0.action != .allow })), which still hold")
        } else {
          plain.append(name)
        }
      }
    }
    if !plain.isEmpty {
      notes.insert("called and refused by the baseline's default action (\(defaultName)), now allowed: \(plain.joined(separator: ", "))", at: 0)
    }
    var profile = baseline
    var syscalls = entries
    for var entry in recorded.syscalls ?? [] where entry.action == .allow {
      entry.names = entry.names.filter { added.contains($0) }
      guard !entry.names.isEmpty else { continue }
      if let refusal = shadowingRefusal(of: entry, in: policy) {
        notes.append(
          "\(entry.names[0]) (\(entry.comment ?? "its recorded arguments")) was called but the baseline refuses it (\(entryIndex(entry.names[0]) { $0.action != .allow })): kept refused (\(refusal)); remove that rule from the baseline to allow it")
        continue
      }
      if (entry.args ?? []).isEmpty {
        entry.comment = entry.comment.map { "not allowed by the baseline: \($0)" } ?? "not allowed by the baseline: made while recording"
      }
      syscalls.append(entry)
    }
    profile.syscalls = syscalls.isEmpty ? nil : syscalls
    return (profile, notes)
  }

  /// For a single-call entry with equality conditions (an argument rule of `--args`), the
  /// action of a refusing rule of `policy` that decides its values: the entry would be
  /// shadowed (the most restrictive match wins). nil when no rule refuses them.
  static func shadowingRefusal(of entry: SyscallEntry, in policy: Policy) -> SeccompAction? {
    guard entry.names.count == 1, let conditions = entry.args, !conditions.isEmpty else { return nil }
    var args = [UInt64](repeating: 0, count: 6)
    for c in conditions {
      guard c.index < 6 else { return nil }
      switch c.op {
      case .equal: args[c.index] = c.value
      case .maskedEqual: args[c.index] = (c.valueTwo ?? 0) & c.value
      default: return nil
      }
    }
    for arch in policy.arches {
      guard let number = arch.arch.number(of: entry.names[0]) else { continue }
      let decision = arch.decide(nr: number.word, args: args)
      if case .rule = decision.reason, decision.action != .allow { return decision.action }
    }
    return nil
  }

  /// `profile` with the baseline's conditional ALLOW entries added, for the calls the
  /// profile does not allow unconditionally: the output is the baseline plus what is new.
  public static func keepingArgumentRules(of baseline: [SyscallEntry], in profile: Profile) -> Profile {
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
}
