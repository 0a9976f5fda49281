import Foundation
import ProfileCorpus
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// `merge` and `diff --subset` checked against a brute-force decision: every syscall
/// number of each ABI's range and argument vectors around every constant of the rules
/// (the calls the compiler is checked on), on the tutorials' profiles, Docker's default,
/// moby's fixtures, allow-lists as `record` writes them and seeded random profiles.
@Suite struct MergeSubsetBruteForceTests {
  static func context(_ native: Arch = .x86_64) -> ExpansionContext { Corpus.context(native) }

  static func policy(_ p: Profile, arches: [Arch]? = nil, native: Arch = .x86_64) -> Policy {
    Policy(profile: p, options: PolicyOptions(context: context(native), arches: arches))
  }

  static func profile(_ json: String) -> Profile {
    (try? Profile.decode(Array(json.utf8), file: nil).profile) ?? Profile()
  }

  /// Allow-lists as `record` writes them (guard rails, the libc-probe ENOSYS entry).
  static func allowList(_ names: [String]) -> Profile {
    ProfileBuilder().build([Arch.x86_64: Set(names)])
  }

  /// The corpus, on x86_64 only (one ABI: a merge of different ABIs is not always exact).
  static var profiles: [(String, Profile)] {
    var out: [(String, Profile)] = [
      ("deny-dir", profile(EngineCases.denyDir)), ("deny-dir-chdir", profile(EngineCases.denyDirAndChdir)),
      ("docker-default", Corpus.dockerDefault),
      ("allow-web", allowList(["read", "write", "openat", "close", "socket", "connect", "sendto", "recvfrom", "epoll_wait"])),
      ("allow-worker", allowList(["read", "write", "futex", "nanosleep", "clone", "mmap", "munmap", "openat2"])),
    ]
    for name in ["conditional_include.json", "default-old-format.json", "example.json"] { out.append((name, Corpus.fixture(name))) }
    for (name, p) in Corpus.edgeCases where p.architectures?.contains(.x86_64) ?? true { out.append((name, p)) }
    for seed in 1...12 { out.append(("random-\(seed)", Corpus.randomProfile(seed: UInt64(seed)))) }
    return out
  }

  /// Pairs to merge and compare: the tutorials' and recorded profiles, Docker's default with
  /// several, moby's fixtures, edge cases and seeded random neighbours.
  static let pairs: [(String, String)] = [
    ("allow-web", "allow-worker"), ("deny-dir", "deny-dir-chdir"), ("deny-dir", "allow-web"),
    ("docker-default", "allow-web"), ("docker-default", "deny-dir"), ("conditional_include.json", "example.json"),
    ("64-bit-ops", "precedence"), ("narrow-args", "deny-list"), ("precedence", "narrow-args"),
    ("random-6", "random-7"), ("random-2", "allow-worker"),
  ]

  /// Every call the brute force tries: per ABI, numbers and argument vectors of the rules of all `policies`.
  static func calls(_ policies: [Policy]) -> [(Arch, UInt32, [UInt64])] {
    var out: [(Arch, UInt32, [UInt64])] = []
    var arches: [Arch] = []
    for p in policies { for a in p.arches where !arches.contains(a.arch) { arches.append(a.arch) } }
    for arch in arches {
      let aps = policies.compactMap { $0.policy(for: arch) }
      var numbers = Set<UInt32>()
      for ap in aps { numbers.formUnion(Vectors.numbers(for: ap)) }
      for nr in numbers.sorted() {
        let rules = aps.flatMap { $0.rules.filter { $0.number.word == nr } }
        for args in rules.isEmpty ? [[0, 0, 0, 0, 0, 0]] : Vectors.argumentVectors(for: rules) { out.append((arch, nr, args)) }
      }
    }
    return out
  }

  func named(_ n: String) -> Profile { Self.profiles.first { $0.0 == n }!.1 }

