import Profiles
import Seccomp
import Syscalls
import Testing

/// The exact decision map, and `diff` and `merge` built on it.
@Suite struct DecisionMapTests {
  static let options = PolicyOptions(
    context: ExpansionContext(native: .x86_64, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: KernelVersion(major: 6, minor: 18)))

  static func policy(_ p: Profile, stub: Bool = true) -> Policy {
    var o = options
    o.enosysStub = stub
    return Policy(profile: p, options: o)
  }

  static func policy(_ json: String) throws -> Policy {
    policy(try Profile.decode(Array(json.utf8), file: nil).profile)
  }

  static func arg(_ i: Int, _ op: ComparisonOperator, _ v: UInt64, _ v2: UInt64? = nil) -> ArgumentCondition {
    ArgumentCondition(index: i, value: v, valueTwo: v2, op: op)
  }

  /// Docker's default with three real changes: socket also allows AF_VSOCK (40),
  /// personality 0x20008 becomes 0x20009, and mkdir with S_ISVTX in the mode is EACCES.
  static var modifiedDocker: Profile {
    var p = Profile.dockerDefault
    p.syscalls = p.syscalls!.map { e in
      var e = e
      if e.names == ["socket"], e.args?.first?.op == .notEqual { e.args = [arg(0, .notEqual, 38)] }
      if e.names == ["socket"], let a = e.args?.first, a.value == 40 { e.args = [arg(0, .notEqual, 38)] }
      if e.names == ["personality"], let a = e.args?.first, a.value == 0x20008 { e.args = [arg(0, .equal, 0x20009)] }
      return e
    }
    p.syscalls!.append(SyscallEntry(names: ["mkdir"], action: .errno, errnoRet: 13, args: [arg(1, .maskedEqual, 0o1000, 0o1000)]))
    return p
  }

  // MARK: equal decisions

