import BPF
import Foundation
import Host
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// The symbolic walk of seccomp BPF: exact regions, each with a witness the Interpreter
/// agrees with, covering every argument vector.
@Suite struct SymbolicFilterTests {
  static let options = PolicyOptions(
    context: ExpansionContext(native: .x86_64, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: KernelVersion(major: 6, minor: 18)))

  static func policy(_ json: String) throws -> Policy {
    Policy(profile: try Profile.decode(Array(json.utf8), file: nil).profile, options: options)
  }


  /// Argument values near the constants a program compares against, and random ones.
  static func interestingValues(_ program: [BPFInstruction]) -> [UInt64] {
    var ks: Set<UInt64> = [0, 1, 2, 0xffff_ffff, 0x1_0000_0000, .max]
    for i in program where i.code & 0x07 == BPF.jmp || i.code & 0x07 == BPF.alu {
      let k = UInt64(i.k)
      ks.formUnion([k, k &+ 1, k &- 1, k << 32, (k << 32) | k, k | 0xffff_0000])
    }
    return ks.sorted()
  }

  static func randomArgs(_ rng: inout SplitMix64, _ values: [UInt64]) -> [UInt64] {
    (0..<6).map { _ in
      switch rng.next() % 4 {
      case 0: return rng.next()
      case 1: return rng.next() & 0xffff
      default:
        let v = rng.pick(values)
        return rng.next() % 3 == 0 ? v ^ (1 << (rng.next() % 64)) : v
      }
    }
  }

  /// Checks every region of every syscall `policy` names (and a few it does not):
  /// witnesses decide as the region says under the Interpreter and under `Policy.decide`,
  /// and random vectors land in exactly one region with the same decision.
  /// Returns the number of regions checked.
  @discardableResult
  static func checkPolicy(_ policy: Policy, samples: Int = 200, seed: UInt64 = 1) throws -> Int {
    let program = try Compiler.compile(policy)
    let values = interestingValues(program)
    var rng = SplitMix64(seed: seed)
    var regions = 0
    for ap in policy.arches {
      var numbers = Set(ap.numbers)
      for (_, n) in SyscallTable.entries(in: ap.arch.abi).prefix(5) { numbers.insert(n) }
      for n in numbers.sorted() {
        let d = try SymbolicFilter.decisions([program], arch: ap.arch.auditArch, nr: n.word, endianness: ap.arch.endianness)
        #expect(!d.regions.isEmpty)
        for r in d.regions {
          regions += 1
          #expect(Interpreter.run(program, on: r.witness, endianness: ap.arch.endianness).action == r.action)
          #expect(policy.decide(auditArch: ap.arch.auditArch, nr: n.word, args: r.witness.args).action == r.action, "\(ap.arch) \(n) \(r.describe())")
          #expect(r.contains(r.witness))
        }
        for _ in 0..<samples {
          let data = SeccompData(nr: n.word, arch: ap.arch.auditArch, args: randomArgs(&rng, values))
          let hits = d.regions.filter { $0.contains(data) }
          #expect(hits.count == 1, "\(ap.arch) \(n) \(data.args): \(hits.count) regions")
          let expected = policy.decide(auditArch: ap.arch.auditArch, nr: n.word, args: data.args).action
          #expect(hits.first?.action == expected, "\(ap.arch) \(n) \(data.args)")
          #expect(Interpreter.run(program, on: data, endianness: ap.arch.endianness).action == expected)
        }
      }
    }
    return regions
  }

  // MARK: (a) profiles compiled by the project's compiler

