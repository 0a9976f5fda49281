import Foundation
import Profiles
import Seccomp
import Syscalls
import Testing

/// What `run` says decided a call seccomp killed (`Policy.killExplanation`).
@Suite struct KillExplanationTests {
  static let profile = #"""
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["write"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]},
      {"names": ["write"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]},
      {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}
    """#

  func policy() throws -> Policy {
    let decoded = try Profile.decode(Array(Self.profile.utf8), file: "p.json")
    let context = ExpansionContext(native: .x86_64, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: KernelVersion(release: "6.18")!)
    return Policy(profile: decoded.profile, options: PolicyOptions(context: context))
  }

  @Test func withItsArgumentsTheDecisionSays() throws {
    let policy = try policy()
    let write = Arch.x86_64.number(of: "write")!
    let text = policy.killExplanation(arch: .x86_64, number: write, arguments: [5, 0, 0, 0, 0, 0], profile: "p.json")
    let decision = policy.decide(arch: .x86_64, number: write, args: [5, 0, 0, 0, 0, 0])
    #expect(text == "p.json says KILL_PROCESS (\(policy.explanation(of: decision, arch: .x86_64)))")
    #expect(text.contains("syscalls[0]"), "\(text)")
  }

  @Test func withoutThemTheRulesThatKillAreNamed() throws {
    let policy = try policy()
    let write = Arch.x86_64.number(of: "write")!
    #expect(
      policy.killExplanation(arch: .x86_64, number: write, arguments: [], profile: "p.json")
        == "p.json decides it by its arguments; what kills it: syscalls[0]: write(a0 == 0x5) -> KILL_PROCESS")
    // A call decided without conditions is decided whole, arguments or not.
    let getppid = Arch.x86_64.number(of: "getppid")!
    #expect(policy.killExplanation(arch: .x86_64, number: getppid, arguments: [], profile: "p.json").hasPrefix("p.json says KILL_PROCESS ("))
  }
}
