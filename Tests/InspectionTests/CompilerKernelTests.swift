import BPF
import Foundation
import Host
import Inspection
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// The live kernel as the oracle for the compiler, so that Policy.decide and the
/// compiler cannot simply agree with each other: every call below is made in a child
/// under the compiled filter with a user-notification filter stacked on it; nothing runs.
@Suite(.serialized) struct CompilerKernelTests {
  static let supported = FilterProbe.isSupported
  static let reason = Comment(rawValue: "needs seccomp user notification (Linux 5.0+) on x86_64; required under CI=true")

  static let context = ExpansionContext(native: .x86_64, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: KernelVersion(major: 6, minor: 18))

  static func loadDocker() throws -> Profile {
    try Profile.load(path: packageRoot.appendingPathComponent("Data/docker-default.json").path).profile
  }

  /// uretprobe (335) and uprobe (336): the kernel (6.x) lets native calls of these
  /// bypass seccomp entirely, whatever the filter says (see `kernelExemptsUprobeCalls`).
  static let exempt: Set<UInt32> = [335, 336]

  @Test(.enabled(if: supported || isCI, reason))
  func kernelExemptsUprobeCalls() throws {
    try #require(Self.supported, Self.reason)
    let denyAll = [BPFInstruction.ret(SeccompAction.errno(1))]
    // uprobe outside a probe trampoline fails with ENXIO: it ran, the filter did not see it.
    #expect(FilterProbe.run(denyAll, nr: 336) == .errno(6))
    #expect(FilterProbe.run(denyAll, nr: 39) == .errno(1))  // getpid is filtered as usual
    #expect(Arch.x86_64.name(of: SyscallNumber(335)) == "uretprobe")
    #expect(Arch.x86_64.name(of: SyscallNumber(336)) == "uprobe")
  }

  /// Probes each call and returns the ones where the kernel disagrees with decide.
  func disagreements(_ policy: Policy, _ program: [BPFInstruction], _ calls: [(Arch, UInt32, [UInt64])]) -> [String] {
    var out: [String] = []
    for (arch, nr, args) in calls where !(arch == .x86_64 && Self.exempt.contains(nr)) {
      let expected = policy.decide(auditArch: arch.auditArch, nr: nr, args: args).action
      let abi: FilterProbe.CallABI = arch == .x86 ? .ia32 : .native
      let outcome = FilterProbe.run(program, abi: abi, nr: nr, args: args)
      if !outcome.matches(expected) {
        out.append("\(arch) nr \(nr) args \(args.map { String($0, radix: 16) }): kernel \(outcome), decide \(expected)")
      }
    }
    return out
  }

  @Test(.enabled(if: supported || isCI, reason))
  func dockerDefaultOnTheKernel() throws {
    try #require(Self.supported, Self.reason)
    let policy = Policy(profile: try Self.loadDocker(), options: PolicyOptions(context: Self.context))
    let program = try Compiler.compile(policy)
    var calls: [(Arch, UInt32, [UInt64])] = []
    // Every x86_64 and ia32 number of the table, a span above it (ENOSYS stub and default), x32 numbers.
    for n in UInt32(0)...UInt32(480) { calls.append((.x86_64, n, [])) }
    for n in UInt32(0)...UInt32(470) { calls.append((.x86, n, [])) }
    for n in stride(from: UInt32(0), through: 560, by: 3) { calls.append((.x86_64, 0x4000_0000 | n, [])) }
    calls += [(.x86_64, 0xffff_ffff, []), (.x86_64, 0x8000_0001, []), (.x86_64, 0xc000_0001, []), (.x86_64, 1000, [])]
    // Argument rules: socket families around AF_ALG/AF_VSOCK, with and without high bits.
    let socket = Arch.x86_64.number(of: "socket")!.word
    for family: UInt64 in [0, 1, 2, 10, 37, 38, 39, 40, 41, 0x1_0000_0026, 0x1_0000_0028, 0x1_0000_0029, 0xffff_ffff_ffff_ffff] {
      calls.append((.x86_64, socket, [family, 1, 0]))
      calls.append((.x86, Arch.x86.number(of: "socket")!.word, [family, 1, 0]))
    }
    calls.append((.x86, Arch.x86.number(of: "socketcall")!.word, [1, 0]))  // SYS_SOCKET through the multiplexer
    let personality = Arch.x86_64.number(of: "personality")!.word
    for p: UInt64 in [0, 8, 0x20000, 0x20008, 0xffff_ffff, 1, 0x1_0000_0000, 0xffff_ffff_ffff_ffff, 0x1_ffff_ffff] {
      calls.append((.x86_64, personality, [p]))
    }
    let clone = Arch.x86_64.number(of: "clone")!.word
    for flags: UInt64 in [0x11, 0x1000_0000 /* CLONE_NEWUSER */, 0x2_0000 /* CLONE_NEWNS */, 0x7e02_0000, 0x1_0000_0000, 0x3d0f00] {
      calls.append((.x86_64, clone, [flags]))
    }
    let found = disagreements(policy, program, calls)
    #expect(found.isEmpty, "\(found.prefix(20).joined(separator: "\n"))")
    // The case libseccomp gets wrong, named: AF_VSOCK with a high bit set is refused.
    #expect(FilterProbe.run(program, nr: socket, args: [0x1_0000_0028, 1, 0]) == .errno(1))
  }

