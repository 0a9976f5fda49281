import Enforcement
import Foundation
import Processes
import Profiles
import Recording
import Seccomp
import Syscalls
import Testing

/// `ProfileAssembly.assemble`: the entries it makes from several runs, runtimes and
/// amendments (recordings built by hand; the kernel is in the command tests).
@Suite struct ProfileAssemblyTests {
  func recording(_ names: [String], arch: Arch = .x86_64) -> RecordedRun {
    RecordedRun(
      entries: names.map { n in
        RecordedRun.Entry(arch: arch, number: arch.number(of: n)!, name: n, statistics: SyscallStatistics(calls: 1))
      }, termination: .exited(0))
  }

  func entry(_ profile: Profile, with name: String) -> SyscallEntry? {
    profile.syscalls?.first { $0.names.contains(name) }
  }

  @Test func runCountsMarkCallsOfSomeRuns() {
    let runs = RecordedRuns(runs: [
      recording(["read", "write", "getppid"]), recording(["read", "write"]), recording(["read", "write", "getppid", "umask"]),
    ])
    #expect(runs.runCounts[.x86_64] == ["read": 3, "write": 3, "getppid": 2, "umask": 1])
    let a = ProfileAssembly.assemble(runs, options: ProfileOptions())
    #expect(entry(a.profile, with: "read")?.comment == nil)
    #expect(entry(a.profile, with: "read")?.names.contains("getppid") == false)
    #expect(entry(a.profile, with: "getppid")?.comment == "seen in 2 of 3 recorded runs")
    #expect(entry(a.profile, with: "umask")?.comment == "seen in 1 of 3 recorded runs")
    #expect(a.occasional == ["getppid": 2, "umask": 1])
    #expect(runs.merged.entries.first { $0.name == "read" }?.statistics.calls == 3)
  }

  @Test func oneRunMarksNothing() {
    let a = ProfileAssembly.assemble(RecordedRuns(runs: [recording(["read", "getppid"])]), options: ProfileOptions())
    #expect(a.occasional.isEmpty)
    #expect(a.profile.syscalls?.filter { $0.action == .allow }.count == 1)
  }

  @Test func amendmentsGetAnEntryPerRound() {
    let denial = Denial(
      thread: 1, arch: .x86_64, number: Arch.x86_64.number(of: "sysinfo")!, name: "sysinfo", arguments: [0, 0, 0, 0, 0, 0],
      action: .errno(1), errno: 1)
    let amendment = Amendment(round: 1, denials: [denial], argumentRules: false)
    let a = ProfileAssembly.assemble(RecordedRuns(runs: [recording(["read"])]), options: ProfileOptions(), amendments: [amendment])
    #expect(entry(a.profile, with: "sysinfo")?.comment?.hasPrefix("denied in verification round 1") == true)
    #expect(entry(a.profile, with: "sysinfo")?.action == .allow)
  }

  @Test func amendingARuledCallAddsARule() throws {
    // socket(AF_INET6, SOCK_STREAM) denied where --args allowed only AF_INET.
    let socket = Arch.x86_64.number(of: "socket")!
    let denial = Denial(thread: 1, arch: .x86_64, number: socket, name: "socket", arguments: [10, 1, 0, 0, 0, 0], action: .errno(1), errno: 1)
    let amendment = Amendment(round: 1, denials: [denial], argumentRules: true)
    #expect(amendment.calls.isEmpty)
    let runs = RecordedRuns(runs: [recording(["read", "socket"])], arguments: [.x86_64: ["socket": [[2, 1]]]])
    let a = ProfileAssembly.assemble(runs, options: ProfileOptions(argumentRules: true), amendments: [amendment])
    let rules = a.profile.syscalls?.filter { $0.names == ["socket"] } ?? []
    #expect(rules.count == 2, "\(rules)")
    #expect(rules.allSatisfy { !($0.args ?? []).isEmpty })
  }
}
