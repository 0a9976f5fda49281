import Foundation
import Host
import Profiles
import Seccomp
import Syscalls
import TestSupport

/// Profiles the compiler is proven on: Docker's default, moby's fixtures,
/// hand-written edge cases and seeded random profiles.
public enum Corpus {
  public static let fixtures = packageRoot.appendingPathComponent("Tests/ProfilesTests/Fixtures")

  public static func fixture(_ name: String) -> Profile {
    let path = fixtures.appendingPathComponent(name).path
    do {
      return try Profile.load(path: path).profile
    } catch {
      fatalError("fixture \(name): \(error)")
    }
  }

  public static var dockerDefault: Profile { fixture("docker-default.json") }

  public static let kernel = KernelVersion(major: 6, minor: 18)

  public static func context(_ native: Arch, caps: [String] = ExpansionContext.dockerDefaultCapabilities) -> ExpansionContext {
    ExpansionContext(native: native, capabilities: caps, kernel: kernel)
  }

  /// Named policies to check: each profile for several natives and capability sets.
  public static var policies: [(String, Policy)] {
    var out: [(String, Policy)] = []
    let docker = dockerDefault
    for native in [Arch.x86_64, .aarch64, .s390x, .mips64, .ppc64le, .riscv64, .mipsel64n32] {
      out.append(("docker-default/\(native)", Policy(profile: docker, options: PolicyOptions(context: context(native)))))
    }
    out.append(("docker-default/x86_64+SYS_ADMIN", Policy(profile: docker, options: PolicyOptions(context: context(.x86_64, caps: ExpansionContext.dockerDefaultCapabilities + ["CAP_SYS_ADMIN"])))))
    out.append(("docker-default/no-stub", Policy(profile: docker, options: PolicyOptions(context: context(.x86_64), enosysStub: false))))
    out.append(("docker-default/x86", Policy(profile: docker, options: PolicyOptions(context: context(.x86), arches: [.x86]))))
    for name in ["conditional_include.json", "default-old-format.json", "example.json"] {
      out.append((name, Policy(profile: fixture(name), options: PolicyOptions(context: context(.x86_64)))))
    }
    for (name, p) in edgeCases { out.append((name, Policy(profile: p, options: PolicyOptions(context: context(p.architectures?.first ?? .x86_64))))) }
    for seed in 1...24 {
      let p = randomProfile(seed: UInt64(seed))
      out.append(("random-\(seed)", Policy(profile: p, options: PolicyOptions(context: context(p.architectures![0])))))
    }
    return out
  }

  public static func entry(_ names: [String], _ action: ActionName, errno: UInt32? = nil, _ args: [ArgumentCondition] = []) -> SyscallEntry {
    SyscallEntry(names: names, action: action, errnoRet: errno, args: args.isEmpty ? nil : args)
  }

  public static func arg(_ i: Int, _ op: ComparisonOperator, _ v: UInt64, _ v2: UInt64? = nil) -> ArgumentCondition {
    ArgumentCondition(index: i, value: v, valueTwo: v2, op: op)
  }

