import Foundation
import ProfileCorpus
import Profiles
import Seccomp
import Syscalls
import TestSupport
import Testing

/// The Kubernetes outputs as a cluster reads them: the SeccompProfile against the
/// security-profiles-operator CRD's schema, and the YAML inputs read back.
@Suite struct KubernetesFormatTests {
  static let python = "/usr/bin/python3"
  static let schemaTools = run(python, ["-c", "import yaml, jsonschema"]).status == 0
  static let schemaReason = Comment(
    rawValue: "needs python3-yaml and python3-jsonschema for /usr/bin/python3 (apt-get install python3-yaml python3-jsonschema) or run under CI=true")
  static let crd = Corpus.fixtures.appendingPathComponent("spo-seccompprofile.crd.yaml").path
  static let validator = Corpus.fixtures.appendingPathComponent("validate_crd.py").path

  static func target() -> ConversionTarget {
    ConversionTarget(context: ExpansionContext(native: .x86_64, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: Corpus.kernel))
  }

  /// Docker's default, a profile with argument rules (both values, masks), and an
  /// allow-list that answers errno.
  static var profiles: [(String, Profile)] {
    [
      ("docker-default", Corpus.dockerDefault),
      (
        "argument-rules",
        Profile(
          defaultAction: .allow, architectures: [.x86_64, .x86],
          syscalls: [
            Corpus.entry(["personality"], .errno, errno: 1, [Corpus.arg(0, .notEqual, 0), Corpus.arg(0, .notEqual, 8)]),
            Corpus.entry(["clone"], .errno, errno: 1, [Corpus.arg(0, .maskedEqual, 0x7E02_0000, 0x7E02_0000)]),
            Corpus.entry(["socket"], .kill, [Corpus.arg(0, .equal, 40), Corpus.arg(1, .greaterOrEqual, 0)]),
          ])
      ),
      (
        "allow-list-errno",
        Profile(
          defaultAction: .errno, defaultErrnoRet: 1, architectures: [.x86_64],
          syscalls: [
            Corpus.entry(["read", "write", "exit_group", "execve", "brk", "mmap"], .allow),
            Corpus.entry(["mkdir", "mkdirat"], .errno, errno: 13),
            Corpus.entry(["ptrace"], .errno, errno: 38),
          ])
      ),
    ]
  }

  func validate(_ files: [String]) -> ProcessResult {
    run(Self.python, [Self.validator, Self.crd, "v1beta1"] + files)
  }

  @Test(.enabled(if: schemaTools || isCI, schemaReason))
  func seccompProfileValidatesAgainstTheCRDSchema() throws {
    try #require(Self.schemaTools, Self.schemaReason)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-spo-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var files: [String] = []
    for (name, profile) in Self.profiles {
      let spo = SPOConversion(profile: profile, target: Self.target(), name: name, header: ["Converted for a test."])
      #expect(spo.warnings.isEmpty, "\(name): \(spo.warnings)")
      files.append(try writeFile(spo.yaml, "\(name).yaml", in: dir))
    }
    let r = validate(files)
    #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    #expect(r.stdout.split(separator: "\n").filter { $0.hasSuffix(")") && $0.contains(": valid (") }.count == files.count, "\(r.stdout)")

    // The validator refuses what the API server would: an unknown field, an action outside
    // the enum, a repeated name in a set, a value past int64.
    let good = try String(contentsOfFile: files[2], encoding: .utf8)
    let bad = [
      good.replacingOccurrences(of: "spec:\n", with: "spec:\n  unknownField: 1\n"),
      good.replacingOccurrences(of: "  defaultAction: SCMP_ACT_ERRNO", with: "  defaultAction: SCMP_ACT_DENY"),
      good.replacingOccurrences(of: "  - mkdirat\n", with: "  - mkdir\n"),
      SPOConversion(
        profile: Profile(defaultAction: .allow, syscalls: [Corpus.entry(["kill"], .errno, errno: 1, [Corpus.arg(1, .equal, UInt64.max)])]),
        target: Self.target(), name: "big"
      ).yaml,
    ]
    for (i, text) in bad.enumerated() {
      #expect(text != good || i == 3)
      let r = validate([try writeFile(text, "bad-\(i).yaml", in: dir)])
      #expect(r.status == 1, "bad \(i): \(r.stdout)\(r.stderr)")
    }
  }