  @Test(.enabled(if: supported || isCI, reason))
  func edgeCaseProfilesOnTheKernel() throws {
    try #require(Self.supported, Self.reason)
    var profiles: [(String, Profile)] = []
    let arg = { (i: Int, op: ComparisonOperator, v: UInt64, v2: UInt64?) in ArgumentCondition(index: i, value: v, valueTwo: v2, op: op) }
    profiles.append(("every action", Profile(defaultAction: .errno, defaultErrnoRet: 5000, architectures: [.x86_64, .x86, .x32], syscalls: [
      SyscallEntry(names: ["getpid"], action: .killProcess),
      SyscallEntry(names: ["getppid"], action: .killThread),
      SyscallEntry(names: ["gettid"], action: .trap),
      SyscallEntry(names: ["getuid"], action: .errno, errnoRet: 0),
      SyscallEntry(names: ["getgid"], action: .trace, errnoRet: 7),
      SyscallEntry(names: ["geteuid"], action: .log),
      SyscallEntry(names: ["getegid"], action: .notify),
      SyscallEntry(names: ["read", "write"], action: .allow),
    ])))
    profiles.append(("64-bit and narrow arguments", Profile(defaultAction: .errno, architectures: [.x86_64, .x86], syscalls: [
      SyscallEntry(names: ["mmap"], action: .allow, args: [arg(1, .greaterThan, 0x1_0000_0000, nil)]),
      SyscallEntry(names: ["lseek"], action: .allow, args: [arg(1, .lessThan, 0x1_0000_0005, nil), arg(2, .notEqual, 3, nil)]),
      SyscallEntry(names: ["pread64"], action: .allow, args: [arg(3, .maskedEqual, 0xffff_0000_ffff_0000, 0x1234_0000_5678_0000)]),
      SyscallEntry(names: ["chmod"], action: .allow, args: [arg(1, .lessOrEqual, 0o755, nil)]),
      SyscallEntry(names: ["kill"], action: .trap, args: [arg(0, .greaterThan, 0x7fff_ffff, nil)]),
      SyscallEntry(names: ["personality"], action: .allow, args: [arg(0, .maskedEqual, 4, 5)]),
    ])))
    profiles.append(("x32 only", Profile(defaultAction: .killProcess, architectures: [.x32], syscalls: [SyscallEntry(names: ["read", "getpid"], action: .allow)])))
    for seed in [3, 7, 11, 13] {
      var p = randomProfile(seed: UInt64(seed))
      p.architectures = [.x86_64, .x86, .x32]
      profiles.append(("random \(seed)", p))
    }
    var found: [String] = []
    for (name, profile) in profiles {
      let policy = Policy(profile: profile, options: PolicyOptions(context: Self.context))
      let program = try Compiler.compile(policy)
      var calls: [(Arch, UInt32, [UInt64])] = []
      for ap in policy.arches {
        let base = ap.arch == .x32 ? UInt32(0x4000_0000) : 0
        for n in stride(from: base, to: base + 460, by: 7) { calls.append((ap.arch, n, [])) }
        for r in ap.rules {
          calls.append((ap.arch, r.number.word, []))
          for c in r.conditions {
            for v in [c.value, c.value &+ 1, c.value &- 1, c.value | 0x1_0000_0000, c.valueTwo, ~c.value] {
              var args = [UInt64](repeating: 0, count: 6)
              args[c.index] = v
              calls.append((ap.arch, r.number.word, args))
            }
          }
        }
      }
      calls.append((.x86_64, 0x4000_0000, []))
      calls.append((.x86_64, 0xffff_ffff, []))
      found += disagreements(policy, program, calls).map { "\(name): \($0)" }
    }
    #expect(found.isEmpty, "\(found.prefix(20).joined(separator: "\n"))")
  }

  /// A small seeded random profile (x86 family), like the compiler corpus's.
  func randomProfile(seed: UInt64) -> Profile {
    var state = seed
    func next() -> UInt64 {
      state &+= 0x9e37_79b9_7f4a_7c15
      var z = state
      z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
      z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
      return z ^ (z >> 31)
    }
    let names = SyscallTable.allNames
    let actions: [ActionName] = [.allow, .allow, .errno, .killProcess, .trap, .log]
    let values: [UInt64] = [0, 1, 40, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0028, .max]
    var entries: [SyscallEntry] = []
    for _ in 0..<12 {
      var args: [ArgumentCondition] = []
      for _ in 0..<Int(next() % 3) {
        args.append(ArgumentCondition(index: Int(next() % 3), value: values[Int(next() % 7)], valueTwo: values[Int(next() % 7)], op: ComparisonOperator.allCases[Int(next() % 7)]))
      }
      let action = actions[Int(next() % 6)]
      entries.append(SyscallEntry(names: [names[Int(next() % UInt64(names.count))], names[Int(next() % UInt64(names.count))]], action: action,
                                  errnoRet: action == .errno ? UInt32(next() % 100) : nil, args: args.isEmpty ? nil : args))
    }
    return Profile(defaultAction: next() % 2 == 0 ? .errno : .allow, architectures: [.x86_64], syscalls: entries)
  }
}
