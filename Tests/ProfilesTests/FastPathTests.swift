import Host
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// The fast paths give what the plain definitions give: decision maps against
/// `ArchPolicy.decide` on every region, suggestions against the full edit distance;
/// and lint, merge and diff survive mutated profiles.
@Suite struct FastPathTests {
  static let names = ["read", "write", "socket", "clone", "personality", "ioctl", "mmap", "futex", "kill", "prctl"]
  static let ops: [ComparisonOperator] = [.equal, .notEqual, .lessThan, .lessOrEqual, .greaterThan, .greaterOrEqual, .maskedEqual]
  static let actions: [SeccompAction] = [.allow, .log, .errno(1), .errno(38), .killProcess, .trap(), .killThread]

  static func randomProfile(_ rng: inout SplitMix64) -> Profile {
    var entries: [SyscallEntry] = []
    for _ in 0..<(1 + rng.below(12)) {
      let action = rng.pick(actions).profileAction
      let args = (0..<rng.below(4)).map { _ in
        ArgumentCondition(
          index: rng.below(3), value: rng.pick([0, 1, 2, 8, 0xff, 0x7e02_0000, 0xffff_ffff, .max, rng.next() % 64]),
          valueTwo: rng.pick([0, 1, 8]), op: rng.pick(ops))
      }
      entries.append(SyscallEntry(names: [rng.pick(names), rng.pick(names)], action: action.name, errnoRet: action.errnoRet, args: args.isEmpty ? nil : args))
    }
    let d = rng.pick(actions).profileAction
    return Profile(defaultAction: d.name, defaultErrnoRet: d.errnoRet, architectures: [.x86_64, .x86], syscalls: entries)
  }

  @Test func decisionMapsAgreeWithDecideOnEveryRegion() throws {
    var rng = SplitMix64(seed: 99)
    var regions = 0
    for round in 0..<300 {
      let policy = Policy(profile: Self.randomProfile(&rng), options: PolicyOptions(context: HostFacts.dockerDefault()))
      for ap in policy.arches {
        for number in ap.numbers {
          guard let d = try? SyscallDecisions.compute(arch: ap.arch, number: number, policies: [(ap, .killProcess)]) else { continue }
          for r in 0..<d.regionCount {
            let want = ap.decide(nr: number.word, args: d.witness(of: r)).action
            #expect(d.actions[0][r] == want, "round \(round): \(ap.arch) \(number) region \(r)")
          }
          regions += d.regionCount
        }
      }
    }
    #expect(regions > 3000)
  }

  /// The suggestions as they were computed before the bounded distance: every name, full distance.
  static func plainSuggestions(_ name: String) -> [String] {
    let q = name.lowercased()
    let cutoff = max(2, q.utf8.count / 3)
    var scored: [(name: String, distance: Int)] = []
    for n in SyscallTable.allNames {
      let distance: Int = editDistance(q, n)
      let contains: Bool = q.isEmpty || n.contains(q)
      if distance <= cutoff || contains { scored.append((n, distance)) }
    }
    scored.sort { $0.distance != $1.distance ? $0.distance < $1.distance : $0.name < $1.name }
    return scored.prefix(3).map(\.name)
  }

  @Test func suggestionsMatchTheFullEditDistance() {
    var rng = SplitMix64(seed: 7)
    let letters = Array("abcdefghijklmnopqrstuvwxyz_0123456789")
    var words = ["opnat", "readd", "wirte", "clone33", "mkdirr", "x", "", "socket_call", "io_uring", "pidfd"]
    for _ in 0..<150 {
      var w = Array(rng.pick(SyscallTable.allNames))
      for _ in 0..<rng.below(5) {
        let i = rng.below(w.count + 1)
        switch rng.below(3) {
        case 0: w.insert(rng.pick(letters), at: i)
        case 1 where i < w.count: w.remove(at: i)
        default: if i < w.count { w[i] = rng.pick(letters) }
        }
      }
      words.append(String(w))
    }
    for w in words {
      #expect(SyscallTable.suggestions(for: w) == Self.plainSuggestions(w), "\(w)")
    }
  }

  @Test func lintMergeAndDiffSurviveMutatedProfiles() {
    var rng = SplitMix64(seed: 4242)
    let seeds = TestFiles.fixtures.map { TestFiles.bytes("Fixtures/" + $0) }
    var decoded = 0
    for round in 0..<240 {
      var bytes = round % 2 == 0 ? Array(Self.randomProfile(&rng).encode(format: .docker).utf8) : rng.pick(seeds)
      for _ in 0..<rng.below(3) { ProfileFuzzTests.mutate(&bytes, &rng) }
      guard let (profile, _) = try? Profile.decode(bytes, file: "fuzz", format: .docker) else { continue }
      decoded += 1
      let options = PolicyOptions(context: HostFacts.dockerDefault(), arches: [.x86_64, .x86])
      _ = Lint.run(profile, options: options).map(\.description)
      let policy = Policy(profile: profile, options: options)
      if round % 12 == 0 {
        let merged = ProfileMerge.merge([policy, Policy(profile: .dockerDefault, options: options)], labels: ["a", "b"], mode: .intersection)
        _ = merged.profile.encode(format: .docker)
      }
      _ = DecisionMap(policies: [policy, Policy(profile: .dockerDefault, options: options)])
    }
    #expect(decoded > 60, "\(decoded) decoded")
  }
}