  @Test(arguments: [MergeMode.union, .intersection])
  func mergeDecidesTheCombinationOnEveryCall(_ mode: MergeMode) {
    var checked = 0
    for (x, y) in Self.pairs {
      let inputs = [Self.policy(named(x), arches: [.x86_64]), Self.policy(named(y), arches: [.x86_64])]
      let result = ProfileMerge.merge(inputs, labels: [x, y], mode: mode)
      let complex = result.notes.filter { $0.contains("too complex") || $0.contains("not verified") }
      #expect(result.notes.count == complex.count, "\(x) \(mode) \(y): \(result.notes.prefix(3))")
      let merged = Self.policy(result.profile, arches: [.x86_64]).ownDecisions
      let own = inputs.map(\.ownDecisions)
      // Runtime-safe rules: at most one condition per argument (runc ORs two).
      for e in result.profile.syscalls ?? [] {
        let indices = (e.args ?? []).map(\.index)
        #expect(Set(indices).count == indices.count, "\(x) \(mode) \(y): \(e)")
      }
      // The libc probes the merge answers with ENOSYS (the same rank as the default it replaces).
      let probes = Set((result.profile.syscalls ?? []).filter { $0.comment?.contains("libc tries") == true && $0.errnoRet == 38 }.flatMap(\.names)
        .compactMap { Arch.x86_64.number(of: $0)?.word })
      let skipped = Set(complex.compactMap { $0.split(separator: ":").dropFirst().first.map { $0.trimmingCharacters(in: .whitespaces) } })
      for (arch, nr, args) in Self.calls(own + [merged]) {
        if let name = arch.name(of: SyscallNumber(Int32(bitPattern: nr))), skipped.contains(name) { continue }
        var want = mode.combine(own.map { $0.decide(auditArch: arch.auditArch, nr: nr, args: args).action })
        if probes.contains(nr) {
          #expect(want.kind == .errno, "\(x) \(mode) \(y): nr \(nr) is \(want), not of ENOSYS's rank")
          want = .errno(38)
        }
        let got = merged.decide(auditArch: arch.auditArch, nr: nr, args: args).action
        checked += 1
        if got != want {
          Issue.record("\(x) \(mode) \(y): \(arch) nr \(nr) args \(args): got \(got), want \(want)")
          break
        }
      }
    }
    #expect(checked > 20_000, "\(checked) calls")
  }