  @Test func equalityAndMaskedRules() throws {
    let p = try Self.policy(#"""
      {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["mmap"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 2, "value": 4, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["mmap"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["fcntl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 4, "op": "SCMP_CMP_NE"}]}
      ]}
      """#)
    let n = try Self.checkPolicy(p)
    #expect(n > 10)
    // socket's regions: a0 == 1 and a0 == 2 allow, everything else ERRNO(1).
    let program = try Compiler.compile(p)
    let socket = try SymbolicFilter.decisions([program], arch: Arch.x86_64.auditArch, nr: Arch.x86_64.number(of: "socket")!.word, endianness: .little)
    let texts = socket.regions.map { "\($0.describe(widths: { _ in 0xffff_ffff })) → \($0.action)" }.sorted()
    #expect(texts == ["a0 != 1 && a0 != 2 → ERRNO(1)", "a0 == 1 → ALLOW", "a0 == 2 → ALLOW"], "\(texts)")
  }

  @Test func orderComparisonsOn64BitValues() throws {
    let p = try Self.policy(#"""
      {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64", "SCMP_ARCH_S390X"], "syscalls": [
        {"names": ["mmap"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 4294967296, "op": "SCMP_CMP_GT"}]},
        {"names": ["mmap"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 1, "value": 8589934597, "op": "SCMP_CMP_GE"}, {"index": 0, "value": 16, "op": "SCMP_CMP_LT"}]},
        {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22, "args": [{"index": 1, "value": 18446744069414584320, "op": "SCMP_CMP_LE"}]},
        {"names": ["lseek"], "action": "SCMP_ACT_TRAP", "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_LT"}, {"index": 2, "value": 2, "op": "SCMP_CMP_EQ"}]},
        {"names": ["pread64"], "action": "SCMP_ACT_LOG", "args": [{"index": 3, "value": 12884901888, "op": "SCMP_CMP_GE"}]},
        {"names": ["pread64"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5, "args": [{"index": 3, "value": 17179869183, "op": "SCMP_CMP_GT"}]},
        {"names": ["mprotect"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 281474976710655, "op": "SCMP_CMP_MASKED_EQ", "valueTwo": 4096}]}
      ]}
      """#)
    #expect(try Self.checkPolicy(p, seed: 7) > 20)
  }

  @Test func severalRulesPerNameAndUmode() throws {
    let p = try Self.policy(#"""
      {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 448, "op": "SCMP_CMP_LE"}]},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 1, "value": 512, "valueTwo": 512, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_GT"}, {"index": 1, "value": 9, "op": "SCMP_CMP_NE"}]},
        {"names": ["kill"], "action": "SCMP_ACT_TRACE", "errnoRet": 7, "args": [{"index": 1, "value": 15, "op": "SCMP_CMP_EQ"}]},
        {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 21505, "op": "SCMP_CMP_EQ"}]},
        {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 21506, "op": "SCMP_CMP_EQ"}]},
        {"names": ["ioctl"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 21504, "op": "SCMP_CMP_GE"}, {"index": 1, "value": 21600, "op": "SCMP_CMP_LT"}]}
      ]}
      """#)
    #expect(try Self.checkPolicy(p, seed: 3) > 10)
  }

  @Test func dockerDefaultProfile() throws {
    let p = Policy(profile: .dockerDefault, options: Self.options)
    let n = try Self.checkPolicy(p, samples: 40, seed: 11)
    #expect(n > 400)
    // personality: the five allowed personas, and the rest denied.
    let program = try Compiler.compile(p)
    let d = try SymbolicFilter.decisions([program], arch: Arch.x86_64.auditArch, nr: Arch.x86_64.number(of: "personality")!.word, endianness: .little)
    #expect(d.regions.count == 6)
    #expect(d.regions.filter { $0.action == .allow }.count == 5)
  }

  // MARK: (b) programs libseccomp compiled

  @Test(.enabled(if: Peer.libseccomp.shouldRun, Comment(rawValue: Peer.libseccomp.skipReason)))
  func libseccompPrograms() throws {
    try #require(Peer.libseccomp.isAvailable, Comment(rawValue: Peer.libseccomp.skipReason))
    var profile = Profile.dockerDefault.expanded(for: Self.options.context)
    profile.architectures = [.x86_64, .x86]
    profile.syscalls!.append(SyscallEntry(names: ["mmap"], action: .errno, errnoRet: 13, args: [
      ArgumentCondition(index: 1, value: 0x1_0000_0000, op: .greaterThan)]))
    guard case .program(let program, _) = LibseccompOracle.compile(profile) else {
      Issue.record("libseccomp compiled nothing")
      return
    }
    var rng = SplitMix64(seed: 5)
    let values = Self.interestingValues(program)
    var regions = 0
    for arch in [Arch.x86_64, .x86] {
      for (_, n) in SyscallTable.entries(in: arch.abi) {
        let d = try SymbolicFilter.decisions([program], arch: arch.auditArch, nr: n.word, endianness: arch.endianness)
        regions += d.regions.count
        for _ in 0..<10 {
          let data = SeccompData(nr: n.word, arch: arch.auditArch, args: Self.randomArgs(&rng, values))
          let hits = d.regions.filter { $0.contains(data) }
          #expect(hits.count == 1 && hits[0].action == Interpreter.run(program, on: data).action)
        }
      }
    }
    #expect(regions > 700)
  }

  // MARK: (c) hand-written programs

  static let x64 = Arch.x86_64.auditArch
  static func arg(_ i: Int, high: Bool = false) -> UInt32 { SeccompDataLayout.argument(i, high: high, endianness: .little) }

  /// Checks exactness of one hand-written stack on random and witness vectors.
  static func checkStack(_ filters: [[BPFInstruction]], nr: UInt32 = 1, samples: Int = 3000) throws -> SymbolicDecisions {
    for f in filters { try Interpreter.validate(f) }
    let d = try SymbolicFilter.decisions(filters, arch: x64, nr: nr, endianness: .little)
    var rng = SplitMix64(seed: 99)
    let values = filters.flatMap { interestingValues($0) }
    for r in d.regions {
      #expect(SymbolicFilter.decide(filters, r.witness, endianness: .little) == r.action)
    }
    for _ in 0..<samples {
      var data = SeccompData(nr: nr, arch: x64, args: randomArgs(&rng, values))
      data.instructionPointer = rng.next() % 2 == 0 ? rng.pick(values) : rng.next()
      let hits = d.regions.filter { $0.contains(data) }
      #expect(hits.count == 1 && hits[0].action == SymbolicFilter.decide(filters, data, endianness: .little), "\(data)")
    }
    return d
  }

  @Test func jsetAndScratchMemory() throws {
    // a0's low word saved in M[3], a1's in X; tests through both, and a jset on a2.
    let program: [BPFInstruction] = [
      .load(Self.arg(0)),                                   // 0
      .init(code: BPF.st, k: 3),                            // 1 M[3] = a0.lo
      .load(Self.arg(1)),                                   // 2
      .init(code: BPF.misc | BPF.tax),                      // 3 X = a1.lo
      .load(Self.arg(2)),                                   // 4
      .jump(BPF.jset, 0x3, 0, 1),                           // 5 a2 & 3 ?
      .ret(.errno(1)),                                      // 6
      .init(code: BPF.ld | BPF.mem, k: 3),                  // 7 A = M[3]
      .and(0xff00),                                         // 8
      .jump(BPF.jeq, 0x1200, 0, 3),                         // 9
      .init(code: BPF.misc | BPF.txa),                      // 10 A = a1.lo
      .jump(BPF.jgt, 100, 0, 1),                            // 11
      .ret(.killProcess),                                   // 12
      .init(code: BPF.ld | BPF.imm, k: 7),                  // 13 A = 7
      .init(code: BPF.jmp | BPF.jge | BPF.x, jt: 0, jf: 1), // 14 7 >= X (a1.lo <= 7)
      .ret(.trap(3)),                                       // 15
      .ret(.allow),                                         // 16
    ]
    let d = try Self.checkStack([program])
    #expect(Set(d.regions.map(\.action)) == [.errno(1), .killProcess, .trap(3), .allow])
    #expect(!d.regions.contains { $0.readsInstructionPointer })
    let kill = try #require(d.regions.first { $0.action == .killProcess })
    #expect(kill.describe(widths: { _ in 0xffff_ffff }) == "a0 & 0xff00 == 0x1200 && a1 >= 101 && a2 & 0x3 == 0x0", "\(kill.describe())")
  }

  @Test func instructionPointerAndHighHalves() throws {
    let ipLow = SeccompDataLayout.instructionPointer
    let program: [BPFInstruction] = [
      .load(ipLow),
      .jump(BPF.jge, 0x40_0000, 0, 3),
      .load(Self.arg(0, high: true)),
      .jump(BPF.jeq, 0, 0, 1),
      .ret(.allow),
      .ret(.errno(38)),
    ]
    let d = try Self.checkStack([program])
    #expect(d.regions.count == 3)
    #expect(d.regions.allSatisfy { $0.readsInstructionPointer })
    let allow = try #require(d.regions.first { $0.action == .allow })
    #expect(allow.describe() == "ip.lo >= 0x400000 && a0 <= 0xffffffff", "\(allow.describe())")
  }

  @Test func stackedFiltersTakeTheMostRestrictive() throws {
    let first: [BPFInstruction] = [  // newest: a0 == 5 → ERRNO(5), else ALLOW
      .load(Self.arg(0)), .jump(BPF.jeq, 5, 0, 1), .ret(.errno(5)), .ret(.allow),
    ]
    let second: [BPFInstruction] = [  // older: a0 >= 3 → ERRNO(9), a1 & 1 → LOG, else ALLOW
      .load(Self.arg(0)), .jump(BPF.jge, 3, 0, 1), .ret(.errno(9)),
      .load(Self.arg(1)), .jump(BPF.jset, 1, 0, 1), .ret(.log), .ret(.allow),
    ]
    let d = try Self.checkStack([first, second])
    // a0 == 5: both ERRNO, the newest filter's data wins.
    let five = try #require(d.region(of: SeccompData(nr: 1, arch: Self.x64, args: [5])))
    #expect(five.action == .errno(5))
    #expect(d.region(of: SeccompData(nr: 1, arch: Self.x64, args: [4]))?.action == .errno(9))
    #expect(d.region(of: SeccompData(nr: 1, arch: Self.x64, args: [1, 3]))?.action == .log)
    #expect(d.region(of: SeccompData(nr: 1, arch: Self.x64, args: [1, 2]))?.action == .allow)
  }

  @Test func patternsCoverExactly() {
    var rng = SplitMix64(seed: 17)
    for _ in 0..<200 {
      let mask = UInt32(truncatingIfNeeded: rng.next()) | (rng.next() % 2 == 0 ? 0 : 0xffff_ffff)
      var lo = UInt32(truncatingIfNeeded: rng.next()) & mask, hi = UInt32(truncatingIfNeeded: rng.next()) & mask
      if lo > hi { swap(&lo, &hi) }
      let ps = SymbolicFilter.patterns(mask: mask, lo: lo, hi: hi)
      let ex = SymbolicFilter.patterns(mask: mask, notEqual: lo)
      for _ in 0..<200 {
        var w = UInt32(truncatingIfNeeded: rng.next())
        if rng.next() % 3 == 0 { w = (w & ~mask) | lo }
        let inRange = (lo...hi).contains(w & mask)
        #expect(ps.filter { w & $0.mask == $0.value }.count == (inRange ? 1 : 0))
        #expect(ex.filter { w & $0.mask == $0.value }.count == (w & mask != lo ? 1 : 0))
      }
    }
  }

  // MARK: (d) programs the walker cannot follow

  @Test func untrackableProgramsAreTooComplex() {
    let arithmetic: [BPFInstruction] = [
      .load(Self.arg(0)), .init(code: BPF.alu | BPF.add | BPF.k, k: 1), .jump(BPF.jeq, 5, 0, 1), .ret(.allow), .ret(.errno(1)),
    ]
    let twoWords: [BPFInstruction] = [
      .load(Self.arg(0)), .init(code: BPF.misc | BPF.tax), .load(Self.arg(1)),
      .init(code: BPF.jmp | BPF.jeq | BPF.x, jt: 0, jf: 1), .ret(.allow), .ret(.errno(1)),
    ]
    let returnsArgument: [BPFInstruction] = [.load(Self.arg(0)), .init(code: BPF.ret | BPF.a)]
    for p in [arithmetic, twoWords, returnsArgument] {
      #expect(throws: TooComplex.self) {
        try SymbolicFilter.decisions([p], arch: Self.x64, nr: 1, endianness: .little)
      }
    }
    // A path limit gives TooComplex too.
    var chain: [BPFInstruction] = []
    for i in 0..<6 { chain += [.load(Self.arg(i)), .jump(BPF.jset, 1, 0, 0)] }
    chain.append(.ret(.allow))
    #expect(throws: TooComplex.self) {
      try SymbolicFilter.decisions([chain], arch: Self.x64, nr: 1, endianness: .little, limits: SymbolicLimits(maxPaths: 16))
    }
    // But arithmetic on constants and masking are followed.
    let constants: [BPFInstruction] = [
      .init(code: BPF.ld | BPF.imm, k: 6), .init(code: BPF.alu | BPF.mul | BPF.k, k: 7), .jump(BPF.jeq, 42, 0, 3),
      .load(Self.arg(3)), .and(0xf0), .jump(BPF.jgt, 0x80, 1, 0), .ret(.allow), .ret(.errno(2)),
    ]
    #expect((try? Self.checkStack([constants]))?.regions.count == 2)
  }
}

/// Rules written from regions (`RegionRules`): layered by precedence, one condition per
/// argument, and deciding as the regions do once compiled.
@Suite struct RegionRulesTests {
  static let x86_64 = Arch.x86_64

  /// Compiles `json`, writes rules for `name` from its regions, compiles them back in a
  /// profile of their own and returns them after checking they decide the same.
  func roundTrip(_ json: String, name: String) throws -> [(action: SeccompAction, conditions: [ArgumentCondition])] {
    let arch = Self.x86_64
    let source = try Profile.decode(Array(json.utf8), file: nil).profile
    let policy = Policy(profile: source, options: PolicyOptions(context: HostFacts.dockerDefault(), arches: [arch], enosysStub: false))
    let original = try Compiler.compile(policy)
    let nr = try #require(arch.number(of: name)).word
    let widths = { (i: Int) in arch.argumentType(of: name, index: i).mask }
    let kept = RegionRules.keptSpace(widths: widths, endianness: arch.endianness)
    let d = try SymbolicFilter.decisions([original], arch: arch.auditArch, nr: nr, endianness: arch.endianness, within: kept)
    let defaultAction = try #require(policy.arches.first).defaultAction
    let written = RegionRules.rules(for: d, defaultAction: defaultAction, widths: widths, endianness: arch.endianness)
    #expect(written.omitted.isEmpty, "\(written.omitted)")
    for r in written.rules {
      #expect(Set(r.conditions.map(\.index)).count == r.conditions.count, "two conditions on one argument: \(r.conditions)")
    }
    let (dn, de) = defaultAction.profileAction
    let back = Profile(
      defaultAction: dn, defaultErrnoRet: de, architectures: [arch],
      syscalls: written.rules.map { r in
        let (n, e) = r.action.profileAction
        return SyscallEntry(names: [name], action: n, errnoRet: e, args: r.conditions.isEmpty ? nil : r.conditions)
      })
    let compiled = try Compiler.compile(Policy(profile: back, options: PolicyOptions(context: HostFacts.dockerDefault(), arches: [arch], enosysStub: false)))
    let diffs = try SymbolicFilter.differences([original], [compiled], arch: arch.auditArch, nr: nr, endianness: arch.endianness, within: kept)
    #expect(diffs.isEmpty, "\(diffs.map { "\($0.region.describe(widths: widths)): \($0.first) vs \($0.second)" })")
    return written.rules
  }

  @Test func aRangeBetweenLessRestrictiveRegionsBecomesBlocks() throws {
    // ERRNO for 10 <= a0 <= 20, ALLOW on both sides: no one-sided bound fits.
    let rules = try roundTrip(#"""
      {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_GE"}, {"index": 0, "value": 20, "op": "SCMP_CMP_LE"}]}]}
      """#, name: "personality")
    #expect(rules.count == 4 && rules.allSatisfy { $0.action == .errno(1) }, "\(rules)")
  }

  @Test func aRangeUnderAMoreRestrictiveRegionTakesOneBound() throws {
    // KILL above 20 wins over an ERRNO rule that only says a0 >= 10.
    let rules = try roundTrip(#"""
      {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_GE"}, {"index": 0, "value": 20, "op": "SCMP_CMP_LE"}]},
        {"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 20, "op": "SCMP_CMP_GT"}]}]}
      """#, name: "personality")
    #expect(rules.count == 2, "\(rules)")
  }

  @Test func overlappingRulesOnTwoArguments() throws {
    _ = try roundTrip(#"""
      {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_GE"}, {"index": 0, "value": 20, "op": "SCMP_CMP_LE"}]},
        {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 15, "op": "SCMP_CMP_GE"}, {"index": 0, "value": 30, "op": "SCMP_CMP_LE"}, {"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}]},
        {"names": ["kill"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_NE"}]}]}
      """#, name: "kill")
  }

  @Test func theTutorialOnAWideArgument() throws {
    // libseccomp's tutorial, as syscage compiles it: the default need not be written.
    let rules = try roundTrip(#"""
      {"defaultAction": "SCMP_ACT_KILL_THREAD", "syscalls": [
        {"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 512, "op": "SCMP_CMP_LE"}]},
        {"names": ["write"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9, "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_NE"}]}]}
      """#, name: "write")
    #expect(rules.count == 2 && !rules.contains { $0.action == .killThread }, "\(rules)")
  }

  @Test func aMaskedRegionAndAWideInterval() throws {
    _ = try roundTrip(#"""
      {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 4, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["mmap"], "action": "SCMP_ACT_TRAP", "args": [{"index": 1, "value": 4294967296, "op": "SCMP_CMP_GT"}, {"index": 1, "value": 8589934592, "op": "SCMP_CMP_LT"}]}]}
      """#, name: "mmap")
  }

  /// Random overlapping rules on a narrow and a wide syscall, with every operator: the
  /// rules written from their regions decide the same (fixed seed).
  @Test func randomRulesComeBackExact() throws {
    var rng = SplitMix64(seed: 0x5eed_d00d)
    let ops = ["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT", "SCMP_CMP_GE", "SCMP_CMP_MASKED_EQ"]
    let actions = [#""action": "SCMP_ACT_ALLOW""#, #""action": "SCMP_ACT_ERRNO", "errnoRet": 1"#, #""action": "SCMP_ACT_ERRNO", "errnoRet": 13"#,
                   #""action": "SCMP_ACT_KILL_PROCESS""#, #""action": "SCMP_ACT_LOG""#, #""action": "SCMP_ACT_TRAP""#]
    for round in 0..<24 {
      let name = round % 2 == 0 ? "kill" : "mmap"
      let values: [UInt64] = name == "kill" ? [0, 1, 3, 9, 10, 64, 0xffff, 0xffff_fffe] : [0, 1, 7, 512, 0xffff_ffff, 0x1_0000_0000, 0x2_0000_0005]
      var rules: [String] = []
      for _ in 0..<(1 + Int(rng.next() % 4)) {
        var conds: [String] = []
        for _ in 0..<(1 + Int(rng.next() % 3)) {
          let op = rng.pick(ops), v = rng.pick(values), index = Int(rng.next() % 2)
          conds.append(op == "SCMP_CMP_MASKED_EQ"
            ? #"{"index": \#(index), "value": \#(v | 1), "valueTwo": \#(rng.pick([0, v | 1, 1])), "op": "\#(op)"}"#
            : #"{"index": \#(index), "value": \#(v), "op": "\#(op)"}"#)
        }
        rules.append(#"{"names": ["\#(name)"], \#(rng.pick(actions)), "args": [\#(conds.joined(separator: ", "))]}"#)
      }
      let json = #"{"defaultAction": "SCMP_ACT_\#(rng.pick(["ALLOW", "ERRNO", "KILL_THREAD"]))", "syscalls": [\#(rules.joined(separator: ", "))]}"#
      _ = try roundTrip(json, name: name)
    }
  }
}
