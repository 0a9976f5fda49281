import Foundation
import Host
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// `Lint.run`: each check on a small profile that triggers it and one that does not,
/// and what Docker's default profile gets.
@Suite struct LintTests {
  static let kernel = KernelVersion(major: 6, minor: 18)

  static func options(caps: [String] = ExpansionContext.dockerDefaultCapabilities, badArch: SeccompAction = .killProcess) -> PolicyOptions {
    PolicyOptions(context: ExpansionContext(native: .x86_64, capabilities: caps, kernel: kernel), badArchAction: badArch)
  }

  /// An allow-list on x86_64 with the essentials, plus `entries` (JSON objects).
  static func allowList(_ entries: String..., defaultAction: String = "SCMP_ACT_ERRNO", arches: String = #"["SCMP_ARCH_X86_64"]"#) -> String {
    let base = #"{"names": ["exit_group", "execve", "rt_sigreturn", "read", "write"], "action": "SCMP_ACT_ALLOW"}"#
    return #"{"defaultAction": "\#(defaultAction)", "architectures": \#(arches), "syscalls": [\#(([base] + entries).joined(separator: ", "))]}"#
  }

  static func denyList(_ entries: String..., arches: String = #"["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]"#) -> String {
    #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": \#(arches), "syscalls": [\#(entries.joined(separator: ", "))]}"#
  }

  func lint(_ json: String, options: PolicyOptions = LintTests.options(), against: LintReference? = nil) throws -> [LintFinding] {
    let profile = try Profile.decode(Array(json.utf8), file: nil).profile
    return Lint.run(profile, options: options, against: against)
  }

  func ids(_ findings: [LintFinding]) -> Set<String> { Set(findings.map(\.id)) }

  func only(_ id: String, _ findings: [LintFinding]) -> [LintFinding] { findings.filter { $0.id == id } }

  static let docker = packageRoot.appendingPathComponent("Data/docker-default.json").path

  // MARK: the catalogue

