import BPF
import ProfileCorpus
import Profiles
import Seccomp
import Syscalls
import Testing

/// The compiled program decides every call as Policy.decide does.
@Suite struct CompilerTests {
  @Test(arguments: Corpus.policies.map(\.0))
  func compiledProgramAgreesWithDecide(name: String) throws {
    let policy = try #require(Corpus.policies.first { $0.0 == name }?.1)
    let program = try Compiler.compile(policy)
    try Interpreter.validate(program)
    var checked = 0
    var mismatches: [String] = []
    for ap in policy.arches {
      for nr in Vectors.numbers(for: ap) {
        let rules = ap.rules(for: SyscallNumber(Int32(bitPattern: nr)))
        for args in rules.isEmpty ? [[0, 0, 0, 0, 0, 0]] : Vectors.argumentVectors(for: rules) {
          let expected = policy.decide(auditArch: ap.arch.auditArch, nr: nr, args: args).action
          let got = Interpreter.run(program, on: SeccompData(nr: nr, arch: ap.arch.auditArch, args: args), endianness: ap.arch.endianness)
          checked += 1
          if got.action != expected && mismatches.count < 10 {
            mismatches.append("\(ap.arch) nr \(nr) args \(args.map { String($0, radix: 16) }): program \(got.action), decide \(expected)")
          }
        }
      }
    }
    // A foreign arch gets the bad-arch action.
    for foreign in Arch.all where !policy.arches.contains(where: { $0.arch.auditArch == foreign.auditArch }) {
      let got = Interpreter.run(program, on: SeccompData(nr: 0, arch: foreign.auditArch))
      #expect(got.action == policy.badArchAction, "\(foreign)")
    }
    #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
    #expect(checked > 1000)
  }

  @Test func argumentFreeAllowedSyscallsAreCacheable() throws {
    for (name, policy) in Corpus.policies {
      let program = try Compiler.compile(policy)
      for ap in policy.arches where ap.arch != .x32 {  // x32 numbers are never cached
        for (syscall, number) in SyscallTable.entries(in: ap.arch.abi) {
          let rules = ap.rules(for: number)
          let decision = policy.decide(arch: ap.arch, number: number)
          let argFree = rules.allSatisfy { $0.conditions.isEmpty }
          guard argFree, decision.action == .allow else { continue }
          #expect(KernelCache.isCached(program, arch: ap.arch.auditArch, nr: number.word), "\(name) \(ap.arch) \(syscall)")
        }
      }
    }
  }

  @Test func dockerDefaultFigures() throws {
    let policy = Policy(profile: Corpus.dockerDefault, options: PolicyOptions(context: Corpus.context(.x86_64)))
    let program = try Compiler.compile(policy)
    let stats = FilterStatistics(program: program, policy: policy)
    let x64 = try #require(stats.arches.first { $0.arch == .x86_64 })
    print("docker-default x86_64: \(program.count) instructions; allowed avg \(x64.allowed.average) worst \(x64.allowed.worst); denied avg \(x64.denied.average) worst \(x64.denied.worst); cacheable \(x64.cacheable)/\(x64.allowedArgumentFree)")
    #expect(program.count <= 1246 / 3)
    #expect(x64.allowed.average <= 10)
    #expect(x64.allowed.worst <= 16)
    #expect(x64.cacheable == x64.allowedArgumentFree)
  }

  @Test func tooLongIsAClearError() throws {
    // Every syscall with its own argument rule and a distinct errno: far beyond 4096.
    var entries: [SyscallEntry] = []
    for (i, name) in SyscallTable.allNames.enumerated() {
      for j in 0..<4 {
        entries.append(SyscallEntry(names: [name], action: .errno, errnoRet: UInt32(i * 4 + j), args: [
          ArgumentCondition(index: j, value: UInt64(i * 7 + j), op: .equal),
          ArgumentCondition(index: j + 1, value: UInt64(i * 11 + j) << 33, op: .greaterThan),
        ]))
      }
    }
    let policy = Policy(profile: Profile(defaultAction: .allow, architectures: [.x86_64], syscalls: entries), options: PolicyOptions(context: Corpus.context(.x86_64)))
    #expect(throws: CompileError.self) { try Compiler.compile(policy) }
    do {
      _ = try Compiler.compile(policy)
    } catch {
      #expect(error.description.contains("more than the kernel's limit of 4096"))
      #expect(error.length > 4096)
    }
  }

  @Test func compilingIsDeterministic() throws {
    let policy = Policy(profile: Corpus.dockerDefault, options: PolicyOptions(context: Corpus.context(.x86_64)))
    #expect(try Compiler.compile(policy) == Compiler.compile(policy))
  }
}
