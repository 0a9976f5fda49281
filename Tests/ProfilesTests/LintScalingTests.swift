import Host
import Testing
import TestSupport

@testable import Profiles
@testable import Seccomp
@testable import Syscalls

/// The shortcuts that make lint (and diff, merge) linear in the number of rules decide as
/// `decide` does: rules sharing conditions visited once, comparisons' cells found by binary
/// search, each multiplexed call's outcome computed once.
@Suite struct LintScalingTests {
  /// Random rules on one syscall: every operator, datums from a small domain (so rules
  /// share boundaries and conditions), repeated condition sets with actions of one kind
  /// and different data (the first in file order must win), conditionless rules.
  static func randomPolicy(_ rng: inout SplitMix64, number: SyscallNumber) -> ArchPolicy {
    let ops: [ComparisonOperator] = [.equal, .notEqual, .lessThan, .lessOrEqual, .greaterThan, .greaterOrEqual, .maskedEqual]
    let actions: [SeccompAction] = [.allow, .log, .errno(1), .errno(2), .trap(), .killProcess, .trace(3)]
    // One width per argument (compute refuses mixed widths).
    let widths: [UInt64] = [.max, 0xffff_ffff, .max]
    let domain: [UInt64] = [0, 1, 2, 3, 5, 8, 0xff, 0x100, 0xffff_ffff, .max]
    var rules: [Rule] = []
    var seen: [[Condition]] = []
    for _ in 0..<(1 + rng.below(24)) {
      var conditions: [Condition]
      if !seen.isEmpty && rng.below(4) == 0 {
        conditions = rng.pick(seen)
      } else {
        conditions = (0..<rng.below(3)).map { _ in
          let index = rng.below(3)
          let op = rng.pick(ops)
          return Condition(index: index, op: op, value: rng.pick(domain), valueTwo: rng.pick(domain), width: widths[index])
        }
        seen.append(conditions)
      }
      rules.append(Rule(name: "read", number: number, action: rng.pick(actions), conditions: conditions, source: "syscalls[\(rules.count)]"))
    }
    return ArchPolicy(arch: .x86_64, defaultAction: rng.below(2) == 0 ? .errno(1) : .allow, rules: rules)
  }

  @Test func decisionsOnEveryRegionAreDecides() throws {
    var rng = SplitMix64(seed: 17)
    let number = Arch.x86_64.number(of: "read")!
    var checked = 0
    for _ in 0..<150 {
      let ap = Self.randomPolicy(&rng, number: number)
      guard let d = try? SyscallDecisions.compute(arch: .x86_64, number: number, policies: [(ap, .killProcess)]) else { continue }
      for r in 0..<d.regionCount {
        let want = ap.decide(nr: number.word, args: d.witness(of: r)).action
        #expect(d.actions[0][r] == want, "region \(d.region(r)) of \(ap.rules)")
        checked += 1
      }
    }
    #expect(checked > 2_000)
  }

  /// A profile of many entries on a few calls (EQ on distinct values, and entries without
  /// conditions), on three ABIs: the findings name every entry they should, and a call of
  /// each kind decides as the findings say.
  @Test func manyEntriesOnThreeABIs() throws {
    let names = ["socket", "connect", "personality", "unshare", "read"]
    let actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_LOG"]
    var entries: [String] = []
    for i in 0..<600 {
      let args = i % 2 == 1 ? #", "args": [{"index": \#(i % 3), "value": \#(i), "op": "SCMP_CMP_EQ"}]"# : ""
      entries.append(#"{"names": ["\#(names[i % names.count])"], "action": "\#(actions[i % 3])"\#(args)}"#)
    }
    let text = #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": [\#(entries.joined(separator: ", "))]}"#
    let profile = try Profile.decode(Array(text.utf8), file: nil).profile
    let findings = Lint.run(profile, options: LintTests.options())
    // Every entry with conditions on socket or connect gets its multiplexed-call finding (x86 has socketcall).
    let multiplexed = Set(findings.filter { $0.id == "argument-rule-on-multiplexed-call" }.map(\.path))
    let expected = Set((0..<600).filter { $0 % 2 == 1 && ["socket", "connect"].contains(names[$0 % names.count]) }.map { "syscalls[\($0)].names[0]" })
    #expect(multiplexed == expected)
    #expect(findings.filter { $0.id == "argument-rule-on-multiplexed-call" }.allSatisfy { $0.arches == [.x86] })
    // socketcall(SYS_SOCKET, ...) on x86: the outcome the findings name is decide's.
    let policy = Policy(profile: profile, options: LintTests.options())
    let x86 = try #require(policy.policy(for: .x86))
    let socketcall = Arch.x86.number(of: "socketcall")!
    let outcome = Linter.multiplexedOutcome(x86, mux: "socketcall", call: 1)
    #expect(!outcome.isEmpty)
    #expect(outcome.contains { $0.action == x86.decide(nr: socketcall.word, args: [1, 0, 0, 0, 0, 0]).action })
  }
}
