import Foundation
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// Every lint statement about what gets through or what is refused, checked against
/// `Policy.decide` on sampled calls, over Docker's default, the tutorials' deny-lists and
/// seeded random profiles.
@Suite struct LintClaimTests {
  static let kernel = KernelVersion(major: 6, minor: 18)
  static let context = ExpansionContext(native: .x86_64, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: kernel)

  /// Argument values worth trying for `number`: 0, all ones, and every datum of the
  /// policy's conditions on it with its neighbours.
  static func candidates(_ ap: ArchPolicy, _ number: SyscallNumber) -> [[UInt64]] {
    var values = [[UInt64]](repeating: [0, .max, 1, 0xffff_ffff], count: 6)
    for r in ap.rules where r.number == number {
      for c in r.conditions {
        values[c.index] += [c.value, c.value &- 1, c.value &+ 1, c.valueTwo, c.valueTwo | ~c.value, ~c.value]
      }
    }
    return values
  }

  /// Sampled calls of `number` (a0 fixed when given): all zeros, one argument varied at a
  /// time, and seeded random combinations of the candidates.
  static func samples(_ ap: ArchPolicy, _ number: SyscallNumber, a0: UInt64? = nil) -> [[UInt64]] {
    let values = candidates(ap, number)
    var out: [[UInt64]] = [[0, 0, 0, 0, 0, 0]]
    // No rule tests an argument: every call of the number is decided alike.
    guard ap.rules.contains(where: { $0.number == number && !$0.conditions.isEmpty }) else {
      return a0.map { [[$0, 0, 0, 0, 0, 0]] } ?? out
    }
    for i in 0..<6 { for v in values[i] { var a: [UInt64] = [0, 0, 0, 0, 0, 0]; a[i] = v; out.append(a) } }
    var rng = SplitMix64(seed: UInt64(number.word) &+ 7)
    for _ in 0..<60 { out.append((0..<6).map { values[$0][rng.below(values[$0].count)] }) }
    if let a0 { for k in out.indices { out[k][0] = a0 } }
    return out
  }

  static func actions(_ policy: Policy, _ arch: Arch, _ name: String, a0: UInt64? = nil) -> [SeccompAction] {
    guard let ap = policy.policy(for: arch), let nr = arch.number(of: name) else { return [] }
    return samples(ap, nr, a0: a0).map { policy.decide(arch: arch, number: nr, args: $0).action }
  }

  static let multiplexed: [String: (String, UInt64)] = [
    "socket": ("socketcall", 1), "connect": ("socketcall", 3), "setsockopt": ("socketcall", 14),
    "getsockopt": ("socketcall", 15), "sendto": ("socketcall", 11), "shmget": ("ipc", 23), "msgrcv": ("ipc", 12),
  ]

