import Foundation
import ProfileCorpus
import Profiles
import Seccomp
import Syscalls
import Testing

/// LXC's seccomp policy: the converter (versions 1 and 2), the reader of both versions, the
/// reader of plain name lists, and the container configuration edit.
@Suite struct LXCFormatTests {
  static let target = ConversionTarget(
    context: ExpansionContext(native: .x86_64, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: KernelVersion(major: 6, minor: 18)))

  static func profile(_ json: String) throws -> Profile {
    try Profile.decode(Array(json.utf8), file: nil, format: .docker, strict: false).profile
  }

  /// The policy's rule lines: no comments, no version, policy or section line.
  static func rules(_ text: String) -> [String] {
    Array(text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.hasPrefix("[") }.dropFirst(2))
  }

  /// Where `a` and `b` decide differently a named syscall on `arches` (every syscall of the
  /// table, with argument vectors around every rule constant), leaving out `except`.
  static func differences(_ a: Policy, _ b: Policy, arches: [Arch], except: Set<String> = []) -> [String] {
    var out: [String] = []
    for arch in arches {
      for (name, nr) in SyscallTable.entries(in: arch.abi) where !except.contains(name) {
        let rules = (a.policy(for: arch)?.rules ?? []).filter { $0.number == nr } + (b.policy(for: arch)?.rules ?? []).filter { $0.number == nr }
        let vectors = rules.isEmpty ? [[UInt64](repeating: 0, count: 6)] : Vectors.argumentVectors(for: rules)
        for args in vectors {
          let x = a.decide(arch: arch, number: nr, args: args).action
          let y = b.decide(arch: arch, number: nr, args: args).action
          if x != y, out.count < 10 { out.append("\(arch) \(name) \(args): \(x) vs \(y)") }
        }
      }
    }
    return out
  }

  /// Converts, reads the text back as LXC would on an x86_64 host, and compares the decisions.
  static func roundTrip(_ p: Profile, version: LXCConversion.Version = .v2, file: String = "round trip") throws -> [String] {
    let c = try LXCConversion(profile: p, target: target, version: version, runtimeCalls: [])
    let back = try LXCPolicyImport(text: c.text, file: nil, host: .x86_64)
    let original = Policy(profile: p, options: target.policyOptions)
    let imported = Policy(profile: back.profile, options: PolicyOptions(context: target.context))
    let arches = version == .v1 ? [Arch.x86_64] : original.arches.map(\.arch)
    return differences(original, imported, arches: arches, except: c.inexact)
  }

  // MARK: Version 2

  @Test func denyListIsWrittenAsLXCReadsIt() throws {
    let c = try LXCConversion(profile: try Self.profile(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#),
      target: Self.target)
    let lines = c.text.split(separator: "\n").map(String.init)
    #expect(lines.prefix(2) == ["2", "denylist"])
    #expect(lines.contains("[x86_64]"))
    #expect(Self.rules(c.text) == ["mkdir errno 1", "mkdirat errno 1"])
    #expect(c.warnings.isEmpty, "\(c.warnings)")
    // LXC reads comments only at the start of a line, and nothing between the version and the policy line.
    #expect(lines.allSatisfy { $0.hasPrefix("#") || !$0.contains("#") })
  }

  @Test func profileListingOneABISaysLXCCoversTheOthers() throws {
    let c = try LXCConversion(profile: try Self.profile(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#), target: Self.target)
    #expect(c.warnings.contains { $0.hasPrefix("x86, x32: not in the profile's architectures") })
  }

  @Test func allowListHasTheDefaultAfterItsWordAndAllowsLXCsCalls() throws {
    let p = try Self.profile(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}, {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}, {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#)
    let c = try LXCConversion(profile: p, target: Self.target, runtimeCalls: ["wait4", "mkdir", "read"])
    #expect(c.text.split(separator: "\n")[1] == "allowlist errno 1")
    let rules = Self.rules(c.text)
    #expect(rules.contains("read") && rules.contains("write") && rules.contains("exit_group"))
    #expect(rules.contains("clone3 errno 38"))
    #expect(rules.contains("mkdir errno 13"))
    // wait4 falls to the default: allowed for LXC. mkdir is refused by a rule: said, not changed.
    #expect(rules.contains("wait4"))
    #expect(c.runtimeCallsAdded == ["wait4"])
    #expect(c.warnings.contains { $0.contains("the profile refuses them: mkdir") })
    #expect(c.text.contains("# LXC's own calls after it loads the filter, allowed so that the container starts: wait4."))
    // Without runtime calls, wait4 keeps the default.
    let none = try LXCConversion(profile: p, target: Self.target, runtimeCalls: [])
    #expect(!Self.rules(none.text).contains("wait4"))
  }

  @Test func runtimeCallsComeFromTheRuntimeTable() throws {
    let p = try Self.profile(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#)
    let c = try LXCConversion(profile: p, target: Self.target)
    let expected = ContainerRuntime.lxc.callsAfterFilter().filter { $0 != "read" && Arch.x86_64.number(of: $0) != nil }.sorted()
    #expect(c.runtimeCallsAdded == expected)
  }

  @Test func dockersDefaultRoundTripsWithItsDecisions() throws {
    let p = try Profile.decode(
      [UInt8](try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/docker-default.json"))),
      file: nil, format: .docker, strict: false
    ).profile
    let c = try LXCConversion(profile: p, target: Self.target, runtimeCalls: [])
    #expect(c.text.split(separator: "\n")[1] == "allowlist errno 1")
    #expect(Self.rules(c.text).contains("personality allow [0,0x0,SCMP_CMP_EQ]"))
    #expect(!Self.rules(c.text).contains("keyctl"))
    let diffs = try Self.roundTrip(p)
    #expect(diffs.isEmpty, "\(diffs.joined(separator: "\n"))")
  }

  @Test func argumentRulesRoundTrip() throws {
    let p = try Self.profile(
      #"""
      {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": [
        {"names": ["read", "write", "exit_group", "socket"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["mkdir"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 448, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["kill"], "action": "SCMP_ACT_KILL_THREAD", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 9, "op": "SCMP_CMP_GE"}]},
        {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}
      ]}
      """#)
    let c = try LXCConversion(profile: p, target: Self.target, runtimeCalls: [])
    let rules = Self.rules(c.text)
    #expect(rules.contains("mkdir allow [1,0x1c0,SCMP_CMP_EQ]"))
    #expect(rules.contains("clone allow [0,0x0,SCMP_CMP_MASKED_EQ,0x7e020000]"))
    #expect(rules.contains("kill kill [0,0x1,SCMP_CMP_EQ][1,0x9,SCMP_CMP_GE]"))
    let diffs = try Self.roundTrip(p)
    #expect(diffs.isEmpty, "\(diffs.joined(separator: "\n"))")
  }

  @Test func actionsLXCLacksAreWarnedAndApproximated() throws {
    let p = try Self.profile(
      #"""
      {"defaultAction": "SCMP_ACT_KILL_PROCESS", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_LOG"}, {"names": ["write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["ptrace"], "action": "SCMP_ACT_TRACE"}, {"names": ["mkdir"], "action": "SCMP_ACT_TRAP"},
        {"names": ["ioctl"], "action": "SCMP_ACT_NOTIFY"}
      ]}
      """#)
    let c = try LXCConversion(profile: p, target: Self.target, runtimeCalls: [])
    #expect(c.text.split(separator: "\n")[1] == "allowlist kill")
    let rules = Self.rules(c.text)
    #expect(rules.contains("read") && rules.contains("write"))
    #expect(rules.contains("ptrace errno 38"))
    #expect(rules.contains("mkdir trap"))
    #expect(rules.contains("ioctl notify"))
    #expect(c.warnings.contains { $0.hasPrefix("SCMP_ACT_LOG") && $0.contains("(read)") })
    #expect(c.warnings.contains { $0.hasPrefix("SCMP_ACT_KILL_PROCESS") && $0.contains("the default action") })
    #expect(c.warnings.contains { $0.hasPrefix("SCMP_ACT_TRACE") && $0.contains("(ptrace)") })
    #expect(c.warnings.contains { $0.hasPrefix("notify:") })
    #expect(c.inexact.isSuperset(of: ["read", "ptrace"]))
  }

  @Test func whatLXCRefusesFailsClosedOrIsLeftOut() throws {
    let p = try Self.profile(
      #"""
      {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 38, "op": "SCMP_CMP_NE"}, {"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
        {"names": ["mkdir"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 448, "op": "SCMP_CMP_EQ"}]},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 256, "op": "SCMP_CMP_GE"}]}
      ]}
      """#)
    let c = try LXCConversion(profile: p, target: Self.target, runtimeCalls: [])
    let rules = Self.rules(c.text)
    // Two conditions on a0 make LXC refuse the file: socket gets its most restrictive answer, the default.
    #expect(!rules.contains { $0.hasPrefix("socket") })
    #expect(c.warnings.contains { $0.hasPrefix("socket: two conditions on one argument") && $0.contains("fail closed") })
    // mkdir's ERRNO rule equals the default: left out, and said, since it overlaps the allow rule.
    #expect(rules.filter { $0.hasPrefix("mkdir ") } == ["mkdir allow [1,0x1c0,SCMP_CMP_EQ]"])
    #expect(c.warnings.contains { $0.hasPrefix("mkdir: a rule whose action is the default") })
    // A line without arguments decides every call under libseccomp: kill's argument rule fails closed.
    let plain = try Self.profile(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3}, {"names": ["mkdir"], "action": "SCMP_ACT_KILL_THREAD", "args": [{"index": 1, "value": 64, "op": "SCMP_CMP_EQ"}]}]}"#)
    let p2 = try LXCConversion(profile: plain, target: Self.target, runtimeCalls: [])
    #expect(Self.rules(p2.text) == ["mkdir kill"])
    #expect(p2.warnings.contains { $0.hasPrefix("mkdir: a line without arguments makes libseccomp ignore") })
    // Every line is one LXC loads.
    _ = try LXCPolicyImport(text: c.text, file: nil, host: .x86_64)
  }

  @Test func perABIDifferencesGetTheMostRestrictiveAnswer() throws {
    // A recorded allow-list with x86 listed too: the ENOSYS stub starts at other numbers per ABI.
    let p = try Self.profile(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [{"names": ["read", "write", "rseq"], "action": "SCMP_ACT_ALLOW"}, {"names": ["ptrace"], "action": "SCMP_ACT_KILL_THREAD", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#)
    let c = try LXCConversion(profile: p, target: Self.target, runtimeCalls: [])
    #expect(c.warnings.contains { $0.contains("the profile answers differently per ABI") })
    let diffs = try Self.roundTrip(p)
    #expect(diffs.isEmpty, "\(diffs.joined(separator: "\n"))")
  }

  @Test func otherHostsGetTheirSection() throws {
    let p = try Self.profile(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#)
    let arm = ConversionTarget(context: ExpansionContext(native: .aarch64, capabilities: [], kernel: KernelVersion(major: 6, minor: 18)))
    let c = try LXCConversion(profile: p, target: arm, runtimeCalls: [])
    #expect(c.text.contains("\n[arm64]\nmkdirat errno 1\n"))
    // Read on an x86_64 host, the [arm64] lines are skipped.
    let onX86 = try LXCPolicyImport(text: c.text, file: nil, host: .x86_64)
    #expect((onX86.profile.syscalls ?? []).isEmpty)
    let onArm = try LXCPolicyImport(text: c.text, file: nil, host: .aarch64)
    #expect(onArm.profile.architectures == [.aarch64, .arm])
    #expect(onArm.profile.syscalls?.first?.names == ["mkdirat"])
  }

  // MARK: Version 1

  @Test func versionOneIsNumbersAndSaysWhatItLoses() throws {
    let p = try Self.profile(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}, {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}, {"names": ["mkdir"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 448, "op": "SCMP_CMP_EQ"}]}]}"#)
    let c = try LXCConversion(profile: p, target: Self.target, version: .v1, runtimeCalls: [])
    #expect(c.text == "1\nallowlist\n0 # read\n1 # write\n231 # exit_group\n")
    #expect(c.warnings.contains { $0 == "version 1 covers x86_64 only: calls from x86 are killed" })
    #expect(c.warnings.contains { $0.hasPrefix("version 1 kills (SIGSYS) every call it does not list") })
    #expect(c.warnings.contains { $0.contains("clone3") && $0.contains("killed instead") })
    #expect(c.warnings.contains { $0.hasPrefix("mkdir: version 1 has no argument rules") })
    let back = try LXCPolicyImport(text: c.text, file: nil, host: .x86_64)
    #expect(back.version == 1)
    #expect(back.profile.defaultAction == .killThread)
    #expect(back.profile.architectures == [.x86_64])
    #expect(back.profile.syscalls?.first?.names == ["read", "write", "exit_group"])
  }

  @Test func versionOneRefusesDenyLists() throws {
    let p = try Self.profile(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#)
    #expect(throws: LXCConversion.Refusal.self) { try LXCConversion(profile: p, target: Self.target, version: .v1) }
  }

  // MARK: Reading LXC policies

  static func readError(_ text: String) -> Diagnostic? {
    do {
      _ = try LXCPolicyImport(text: text, file: "p.seccomp", host: .x86_64)
      return nil
    } catch {
      return error.diagnostics.first
    }
  }

  @Test func linesLXCRefusesAreErrorsWithTheirLine() {
    let cases: [(String, Int, String)] = [
      ("3\nallowlist\n", 1, "must be 1 or 2"),
      ("2\ngraylist\n", 2, "allowlist or denylist"),
      ("2\ndenylist \nmkdir errno 1\n", 2, "not '"),
      ("2\ndenylist\nmkdir errno 1\nmkdirat log\n", 4, "not 'log'"),
      ("2\ndenylist\n[x86_64] \nmkdir errno 1\n", 3, "does not know the section"),
      ("2\nallowlist errno 1\nread\nmkdir errno 1\n", 4, "is the policy's default"),
      ("2\ndenylist\nmkdir errno 1 [1,0x40,!=][1,0x1ed,!=]\n", 3, "two conditions on one argument"),
      ("2\ndenylist\nmkdir errno 1 [1,0x40,==] # why\n", 3, "a comment cannot follow arguments"),
      ("2\ndenylist\nmkdir errno 1 [7,0,==]\n", 3, "index must be 0 to 5"),
      ("2\ndenylist\nmkdir errno 1 [1,0,=]\n", 3, "is not an operator"),
      ("2\ndenylist\nmkdir errno\n", 3, "wants a number"),
      ("1\nwhitelist\n0\n", 2, "'whitelist' is read in version 2 only"),
      ("1\nallowlist\n0\n\n1\n", 4, "one syscall number per line"),
      ("2\nallowlist debug\n", 2, "debug"),
    ]
    for (text, line, message) in cases {
      let d = Self.readError(text)
      #expect(d?.line == line && d?.message.contains(message) == true, "\(text.debugDescription): \(d?.description ?? "no error")")
      #expect(d?.file == "p.seccomp")
    }
  }

  @Test func lxcsOwnCommonPolicyReads() throws {
    // /usr/share/lxc/config/common.seccomp of LXC 5.0.
    let text = """
      2
      denylist
      reject_force_umount  # comment this to allow umount -f;  not recommended
      [all]
      kexec_load errno 1
      open_by_handle_at errno 1
      init_module errno 1
      finit_module errno 1
      delete_module errno 1

      """
    let r = try LXCPolicyImport(text: text, file: nil, host: .x86_64)
    #expect(r.profile.defaultAction == .allow)
    #expect(r.profile.architectures == [.x86_64, .x86, .x32])
    let policy = Policy(profile: r.profile, options: PolicyOptions(context: Self.target.context))
    let umount2 = Arch.x86_64.number(of: "umount2")!
    #expect(policy.decide(arch: .x86_64, number: umount2, args: [0, 1]).action == .errno(13))
    #expect(policy.decide(arch: .x86_64, number: umount2, args: [0, 2]).action == .allow)
    #expect(policy.decide(arch: .x86, number: Arch.x86.number(of: "kexec_load")!).action == .errno(1))
    #expect(policy.decide(arch: .x86_64, number: Arch.x86_64.number(of: "mkdir")!).action == .allow)
  }

  @Test func readingFollowsLXC() throws {
    // Defaults after the list word, duplicates (the first wins), unknown names, lines LXC skips.
    let text = "2\nallowlist\n\nread\n  # indented comment\nwrite # a comment\nread errno 5\nnotasyscall\nwaitpid\nmkdir errno 2 [1,0,&=,0x40]\n[x86]\nclose\n"
    let r = try LXCPolicyImport(text: text, file: "f", host: .x86_64)
    #expect(r.profile.defaultAction == .killThread)
    #expect(r.unknown.map(\.name) == ["notasyscall"])
    #expect(r.diagnostics.contains { $0.line == 7 && $0.message.contains("LXC keeps the first") })
    let policy = Policy(profile: r.profile, options: PolicyOptions(context: Self.target.context))
    #expect(policy.decide(arch: .x86_64, number: Arch.x86_64.number(of: "read")!).action == .allow)
    #expect(policy.decide(arch: .x86_64, number: Arch.x86_64.number(of: "close")!).action == .allow)
    #expect(policy.decide(arch: .x86, number: Arch.x86.number(of: "waitpid")!).action == .allow)
    let mkdir = Arch.x86_64.number(of: "mkdir")!
    #expect(policy.decide(arch: .x86_64, number: mkdir, args: [0, 0o700]).action == .killThread)
    #expect(policy.decide(arch: .x86_64, number: mkdir, args: [0, 0o600]).action == .errno(2))
    let deny = try LXCPolicyImport(text: "2\ndenylist errno 13\nmkdir\nrmdir trap\n", file: nil, host: .x86_64)
    let d = Policy(profile: deny.profile, options: PolicyOptions(context: Self.target.context))
    #expect(d.decide(arch: .x86_64, number: Arch.x86_64.number(of: "mkdir")!).action == .killThread)
    #expect(d.decide(arch: .x86_64, number: Arch.x86_64.number(of: "rmdir")!).action == .trap())
    #expect(d.decide(arch: .x86_64, number: Arch.x86_64.number(of: "read")!).action == .errno(13))
  }

  // MARK: Name lists

  @Test func dockersMkseccompSampleReads() throws {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/docker-mkseccomp.sample")
    let list = try SyscallNameList(text: try String(contentsOf: url, encoding: .utf8), file: url.path)
    let names = list.names.map(\.name)
    #expect(names.count > 300)
    #expect(names.first == "access")
    #expect(!names.contains("This") && !names.contains("strace"))  // the /* */ header is a comment
    #expect(!names.contains("(*)"))
    #expect(Set(names).count == names.count)
    #expect(list.missing(on: .x86_64).contains("waitpid"))
    #expect(list.missing(on: .x86).isEmpty || !list.missing(on: .x86).contains("waitpid"))
    #expect(list.present(on: .x86_64).contains("read"))
  }

  @Test func nameListsTakeEveryCommentAndSpacing() throws {
    let list = try SyscallNameList(text: "read write /* a\n comment */ close\n// all of this\nmmap\t// x\n/* one */ brk /* two */ fstat\nnosuch\n", file: nil)
    #expect(list.names.map(\.name) == ["read", "write", "close", "mmap", "brk", "fstat", "nosuch"])
    #expect(list.names.first { $0.name == "close" }?.line == 2)
    #expect(list.unknown == ["nosuch"])
    #expect(throws: InputError.self) { try SyscallNameList(text: "read\nwr-ite\n", file: nil) }
    #expect(throws: InputError.self) { try SyscallNameList(text: "read /* never closed\n", file: nil) }
    let pp = try SyscallNameList(text: "#ifdef X\nread\n#endif\n", file: nil)
    #expect(pp.names.map(\.name) == ["read"] && pp.diagnostics.count == 2)
  }

  // MARK: Container configuration

  @Test func configGetsTheProfileLineAndKeepsTheRest() {
    let config = "# a comment\nlxc.rootfs.path = dir:/r\nlxc.seccomp.profile = /old\nlxc.net.0.type = empty\n  lxc.seccomp.profile=/older\n"
    #expect(LXCContainerConfig.settingSeccompProfile("/new.seccomp", in: config)
      == "# a comment\nlxc.rootfs.path = dir:/r\nlxc.seccomp.profile = /new.seccomp\nlxc.net.0.type = empty\n")
    #expect(LXCContainerConfig.settingSeccompProfile("/p", in: "lxc.arch = x86_64") == "lxc.arch = x86_64\nlxc.seccomp.profile = /p\n")
    #expect(LXCContainerConfig.settingSeccompProfile("/p", in: "# lxc.seccomp.profile = /x\n") == "# lxc.seccomp.profile = /x\nlxc.seccomp.profile = /p\n")
    #expect(LXCContainerConfig.key(of: "lxc.seccomp.profile.extra = 1") == "lxc.seccomp.profile.extra")
  }
}
