import BPF
import ProfileCorpus
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// No input makes the compiler loop, blow up or emit a program the kernel would refuse;
/// long programs (far jumps through trampolines) still decide as Policy.decide does.
@Suite struct CompilerFuzzTests {
  @Test func randomProfilesCompileFastToValidPrograms() throws {
    var rng = SplitMix64(seed: 0x5eed)
    let clock = ContinuousClock()
    var worst = Duration.zero
    for seed in 100..<400 {
      let profile = Corpus.randomProfile(seed: UInt64(seed))
      let policy = Policy(profile: profile, options: PolicyOptions(context: Corpus.context(profile.architectures![0])))
      let start = clock.now
      let program: [BPFInstruction]
      do {
        program = try Compiler.compile(policy)
      } catch {
        continue  // too long is a clear error, tested elsewhere
      }
      worst = max(worst, clock.now - start)
      try Interpreter.validate(program)
      // Spot checks on random calls.
      for _ in 0..<200 {
        let ap = policy.arches[Int(rng.next() % UInt64(policy.arches.count))]
        let rules = ap.rules
        let nr: UInt32 = rules.isEmpty || rng.next() % 4 == 0 ? UInt32(truncatingIfNeeded: rng.next() % 1100) | (ap.arch == .x32 ? 0x4000_0000 : 0)
          : rules[Int(rng.next() % UInt64(rules.count))].number.word
        let args = (0..<6).map { _ in rng.next() % 3 == 0 ? rng.next() : rng.next() % 64 }
        let expected = policy.decide(auditArch: ap.arch.auditArch, nr: nr, args: args).action
        let got = Interpreter.run(program, on: SeccompData(nr: nr, arch: ap.arch.auditArch, args: args), endianness: ap.arch.endianness).action
        #expect(got == expected, "seed \(seed) \(ap.arch) nr \(nr) args \(args)")
      }
    }
    #expect(worst < .seconds(1), "slowest compile took \(worst)")
  }

  @Test func longProgramsUseTrampolinesAndStayCorrect() throws {
    // Many argument rules spread over the number space: a program of thousands of
    // instructions whose tree must jump past 255 instructions.
    var entries: [SyscallEntry] = []
    for (i, name) in SyscallTable.allNames.enumerated() where i % 2 == 0 {
      entries.append(SyscallEntry(names: [name], action: .allow, args: [
        ArgumentCondition(index: i % 6, value: UInt64(i) << 20, op: .greaterThan),
        ArgumentCondition(index: (i + 1) % 6, value: UInt64(i), op: .notEqual),
      ]))
      entries.append(SyscallEntry(names: [name], action: .errno, errnoRet: UInt32(i % 4000), args: [
        ArgumentCondition(index: (i + 2) % 6, value: 0x1_0000_0000 | UInt64(i), op: .equal),
      ]))
    }
    let policy = Policy(profile: Profile(defaultAction: .killProcess, architectures: [.x86_64], syscalls: entries),
                        options: PolicyOptions(context: Corpus.context(.x86_64)))
    let program = try Compiler.compile(policy)
    #expect(program.count > 1000)
    try Interpreter.validate(program)
    #expect(program.contains { $0.code == BPF.jmp | BPF.ja })  // trampolines were needed
    for ap in policy.arches {
      for rule in ap.rules {
        for args in Vectors.argumentVectors(for: [rule]).prefix(12) {
          let expected = policy.decide(auditArch: ap.arch.auditArch, nr: rule.number.word, args: args).action
          let got = Interpreter.run(program, on: SeccompData(nr: rule.number.word, arch: ap.arch.auditArch, args: args)).action
          #expect(got == expected, "\(ap.arch) \(rule.name) \(args)")
        }
      }
    }
  }
}