  public static var edgeCases: [(String, Profile)] {
    [
      ("empty-allowlist", Profile(defaultAction: .errno, architectures: [.x86_64], syscalls: [])),
      ("deny-list", Profile(defaultAction: .allow, architectures: [.x86_64, .x86, .x32], syscalls: [
        entry(["mount", "umount2", "kexec_load", "socket"], .errno, errno: 1),
        entry(["ptrace"], .killProcess),
      ])),
      ("x32-only", Profile(defaultAction: .errno, architectures: [.x32], syscalls: [entry(["read", "write", "exit_group"], .allow)])),
      ("64-bit-ops", Profile(defaultAction: .errno, defaultErrnoRet: 38, architectures: [.x86_64], syscalls: [
        entry(["mmap"], .allow, [arg(1, .greaterThan, 0x1_0000_0000)]),
        entry(["mmap"], .trap, [arg(1, .lessOrEqual, 0xffff_ffff)]),
        entry(["lseek"], .allow, [arg(1, .lessThan, 0x1_0000_0005), arg(2, .notEqual, 3)]),
        entry(["lseek"], .errno, errno: 22, [arg(1, .greaterOrEqual, 0xffff_ffff_0000_0000)]),
        entry(["pread64"], .allow, [arg(3, .maskedEqual, 0xffff_0000_ffff_0000, 0x1234_0000_5678_0000)]),
        entry(["pwrite64"], .allow, [arg(3, .maskedEqual, 0xff00_0000_0000_0000, 0)]),
        entry(["madvise"], .allow, [arg(2, .equal, 0x8000_0000_0000_0004)]),
        entry(["mremap"], .allow, [arg(3, .notEqual, 0xffff_ffff_ffff_ffff)]),
        entry(["brk"], .log, [arg(0, .greaterThan, 0xffff_ffff_ffff_fffe)]),
        entry(["munmap"], .allow, [arg(1, .lessOrEqual, 0)]),
      ])),
      ("narrow-args", Profile(defaultAction: .killProcess, architectures: [.x86_64, .x86], syscalls: [
        entry(["socket"], .allow, [arg(0, .lessThan, 38)]),
        entry(["socket"], .allow, [arg(0, .equal, 39)]),
        entry(["socket"], .allow, [arg(0, .greaterThan, 40)]),
        entry(["chmod", "fchmod"], .allow, [arg(1, .lessOrEqual, 0o755)]),
        entry(["personality"], .allow, [arg(0, .maskedEqual, 4, 5)]),
        entry(["kill"], .errno, errno: 1, [arg(0, .greaterThan, 0x1_0000_0000)]),
        entry(["setuid"], .allow, [arg(0, .maskedEqual, 0xffff_ffff, 0)]),
        entry(["read", "write", "exit_group", "rt_sigreturn"], .allow),
      ])),
      ("precedence", Profile(defaultAction: .allow, architectures: [.x86_64], syscalls: [
        entry(["personality"], .errno, errno: 1, [arg(0, .equal, 5)]),
        entry(["personality"], .errno, errno: 2, [arg(0, .greaterOrEqual, 3)]),
        entry(["personality"], .trap, [arg(0, .equal, 7)]),
        entry(["personality"], .trace, errno: 9, [arg(1, .equal, 1)]),
        entry(["personality"], .killThread, [arg(0, .equal, 9), arg(1, .equal, 9)]),
        entry(["getpid"], .errno, errno: 3),
        entry(["getpid"], .allow),
        entry(["getppid"], .notify),
        entry(["gettid"], .log),
      ])),
      ("multiplexers", Profile(defaultAction: .errno, architectures: [.s390x, .s390], syscalls: [
        entry(["socket"], .allow, [arg(0, .equal, 1)]),
        entry(["bind", "connect", "shmget", "semop"], .allow),
        entry(["clone"], .allow, [arg(1, .maskedEqual, 0x7e02_0000, 0)]),
      ])),
      ("mips-bases", Profile(defaultAction: .errno, architectures: [.mips64, .mips, .mips64n32], syscalls: [
        entry(["read", "write", "openat", "socket"], .allow),
        entry(["ioctl"], .allow, [arg(1, .equal, 0x5401)]),
      ])),
      ("big-endian-args", Profile(defaultAction: .errno, architectures: [.ppc64, .ppc], syscalls: [
        entry(["mmap"], .allow, [arg(1, .greaterThan, 0x1_0000_0000)]),
        entry(["ioctl"], .allow, [arg(1, .equal, 0x5401), arg(2, .notEqual, 0)]),
      ])),
      ("arm-private", Profile(defaultAction: .errno, architectures: [.arm], syscalls: [
        entry(["cacheflush", "set_tls", "breakpoint", "read"], .allow),
      ])),
    ]
  }