  /// Checks each statement of one finding; returns how many were checked.
  static func check(_ f: LintFinding, profile: Profile, policy: Policy, reference: Policy?, _ label: String) -> Int {
    let m = f.message
    func name(before marker: String) -> String? {
      m.range(of: marker).map { String(m[..<$0.lowerBound]) }.flatMap { $0.contains(" ") ? nil : $0 }
    }
    var checked = 0
    switch f.id {
    case "argument-rule-on-multiplexed-call":
      let name = String(m.prefix { $0 != " " })
      guard let (mux, call) = multiplexed[name] else { Issue.record("\(label): no multiplexer for \(name)"); return 0 }
      for arch in f.arches {
        let got = actions(policy, arch, mux, a0: call)
        for a in Set(got) { #expect(m.contains("gets \(a) (") || m.contains("or \(a) ("), "\(label): \(mux)(\(call)) gets \(a), not said: \(m)") }
        if m.contains("no call gets through") { #expect(!got.contains { $0.permits }, "\(label): \(m)") }
        if m.contains("under syscage too it gets") { #expect(got.allSatisfy { $0.permits }, "\(label): \(m)") }
        if m.contains("some calls get through") { #expect(got.contains { $0.permits } && !got.allSatisfy { $0.permits }, "\(label): \(m)") }
        checked += 1
      }
    case "dangerous-syscall-allowed", "io-uring-allowed":
      if f.path == "defaultAction" {
        for list in f.lists {
          for n in list.names {
            for arch in f.arches where arch.number(of: n) != nil {
              #expect(actions(policy, arch, n).allSatisfy { $0.permits }, "\(label): \(n) on \(arch) is not allowed outright: \(m)")
              checked += 1
            }
          }
        }
      } else if let n = name(before: " is allowed") {
        for arch in f.arches {
          let got = actions(policy, arch, n)
          #expect(got.contains { $0.permits }, "\(label): \(n) on \(arch) is never allowed: \(m)")
          if !m.contains("only when") && !m.contains("except when") {
            #expect(got.allSatisfy { $0.permits }, "\(label): \(n) on \(arch) is not allowed outright: \(m)")
          }
          checked += 1
        }
      }
    case "allow-list-missing-essential":
      if let r = m.range(of: "does not allow ") {
        let n = String(m[r.upperBound...].prefix { $0 != ":" })
        for arch in f.arches {
          let nr = arch.number(of: n)!
          let d = policy.decide(arch: arch, number: nr)
          #expect(!d.action.permits && m.contains("\(d.action). Add"), "\(label): \(n) on \(arch) gets \(d.action): \(m)")
          checked += 1
        }
      }
    case "libc-probe-not-enosys":
      let n = String(m.prefix { $0 != " " })
      for arch in f.arches {
        let d = policy.decide(arch: arch, number: arch.number(of: n)!)
        #expect(!d.action.permits, "\(label): \(m)")
        if d.action.kind == .errno { #expect(m.contains("errno \(d.action.effectiveErrno!) instead"), "\(label): gets \(d.action): \(m)") }
        else { #expect(m.contains("gets \(d.action):"), "\(label): gets \(d.action): \(m)") }
        checked += 1
      }
    case "allowed-beyond-reference":
      guard let reference, let n = name(before: " is allowed") else { break }
      for arch in f.arches {
        #expect(actions(policy, arch, n).contains { $0.permits }, "\(label): \(n) on \(arch) is never allowed: \(m)")
        if m.contains("refuses it") {
          #expect(!actions(reference, arch, n).contains { $0.permits }, "\(label): the reference allows \(n) on \(arch): \(m)")
        }
        checked += 1
      }
    case "deny-list-missing-equivalent":
      guard let d = m.range(of: "denies "), let b = m.range(of: " but allows "), let e = m.range(of: ", which do") else { break }
      let denied = m[d.upperBound..<b.lowerBound].components(separatedBy: ", ")
      let allowed = m[b.upperBound..<e.lowerBound].components(separatedBy: ", ")
      for arch in f.arches {
        for n in denied { #expect(actions(policy, arch, n).contains { !$0.permits }, "\(label): \(n) on \(arch) is never denied: \(m)") }
        for n in allowed { #expect(actions(policy, arch, n).contains { $0.permits }, "\(label): \(n) on \(arch) is never allowed: \(m)") }
        checked += 1
      }
    case "deny-list-missing-32-bit-abi":
      for arch in f.arches {
        let d = policy.decide(arch: arch, number: arch.number(of: "mkdir") ?? arch.number(of: "mkdirat")!)
        #expect(d.reason == .badArch || d.reason == .x32Rejected || d.reason == .x86_64Rejected, "\(label): \(m)")
        if m.contains("bypass every rule") { #expect(d.action.permits, "\(label): \(m)") }
        if m.contains("they do not get through") { #expect(!d.action.permits && m.contains("ABI \(d.action)"), "\(label): gets \(d.action): \(m)") }
        checked += 1
      }
    case "clone-flags-while-clone3-allowed":
      for arch in f.arches {
        #expect(actions(policy, arch, "clone3").contains { $0.permits }, "\(label): clone3 on \(arch) is never allowed: \(m)")
        checked += 1
      }
    default: break
    }
    return checked
  }

  static func profiles() throws -> [(String, Profile)] {
    var out: [(String, Profile)] = [("Docker's default", Profile.dockerDefault)]
    let all = #"["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]"#
    let texts = [
      ("deny.json", #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": \#(all), "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}, {"names": ["rmdir"], "action": "SCMP_ACT_KILL_PROCESS"}]}"#),
      ("deny-dir.json", #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chdir"], "action": "SCMP_ACT_ERRNO"}]}"#),
      ("deny with bad-arch allow", #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["mkdir", "socket"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]}]}"#),
      ("allow-list on socketcall ABIs", #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": \#(all), "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}, {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}, {"names": ["connect"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 2, "value": 16, "op": "SCMP_CMP_GT"}]}, {"names": ["clone3", "io_uring_setup"], "action": "SCMP_ACT_ALLOW"}, {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#),
    ]
    for (label, text) in texts { out.append((label, try Profile.decode(Array(text.utf8), file: label).profile)) }
    // Seeded random profiles over calls the checks talk about.
    let names = ["socket", "connect", "setsockopt", "sendto", "shmget", "msgrcv", "mkdir", "mkdirat", "open", "openat", "openat2",
      "clone", "clone3", "ptrace", "mount", "io_uring_setup", "exit_group", "execve", "rt_sigreturn", "faccessat2", "reboot", "socketcall", "ipc", "kexec_load"]
    let actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_LOG", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"]
    let ops = ["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_MASKED_EQ"]
    var rng = SplitMix64(seed: 17)
    for k in 0..<60 {
      var entries: [String] = []
      for _ in 0..<(1 + rng.below(6)) {
        let picked = (0...rng.below(3)).map { _ in "\"\(rng.pick(names))\"" }
        var e = #"{"names": [\#(picked.joined(separator: ", "))], "action": "\#(rng.pick(actions))""#
        if rng.chance(50) {
          let op = rng.pick(ops)
          e += #", "args": [{"index": \#(rng.below(3)), "value": \#(rng.pick([0, 1, 3, 16, 40, 0x7e020000])), "valueTwo": \#(rng.pick([0, 1])), "op": "\#(op)"}]"#
        }
        entries.append(e + "}")
      }
      let archs = rng.pick([#"["SCMP_ARCH_X86_64"]"#, all, #"["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]"#])
      let text = #"{"defaultAction": "\#(rng.pick(["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS"]))", "architectures": \#(archs), "syscalls": [\#(entries.joined(separator: ", "))]}"#
      out.append(("random \(k)", try Profile.decode(Array(text.utf8), file: "random \(k)").profile))
    }
    return out
  }

  @Test func everyStatementHoldsUnderDecide() throws {
    var checked: [String: Int] = [:]
    let reference = LintReference.dockerDefault
    for (label, profile) in try Self.profiles() {
      for badArch in [SeccompAction.killProcess, .allow] {
        let options = PolicyOptions(context: Self.context, badArchAction: badArch)
        let policy = Policy(profile: profile, options: options)
        var refOptions = options
        refOptions.arches = policy.arches.map(\.arch)
        let refPolicy = Policy(profile: reference.profile, options: refOptions)
        for f in Lint.run(profile, options: options, against: reference) {
          checked[f.id, default: 0] += Self.check(f, profile: profile, policy: policy, reference: refPolicy, "\(label) (bad arch \(badArch)) \(f.path)")
        }
      }
    }
    // Each kind of statement was met in the corpus (the test would prove nothing otherwise).
    for id in ["argument-rule-on-multiplexed-call", "dangerous-syscall-allowed", "io-uring-allowed", "allow-list-missing-essential",
      "libc-probe-not-enosys", "allowed-beyond-reference", "deny-list-missing-equivalent", "deny-list-missing-32-bit-abi", "clone-flags-while-clone3-allowed"]
    {
      #expect((checked[id] ?? 0) > 0, "no \(id) statement was checked")
    }
  }

  /// The issue's case: Docker's default allows socketcall outright, so lint must not say
  /// that socketcall(1, ...) is refused for 32-bit programs.
  @Test func dockerDefaultSocketcallIsSaidToGetThrough() throws {
    let options = PolicyOptions(context: Self.context, arches: [.x86_64, .x86])
    let findings = Lint.run(Profile.dockerDefault, options: options).filter { $0.id == "argument-rule-on-multiplexed-call" }
    #expect(!findings.isEmpty)
    let policy = Policy(profile: Profile.dockerDefault, options: options)
    #expect(policy.decide(arch: .x86, number: Arch.x86.number(of: "socketcall")!, args: [1, 0]).action == .allow)
    for f in findings {
      #expect(!f.message.contains("fails closed"), "\(f.message)")
      #expect(f.message.contains("under syscage too it gets ALLOW"), "\(f.message)")
    }
  }
}
