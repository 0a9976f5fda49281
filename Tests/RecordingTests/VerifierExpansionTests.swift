import Foundation
import Host
import Profiles
import Recording
import Seccomp
import Syscalls
import Testing

/// `record --verify` expands the profile for the program it runs: this process's
/// bounding set, which the program inherits, not Docker's default container's.
@Suite struct VerifierExpansionTests {
  /// CapBnd of /proc/self/status, read here on its own.
  static func boundingMask() throws -> UInt64 {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("CapBnd:") })
    return try #require(UInt64(line.dropFirst("CapBnd:".count).trimmingCharacters(in: .whitespaces), radix: 16))
  }

  @Test func thisProcessHasItsOwnBoundingSet() throws {
    let mask = try Self.boundingMask()
    let context = HostFacts.thisProcess()
    #expect(context.capabilities.count == mask.nonzeroBitCount)
    #expect(context.capabilities.contains("CAP_SYS_ADMIN") == (mask & (1 << 21) != 0))
    #expect(context.native == .native)
    #expect(context.kernel == KernelVersion.running)
  }

  @Test func anEntryForACapabilityOfThisProcessApplies() throws {
    let mask = try Self.boundingMask()
    // Docker's default allows more calls to a container holding CAP_SYS_ADMIN; a verified
    // program holds it when this process does.
    let profile = Profile(
      defaultAction: .errno, architectures: [.native],
      syscalls: [SyscallEntry(names: ["personality"], action: .allow, includes: EntryFilter(caps: ["CAP_SYS_ADMIN"]))])
    let number = try #require(Arch.native.number(of: "personality"))
    let own = Verifier.tracingPolicy(profile, context: HostFacts.thisProcess()).policy
    let docker = Verifier.tracingPolicy(profile, context: HostFacts.dockerDefault()).policy
    #expect(own.decide(arch: .native, number: number).action.permits == (mask & (1 << 21) != 0))
    #expect(!docker.decide(arch: .native, number: number).action.permits)
  }
}