  /// A seeded random profile: random ABIs of one family, names, actions and conditions.
  public static func randomProfile(seed: UInt64) -> Profile {
    var rng = SplitMix64(seed: seed)
    let families: [[Arch]] = [[.x86_64, .x86, .x32], [.x86_64], [.aarch64, .arm], [.s390x, .s390], [.mipsel64, .mipsel, .mipsel64n32], [.ppc64le], [.riscv64], [.x86]]
    let family = families[Int(rng.next() % UInt64(families.count))]
    let arches = Array(family.prefix(1 + Int(rng.next() % UInt64(family.count))))
    let actions: [ActionName] = [.allow, .allow, .allow, .errno, .errno, .killProcess, .kill, .trap, .trace, .log, .notify]
    let ops = ComparisonOperator.allCases
    let interesting: [UInt64] = [0, 1, 2, 38, 40, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0028, 0xffff_ffff_ffff_ffff, 0x8000_0000_0000_0000, 0o755]
    let names = SyscallTable.allNames
    var entries: [SyscallEntry] = []
    let count = 3 + Int(rng.next() % 40)
    for _ in 0..<count {
      let nameCount = 1 + Int(rng.next() % 6)
      let entryNames = (0..<nameCount).map { _ in names[Int(rng.next() % UInt64(names.count))] }
      var args: [ArgumentCondition] = []
      for _ in 0..<Int(rng.next() % 4) {
        let v = rng.next() % 3 == 0 ? rng.next() : interesting[Int(rng.next() % UInt64(interesting.count))]
        let v2 = rng.next() % 2 == 0 ? v & interesting[Int(rng.next() % UInt64(interesting.count))] : rng.next()
        args.append(ArgumentCondition(index: Int(rng.next() % 6), value: v, valueTwo: v2, op: ops[Int(rng.next() % UInt64(ops.count))]))
      }
      let action = actions[Int(rng.next() % UInt64(actions.count))]
      entries.append(SyscallEntry(names: entryNames, action: action, errnoRet: action.takesErrno ? UInt32(rng.next() % 140) : nil, args: args.isEmpty ? nil : args))
    }
    let defaults: [ActionName] = [.errno, .errno, .killProcess, .allow, .log, .trap]
    return Profile(defaultAction: defaults[Int(rng.next() % UInt64(defaults.count))], defaultErrnoRet: rng.next() % 2 == 0 ? 38 : nil, architectures: arches, syscalls: entries)
  }
}

/// Calls worth checking for a policy: every number of each ABI's range, the special
/// numbers, and argument vectors around every constant of the rules.
public enum Vectors {
  public static func numbers(for p: ArchPolicy) -> [UInt32] {
    var set = Set<UInt32>()
    let base = UInt32(bitPattern: p.arch.abi.numberBase)
    for n in 0..<UInt32(1024) { set.insert(n); set.insert(base &+ n) }
    for n in [0xffff_ffff, 0x7fff_ffff, 0x8000_0000, 0x3fff_ffff, 0x4000_0000, 0xbfff_ffff, 0xc000_0000, 0xffff_fffe, 0x0f_0000, 0x0f_0001, 0x0f_0005, 0x0f_0006] as [UInt32] {
      set.insert(n)
    }
    if let s = p.enosysAbove { for d: UInt32 in [0, 1, 2] { set.insert(s.word &+ d); set.insert(s.word &- d) } }
    for r in p.rules { set.insert(r.number.word &+ 1); set.insert(r.number.word &- 1) }
    return set.sorted()
  }

  public static func argumentVectors(for rules: [Rule]) -> [[UInt64]] {
    var out: [[UInt64]] = [[0, 0, 0, 0, 0, 0], [UInt64](repeating: .max, count: 6)]
    for rule in rules {
      // Candidate values per condition, and one that satisfies it.
      var satisfying = [UInt64](repeating: 0, count: 6)
      var candidates: [(Int, [UInt64])] = []
      for c in rule.conditions {
        var vals: [UInt64] = [0, 1, .max, 0xffff_ffff, 0x1_0000_0000]
        for v in [c.value, c.valueTwo] {
          vals += [v &- 1, v, v &+ 1, v | 0x1_0000_0000, v ^ 0xffff_ffff_0000_0000, v | 0x8000_0000_0000_0000, v & 0xffff_ffff]
        }
        if c.op == .maskedEqual { vals += [c.valueTwo | ~c.value, c.valueTwo, c.valueTwo ^ c.value] }
        candidates.append((c.index, vals))
        if let good = vals.first(where: { c.holds(for: $0) }) { satisfying[c.index] = good }
      }
      out.append(satisfying)
      for (i, vals) in candidates {
        for v in vals {
          var a = satisfying
          a[i] = v
          out.append(a)
        }
      }
    }
    return out
  }
}
