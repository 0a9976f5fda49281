import Processes
import Recording
import Profiles
import Seccomp
import Syscalls
import Testing

/// `ProfileAssembly.assemble` on observed calls: the one function record, import and
/// watch --learn make their profiles with.
@Suite struct ObservedCallsAssemblyTests {
  /// An import (one run, no runtimes, no container runtime) is ProfileBuilder's allow-list.
  @Test(arguments: [
    (ActionName.errno, UInt32?.none), (.errno, 38), (.killProcess, nil), (.log, nil), (.trap, nil),
  ])
  func anImportIsTheAllowList(action: ActionName, errno: UInt32?) {
    let cases: [[Arch: Set<String>]] = [
      [.x86_64: ["read", "write", "clone3"]],
      [.x86_64: ["read", "openat"], .x86: ["read", "socketcall"]],
      [.aarch64: ["read"], .x86_64: []],
      [:],
    ]
    for seen in cases {
      let options = ProfileOptions(defaultAction: action, defaultErrnoRet: errno, languageRuntimes: false)
      let assembled = ProfileAssembly.assemble(ObservedCalls(seen), options: options)
      let built = ProfileBuilder(defaultAction: action, defaultErrnoRet: errno).build(seen)
      #expect(assembled.profile == built, "\(seen)")
      #expect(assembled.notes.isEmpty && assembled.runtimes.isEmpty && assembled.occasional.isEmpty)
    }
  }

  /// A watch's learnt profile is its profile as baseline, learning the calls.
  @Test func aWatchLearns() {
    let watched = Profile(
      defaultAction: .errno, architectures: [.x86_64],
      syscalls: [
        SyscallEntry(names: ["read", "write"], action: .allow),
        SyscallEntry(names: ["mount", "ptrace"], action: .errno, errnoRet: 1),
      ])
    let seen: [Arch: Set<String>] = [.x86_64: ["mount", "getpid"]]
    let learnt = ProfileAssembly.assemble(ObservedCalls(seen), options: ProfileOptions(baseline: watched, baselineUse: .learn))
    let expected = watched.learning(seen)
    #expect(learnt.profile == expected.profile)
    #expect(learnt.unrefused == ["mount"])
    #expect(learnt.profile.syscalls?.last?.comment == "seen by syscage watch (x86_64)")
  }

  /// Recorded runs go through the same function: ObservedCalls keeps what they saw.
  @Test func recordedRunsAreObservedCalls() {
    func recording(_ names: [String]) -> RecordedRun {
      RecordedRun(
        entries: names.map { RecordedRun.Entry(arch: .x86_64, number: Arch.x86_64.number(of: $0)!, name: $0, statistics: SyscallStatistics(calls: 2)) },
        termination: .exited(0))
    }
    let runs = RecordedRuns(runs: [recording(["read", "umask"]), recording(["read"])], executables: ["/bin/true"])
    let observed = ObservedCalls(runs)
    #expect(observed.runs == [[.x86_64: ["read", "umask"]], [.x86_64: ["read"]]])
    #expect(observed.runCounts == runs.runCounts && observed.runCountsByName == runs.runCountsByName)
    #expect(observed.executables == ["/bin/true"])
    let options = ProfileOptions(languageRuntimes: false)
    #expect(ProfileAssembly.assemble(observed, options: options).profile == ProfileAssembly.assemble(runs, options: options).profile)
  }
}