  /// Every string the writer is given reads back as itself under PyYAML (YAML 1.1, as
  /// kubectl's reader resolves plain scalars), and so do integers and booleans.
  @Test(.enabled(if: schemaTools || isCI, schemaReason))
  func writtenScalarsReadBackUnchanged() throws {
    try #require(Self.schemaTools, Self.schemaReason)
    let strings = [
      "plain", "yes", "No", "on", "y", "n", "~", "null", "", " lead", "trail ", "0o17", "017", "0x1F", "1_000", "1e3", ".5",
      "2001-12-14", "a: b", "a #b", "#c", "- x", "? q", "[x]", "{y}", "*a", "&b", "!t", "%d", "@e", "`f", "'q'", "\"d\"",
      "back\\slash", "tab\there", "new\nline", "cr\rlf", "nul\u{0}", "bell\u{7}", "del\u{7F}", "nel\u{85}", "ls\u{2028}",
      "ps\u{2029}", "bom\u{FEFF}", "é ü 日本", "emoji 🙂", "/bin/sh", "-c", "--flag=1", "busybox:stable",
      String(repeating: "long words ", count: 200),
    ]
    let doc = YAMLValue.map(
      [("strings", .strings(strings)), ("max", .integer(UInt64.max)), ("zero", .integer(0)), ("t", .bool(true)), ("f", .bool(false))])
    let text = doc.yamlDocument(comments: ["a comment\nover lines"])
    let script = "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))"
    let r = run(Self.python, ["-c", script], stdin: text)
    #expect(r.status == 0, "\(r.stderr)")
    let back = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(back["strings"] as? [String] == strings, "\(text)")
    #expect((back["max"] as? NSNumber)?.uint64Value == UInt64.max && (back["zero"] as? NSNumber)?.intValue == 0)
    #expect(back["t"] as? Bool == true && back["f"] as? Bool == false)
    #expect(!text.contains("\n  long words long"), "no line is folded")
  }

  @Test func seccompProfileWarnsAboutValuesPastInt64() {
    let p = Profile(defaultAction: .allow, syscalls: [Corpus.entry(["kill"], .errno, errno: 1, [Corpus.arg(1, .equal, UInt64.max)])])
    let spo = SPOConversion(profile: p, target: Self.target(), name: "big")
    #expect(spo.warnings.contains { $0.contains("18446744073709551615") && $0.contains("int64") }, "\(spo.warnings)")
  }

  /// Every profile read back from its SeccompProfile decides as the original does.
  @Test func seccompProfileReadsBackToTheSameDecisions() throws {
    for (name, profile) in Self.profiles + [("random-3", Corpus.randomProfile(seed: 3))] {
      let target = ConversionTarget(context: ExpansionContext(
        native: profile.architectures?.first ?? .x86_64, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: Corpus.kernel))
      let spo = SPOConversion(profile: profile, target: target, name: "x")
      guard case .seccompProfile(let back, _) = try Profile.decodeKubernetesYAML(Array(spo.yaml.utf8), file: "x.yaml") else {
        Issue.record("\(name): not read as a SeccompProfile")
        continue
      }
      let diffs = ConvertTests.differences(
        Policy(profile: profile, options: target.policyOptions), Policy(profile: back, options: target.policyOptions))
      #expect(diffs.isEmpty, "\(name): \(diffs.joined(separator: "\n"))")
    }
  }

  @Test func yamlInputErrorsSayWhereAndWhat() {
    let cases: [(String, String)] = [
      ("apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nspec:\n  defaultAction: SCMP_ACT_NOPE\n",
       "x.yaml:4: error: spec.defaultAction:"),
      ("apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nspec:\n  baseProfileName: runc-v1\n",
       "x.yaml:4: error: spec.baseProfileName: another SeccompProfile"),
      ("a: [\n", "x.yaml:2: error: invalid YAML"),
      ("a: 1\na: 2\n", "x.yaml:1: error: invalid YAML: the mapping that starts here repeats the key a"),
      ("kind: Pod\nspec:\n  securityContext:\n    seccompProfile:\n      type: Localhost\n      localhostProfile: ../etc/x.json\n",
       "x.yaml:6: error: spec.securityContext.seccompProfile.localhostProfile: '../etc/x.json'"),
      ("kind: Pod\nspec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n", "no Localhost seccompProfile"),
      ("just text\n", "expected a JSON profile, a SeccompProfile"),
      (String(repeating: "[", count: 5000), "nested deeper than"),
    ]
    for (text, expected) in cases {
      do {
        _ = try Profile.decodeKubernetesYAML(Array(text.utf8), file: "x.yaml")
        Issue.record("accepted: \(text)")
      } catch {
        #expect(error.description.contains(expected), "\(text): \(error.description)")
      }
    }
  }

  @Test func podReferencesResolveToTheContainersProfile() throws {
    let pod = """
      apiVersion: apps/v1
      kind: Deployment
      spec:
        template:
          spec:
            securityContext:
              seccompProfile: {type: RuntimeDefault}
            containers:
            - name: a
              securityContext:
                seccompProfile:
                  type: Localhost
                  localhostProfile: profiles/a.json
            - name: b
              securityContext:
                seccompProfile: {type: Localhost, localhostProfile: profiles/a.json}
      """
    guard case .localhost(let ref) = try Profile.decodeKubernetesYAML(Array(pod.utf8), file: "d.yaml") else {
      Issue.record("no reference")
      return
    }
    #expect(ref.localhostProfile == "profiles/a.json")
    #expect(ref.path == "spec.template.spec.containers[0].securityContext.seccompProfile.localhostProfile")
    #expect(ref.line == 13)
    let two = pod.replacingOccurrences(of: "localhostProfile: profiles/a.json}", with: "localhostProfile: profiles/b.json}")
    #expect(throws: InputError.self) { try Profile.decodeKubernetesYAML(Array(two.utf8), file: "d.yaml") }
    #expect(Profile.looksLikeYAML(Array(pod.utf8)) && !Profile.looksLikeYAML(Array(" \n{}".utf8)) && !Profile.looksLikeYAML([]))
  }
}