  @Test func differentlyWrittenProfilesAreEqual() throws {
    let a = try Self.policy(#"""
      {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
        {"names": ["read", "write", "close", "socket"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]}
      ]}
      """#)
    let b = try Self.policy(#"""
      {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
        {"name": "close", "action": "SCMP_ACT_ALLOW"},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["write", "read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_LE"}]},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_GT"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_GE"}, {"index": 0, "value": 8, "op": "SCMP_CMP_LE"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 100, "op": "SCMP_CMP_LT"}]}
      ]}
      """#)
    let diff = DecisionDiff(a, b)
    #expect(diff.isEqual, "\(diff.changes)")
    #expect(DecisionDiff(b, a).isEqual)
  }

  @Test func dockerDefaultShuffledIsEqual() {
    var shuffled = Profile.dockerDefault
    shuffled.syscalls = shuffled.syscalls!.reversed().map { e in
      var e = e
      e.names = e.names.reversed()
      return e
    }
    let a = Self.policy(Profile.dockerDefault), b = Self.policy(shuffled)
    #expect(DecisionDiff(a, b).isEqual)
  }

  // MARK: real differences

  @Test func dockerVersusModifiedFindsTheRegions() {
    let diff = DecisionDiff(Self.policy(Profile.dockerDefault), Self.policy(Self.modifiedDocker), arches: [.x86_64])
    let text = diff.changes.map(\.description)
    #expect(text.contains("x86_64: socket: a0 in [40, 40]: ERRNO(1) → ALLOW"), "\(text)")
    #expect(text.contains("x86_64: personality: a0 in [0x20008, 0x20008]: ALLOW → ERRNO(1)"), "\(text)")
    #expect(text.contains("x86_64: personality: a0 in [0x20009, 0x20009]: ERRNO(1) → ALLOW"), "\(text)")
    #expect(text.contains("x86_64: mkdir: a1 & 0x200 == 0x200: ALLOW → ERRNO(13)"), "\(text)")
    #expect(text.count == 4, "\(text)")
  }

  @Test func widthCutArgumentsAreComparedAsTheKernelSeesThem() throws {
    // socket's a0 is an int: 0x1_00000028 is 40, so `a0 != 40` and `a0 < 40 || a0 > 40` agree.
    let a = try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]}]}"#)
    let b = try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_LT"}]}, {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_GT"}]}]}"#)
    #expect(DecisionDiff(a, b).isEqual)
  }

  @Test func maskedEqualDifferencesAreExact() throws {
    func clone(_ mask: UInt64) throws -> Policy {
      try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": \#(mask), "op": "SCMP_CMP_MASKED_EQ"}]}]}"#)
    }
    // 0x7e020000 vs 0x7e000000: the second also allows CLONE_NEWNS... no: it allows calls with bit 0x20000 set.
    let diff = DecisionDiff(try clone(0x7e02_0000), try clone(0x7e00_0000))
    let text = diff.changes.map(\.description)
    #expect(text == ["x86_64: clone: a0 & 0x7e000000 == 0x0 && a0 & 0x7e020000 ∉ {0x0}: ERRNO(1) → ALLOW"], "\(text)")
    // A mask pattern that cannot happen inside an interval is proven empty, not sampled.
    let p = try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_LT"}, {"index": 0, "value": 16, "valueTwo": 16, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#)
    let s = try SyscallDecisions.compute(arch: .x86_64, number: Arch.x86_64.number(of: "clone")!, policies: [(p.arches[0], .killProcess)])
    #expect(!s.actions[0].contains(.allow))
  }

  @Test func regionsPartitionTheSpaceAndWitnessesDecideThem() throws {
    for (policy, name) in [(Self.policy(Profile.dockerDefault), "clone"), (Self.policy(Self.modifiedDocker), "socket"),
                           (Self.policy(Self.modifiedDocker), "personality"), (Self.policy(Self.modifiedDocker), "mkdir")] {
      let ap = policy.policy(for: .x86_64)!
      let n = Arch.x86_64.number(of: name)!
      let s = try SyscallDecisions.compute(arch: .x86_64, number: n, policies: [(ap, .killProcess)])
      for r in 0..<s.regionCount {
        let w = s.witness(of: r)
        #expect(s.region(r).allSatisfy { $0.contains(w[$0.index]) })
      }
      // A check (not the method): random and boundary calls fall in exactly one region,
      // whose action is decide's.
      var rng = SystemRandomNumberGenerator()
      var probes: [[UInt64]] = (0..<2000).map { _ in (0..<6).map { _ in UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng) } }
      probes += [[40, 0, 0, 0, 0, 0], [0x1_0000_0028, 0, 0, 0, 0, 0], [0x20008, 0, 0, 0, 0, 0], [0, 0o1777, 0, 0, 0, 0], [0x7e02_0000, 0, 0, 0, 0, 0]]
      for args in probes {
        let hits = (0..<s.regionCount).filter { r in s.region(r).allSatisfy { $0.contains(args[$0.index]) } }
        #expect(hits.count == 1)
        if let r = hits.first { #expect(s.actions[0][r] == ap.decide(nr: n.word, args: args).action) }
      }
    }
  }

  @Test func defaultChangesAreNumberRangesAndTheStubIsNotTheProfiles() throws {
    let json = #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#
    let p = try Profile.decode(Array(json.utf8), file: nil).profile
    // runc's ENOSYS answer is a layer on top of the profile's own decisions: with or without it, they are the same.
    #expect(DecisionDiff(Self.policy(p), Self.policy(p, stub: false)).changes.isEmpty)
    var kill = p
    kill.defaultAction = .killProcess
    let diff = DecisionDiff(Self.policy(p, stub: false), Self.policy(kill, stub: false), view: .own(boundaries: nil))
    #expect(diff.changes.count == 1, "\(diff.changes)")
    guard case .numbers(_, let first, let last, let names, let old, let new) = diff.changes.last else {
      Issue.record("\(diff.changes)")
      return
    }
    #expect(first == 1 && last == 0x3fff_ffff && names.contains("write") && old == .errno(1) && new == .killProcess)
  }

  @Test func archOnlyInOneAndBadArchAreReported() throws {
    let a = try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#)
    let b = try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#)
    let d = DecisionDiff(a, b)
    #expect(d.changes.contains(.archOnlyIn(arch: .x86, inFirst: false)))
    #expect(d.changes.contains { if case .syscall(.x86, "read", _, _, .killProcess, .allow) = $0 { true } else { false } })
  }

  @Test func tooComplexIsReportedNotSampled() throws {
    let masks = (0..<18).map { #"{"index": 2, "value": \#(UInt64(3) << UInt64($0 * 2)), "valueTwo": \#(UInt64(1) << UInt64($0 * 2)), "op": "SCMP_CMP_MASKED_EQ"}"# }
    let entries = masks.map { #"{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [\#($0)]}"# }.joined(separator: ",")
    let a = try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [\#(entries)]}"#)
    let d = DecisionDiff(a, a)
    #expect(!d.isEqual)
    #expect(d.changes.contains { if case .tooComplex(_, "ioctl", _, _) = $0 { true } else { false } })
  }

  // MARK: merge

  /// The merged profile decides the combination of the inputs on every region of the
  /// common refinement, and on every number range; and (a cross-check) on random calls.
  func expectExactMerge(_ inputs: [Policy], _ mode: MergeMode, sourceLocation: SourceLocation = #_sourceLocation) -> Policy {
    let result = ProfileMerge.merge(inputs, labels: inputs.indices.map { "p\($0)" }, mode: mode)
    #expect(result.notes.isEmpty, "\(result.notes)", sourceLocation: sourceLocation)
    let merged = Self.policy(result.profile)
    let map = DecisionMap(policies: inputs + [merged])
    var regions = 0
    for ad in map.arches {
      #expect(ad.tooComplex.isEmpty, sourceLocation: sourceLocation)
      for s in ad.syscalls {
        for r in 0..<s.regionCount {
          regions += 1
          let want = mode.combine(inputs.indices.map { s.actions[$0][r] })
          #expect(s.actions[inputs.count][r] == want, "\(ad.arch) \(s.name) \(s.region(r))", sourceLocation: sourceLocation)
        }
      }
      for r in ad.rest {
        #expect(r.actions.last == mode.combine(Array(r.actions.dropLast())), "\(ad.arch) \(r.first)-\(r.last)", sourceLocation: sourceLocation)
      }
    }
    #expect(regions > 0, sourceLocation: sourceLocation)
    #expect(ProfileMerge.verify(merged, against: inputs, mode: mode).isEmpty, sourceLocation: sourceLocation)
    var rng = SystemRandomNumberGenerator()
    for _ in 0..<3000 {
      let arch = merged.arches.randomElement(using: &rng)!.arch
      let nr = UInt32.random(in: 0...460, using: &rng)
      let args = (0..<6).map { _ in UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng) }
      let want = mode.combine(inputs.map { $0.decide(auditArch: arch.auditArch, nr: nr, args: args).action })
      #expect(merged.decide(auditArch: arch.auditArch, nr: nr, args: args).action == want, sourceLocation: sourceLocation)
    }
    return merged
  }

  @Test func mergeDockerWithModifiedCopy() {
    let a = Self.policy(Profile.dockerDefault), b = Self.policy(Self.modifiedDocker)
    let u = expectExactMerge([a, b], .union)
    let i = expectExactMerge([a, b], .intersection)
    let socket = Arch.x86_64.number(of: "socket")!
    #expect(u.decide(arch: .x86_64, number: socket, args: [40]).action == .allow)
    #expect(i.decide(arch: .x86_64, number: socket, args: [40]).action == .errno(1))
    // Docker denies AF_ISDN (38) and so does the copy: denied by both.
    #expect(u.decide(arch: .x86_64, number: socket, args: [38]).action == .errno(1))
    #expect(i.decide(arch: .x86_64, number: socket, args: [39]).action == .allow)
    let mkdir = Arch.x86_64.number(of: "mkdir")!
    #expect(u.decide(arch: .x86_64, number: mkdir, args: [0, 0o1755]).action == .allow)
    #expect(i.decide(arch: .x86_64, number: mkdir, args: [0, 0o1755]).action == .errno(13))
    // The union of a profile with itself decides as it does.
    #expect(DecisionDiff(expectExactMerge([a, a], .union), a).isEqual)
  }

  @Test func conditionalDenyDoesNotOverrideTheOtherInputsAllow() throws {
    // Concatenating these would deny personality(5) (KILL beats ALLOW); the union must allow it.
    let allow = try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["personality", "read"], "action": "SCMP_ACT_ALLOW"}]}"#)
    let deny = try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW"}, {"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]}, {"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}"#)
    let n = Arch.x86_64.number(of: "personality")!
    let u = expectExactMerge([allow, deny], .union)
    #expect(u.decide(arch: .x86_64, number: n, args: [5]).action == .allow)
    #expect(u.decide(arch: .x86_64, number: Arch.x86_64.number(of: "write")!).action == .allow)
    let i = expectExactMerge([allow, deny], .intersection)
    #expect(i.decide(arch: .x86_64, number: n, args: [5]).action == .killProcess)
    #expect(i.decide(arch: .x86_64, number: n, args: [6]).action == .allow)
    #expect(i.decide(arch: .x86_64, number: Arch.x86_64.number(of: "write")!).action == .errno(1))
  }

  @Test func mergeMaskedPatternsAndDifferentDefaults() throws {
    // "none of these patterns" must be written with MASKED_EQ sub-patterns.
    let a = try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]}, {"names": ["openat"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 3, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#)
    let b = try Self.policy(#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "args": [{"index": 0, "value": 65536, "valueTwo": 65536, "op": "SCMP_CMP_MASKED_EQ"}]}, {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 4096, "op": "SCMP_CMP_GE"}]}, {"names": ["openat"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 3, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#)
    _ = expectExactMerge([a, b], .union)
    _ = expectExactMerge([a, b], .intersection)
    let allowAll = try Self.policy(#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["mount", "umount2"], "action": "SCMP_ACT_ERRNO"}]}"#)
    _ = expectExactMerge([a, allowAll], .union)
    _ = expectExactMerge([a, allowAll], .intersection)
  }

  @Test func whatCannotBeExpressedIsReported() throws {
    // Docker's default lists x86 and x32 too; there the union is Docker's ERRNO default,
    // on x86_64 it is ALLOW (allowAll's default): one profile default cannot say both, and
    // the names shared by the ABIs cannot be given different rules. merge says so.
    let allowAll = try Self.policy(#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}"#)
    let docker = Self.policy(Profile.dockerDefault)
    let result = ProfileMerge.merge([docker, allowAll], labels: ["docker", "all"], mode: .union)
    #expect(!result.notes.isEmpty)
    #expect(result.notes.allSatisfy { !$0.hasPrefix("x86_64:") }, "\(result.notes.prefix(5))")
    // On the native ABI the merged profile is still exact.
    let merged = Self.policy(result.profile)
    #expect(ProfileMerge.verify(merged, against: [docker, allowAll], mode: .union).allSatisfy { !$0.hasPrefix("x86_64:") })
    // Restricted to the native ABI, the same merge is exact.
    var o = Self.options
    o.arches = [.x86_64]
    _ = expectExactMerge([Policy(profile: Profile.dockerDefault, options: o), allowAll], .union)
    _ = expectExactMerge([Policy(profile: Profile.dockerDefault, options: o), allowAll], .intersection)
  }
}
