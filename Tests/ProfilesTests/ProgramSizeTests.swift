import BPF
import Foundation
import Host
import Profiles
import Seccomp
import Syscalls
import Testing

/// `ProgramSize`: a profile's filter length on each ABI it lists, against 4096.
@Suite struct ProgramSizeTests {
  func profile(ioctlRules: Int, arches: [String]) throws -> Profile {
    let rules = (0..<ioctlRules).map { i in
      #"{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": \#(0x10000 + 3 * i), "op": "SCMP_CMP_EQ"}]}"#
    }
    let list = arches.map { "\"\($0)\"" }.joined(separator: ",")
    let text = #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": [\#(list)], "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}\#(rules.isEmpty ? "" : ",")\#(rules.joined(separator: ","))]}"#
    return try Profile.decode(Array(text.utf8), file: nil).profile
  }

  @Test func lengthPerListedABI() throws {
    let small = ProgramSize(profile: try profile(ioctlRules: 0, arches: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]), kernel: .running)
    #expect(Set(small.lengths.map(\.native)) == [.x86_64, .x86, .x32])
    #expect(small.fits && small.longest > 0 && small.longest < 100, "\(small)")
    // The length is the compiled program's: one filter covers every ABI listed.
    let native = try Compiler.compile(Policy(profile: try profile(ioctlRules: 0, arches: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]), options: PolicyOptions(context: HostFacts.dockerDefault())))
    #expect(small.lengths.first { $0.native == .x86_64 }?.instructions == native.count)

    let long = ProgramSize(profile: try profile(ioctlRules: 3000, arches: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]), kernel: .running)
    #expect(!long.fits, "\(long)")
    #expect(long.lengths.allSatisfy { $0.instructions > BPF.maxInstructions }, "\(long)")
    #expect(long.description.contains("the kernel takes 4096"))
  }
}