  @Test func subsetProofAgreesWithTheBruteForce() {
    var proved = 0, refuted = 0
    var cases: [(String, Policy, Policy, mustProve: Bool)] = []
    for (x, y) in Self.pairs {
      let a = Self.policy(named(x), arches: [.x86_64]), b = Self.policy(named(y), arches: [.x86_64])
      cases.append(("\(y) ⊆ \(x)", a, b, false))
      cases.append(("\(x) ⊆ \(x)", a, a, true))
      // An intersection's own decisions are within each input's; under runc its ENOSYS
      // boundary may sit elsewhere, so it is compared without the layer.
      guard !x.hasPrefix("random"), !y.hasPrefix("random") else { continue }
      let i = ProfileMerge.merge([a, b], labels: [x, y], mode: .intersection)
      if i.notes.isEmpty { cases.append(("\(x) ∩ \(y) ⊆ \(x)", a.ownDecisions, Self.policy(i.profile).ownDecisions, true)) }
    }
    for (label, base, candidate, mustProve) in cases {
      let runtime: RuntimeLayer? = label.contains("∩") ? nil : .runc
      let proof = SubsetProof(base: base, candidate: candidate, runtime: runtime)
      let b = runtime.map { base.loaded(by: $0) } ?? base, c = runtime.map { candidate.loaded(by: $0) } ?? candidate
      var violation: (Arch, UInt32, [UInt64])? = nil
      for (arch, nr, args) in Self.calls([b, c]) {
        if !SubsetProof.atLeastAsRestrictive(c.decide(auditArch: arch.auditArch, nr: nr, args: args).action, b.decide(auditArch: arch.auditArch, nr: nr, args: args).action) {
          violation = (arch, nr, args)
          break
        }
      }
      if mustProve { #expect(proof.proved || !proof.unproven.isEmpty, "\(label): \(proof.counterexample.map(\.description) ?? "")") }
      if proof.proved {
        proved += 1
        #expect(violation == nil, "\(label): proved, but \(violation!) is a counterexample")
      } else if let ce = proof.counterexample, let arch = ce.arch {
        refuted += 1
        // The counterexample is a real call the candidate decides less restrictively.
        let got = c.decide(auditArch: arch.auditArch, nr: ce.number, args: ce.args).action
        let base = b.decide(auditArch: arch.auditArch, nr: ce.number, args: ce.args).action
        #expect(got == ce.candidate && base == ce.base && !SubsetProof.atLeastAsRestrictive(got, base), "\(label): \(ce)")
        #expect(proof.differingRegions > 0)
      }
    }
    #expect(proved > 12 && refuted > 4, "\(proved) proved, \(refuted) refuted")
  }

  @Test func unionOfTwoAllowListsIsOneEntryAndSmall() {
    let a = Self.allowList(["read", "write", "close"]), b = Self.allowList(["futex", "nanosleep", "exit_group"])
    let bytes = a.encode(format: .docker).utf8.count + b.encode(format: .docker).utf8.count
    for mode in [MergeMode.union, .intersection] {
      let r = ProfileMerge.merge([Self.policy(a), Self.policy(b)], labels: ["a", "b"], mode: mode)
      #expect(r.notes.isEmpty, "\(r.notes)")
      let entries = r.profile.syscalls ?? []
      let allow = entries.filter { $0.action == .allow }
      #expect(allow.count == 1, "\(entries)")
      #expect(entries.count == 2, "\(entries.map(\.names))")
      #expect(entries.contains { $0.action == .errno && $0.errnoRet == 38 && $0.names == ["clone3", "faccessat2", "fchmodat2", "openat2"] })
      let out = r.profile.encode(format: .docker).utf8.count
      #expect(Double(out) <= 1.2 * Double(bytes), "\(mode): \(out) bytes from \(bytes)")
      if mode == .union {
        #expect(Set(allow[0].names).isSuperset(of: ["read", "write", "close", "futex", "nanosleep", "exit_group"]))
      } else {
        // The intersection: only the guard rails both allow.
        #expect(Set(allow[0].names) == Set(ProfileBuilder.guardRails))
      }
    }
  }

  @Test func hundredsOfNamesMergeIntoOneEntry() {
    let names = SyscallTable.entries(in: Arch.x86_64.abi).map(\.name).filter { !ProfileBuilder.enosysFallbacks.contains($0) }
    let a = Self.allowList(Array(names.prefix(150))), b = Self.allowList(Array(names.dropFirst(100).prefix(150)))
    let r = ProfileMerge.merge([Self.policy(a), Self.policy(b)], labels: ["a", "b"], mode: .union)
    #expect(r.notes.isEmpty, "\(r.notes.prefix(3))")
    #expect((r.profile.syscalls ?? []).filter { $0.action == .allow }.count == 1)
    let bytes = a.encode(format: .docker).utf8.count + b.encode(format: .docker).utf8.count
    #expect(Double(r.profile.encode(format: .docker).utf8.count) <= 1.2 * Double(bytes))
  }

  @Test func ranksTieToTheFirstInputAsAChoice() {
    let eperm = Self.profile(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#)
    let enosys = Self.profile(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#)
    let r = ProfileMerge.merge([Self.policy(eperm), Self.policy(enosys)], labels: ["eperm.json", "enosys.json"], mode: .intersection)
    #expect(r.notes.isEmpty, "\(r.notes)")
    #expect(r.choices.contains { $0.contains("mkdir") && $0.contains("eperm.json's is kept") }, "\(r.choices)")
    let entry = (r.profile.syscalls ?? []).first { $0.names.contains("mkdir") }
    #expect(entry?.errnoRet == 1 && entry?.comment?.contains("rank the same") == true, "\(String(describing: entry))")
  }

  @Test func differentArchitecturesSayWhereAndMergeExactlyPerABI() {
    let a = Self.allowList(["read", "write", "io_uring_setup"])
    let b = Corpus.dockerDefault
    let r = ProfileMerge.merge([Self.policy(a), Self.policy(b)], labels: ["a", "docker"], mode: .union)
    // Docker's default lists x86 and x32: io_uring_setup is ALLOW on x86_64 and not on x86.
    #expect(r.notes.contains { $0.hasPrefix("x86:") && $0.contains("io_uring_setup") }, "\(r.notes.prefix(4))")
    #expect(r.notes.contains { $0.contains("--arch") })
    #expect(!r.notes.contains { $0.hasPrefix("x86_64:") }, "\(r.notes.prefix(4))")
    for arch in [Arch.x86_64, .x86] {
      let exact = ProfileMerge.merge([Self.policy(a, arches: [arch]), Self.policy(b, arches: [arch])], labels: ["a", "docker"], mode: .union)
      #expect(exact.notes.isEmpty, "\(arch): \(exact.notes.prefix(3))")
    }
  }

  /// The scaling benchmark's merge input: entries of six conditions each, no ENOSYS mix-up.
  @Test func benchmarkIntersectionIsExactWithoutENOSYS() {
    var rng = SplitMix64(seed: 1)
    let names = ["read", "write", "openat", "close", "mmap", "mprotect", "socket", "connect", "ioctl", "fcntl"]
    let ops: [ComparisonOperator] = [.equal, .notEqual, .greaterOrEqual, .lessOrEqual]
    func one() -> Profile {
      Profile(defaultAction: .errno, syscalls: (0..<4).map { i in
        SyscallEntry(names: [names[i % names.count]], action: .allow,
                     args: (0..<6).map { k in ArgumentCondition(index: k, value: UInt64(rng.below(1000)), op: ops[rng.below(4)]) })
      })
    }
    let a = one(), b = one()
    let r = ProfileMerge.merge([Self.policy(a), Self.policy(b)], labels: ["1", "2"], mode: .intersection)
    #expect(r.notes.isEmpty, "\(r.notes.prefix(3))")
    #expect(!r.notes.contains { $0.contains("ERRNO(38)") })
  }

  /// A region bounded on both sides of several arguments would take over 64 entries as
  /// aligned blocks: it is written as GE and LE on one argument, and merge says runc ORs those.
  @Test func boundedIntervalsOnManyArgumentsAreRangesAndSaySo() {
    func one(_ op: ComparisonOperator, _ v: UInt64) -> Profile {
      Profile(defaultAction: .errno, architectures: [.x86_64], syscalls: [
        SyscallEntry(names: ["read"], action: .allow, args: (0..<3).map { ArgumentCondition(index: $0, value: v, op: op) })
      ])
    }
    let inputs = [Self.policy(one(.greaterOrEqual, 3)), Self.policy(one(.lessOrEqual, 1000))]
    let r = ProfileMerge.merge(inputs, labels: ["ge", "le"], mode: .intersection)
    #expect(r.notes.count == 1 && r.notes[0].contains("runc ORs them"), "\(r.notes)")
    #expect((r.profile.syscalls ?? []).count < 64)
    #expect(ProfileMerge.verify(Self.policy(r.profile), against: inputs, mode: .intersection).isEmpty)
    let merged = Self.policy(r.profile)
    for args: [UInt64] in [[3, 3, 3], [1000, 5, 999], [2, 5, 5], [5, 1001, 5], [0x1_0000_0005, 5, 5]] {
      #expect(merged.decide(arch: .x86_64, number: Arch.x86_64.number(of: "read")!, args: args).action
        == MergeMode.intersection.combine(inputs.map { $0.decide(arch: .x86_64, number: Arch.x86_64.number(of: "read")!, args: args).action }))
    }
  }
}
