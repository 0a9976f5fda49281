import Foundation
import ProfileCorpus
import Profiles
import Seccomp
import Syscalls
import Testing

/// The format converters: OCI, Kubernetes (Pod + profile file), security-profiles-operator,
/// systemd, and the OCI bundle editor.
@Suite struct ConvertTests {
  static let kernel = KernelVersion(major: 6, minor: 18)

  static func target(_ native: Arch = .x86_64, caps: [String] = ExpansionContext.dockerDefaultCapabilities, arches: [Arch]? = nil)
    -> ConversionTarget
  {
    ConversionTarget(context: ExpansionContext(native: native, capabilities: caps, kernel: kernel), arches: arches)
  }

  /// Profiles whose conversions must mean what the original means.
  static var profiles: [(String, Profile, ConversionTarget)] {
    var out: [(String, Profile, ConversionTarget)] = [
      ("docker-default", Corpus.dockerDefault, target()),
      ("docker-default+SYS_ADMIN", Corpus.dockerDefault, target(caps: ExpansionContext.dockerDefaultCapabilities + ["CAP_SYS_ADMIN"])),
      ("docker-default/aarch64", Corpus.dockerDefault, target(.aarch64)),
      ("docker-default/x86_64-only", Corpus.dockerDefault, target(arches: [.x86_64])),
      ("docker-default/s390x", Corpus.dockerDefault, target(.s390x)),
    ]
    for name in ["conditional_include.json", "default-old-format.json", "example.json"] {
      out.append((name, Corpus.fixture(name), target()))
    }
    for (name, p) in Corpus.edgeCases { out.append((name, p, target(p.architectures?.first ?? .x86_64))) }
    for seed in 1...8 {
      let p = Corpus.randomProfile(seed: UInt64(seed))
      out.append(("random-\(seed)", p, target(p.architectures![0])))
    }
    return out
  }

  /// Differences between two policies on x86_64, x86 and x32: every number of each ABI's
  /// range, and argument vectors around every rule constant.
  static func differences(_ a: Policy, _ b: Policy) -> [String] {
    var out: [String] = []
    for arch in [Arch.x86_64, .x86, .x32] {
      let ap = a.policy(for: arch) ?? b.policy(for: arch) ?? ArchPolicy(arch: arch, defaultAction: .allow)
      for nr in Vectors.numbers(for: ap) {
        let rules = (a.policy(for: arch)?.rules ?? []).filter { $0.number.word == nr }
          + (b.policy(for: arch)?.rules ?? []).filter { $0.number.word == nr }
        let vectors = rules.isEmpty ? [[UInt64](repeating: 0, count: 6)] : Vectors.argumentVectors(for: rules)
        for args in vectors {
          let x = a.decide(auditArch: arch.auditArch, nr: nr, args: args).action
          let y = b.decide(auditArch: arch.auditArch, nr: nr, args: args).action
          if x != y, out.count < 10 { out.append("\(arch) nr \(nr) args \(args): \(x) vs \(y)") }
        }
      }
    }
    return out
  }

  static func decodeOCI(_ text: String) throws -> Profile {
    try Profile.decode(Array(text.utf8), file: nil, format: .oci, strict: false).profile
  }

  /// Every object key anywhere in a JSON value.
  static func keys(_ v: JSONValue) -> Set<String> {
    switch v.kind {
    case .object(let members): members.reduce(into: Set(members.map(\.key))) { $0.formUnion(keys($1.value)) }
    case .array(let items): items.reduce(into: Set<String>()) { $0.formUnion(keys($1)) }
    default: []
    }
  }

  // MARK: OCI and Kubernetes profile files

