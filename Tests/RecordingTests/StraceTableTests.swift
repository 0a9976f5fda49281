import Foundation
import Enforcement
import Processes
import Recording
import Profiles
import Seccomp
import Syscalls
import Testing

/// The `strace -c` table and the profile, from hand-made recordings.
@Suite struct StraceTableTests {
  func entry(_ name: String, _ arch: Arch = .x86_64, calls: Int, errors: Int = 0, ns: UInt64 = 0) -> RecordedRun.Entry {
    RecordedRun.Entry(
      arch: arch, number: arch.number(of: name)!, name: name,
      statistics: SyscallStatistics(calls: calls, errors: errors, nanoseconds: ns), isKnown: true)
  }

  @Test func tableHasStracesColumnsOrderAndTotal() {
    let r = RecordedRun(
      entries: [
        entry("read", calls: 3, ns: 4000), entry("close", calls: 2), entry("openat", calls: 5, errors: 2, ns: 6000),
        entry("exit_group", calls: 1),
      ], termination: .exited(0), timing: true)
    let lines = StraceTable(r).text.split(separator: "\n").map(String.init)
    #expect(lines[0] == "% time     seconds  usecs/call     calls    errors syscall")
    #expect(lines[1] == "------ ----------- ----------- --------- --------- ----------------")
    #expect(lines[2] == " 60.00    0.000006           1         5         2 openat")
    #expect(lines[3] == " 40.00    0.000004           1         3           read")
    // Equal times: by number (close 3 before exit_group 231).
    #expect(lines[4].hasSuffix(" close") && lines[5].hasSuffix(" exit_group"))
    #expect(lines[6] == lines[1])
    #expect(lines[7] == "100.00    0.000010           0        11         2 total")
    let column = StraceTable.callsColumn(StraceTable(r).text)
    #expect(column.dropLast().map(\.calls).reduce(0, +) == column.last?.calls)
  }

  @Test func otherABIsGetStracesModeHeader() {
    let r = RecordedRun(
      entries: [entry("getpid", .x86, calls: 1), entry("read", calls: 1)], termination: .exited(0))
    let text = StraceTable(r).text
    #expect(text.contains("System call usage summary for 32 bit mode:\n"))
    #expect(text.components(separatedBy: " total\n").count == 3)
  }

  @Test func profileListsExactlyTheABIsSeen() {
    let r = RecordedRun(
      entries: [entry("getpid", .x86, calls: 1), entry("read", calls: 1), entry("write", calls: 2)],
      termination: .signaled(9))
    let p = r.profile()
    #expect(p.architectures == [.x86_64, .x86])
    #expect(r.syscallsByArch[.x86_64] == ["read": 1, "write": 2])
    #expect(r.termination.shellStatus == 137)
    let allowed = Set(p.syscalls?.first?.names ?? [])
    #expect(allowed.isSuperset(of: ["read", "write", "getpid", "exit_group"]))
  }
}