  @Test func idsAreStableKebabCaseAndUnique() {
    let ids = Lint.checks.map(\.id)
    #expect(Set(ids).count == ids.count)
    for id in ids { #expect(id.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }, "\(id)") }
  }

  @Test func aCleanAllowListHasNoFindings() throws {
    let findings = try lint(Self.allowList())
    #expect(findings.isEmpty, "\(findings)")
  }

  // MARK: dangerous calls

  @Test func dangerousCallsAreNamedWithTheirGroup() throws {
    let findings = only("dangerous-syscall-allowed", try lint(Self.allowList(#"{"names": ["mount", "ptrace", "chown"], "action": "SCMP_ACT_ALLOW"}"#)))
    let mount = try #require(findings.first { $0.message.hasPrefix("mount ") })
    #expect(mount.level == .warning)
    #expect(mount.path == "syscalls[1].names[0]")
    #expect(mount.message.contains("@mount") && mount.message.contains("Docker's default"))
    let ptrace = try #require(findings.first { $0.message.hasPrefix("ptrace ") })
    #expect(ptrace.message.contains("@debug"))
    // chown is only in @privileged (and the kernel checks CAP_CHOWN): info.
    let chown = try #require(findings.first { $0.message.hasPrefix("chown ") })
    #expect(chown.level == .info && chown.message.contains("@privileged"))
    #expect(try lint(Self.allowList(#"{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}"#)).isEmpty)
  }

  @Test func aDenyListThatForgetsADangerousCallAllowsItByDefault() throws {
    let findings = only("dangerous-syscall-allowed", try lint(Self.denyList(#"{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}"#)))
    let byDefault = try #require(findings.first { $0.path == "defaultAction" && $0.level == .warning })
    // The calls go into lists, one per combination of groups, not into the message.
    #expect(byDefault.lists.contains { $0.label == "@docker-default-refused, @privileged, @reboot" && $0.names.contains("reboot") })
    #expect(!byDefault.lists.contains { $0.names.contains("mount") })
    #expect(byDefault.message.count < 300 && !byDefault.message.contains("reboot"))
    let info = try #require(findings.first { $0.path == "defaultAction" && $0.level == .info })
    #expect(info.lists == [LintList("@privileged", info.lists.first?.names ?? [])] && info.lists[0].names.contains("chown"))
    // @privileged alone is not what Docker's default refuses.
    #expect(!info.message.contains("@docker-default-refused"))
    // Printed: no line longer than the head's; the lists wrap within 80 columns.
    let lines = byDefault.description.split(separator: "\n")
    #expect(lines.count > 5)
    #expect(lines.dropFirst().allSatisfy { $0.count <= 80 && $0.hasPrefix("    ") }, "\(byDefault.description)")
    let listed = lines.dropFirst().joined(separator: " ")
    #expect(listed.contains("@docker-default-refused, @privileged, @reboot:") && listed.contains(" reboot"))
  }

  /// The calls `record --for runc` adds are the runtime's: lint says so instead of
  /// telling the user to remove them.
  @Test func runtimeCallsAreSaidToBeTheRuntimes() throws {
    let findings = only("dangerous-syscall-allowed", try lint(Self.allowList(#"{"names": ["capset", "setgroups", "setuid", "chown"], "action": "SCMP_ACT_ALLOW"}"#)))
    for name in ["capset", "setgroups", "setuid"] {
      #expect(RuntimeCalls.runc.contains(name))
      let f = try #require(findings.first { $0.message.hasPrefix("\(name) ") })
      #expect(f.message.contains("\(name) is among the calls runc makes after installing the filter; keep it if the profile is for runc"), "\(f.message)")
      #expect(!f.message.contains("Remove it"))
    }
    let chown = try #require(findings.first { $0.message.hasPrefix("chown ") })
    #expect(!RuntimeCalls.runc.contains("chown") && chown.message.contains("Remove it unless the program needs it"))
  }

  @Test func conditionalAllowIsSaidSo() throws {
    let findings = only("dangerous-syscall-allowed", try lint(Self.allowList(
      #"{"names": ["setns"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 1073741824, "op": "SCMP_CMP_EQ"}]}"#)))
    #expect(findings.count == 1)
    #expect(findings.first?.message.contains("only when a1 == 0x40000000") == true)
  }

  @Test func ioUring() throws {
    let findings = only("io-uring-allowed", try lint(Self.allowList(#"{"names": ["io_uring_setup", "io_uring_enter"], "action": "SCMP_ACT_ALLOW"}"#)))
    #expect(findings.count == 2)
    #expect(findings.allSatisfy { $0.level == .error && $0.message.contains("seccomp") })
    #expect(findings.first?.path == "syscalls[1].names[0]")
    #expect(only("io-uring-allowed", try lint(Self.denyList(#"{"names": ["io_uring_setup", "io_uring_enter", "io_uring_register"], "action": "SCMP_ACT_ERRNO"}"#))).isEmpty)
    // and a deny-list that forgets it
    #expect(only("io-uring-allowed", try lint(Self.denyList(#"{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}"#))).count == 3)
  }

  // MARK: allow-lists

  @Test func allowListWithoutEssentials() throws {
    let json = #"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}"#
    let findings = only("allow-list-missing-essential", try lint(json))
    #expect(findings.map { $0.message.components(separatedBy: ":")[0] }.sorted()
      == ["the allow-list does not allow execve", "the allow-list does not allow rt_sigreturn"])
    #expect(findings.allSatisfy { $0.level == .error })
    #expect(only("allow-list-missing-essential", try lint(Self.allowList())).isEmpty)
    // A deny-list is not an allow-list.
    #expect(only("allow-list-missing-essential", try lint(Self.denyList(#"{"names": ["execve"], "action": "SCMP_ACT_ERRNO"}"#))).isEmpty)
  }

  @Test func libcProbesMustSeeENOSYS() throws {
    let eperm = only("libc-probe-not-enosys", try lint(Self.allowList(#"{"names": ["clone3", "openat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}"#)))
    #expect(eperm.count == 2)
    #expect(eperm[0].path == "syscalls[1].names[0]" && eperm[0].message.contains("errno 1 instead of ENOSYS"))
    #expect(only("libc-probe-not-enosys", try lint(Self.allowList(#"{"names": ["clone3", "openat2", "faccessat2", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}"#))).isEmpty)
    // Refused by the default action below the ENOSYS stub: the highest named number is above clone3's.
    let byDefault = only("libc-probe-not-enosys", try lint(Self.allowList(#"{"names": ["mseal"], "action": "SCMP_ACT_ALLOW"}"#)))
    #expect(byDefault.contains { $0.message.hasPrefix("clone3") && $0.path == "defaultAction" })
    // Without a name above them, the stub answers ENOSYS.
    #expect(only("libc-probe-not-enosys", try lint(Self.allowList())).isEmpty)
    // Each reason names what Docker's default does for that call: ENOSYS for clone3, but
    // it allows faccessat2, fchmodat2 and openat2.
    let all = only("libc-probe-not-enosys", try lint(Self.allowList(#"{"names": ["clone3", "faccessat2", "fchmodat2", "openat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}"#)))
    #expect(all.count == 4)
    let docker = try Profile.load(path: Self.docker).profile
    let dockerPolicy = Policy(profile: docker, options: Self.options())
    for f in all {
      let name = String(f.message.prefix { $0 != " " })
      #expect(!f.message.contains("for clone3"), "\(f.message)")
      let decided = dockerPolicy.decide(arch: .x86_64, number: Arch.x86_64.number(of: name)!).action
      if name == "clone3" {
        #expect(decided == .errno(38) && f.message.contains("errnoRet 38 (ENOSYS), as Docker's default does"), "\(f.message)")
      } else {
        #expect(decided == .allow && f.message.contains("Allow it, as Docker's default does"), "\(name): \(decided): \(f.message)")
      }
    }
  }

  // MARK: actions

  @Test func killThread() throws {
    let findings = only("kill-thread", try lint(Self.allowList(#"{"names": ["ptrace"], "action": "SCMP_ACT_KILL"}"#, defaultAction: "SCMP_ACT_KILL_THREAD")))
    #expect(findings.map(\.path) == ["defaultAction", "syscalls[1].action"])
    #expect(findings.allSatisfy { $0.message.contains("SCMP_ACT_KILL_PROCESS") })
    #expect(only("kill-thread", try lint(Self.allowList(#"{"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"}"#))).isEmpty)
  }

  @Test func errnoZeroAndTooLarge() throws {
    let findings = try lint(Self.allowList(
      #"{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0}"#,
      #"{"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}"#,
      #"{"names": ["sync"], "action": "SCMP_ACT_ERRNO", "errnoRet": 65536}"#))
    #expect(only("errno-zero", findings).map(\.path) == ["syscalls[1].errnoRet", "syscalls[3].errnoRet"])
    let large = only("errno-too-large", findings)
    #expect(large.map(\.path) == ["syscalls[2].errnoRet"])
    #expect(large.first?.message.contains("fails with errno 4095") == true)
    let ok = try lint(Self.allowList(#"{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4095}"#))
    #expect(only("errno-zero", ok).isEmpty && only("errno-too-large", ok).isEmpty)
  }

  // MARK: argument conditions

  @Test func signedOrderComparison() throws {
    let kill = only("signed-order-comparison", try lint(Self.allowList(#"{"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_GT"}]}"#)))
    #expect(kill.count == 1)
    #expect(kill.first?.level == .warning && kill.first?.path == "syscalls[1].args[0]")
    #expect(kill.first?.message.contains("lets them through") == true)
    // An unsigned argument (kill's a0 is pid_t; mmap's a1 is size_t) is not flagged.
    #expect(only("signed-order-comparison", try lint(Self.allowList(#"{"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 4096, "op": "SCMP_CMP_GT"}]}"#))).isEmpty)
    // EQ on a signed argument is fine.
    #expect(only("signed-order-comparison", try lint(Self.allowList(#"{"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}"#))).isEmpty)
  }

  @Test func maskedEqualDatumOutsideMask() throws {
    let findings = only("masked-eq-datum-outside-mask", try lint(Self.allowList(
      #"{"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 3, "valueTwo": 5, "op": "SCMP_CMP_MASKED_EQ"}]}"#)))
    #expect(findings.count == 1)
    #expect(findings.first?.message.contains("masks it to 0x1") == true)
    #expect(only("masked-eq-datum-outside-mask", try lint(Self.allowList(
      #"{"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 3, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]}"#))).isEmpty)
  }

  @Test func narrowArgumentsUnder64BitCompare() throws {
    // socket a0 > 40 allows: fails open under runc.
    let gt = only("narrow-argument-64-bit-compare", try lint(Self.allowList(#"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_GT"}]}"#)))
    #expect(gt.count == 1)
    #expect(gt.first?.level == .warning && gt.first?.message.contains("fails open under runc") == true)
    #expect(gt.first?.message.contains("0x100000028") == true)
    // EQ allows: fails closed.
    let eq = only("narrow-argument-64-bit-compare", try lint(Self.allowList(#"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}"#)))
    #expect(eq.first?.level == .info && eq.first?.message.contains("fails closed") == true)
    // EQ denies: fails open.
    let deny = only("narrow-argument-64-bit-compare", try lint(Self.denyList(#"{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]}"#)))
    #expect(deny.first?.level == .warning && deny.first?.message.contains("fails open") == true)
    // umode_t is 16 bits.
    let mode = only("narrow-argument-64-bit-compare", try lint(Self.allowList(#"{"names": ["chmod"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 511, "op": "SCMP_CMP_LE"}]}"#)))
    #expect(mode.first?.message.contains("16 bits") == true)
    // A word-sized argument is not narrow.
    #expect(only("narrow-argument-64-bit-compare", try lint(Self.allowList(#"{"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 4096, "op": "SCMP_CMP_GT"}]}"#))).isEmpty)
  }

  @Test func datumWiderThanArgument() throws {
    let findings = only("datum-wider-than-argument", try lint(Self.allowList(#"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4294967336, "op": "SCMP_CMP_EQ"}]}"#)))
    #expect(findings.count == 1)
    #expect(findings.first?.message.contains("a0 == 0x28") == true)
    #expect(only("datum-wider-than-argument", try lint(Self.allowList(#"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]}"#))).isEmpty)
  }

  @Test func sameArgumentTwice() throws {
    let findings = only("same-argument-twice", try lint(Self.allowList(#"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 38, "op": "SCMP_CMP_NE"}, {"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]}"#)))
    #expect(findings.count == 1)
    #expect(findings.first?.message.contains("always true") == true)
    #expect(findings.first?.path == "syscalls[1].args[0]")
    #expect(only("same-argument-twice", try lint(Self.allowList(#"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 38, "op": "SCMP_CMP_NE"}, {"index": 1, "value": 40, "op": "SCMP_CMP_NE"}]}"#))).isEmpty)
  }

  // MARK: rules across calls and ABIs

  @Test func cloneFlagsWhileClone3Allowed() throws {
    let clone = #"{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]}"#
    let findings = only("clone-flags-while-clone3-allowed", try lint(Self.allowList(clone, #"{"names": ["clone3"], "action": "SCMP_ACT_ALLOW"}"#)))
    #expect(findings.map(\.path) == ["syscalls[1].args"])
    #expect(only("clone-flags-while-clone3-allowed", try lint(Self.allowList(clone, #"{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}"#))).isEmpty)
  }

  @Test func argumentRulesOnMultiplexedCalls() throws {
    let socket = #"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}"#
    let findings = only("argument-rule-on-multiplexed-call", try lint(Self.allowList(socket, arches: #"["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]"#)))
    #expect(findings.count == 1)
    #expect(findings.first?.arches == [.x86])
    #expect(findings.first?.message.contains("socketcall(1, ...)") == true && findings.first?.message.contains("fail") == true)
    #expect(only("argument-rule-on-multiplexed-call", try lint(Self.allowList(socket))).isEmpty)
  }

  @Test func ruleWhoseActionIsTheDefault() throws {
    let redundant = only("rule-action-equals-default", try lint(Self.allowList(#"{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}"#)))
    #expect(redundant.map(\.level) == [.info])
    let decisive = only("rule-action-equals-default", try lint(Self.allowList(
      #"{"names": ["personality"], "action": "SCMP_ACT_ERRNO"}"#,
      #"{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}"#)))
    #expect(decisive.map(\.level) == [.warning])
    #expect(decisive.first?.message.contains("syscalls[2]") == true)
    #expect(only("rule-action-equals-default", try lint(Self.allowList())).isEmpty)
  }

  @Test func overlappingRules() throws {
    // Exact: a0 < 10 allows, a0 == 5 kills: both match a0 == 5.
    let exact = only("overlapping-rules", try lint(Self.allowList(
      #"{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_LT"}]}"#,
      #"{"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]}"#)))
    #expect(exact.count == 1)
    #expect(exact.first?.level == .warning)
    #expect(exact.first?.message.contains("when a0 == 0x5") == true && exact.first?.message.contains("KILL_PROCESS") == true)
    // Disjoint: a0 < 10 and a0 == 20.
    #expect(only("overlapping-rules", try lint(Self.allowList(
      #"{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_LT"}]}"#,
      #"{"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 20, "op": "SCMP_CMP_EQ"}]}"#))).isEmpty)
    // MASKED_EQ against an interval: settled exactly on the decision map (a0 = 2 matches both).
    let masked = only("overlapping-rules", try lint(Self.allowList(
      #"{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_LT"}]}"#,
      #"{"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 6, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]}"#)))
    #expect(masked.count == 1 && masked.first?.level == .warning && masked.first?.message.contains("both match") == true)
    // ... and proven disjoint: below 2, a0 & 6 is 0, never 4.
    #expect(only("overlapping-rules", try lint(Self.allowList(
      #"{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_LT"}]}"#,
      #"{"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 6, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"}]}"#))).isEmpty)
    // Same action with different errnos: the first in file order.
    let data = only("overlapping-rules", try lint(Self.allowList(
      #"{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}"#,
      #"{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}"#)))
    #expect(data.first?.message.contains("first in file order") == true)
  }

  /// The overlap check pairs only rules that can both match (EQ-only rules on the same
  /// arguments are bucketed by value): its findings are exactly the pairs with different
  /// actions that some call matches, found here by trying every call over a small domain.
  @Test func overlappingRulesAreEveryPairSomeCallMatches() throws {
    var rng = SplitMix64(seed: 0x0E71A9)
    let ops = ["SCMP_CMP_EQ", "SCMP_CMP_EQ", "SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_GE", "SCMP_CMP_LT"]
    let actions = [#""action": "SCMP_ACT_ALLOW""#, #""action": "SCMP_ACT_LOG""#, #""action": "SCMP_ACT_ERRNO", "errnoRet": 13"#]
    func holds(_ op: String, _ arg: UInt64, _ value: UInt64) -> Bool {
      switch op {
      case "SCMP_CMP_EQ": arg == value
      case "SCMP_CMP_NE": arg != value
      case "SCMP_CMP_GE": arg >= value
      default: arg < value
      }
    }
    for _ in 0..<40 {
      var entries: [String] = []
      var rules: [(action: Int, conditions: [(Int, String, UInt64)])] = []
      for _ in 0..<(2 + Int(rng.next() % 10)) {
        let action = Int(rng.next() % 3)
        var conditions: [(Int, String, UInt64)] = []
        for index in [0, 1] where rng.next() % 3 != 0 {
          conditions.append((index, ops[Int(rng.next() % UInt64(ops.count))], rng.next() % 3))
        }
        rules.append((action, conditions))
        let args = conditions.map { #"{"index": \#($0.0), "value": \#($0.2), "op": "\#($0.1)"}"# }.joined(separator: ", ")
        entries.append(#"{"names": ["ioctl"], \#(actions[action]), "args": [\#(args)]}"#)
      }
      let text = #"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [\#(entries.joined(separator: ", "))]}"#
      var expected: Set<[Int]> = []
      for x in rules.indices {
        for y in (x + 1)..<rules.count where rules[x].action != rules[y].action {
          let both = (0..<4).contains { a0 in
            (0..<4).contains { a1 in
              [x, y].allSatisfy { r in rules[r].conditions.allSatisfy { holds($0.1, $0.0 == 0 ? UInt64(a0) : UInt64(a1), $0.2) } }
            }
          }
          if both { expected.insert([x, y]) }
        }
      }
      func entry(_ s: Substring) -> Int? {
        guard let open = s.range(of: "syscalls["), let close = s[open.upperBound...].firstIndex(of: "]") else { return nil }
        return Int(s[open.upperBound..<close])
      }
      let found = Set(only("overlapping-rules", try lint(text)).compactMap { f -> [Int]? in
        guard let a = entry(Substring(f.message)), let b = entry(Substring(f.path)) else { return nil }
        return [a, b]
      })
      #expect(found == expected, "\(text)")
    }
  }

  @Test func unknownNames() throws {
    let findings = try lint(Self.allowList(#"{"names": ["opnat", "socketcall", "newfstatat"], "action": "SCMP_ACT_ALLOW"}"#, arches: #"["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]"#))
    let unknown = only("unknown-syscall", findings)
    #expect(unknown.map(\.path) == ["syscalls[1].names[0]"])
    #expect(unknown.first?.message.contains("openat") == true)
    let missing = only("syscall-missing-on-arch", findings)
    #expect(missing.count == 2)
    #expect(missing.contains { $0.arches == [.x86_64] && $0.message.contains("'socketcall'") })
    #expect(missing.contains { $0.arches == [.x86] && $0.message.contains("'newfstatat'") })
    // recv has no number on x86_64 or x86, but on x86 it makes a rule through socketcall.
    let recv = only("syscall-missing-on-arch", try lint(Self.allowList(#"{"names": ["recv"], "action": "SCMP_ACT_ALLOW"}"#, arches: #"["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]"#)))
    #expect(recv.count == 1 && recv.first?.arches == [.x86_64], "\(recv)")
    // and reading such a profile warns only when no ABI of it can make the rule.
    let both = try Profile.decode(Array(Self.allowList(#"{"names": ["recv"], "action": "SCMP_ACT_ALLOW"}"#, arches: #"["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]"#).utf8), file: nil)
    #expect(both.warnings.isEmpty, "\(both.warnings)")
    let native = try Profile.decode(Array(Self.allowList(#"{"names": ["recv"], "action": "SCMP_ACT_ALLOW"}"#).utf8), file: nil)
    #expect(native.warnings.contains { $0.message.contains("\"recv\" is not a syscall on x86_64") }, "\(native.warnings)")
    // Many names: a count in the message, the names in a list.
    let many = only("syscall-missing-on-arch", try lint(Self.allowList(#"{"names": ["chown32", "fcntl64", "mmap2"], "action": "SCMP_ACT_ALLOW"}"#)))
    #expect(many.count == 1 && many[0].message.contains("3 names do not exist on any ABI of this filter"))
    #expect(many[0].lists == [LintList("names", ["chown32", "fcntl64", "mmap2"])])
    #expect(many[0].description.hasSuffix("[syscall-missing-on-arch]\n    names: chown32, fcntl64, mmap2"))
    #expect(only("unknown-syscall", try lint(Self.allowList())).isEmpty)
  }

  // MARK: deny-lists

  @Test func denyListMissingAnEquivalent() throws {
    let findings = only("deny-list-missing-equivalent", try lint(Self.denyList(#"{"names": ["open", "execve"], "action": "SCMP_ACT_ERRNO"}"#)))
    let open = try #require(findings.first { $0.message.contains("denies open ") })
    #expect(open.message.contains("openat") && open.message.contains("openat2"))
    #expect(open.path == "syscalls[0]")
    #expect(findings.contains { $0.message.contains("denies execve but allows execveat") })
    // fchdir is the way around a chdir rule.
    let chdir = only("deny-list-missing-equivalent", try lint(Self.denyList(#"{"names": ["chdir"], "action": "SCMP_ACT_ERRNO"}"#)))
    #expect(chdir.count == 1 && chdir.first?.message.contains("denies chdir but allows fchdir") == true, "\(chdir)")
    #expect(only("deny-list-missing-equivalent", try lint(Self.denyList(#"{"names": ["chdir", "fchdir"], "action": "SCMP_ACT_ERRNO"}"#))).isEmpty)
    #expect(only("deny-list-missing-equivalent", try lint(Self.denyList(
      #"{"names": ["execve", "execveat"], "action": "SCMP_ACT_ERRNO"}"#))).isEmpty)
  }

  @Test func denyListForgetting32BitABIs() throws {
    let findings = only("deny-list-missing-32-bit-abi", try lint(Self.denyList(#"{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}"#, arches: #"["SCMP_ARCH_X86_64"]"#)))
    #expect(findings.count == 1)
    #expect(findings.first?.arches == [.x86, .x32])
    #expect(findings.first?.level == .warning)
    #expect(findings.first?.message.contains("KILL_PROCESS") == true && findings.first?.message.contains("KILL_THREAD") == true)
    #expect(findings.first?.message.contains("KILL_PROCESS (the whole program dies)") == true, "\(findings)")
    // The outcome named is the bad-arch action's.
    let enosys = only("deny-list-missing-32-bit-abi", try lint(Self.denyList(#"{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}"#, arches: #"["SCMP_ARCH_X86_64"]"#), options: Self.options(badArch: .errno(38))))
    #expect(enosys.first?.message.contains("ERRNO(38) (the call fails with that errno)") == true, "\(enosys)")
    // A bad-arch action that allows is a real bypass.
    let bypass = only("deny-list-missing-32-bit-abi", try lint(Self.denyList(#"{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}"#, arches: #"["SCMP_ARCH_X86_64"]"#), options: Self.options(badArch: .allow)))
    #expect(bypass.first?.level == .error && bypass.first?.message.contains("bypass") == true)
    #expect(only("deny-list-missing-32-bit-abi", try lint(Self.denyList(#"{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}"#))).isEmpty)
    // An allow-list does not need it.
    #expect(only("deny-list-missing-32-bit-abi", try lint(Self.allowList())).isEmpty)
  }

  // MARK: against

  @Test func againstDockerDefault() throws {
    let findings = only("allowed-beyond-reference", try lint(Self.allowList(
      #"{"names": ["mount", "getpid"], "action": "SCMP_ACT_ALLOW"}"#,
      #"{"names": ["personality"], "action": "SCMP_ACT_ALLOW"}"#), against: .dockerDefault))
    #expect(findings.contains { $0.message.hasPrefix("mount ") && $0.message.contains("refuses it") && $0.level == .warning })
    #expect(findings.contains { $0.message.hasPrefix("personality ") && $0.message.contains("only when") })
    #expect(!findings.contains { $0.message.hasPrefix("getpid ") || $0.message.hasPrefix("read ") })
    // Docker's default against itself: nothing beyond.
    let docker = try Profile.load(path: Self.docker).profile
    #expect(only("allowed-beyond-reference", Lint.run(docker, options: Self.options(), against: .dockerDefault)).isEmpty)
  }

  @Test func embeddedDockerDefaultMatchesData() throws {
    let data = try String(contentsOfFile: Self.docker, encoding: .utf8)
    let fromData = try Profile.load(path: Self.docker).profile
    #expect(LintReference.dockerDefault.profile == fromData)
    #expect(Profile.dockerDefaultJSON == data)  // byte for byte
  }

  // MARK: Docker's default profile

  @Test func dockerDefaultProfile() throws {
    let docker = try Profile.load(path: Self.docker).profile
    let findings = Lint.run(docker, options: Self.options())
    for f in findings { print(f) }
    // socket a0 > 40 on an int: fails open under libseccomp's 64-bit compare.
    let socketGT = only("narrow-argument-64-bit-compare", findings).first { $0.path == "syscalls[4].args[0]" }
    #expect(socketGT?.level == .warning && socketGT?.message.contains("fails open under runc") == true)
    // socket a0 < 38 and == 39: fail closed.
    #expect(only("narrow-argument-64-bit-compare", findings).filter { $0.path == "syscalls[2].args[0]" || $0.path == "syscalls[3].args[0]" }.allSatisfy { $0.level == .info })
    // personality's unsigned int EQ rules: fail closed, info.
    let personality = only("narrow-argument-64-bit-compare", findings).filter { $0.message.contains("personality") }
    #expect(personality.count == 5 && personality.allSatisfy { $0.level == .info })
    // socket > 40 on a signed int also lets negative families through.
    #expect(only("signed-order-comparison", findings).contains { $0.path == "syscalls[4].args[0]" && $0.level == .warning })
    // The socket rules cannot be checked through socketcall on x86.
    #expect(only("argument-rule-on-multiplexed-call", findings).map(\.path) == ["syscalls[2].names[0]", "syscalls[3].names[0]", "syscalls[4].names[0]"])
    // clone3 is ERRNO(ENOSYS) without CAP_SYS_ADMIN: no clone/clone3 finding, no libc-probe finding.
    #expect(only("clone-flags-while-clone3-allowed", findings).isEmpty)
    #expect(only("libc-probe-not-enosys", findings).isEmpty)
    #expect(only("io-uring-allowed", findings).isEmpty)
    #expect(only("allow-list-missing-essential", findings).isEmpty)
    #expect(only("overlapping-rules", findings).isEmpty)
    // ptrace (kernel >= 4.8) is @debug; chroot comes with CAP_SYS_CHROOT (info).
    #expect(only("dangerous-syscall-allowed", findings).contains { $0.message.hasPrefix("ptrace ") && $0.level == .warning })
    #expect(only("dangerous-syscall-allowed", findings).contains { $0.message.hasPrefix("chroot ") && $0.level == .info })
    // With CAP_SYS_ADMIN clone3 and clone are allowed unconditionally: still no clone-flags finding.
    let admin = Lint.run(docker, options: Self.options(caps: ExpansionContext.dockerDefaultCapabilities + ["CAP_SYS_ADMIN"]))
    #expect(only("clone-flags-while-clone3-allowed", admin).isEmpty)
    #expect(only("dangerous-syscall-allowed", admin).contains { $0.message.hasPrefix("mount ") })
    #expect(!findings.contains { $0.level == .error })
  }
}