  @Test func ociOutputDecidesAsTheOriginal() throws {
    for (name, profile, target) in Self.profiles {
      let text = OCIConversion.text(profile, target: target)
      let decoded = try Self.decodeOCI(text)
      let original = Policy(profile: profile, options: target.policyOptions)
      let converted = Policy(profile: decoded, options: target.policyOptions)
      let diffs = Self.differences(original, converted)
      #expect(diffs.isEmpty, "\(name): \(diffs.joined(separator: "\n"))")
      // Decided without the target's arch list too: the file carries its own architectures.
      let own = Policy(profile: decoded, options: PolicyOptions(context: target.context))
      #expect(Self.differences(original, own).isEmpty, "\(name) (own architectures)")
    }
  }

  @Test func ociOutputIsExpandedAndOCIShaped() throws {
    let text = OCIConversion.text(Corpus.dockerDefault, target: Self.target())
    let json = try JSONValue.parse(Array(text.utf8))
    #expect(Self.keys(json).isDisjoint(with: ["archMap", "includes", "excludes", "name", "comment"]))
    let decoded = try Self.decodeOCI(text)
    #expect(decoded.architectures == [.x86_64, .x86, .x32])
    // CAP_SYS_ADMIN's entry is gone, the clone rule for non-SYS_ADMIN containers stays.
    let names = (decoded.syscalls ?? []).flatMap(\.names)
    #expect(!names.contains("mount") && names.contains("clone") && names.contains("arch_prctl"))
    #expect(!names.contains("s390_pci_mmio_read"))
  }

  @Test func kubernetesProfileFileDecidesAsTheOriginalAndHasNoDockerKeys() throws {
    for (name, profile, target) in Self.profiles {
      let pod = KubernetesPodConversion(profile: profile, target: target, name: "app")
      let json = try JSONValue.parse(Array(pod.profileJSON.utf8))
      #expect(Self.keys(json).isDisjoint(with: ["archMap", "includes", "excludes", "name", "comment"]), "\(name)")
      #expect(!pod.profileJSON.contains("\t"), "\(name): indented with spaces, so the combined stream is YAML")
      let decoded = try Self.decodeOCI(pod.profileJSON)
      let diffs = Self.differences(
        Policy(profile: profile, options: target.policyOptions), Policy(profile: decoded, options: target.policyOptions))
      #expect(diffs.isEmpty, "\(name): \(diffs.joined(separator: "\n"))")
    }
  }

  @Test func kubernetesPodReferencesTheProfile() {
    let pod = KubernetesPodConversion(profile: Corpus.dockerDefault, target: Self.target(), name: "web.v2")
    #expect(pod.localhostProfile == "profiles/web.v2.json")
    #expect(pod.nodePath == "/var/lib/kubelet/seccomp/profiles/web.v2.json")
    let lines = pod.manifest.split(separator: "\n").map(String.init)
    let body = lines.filter { !$0.hasPrefix("#") }
    #expect(
      body == [
        "apiVersion: v1", "kind: Pod", "metadata:", "  name: web.v2", "spec:", "  securityContext:",
        "    seccompProfile:", "      type: Localhost", "      localhostProfile: profiles/web.v2.json", "  containers:",
        "  - name: web-v2", "    image: \"busybox:stable\"", "    securityContext:", "      allowPrivilegeEscalation: false",
      ])
    #expect(lines.contains { $0.hasPrefix("#") && $0.contains("/var/lib/kubelet/seccomp/profiles/web.v2.json") })
    #expect(lines.contains { $0.hasPrefix("#") && $0.contains("x86_64") && $0.contains("CAP_CHOWN") })

