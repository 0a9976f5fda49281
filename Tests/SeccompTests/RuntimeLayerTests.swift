import ProfileCorpus
import Profiles
import Seccomp
import Syscalls
import Testing

/// runc's ENOSYS answer as a layer on top of a profile's own decisions, and `diff` of
/// the own decisions with one line where the layer's boundary moves.
@Suite struct RuntimeLayerTests {
  static func policy(_ json: String, stub: Bool = true) throws -> Policy {
    let p = try Profile.decode(Array(json.utf8), file: nil).profile
    return Policy(profile: p, options: PolicyOptions(context: Corpus.context(.x86_64), enosysStub: stub))
  }

  static let allowList = #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read", "write", "close"], "action": "SCMP_ACT_ALLOW"}]}"#
  static let withMkdir = #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read", "write", "close"], "action": "SCMP_ACT_ALLOW"}, {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#

  @Test func theLayerIsWhatThePolicyBuilderAdds() {
    // Every corpus policy built with the stub is its own decisions loaded by runc.
    var checked = 0
    for (name, p) in Corpus.policies where name != "docker-default/no-stub" {
      #expect(p.ownDecisions.loaded(by: .runc) == p, "\(name)")
      #expect(p.ownDecisions.arches.allSatisfy { $0.enosysAbove == nil })
      checked += 1
    }
    #expect(checked > 30)
  }

  @Test func anExplicitRuleEqualToTheDefaultIsNoDifference() throws {
    let a = try Self.policy(Self.allowList), b = try Self.policy(Self.withMkdir)
    let d = DecisionDiff(a, b)
    #expect(d.isEqual, "\(d.changes)")
    #expect(d.changes.map(\.description) == [
      "x86_64: under runc: numbers 4–82 now get ERRNO(1) instead of ENOSYS: the highest named syscall moved from close (3) to mkdir (83)"
    ])
    // As runc loads them, the 79 numbers differ (one range) and so does mkdir itself.
    let loaded = DecisionDiff(a, b, view: .loaded(.runc))
    #expect(!loaded.isEqual)
    #expect(loaded.changes.contains { if case .numbers(_, 4, 82, _, .errno(38), .errno(1)) = $0 { true } else { false } }, "\(loaded.changes)")
  }

  @Test func twoAllowListsDifferOnlyInTheirNames() throws {
    let a = try Self.policy(Self.allowList)
    let b = try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["futex", "nanosleep", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}"#)
    let text = DecisionDiff(a, b).changes.map(\.description)
    // No phantom ERRNO(38) → ERRNO(1) ranges, no ERRNO(38) → ALLOW.
    #expect(!text.contains { $0.contains("ERRNO(38)") }, "\(text)")
    #expect(text.filter { $0.contains("→") }.count == 6, "\(text)")
    #expect(text.contains("x86_64: nanosleep: ERRNO(1) → ALLOW"))
    #expect(text.filter { $0.contains("under runc") }.count == 1)
  }

  @Test func reorderedAndSplitEntriesAreNoDifference() throws {
    var split = Corpus.dockerDefault
    split.syscalls = split.syscalls!.reversed().flatMap { e -> [SyscallEntry] in
      e.names.reversed().map { n in
        var one = e
        one.names = [n]
        return one
      }
    }
    for native in [Arch.x86_64, .aarch64] {
      let o = PolicyOptions(context: Corpus.context(native))
      let d = DecisionDiff(Policy(profile: Corpus.dockerDefault, options: o), Policy(profile: split, options: o))
      #expect(d.changes.isEmpty, "\(native): \(d.changes.prefix(3))")
    }
  }

  @Test func noAnswerUnderAnAllowingDefault() throws {
    let a = try Self.policy(Self.allowList)
    let b = try Self.policy(#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read", "write", "close"], "action": "SCMP_ACT_ALLOW"}]}"#)
    let boundary = DecisionDiff(a, b).changes.filter { if case .runtimeBoundary = $0 { true } else { false } }
    #expect(boundary.count == 1)
    #expect(boundary.first?.description.contains("now get ALLOW instead of ENOSYS") == true, "\(boundary)")
  }

  @Test func subsetOfItselfAndOfLooserProfiles() throws {
    let a = try Self.policy(Self.allowList)
    let docker = Policy(profile: Corpus.dockerDefault, options: PolicyOptions(context: Corpus.context(.x86_64)))
    #expect(SubsetProof(base: docker, candidate: docker).proved)
    #expect(SubsetProof(base: docker, candidate: a).proved)
    let back = SubsetProof(base: a, candidate: docker)
    #expect(!back.proved)
    #expect(back.counterexample?.arch == .x86_64 && back.counterexample?.candidate == .allow)
    // An ABI only the candidate lists is less restrictive than the base's kill.
    let x86 = try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [{"names": ["read", "write", "close"], "action": "SCMP_ACT_ALLOW"}]}"#)
    let p = SubsetProof(base: a, candidate: x86)
    #expect(p.counterexample?.arch == .x86 && p.counterexample?.base == .killProcess, "\(String(describing: p.counterexample))")
    // ERRNO(38) and ERRNO(1) rank the same.
    #expect(SubsetProof(base: try Self.policy(Self.withMkdir), candidate: a).proved)
  }

  @Test func x32NumbersWithoutTheBitAreNotCounterexamples() throws {
    let base = try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#)
    let cand = try Self.policy(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}"#)
    let p = SubsetProof(base: base, candidate: cand)
    #expect(!p.proved)
    // write on x86_64 (1) and on x32 (0x40000001): the x32 one carries the bit.
    #expect(p.counterexample?.arch == .x86_64 && p.counterexample?.number == 1)
    #expect(p.differingRegions == 2, "\(p.differingRegions)")
  }
}
