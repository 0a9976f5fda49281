import Foundation
import Syscalls
import Testing
import TestSupport

/// Compares every number of every ABI libseccomp 2.5.4 knows with its `resolve_syscall`.
@Suite struct LibseccompTableTests {
  static let libseccompArches: [String: Arch] = [
    "X86": .x86, "X86_64": .x86_64, "X32": .x32, "ARM": .arm, "AARCH64": .aarch64, "MIPS": .mips,
    "MIPS64": .mips64, "MIPS64N32": .mips64n32, "MIPSEL": .mipsel, "MIPSEL64": .mipsel64,
    "MIPSEL64N32": .mipsel64n32, "PARISC": .parisc, "PARISC64": .parisc64, "PPC": .ppc,
    "PPC64": .ppc64, "PPC64LE": .ppc64le, "RISCV64": .riscv64, "S390": .s390, "S390X": .s390x,
  ]

  @Test(.enabled(if: Peer.libseccomp.shouldRun, Comment(rawValue: Peer.libseccomp.skipReason)))
  func everyNumberAgreesWithLibseccompOrIsAKnownDifference() throws {
    try #require(Peer.libseccomp.isAvailable, Comment(rawValue: Peer.libseccomp.skipReason))
    let script = packageRoot.appendingPathComponent("Tests/SyscallsTests/libseccomp_resolve.py").path
    let result = run("/usr/bin/python3", [script], stdin: SyscallTable.allNames.joined(separator: "\n"))
    try #require(result.status == 0, "\(result.stderr)")

    var agree = 0
    var olderTable = Set<String>()  // libseccomp 2.5.4 does not know the name at all
    var multiplexed = 0  // libseccomp answers with socketcall/ipc for a direct call
    var absentThere = Set<String>()  // the newer table adds the call to an ABI
    var absentHere = Set<String>()  // the newer table drops the call from an ABI
    var unexplained: [String] = []
    for line in result.stdout.split(separator: "\n") {
      let f = line.split(separator: " ").map(String.init)
      guard f.count == 3, let arch = Self.libseccompArches[f[0]], let theirs = Int64(f[2]) else {
        unexplained.append(String(line)); continue
      }
      let name = f[1]
      let ours = arch.number(of: name).map { Int64($0.rawValue) }
      switch (ours, theirs) {
      case (nil, ..<0): agree += 1
      case (let o?, _) where o == theirs: agree += 1
      case (.some, -1): olderTable.insert(name)
      case (.some, ..<(-1)): absentThere.insert("\(arch) \(name)")
      case (_, let t) where arch.abi.hasMultiplexers
        && [arch.number(of: "socketcall"), arch.number(of: "ipc")].compactMap({ $0 }).map({ Int64($0.rawValue) }).contains(t):
        multiplexed += 1
      case (nil, 0...): absentHere.insert("\(arch) \(name)")
      default: unexplained.append("\(arch) \(name): ours \(ours.map(String.init) ?? "absent"), libseccomp \(theirs)")
      }
    }
    #expect(unexplained.isEmpty, "\(unexplained.joined(separator: "\n"))")
    #expect(agree > 8000)
    // The names libseccomp 2.5.4's older table lacks, by name.
    let expectedOlder: Set<String> = Self.olderTableNames
    #expect(olderTable == expectedOlder, "new: \(olderTable.subtracting(expectedOlder).sorted()) gone: \(expectedOlder.subtracting(olderTable).sorted())")
    // libseccomp resolves socket and SysV IPC names to socketcall/ipc on multiplexing ABIs;
    // syscage resolves them to the direct call and adds the multiplexed form in the compiler.
    #expect(multiplexed == 256)
    #expect(absentThere == ["x32 map_shadow_stack"])
    #expect(absentHere == ["parisc64 _llseek"])
  }

  static let olderTableNames: Set<String> = [
    "file_getattr", "file_setattr", "getxattrat", "listmount", "listns", "listxattrat",
    "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mseal", "open_tree_attr",
    "removexattrat", "riscv_hwprobe", "rseq_slice_yield", "setxattrat", "statmount", "uprobe",
    "uretprobe",
  ]
}