    let patch = KubernetesPodConversion(
      profile: Corpus.dockerDefault, target: Self.target(), name: "app", patch: true, seccompRoot: "/srv/seccomp/")
    #expect(patch.nodePath == "/srv/seccomp/profiles/app.json")
    #expect(
      patch.manifest.split(separator: "\n").filter { !$0.hasPrefix("#") }
        == ["spec:", "  securityContext:", "    seccompProfile:", "      type: Localhost", "      localhostProfile: profiles/app.json"])
    let combined = pod.combined
    #expect(combined.contains("\n---\n# profiles/web.v2.json: copy to /var/lib/kubelet/seccomp/profiles/web.v2.json"))
    #expect(combined.hasSuffix(pod.profileJSON))
  }

  @Test(arguments: [
    ("docker-default.json", "docker-default"), ("/a/b/My_Profile.JSON", "my-profile"), ("x", "x"),
    ("app.v1.json", "app.v1"), ("--.json", nil), ("a..b.json", "a.b"), ("-lead-", "lead"),
  ] as [(String, String?)])
  func kubernetesNamesFromFileNames(path: String, expected: String?) {
    #expect(KubernetesPodConversion.name(fromPath: path) == expected)
  }

  @Test func kubernetesNameValidation() {
    for good in ["a", "app", "app.v1", "a-b", "0x"] { #expect(KubernetesPodConversion.isValidName(good), "\(good)") }
    for bad in ["", "A", "a_b", "-a", "a-", "a..b", ".a", "a/b", String(repeating: "a", count: 254)] {
      #expect(!KubernetesPodConversion.isValidName(bad), "\(bad)")
    }
  }

  // MARK: YAML

  @Test func yamlQuotesWhatCouldBeReadAsSomethingElse() {
    #expect(YAMLValue.isSafePlain("SCMP_ACT_ALLOW"))
    #expect(YAMLValue.isSafePlain("profiles/app.json"))
    for s in ["true", "No", "null", "~", "123", "1e3", "0x10", "", "a: b", "- x", "#c", "@g", "a b", "v1:2", ".inf", "*x", "&y", "!t", "'q'", "%"] {
      #expect(!YAMLValue.isSafePlain(s), "\(s)")
      #expect(YAMLValue.map([("k", .string(s))]).yamlDocument().hasPrefix("k: \""), "\(s)")
    }
    #expect(YAMLValue.map([("k", .string("a\"b\\c\nd\u{7}"))]).yamlDocument() == #"k: "a\"b\\c\nd\a""# + "\n")
  }

  @Test func yamlLaysOutNestedCollections() {
    let doc = YAMLValue.map([
      ("a", .string("x")),
      ("empty", .sequence([])),
      ("none", .mapping([])),
      ("list", .sequence([.map([("k", .integer(18_446_744_073_709_551_615)), ("v", .strings(["p", "q"]))]), .string("s"), .bool(true)])),
      ("m", .map([("inner", .map([("o", .integer(0))])), ("n", .bool(false))])),
    ]).yamlDocument(comments: ["one", "two\nlines"])
    #expect(
      doc == """
        # one
        # two lines
        a: x
        empty: []
        none: {}
        list:
        - k: 18446744073709551615
          v:
          - p
          - q
        - s
        - true
        m:
          inner:
            o: 0
          "n": false

        """)
  }

  // MARK: security-profiles-operator

  @Test func spoResourceCarriesTheExpandedProfile() throws {
    let spo = SPOConversion(profile: Corpus.dockerDefault, target: Self.target(), name: "docker-default")
    #expect(spo.warnings.isEmpty, "\(spo.warnings)")
    let lines = spo.yaml.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
    #expect(Array(lines.prefix(10)) == [
      "apiVersion: security-profiles-operator.x-k8s.io/v1beta1", "kind: SeccompProfile", "metadata:",
      "  name: docker-default", "spec:", "  defaultAction: SCMP_ACT_ERRNO", "  architectures:", "  - SCMP_ARCH_X86_64",
      "  - SCMP_ARCH_X86", "  - SCMP_ARCH_X32",
    ])
    #expect(lines.contains("  syscalls:"))
    #expect(lines.contains("  - action: SCMP_ACT_ALLOW"))
    #expect(lines.contains("    - index: 0"))
    #expect(lines.contains("      value: 2114060288"))
    #expect(lines.contains("      op: SCMP_CMP_MASKED_EQ"))
    #expect(lines.contains("  - action: SCMP_ACT_ERRNO"))
    #expect(lines.contains("    errnoRet: 38"))
    #expect(!spo.yaml.contains("includes") && !spo.yaml.contains("CAP_SYS_ADMIN\n"))
    // Every entry of the expanded profile, in order.
    let entries = try #require(Corpus.dockerDefault.ociExpanded(for: Self.target()).syscalls)
    #expect(lines.filter { $0.hasPrefix("  - action: ") }.count == entries.count)
  }

  @Test func spoWarnsAboutWhatItCannotSay() {
    let p = Profile(
      defaultAction: .errno, defaultErrnoRet: 38, architectures: [.loongarch64],
      syscalls: [SyscallEntry(names: ["read"], action: .errno, errnoRet: 0)])
    let spo = SPOConversion(profile: p, target: Self.target(.loongarch64), name: "x")
    #expect(spo.warnings.count == 3, "\(spo.warnings)")
    #expect(spo.warnings.contains { $0.contains("defaultErrnoRet 38") })
    #expect(spo.warnings.contains { $0.contains("SCMP_ARCH_LOONGARCH64") })
    #expect(spo.warnings.contains { $0.contains("errnoRet 0") })
    #expect(!spo.yaml.contains("architectures"))
  }

  // MARK: systemd

  /// What systemd would answer for a syscall name under these directives (filter only).
  enum Answer: Equatable { case allow, kill, errno(UInt16) }

  static func systemdAnswers(_ directives: [String], universe: [String]) -> [String: Answer] {
    let errnos = Dictionary(ErrnoNames.generic.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
    var allowList: Bool? = nil
    var set = Set<String>()
    var explicit: [String: Answer] = [:]
    var negative = Answer.kill
    func expand(_ item: String) -> [String] { item.hasPrefix("@") ? (SyscallGroups.expand(item) ?? []) : [item] }
    func answer(_ suffix: Substring?) -> Answer? {
      guard let suffix else { return nil }
      if suffix == "kill" { return .kill }
      return .errno(errnos[String(suffix)] ?? UInt16(suffix)!)
    }
    for d in directives {
      if d.hasPrefix("SystemCallErrorNumber=") { negative = .errno(errnos[String(d.dropFirst(22))]!) }
      guard d.hasPrefix("SystemCallFilter=") else { continue }
      var value = d.dropFirst("SystemCallFilter=".count)
      let invert = value.hasPrefix("~")
      if invert { value = value.dropFirst() }
      if allowList == nil {
        allowList = !invert
        if !invert { set = Set(expand("@default")) }
      }
      for item in value.split(separator: " ") {
        let parts = item.split(separator: ":", maxSplits: 1)
        let names = expand(String(parts[0]))
        let suffix = parts.count > 1 ? parts[1] : nil
        for n in names {
          if allowList == true {
            if !invert { set.insert(n); explicit[n] = nil } else if let a = answer(suffix) { explicit[n] = a } else { set.remove(n) }
          } else {
            if invert { set.insert(n); explicit[n] = answer(suffix) } else { set.remove(n) }
          }
        }
      }
    }
    var out: [String: Answer] = [:]
    for n in universe {
      if let a = explicit[n] {
        out[n] = a
      } else if allowList == true {
        out[n] = set.contains(n) ? .allow : negative
      } else {
        out[n] = set.contains(n) ? negative : .allow
      }
    }
    return out
  }

  static func answer(_ a: SeccompAction) -> Answer {
    switch a.kind {
    case .allow, .log: .allow
    case .errno: .errno(a.data)
    default: .kill
    }
  }

  @Test func systemdForDockerDefaultUsesGroupsAndSaysWhatItCannotExpress() {
    let unit = SystemdConversion(profile: Corpus.dockerDefault, target: Self.target())
    let d = unit.directives
    #expect(d.first == "SystemCallArchitectures=x86-64 x86 x32")
    let filters = d.filter { $0.hasPrefix("SystemCallFilter=") }
    #expect(!filters[0].hasPrefix("SystemCallFilter=~"), "an allow-list comes first")
    #expect(filters[0].contains("@basic-io") && filters[0].contains("@timer"))
    #expect(!filters.joined().contains("@system-service"), "clone3, unshare, socket... are not all allowed")
    #expect(filters.contains { $0.hasPrefix("SystemCallFilter=~") && $0.contains("clone3:ENOSYS") })
    #expect(d.contains("SystemCallErrorNumber=EPERM"))
    #expect(d.contains("RestrictAddressFamilies=~AF_ALG AF_VSOCK"))
    #expect(d.contains("RestrictNamespaces=yes"))
    #expect(d.contains("LockPersonality=yes"))
    #expect(unit.warnings.contains { $0.hasPrefix("personality:") && $0.contains("0xffffffff") })
    #expect(unit.warnings.contains { $0.hasPrefix("socket:") && $0.contains("EAFNOSUPPORT") })
    #expect(unit.warnings.contains { $0.hasPrefix("socket:") && $0.contains("x86") })
    #expect(unit.text.contains("\n[Service]\n") && unit.text.contains("# - personality:"))
    for line in d { #expect(line.count < 140, "\(line)") }
  }

  @Test func systemdFilterAnswersAsThePolicyForEveryUnconditionalName() {
    let edges = Corpus.edgeCases.filter { $0.1.architectures?.first == .x86_64 }.map { ($0.0, $0.1, Self.target()) }
    let cases = [
      ("docker-default", Corpus.dockerDefault, Self.target()),
      ("docker-default+SYS_ADMIN", Corpus.dockerDefault, Self.target(caps: ExpansionContext.dockerDefaultCapabilities + ["CAP_SYS_ADMIN"])),
    ] + edges
    for (label, profile, target) in cases {
      let unit = SystemdConversion(profile: profile, target: target)
      let policy = Policy(profile: profile, options: target.policyOptions)
      let universe = SyscallTable.entries(in: .x86_64).map(\.name)
      let answers = Self.systemdAnswers(unit.directives, universe: universe)
      var wrong: [String] = []
      var checked = 0
      for (name, nr) in SyscallTable.entries(in: .x86_64) {
        // Names a warning speaks for, or that a sandboxing setting narrows, are checked elsewhere.
        if unit.inexact.contains(name) {
          #expect(unit.warnings.contains { $0.contains(name) }, "\(label): \(name) is inexact without a warning")
          continue
        }
        checked += 1
        let expected = Self.answer(policy.decide(arch: .x86_64, number: nr, args: []).action)
        if answers[name] != expected { wrong.append("\(name): systemd \(String(describing: answers[name])), profile \(expected)") }
      }
      #expect(wrong.isEmpty, "\(label): \(wrong.prefix(10).joined(separator: "; "))")
      if label.hasPrefix("docker-default") {
        #expect(checked >= universe.count - 8, "\(label): only \(checked) of \(universe.count) names checked: \(unit.inexact.sorted())")
      }
    }
  }

  @Test func systemdDenyListLogAndApproximations() {
    let p = Profile(
      defaultAction: .allow, architectures: [.x86_64],
      syscalls: [
        SyscallEntry(names: ["mount", "umount2"], action: .errno, errnoRet: 1),
        SyscallEntry(names: ["kexec_load"], action: .killProcess),
        SyscallEntry(names: ["ptrace"], action: .trap),
        SyscallEntry(names: ["getppid"], action: .log),
        SyscallEntry(names: ["kill"], action: .errno, errnoRet: 1, args: [ArgumentCondition(index: 1, value: 9, op: .equal)]),
        SyscallEntry(names: ["reboot"], action: .errno, errnoRet: 38),
      ])
    let unit = SystemdConversion(profile: p, target: Self.target())
    let d = unit.directives
    #expect(d.first == "SystemCallArchitectures=x86-64")
    let filter = d.filter { $0.hasPrefix("SystemCallFilter=") }
    #expect(filter.allSatisfy { $0.hasPrefix("SystemCallFilter=~") }, "a deny-list: \(filter)")
    let items = Set(filter.flatMap { $0.dropFirst("SystemCallFilter=~".count).split(separator: " ").map(String.init) })
    #expect(items == ["kexec_load", "ptrace", "kill:EPERM", "mount:EPERM", "umount2:EPERM", "reboot:ENOSYS"], "\(items)")
    #expect(!d.contains { $0.hasPrefix("SystemCallErrorNumber=") })
    #expect(d.contains("SystemCallLog=getppid"))
    #expect(unit.warnings.contains { $0.hasPrefix("kill:") && $0.contains("fail closed") })
    #expect(unit.warnings.contains { $0.contains("SCMP_ACT_TRAP") && $0.contains("ptrace") })

    let logDefault = SystemdConversion(
      profile: Profile(defaultAction: .log, architectures: [.x86_64], syscalls: [
        SyscallEntry(names: ["read", "write"], action: .allow), SyscallEntry(names: ["mount"], action: .killThread),
      ]),
      target: Self.target())
    #expect(logDefault.directives.contains("SystemCallFilter=~mount"))
    #expect(logDefault.directives.contains("SystemCallLog=~read write"))
    #expect(logDefault.warnings.contains { $0.contains("SCMP_ACT_KILL_THREAD") })

    let killDefault = SystemdConversion(
      profile: Profile(defaultAction: .killProcess, architectures: [.x86_64, .x86], syscalls: [
        SyscallEntry(names: ["read", "write", "getpid", "exit_group"], action: .allow),
        SyscallEntry(names: ["getrandom"], action: .errno, errnoRet: 38),
      ]),
      target: Self.target())
    #expect(!killDefault.directives.contains { $0.hasPrefix("SystemCallErrorNumber=") })
    #expect(killDefault.directives.contains("SystemCallFilter=read write"))
    #expect(killDefault.directives.contains { $0.hasPrefix("SystemCallFilter=~") && $0.contains("getrandom:ENOSYS") })
    // @default members the profile does not allow are taken out of systemd's implicit set.
    #expect(killDefault.directives.contains { $0.hasPrefix("SystemCallFilter=~") && $0.contains(" brk") || $0.hasSuffix("~brk") || $0.contains("~brk ") })
  }

  @Test func systemdNamespacesFromCloneMasks() {
    let p = Profile(
      defaultAction: .errno, architectures: [.x86_64],
      syscalls: [
        SyscallEntry(names: ["read"], action: .allow),
        SyscallEntry(names: ["clone"], action: .allow, args: [ArgumentCondition(index: 0, value: 0x5000_0000, op: .maskedEqual)]),
        SyscallEntry(names: ["unshare"], action: .allow),
      ])
    let unit = SystemdConversion(profile: p, target: Self.target())
    // net and user refused; the others kept (time only through unshare/setns, which clone cannot say).
    #expect(unit.directives.contains("RestrictNamespaces=cgroup ipc mnt pid uts"))
    #expect(unit.warnings.contains { $0.hasPrefix("unshare:") && $0.contains("narrows") })
  }

  // MARK: Tables

  @Test func tables() {
    #expect(ErrnoNames.generic[1] == "EPERM")
    #expect(ErrnoNames.generic[38] == "ENOSYS")
    #expect(ErrnoNames.generic[97] == "EAFNOSUPPORT")
    #expect(ErrnoNames.generic[133] == "EHWPOISON")
    #expect(ErrnoNames.generic[41] == nil && ErrnoNames.generic[58] == nil)
    #expect(ConversionTables.errnoName(38, for: .mips64) == "38")
    #expect(ConversionTables.addressFamilies[38] == "AF_ALG" && ConversionTables.addressFamilies[40] == "AF_VSOCK")
    #expect(ConversionTables.addressFamilies.count == 46)
    #expect(ConversionTables.systemdArchName(.x86_64) == "x86-64" && ConversionTables.systemdArchName(.m68k) == nil)
  }

  // MARK: OCI bundle

  static func edit(_ config: String, _ seccomp: JSONValue = JSONValue(.object([]))) throws(InputError) -> String {
    String(decoding: try OCIBundleEditor.settingSeccomp(seccomp, inConfig: Array(config.utf8), file: "b/config.json"), as: UTF8.self)
  }

  @Test func bundleEditKeepsEveryOtherByte() throws {
    let seccomp = OCIConversion.seccomp(
      Profile(defaultAction: .errno, syscalls: [SyscallEntry(names: ["read"], action: .allow)]), target: Self.target(arches: [.x86_64]))
    let config = """
      {
      \t"ociVersion": "1.0.2",
      \t"process": {"args": ["sh"], "env": ["A=\\u00e9"]},
      \t"root": {
      \t\t"path": "rootfs"
      \t},
      \t"linux": {
      \t\t"namespaces": [{"type": "pid"}, {"type": "mount"}],
      \t\t"seccomp": {"defaultAction": "SCMP_ACT_ALLOW"},
      \t\t"maskedPaths": ["/proc/kcore"]
      \t},
      \t"z": 1.50e3
      }

      """
    let out = try Self.edit(config, seccomp)
    let prefix = config.components(separatedBy: "\"seccomp\": ")[0]
    let suffix = config.components(separatedBy: "\"SCMP_ACT_ALLOW\"}")[1]
    #expect(out.hasPrefix(prefix + "\"seccomp\": {\n\t\t\t\"defaultAction\": \"SCMP_ACT_ERRNO\""))
    #expect(out.hasSuffix("\n\t\t}" + suffix))
    let parsed = try JSONValue.parse(Array(out.utf8))
    guard case .object(let members) = parsed.kind, case .object(let linux) = parsed["linux"]!.kind else {
      Issue.record("not an object")
      return
    }
    #expect(members.map(\.key) == ["ociVersion", "process", "root", "linux", "z"])
    #expect(linux.map(\.key) == ["namespaces", "seccomp", "maskedPaths"])
    let decoded = try Profile.decode(Array(parsed["linux"]!["seccomp"]!.prettyPrinted().utf8), file: nil, format: .oci).profile
    #expect(decoded.defaultAction == .errno && decoded.syscalls?.first?.names == ["read"])
  }

  @Test func bundleEditInsertsWhereMissing() throws {
    #expect(try Self.edit(#"{"a": 1}"#) == #"{"a": 1,"linux":{"seccomp":{}}}"#)
    #expect(try Self.edit(#"{"linux":null,"b":[]}"#) == #"{"linux":{"seccomp":{}},"b":[]}"#)
    #expect(try Self.edit(#"{"linux":{}}"#) == #"{"linux":{"seccomp":{}}}"#)
    #expect(try Self.edit("{\n  \"a\": 1\n}\n") == "{\n  \"a\": 1,\n  \"linux\": {\n    \"seccomp\": {}\n  }\n}\n")
    #expect(try Self.edit("{\n    \"linux\": {}\n}") == "{\n    \"linux\": {\n        \"seccomp\": {}\n    }\n}")
    #expect(try Self.edit("{\n\t\"linux\": {\n\t\t\"x\": [1]\n\t}\n}") == "{\n\t\"linux\": {\n\t\t\"x\": [1],\n\t\t\"seccomp\": {}\n\t}\n}")
  }

  @Test func bundleEditRefusesWhatIsNotAConfig() {
    for (text, expected) in [
      ("{\"a\": ", "invalid JSON"), ("[1]", "expected an object"), (#"{"linux": "x"}"#, "linux: expected an object"),
      ("", "invalid JSON"),
    ] {
      do throws(InputError) {
        _ = try Self.edit(text)
        Issue.record("accepted \(text)")
      } catch {
        #expect(error.description.contains("b/config.json") && error.description.contains(expected), "\(error)")
      }
    }
  }
}
