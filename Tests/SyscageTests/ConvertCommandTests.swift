import Foundation
import Host
import Profiles
import Seccomp
import Testing
import TestSupport

/// `syscage convert` as a user meets it: outputs, files written, messages, exit statuses.
@Suite struct ConvertCommandTests {
  static let docker = packageRoot.appendingPathComponent("Data/docker-default.json").path

  /// PyYAML for the default python3, to check the YAML with a real parser.
  static let pyYAML = run("/usr/bin/env", ["python3", "-c", "import yaml"]).status == 0
  static let pyYAMLReason = Comment(rawValue: "needs PyYAML for python3 (apt-get install python3-yaml) or run under CI=true")

  func syscage(_ args: String..., stdin: String? = nil) -> ProcessResult {
    run(syscageExecutable, args, stdin: stdin)
  }

  func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-convert-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  /// Parses YAML documents with PyYAML and prints them back as JSON.
  func yamlAsJSON(_ text: String) throws -> [Any] {
    let script = "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))"
    let r = run("/usr/bin/env", ["python3", "-c", script], stdin: text)
    #expect(r.status == 0, "PyYAML: \(r.stderr)")
    return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [Any] ?? []
  }

  static func architectures(_ json: String) throws -> [String]? {
    (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["architectures"] as? [String]
  }

  @Test func ociToStandardOutputAndToAFile() throws {
    let r = syscage("convert", Self.docker, "--to", "oci", "--arch", "x86_64", "--kernel", "6.18")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("expanded for x86_64 (ABIs x86_64, x86, x32), kernel 6.18, Docker's default capabilities"))
    _ = try Profile.decode(Array(r.stdout.utf8), file: nil, format: .oci)
    #expect(try Self.architectures(r.stdout) == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    #expect(!r.stdout.contains("archMap") && !r.stdout.contains("includes"))
    let exact = syscage("convert", Self.docker, "--to", "oci", "--arch", "x86_64", "--arch", "x86")
    #expect(exact.stderr.contains("(ABIs x86_64, x86)"))
    #expect(try Self.architectures(exact.stdout) == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])

    let withCaps = syscage("convert", Self.docker, "--to", "oci", "--caps", "CAP_SYS_ADMIN", "--kernel", "6.18")
    #expect(withCaps.stderr.contains("capabilities from --caps (CAP_SYS_ADMIN)"))
    #expect(withCaps.stdout.contains("\"mount\""))

    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("seccomp.json").path
    let w = syscage("convert", Self.docker, "--to", "oci", "-o", out)
    #expect(w.status == 0 && w.stdout.isEmpty)
    #expect(try String(contentsOfFile: out, encoding: .utf8).hasPrefix("{\n\t\"defaultAction\": \"SCMP_ACT_ERRNO\""))
  }

  static let config = """
    {
    \t"ociVersion": "1.0.2",
    \t"process": {
    \t\t"terminal": true,
    \t\t"user": {"uid": 0, "gid": 0},
    \t\t"args": ["sh"],
    \t\t"cwd": "/"
    \t},
    \t"root": {
    \t\t"path": "rootfs",
    \t\t"readonly": true
    \t},
    \t"hostname": "runc",
    \t"linux": {
    \t\t"namespaces": [
    \t\t\t{"type": "pid"},
    \t\t\t{"type": "network"},
    \t\t\t{"type": "mount"}
    \t\t],
    \t\t"maskedPaths": ["/proc/kcore"]
    \t}
    }

    """

  @Test func bundleKeepsTheRestOfConfigAndIsAtomic() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let configURL = dir.appendingPathComponent("config.json")
    try Data(Self.config.utf8).write(to: configURL)
    try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: configURL.path)

    let r = syscage("convert", Self.docker, "--to", "oci", "--bundle", dir.path, "--kernel", "6.18")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.isEmpty && r.stderr.contains("config.json"))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["config.json"], "no temporary file left")
    let attributes = try FileManager.default.attributesOfItem(atPath: configURL.path)
    #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

    let text = try String(contentsOf: configURL, encoding: .utf8)
    // Everything before the inserted member is byte-for-byte the original, and so is the end.
    let head = Self.config.components(separatedBy: "\n\t}\n}\n")[0]
    #expect(text.hasPrefix(head + ",\n\t\t\"seccomp\": {\n\t\t\t\"defaultAction\": \"SCMP_ACT_ERRNO\""))
    #expect(text.hasSuffix("\n\t\t}\n\t}\n}\n"))
    let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    let original = try #require(try JSONSerialization.jsonObject(with: Data(Self.config.utf8)) as? [String: Any])
    for key in ["ociVersion", "process", "root", "hostname"] {
      #expect(NSDictionary(dictionary: object).value(forKey: key) as? NSObject == NSDictionary(dictionary: original).value(forKey: key) as? NSObject)
    }
    let linux = try #require(object["linux"] as? [String: Any])
    #expect((linux["namespaces"] as? [[String: String]])?.map { $0["type"]! } == ["pid", "network", "mount"])
    // Keys keep their order: find them in the text.
    let order = ["\"ociVersion\"", "\"process\"", "\"root\"", "\"hostname\"", "\"linux\"", "\"namespaces\"", "\"maskedPaths\"", "\"seccomp\""]
    let positions = order.map { text.range(of: $0)!.lowerBound }
    #expect(positions == positions.sorted())
    let seccomp = try JSONSerialization.data(withJSONObject: linux["seccomp"]!)
    let profile = try Profile.decode(Array(seccomp), file: nil, format: .oci).profile
    #expect(profile.defaultAction == .errno && (profile.syscalls?.count ?? 0) > 10)

    // Again: the seccomp object is replaced, not added twice.
    let again = syscage("convert", Self.docker, "--to", "oci", "--bundle", dir.path, "--arch", "x86_64")
    #expect(again.status == 0)
    let text2 = try String(contentsOf: configURL, encoding: .utf8)
    #expect(text2.components(separatedBy: "\"seccomp\": ").count == 2)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["config.json"])
  }

  @Test func bundleErrorsAreBadInputAndLeaveTheFileAlone() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let missing = syscage("convert", Self.docker, "--to", "oci", "--bundle", dir.path)
    #expect(missing.status == 65)
    #expect(missing.stderr.contains("config.json") && missing.stderr.contains("no such file"))

    let notADirectory = syscage("convert", Self.docker, "--to", "oci", "--bundle", dir.appendingPathComponent("nope").path)
    #expect(notADirectory.status == 65)

    let configURL = dir.appendingPathComponent("config.json")
    for (bad, expected) in [("{\"ociVersion\": \"1.0.2\",\n", "invalid JSON"), (#"{"linux": []}"#, "linux: expected an object")] {
      try Data(bad.utf8).write(to: configURL)
      let r = syscage("convert", Self.docker, "--to", "oci", "--bundle", dir.path)
      #expect(r.status == 65)
      #expect(r.stderr.contains(configURL.path) && r.stderr.contains(expected), "\(r.stderr)")
      #expect(try String(contentsOf: configURL, encoding: .utf8) == bad)
      #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["config.json"])
    }
  }

  @Test(.enabled(if: pyYAML || isCI, pyYAMLReason)) func kubernetesPodToStandardOutputIsAStreamKubectlApplies() throws {
    try #require(Self.pyYAML, Self.pyYAMLReason)
    for extra in [[], ["--patch"]] {
      let r = run(syscageExecutable, ["convert", Self.docker, "--to", "k8s-pod", "--kernel", "6.18"] + extra)
      #expect(r.status == 0, "\(r.stderr)")
      #expect(r.stderr.contains("/var/lib/kubelet/seccomp/profiles/docker-default.json"))
      #expect(r.stderr.contains("give -o DIR to write the profile file too"), "\(r.stderr)")
      // Only YAML documents; the profile JSON goes only into -o DIR.
      #expect(!r.stdout.contains("defaultAction") && !r.stdout.contains("\n---"), "\(r.stdout)")
      let documents = try yamlAsJSON(r.stdout)
      #expect(documents.count == 1)
      let document = try #require(documents.first as? [String: Any])
      let spec = try #require(document["spec"] as? [String: Any])
      let seccompProfile = (spec["securityContext"] as? [String: Any])?["seccompProfile"] as? [String: String]
      #expect(seccompProfile == ["type": "Localhost", "localhostProfile": "profiles/docker-default.json"])
      if extra.isEmpty {
        // kubectl apply wants apiVersion and kind in every document.
        #expect(document["kind"] as? String == "Pod" && document["apiVersion"] as? String == "v1")
        let container = try #require((spec["containers"] as? [[String: Any]])?.first)
        #expect(container["image"] as? String == "busybox:stable")
        #expect((container["securityContext"] as? [String: Bool]) == ["allowPrivilegeEscalation": false])
        // A profile file does not say what it was recorded from: the image's entrypoint runs.
        #expect(container["command"] == nil)
      }
    }
  }

  @Test func kubernetesPodIntoADirectory() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("k8s").path
    let r = syscage("convert", Self.docker, "--to", "k8s-pod", "-o", out, "--name", "web", "--image", "nginx:1.27")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.isEmpty)
    #expect(r.stderr.contains("/var/lib/kubelet/seccomp/profiles/web.json"))
    let manifest = try String(contentsOfFile: out + "/pod.yaml", encoding: .utf8)
    #expect(manifest.contains("\n      localhostProfile: profiles/web.json\n") && manifest.contains("image: \"nginx:1.27\""))
    let profileText = try String(contentsOfFile: out + "/profiles/web.json", encoding: .utf8)
    let profile = try Profile.decode(Array(profileText.utf8), file: nil, format: .oci).profile
    #expect(profile.archMap == nil && (profile.syscalls ?? []).allSatisfy { $0.includes == nil && $0.excludes == nil })

    let patch = syscage("convert", Self.docker, "--to", "k8s-pod", "--patch", "-o", out, "--seccomp-root", "/opt/seccomp")
    #expect(patch.status == 0)
    #expect(patch.stderr.contains("/opt/seccomp/profiles/docker-default.json"))
    let patchText = try String(contentsOfFile: out + "/pod-patch.yaml", encoding: .utf8)
    #expect(patchText.split(separator: "\n").filter { !$0.hasPrefix("#") }.first == "spec:")

    let file = dir.appendingPathComponent("file").path
    try Data().write(to: URL(fileURLWithPath: file))
    #expect(syscage("convert", Self.docker, "--to", "k8s-pod", "-o", file).status == 64)
  }

  @Test(.enabled(if: pyYAML || isCI, pyYAMLReason)) func spoIsASeccompProfileResource() throws {
    try #require(Self.pyYAML, Self.pyYAMLReason)
    let r = syscage("convert", Self.docker, "--to", "spo", "--name", "docker-default", "--kernel", "6.18")
    #expect(r.status == 0, "\(r.stderr)")
    let documents = try yamlAsJSON(r.stdout)
    let resource = try #require(documents.first as? [String: Any])
    #expect(resource["apiVersion"] as? String == "security-profiles-operator.x-k8s.io/v1beta1")
    #expect(resource["kind"] as? String == "SeccompProfile")
    #expect((resource["metadata"] as? [String: String])?["name"] == "docker-default")
    let spec = try #require(resource["spec"] as? [String: Any])
    #expect(spec["defaultAction"] as? String == "SCMP_ACT_ERRNO")
    #expect(spec["architectures"] as? [String] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    let syscalls = try #require(spec["syscalls"] as? [[String: Any]])
    let clone3 = syscalls.first { ($0["names"] as? [String]) == ["clone3"] }
    #expect(clone3?["errnoRet"] as? Int == 38 && clone3?["action"] as? String == "SCMP_ACT_ERRNO")
    let args = syscalls.compactMap { $0["args"] as? [[String: Any]] }.flatMap { $0 }
    #expect(args.contains { $0["value"] as? Int == 4_294_967_295 && $0["op"] as? String == "SCMP_CMP_EQ" })
  }

  @Test func systemdListsWhatItCannotExpress() {
    let r = syscage("convert", Self.docker, "--to", "systemd", "--kernel", "6.18")
    #expect(r.status == 0, "\(r.stderr)")
    let lines = r.stdout.split(separator: "\n").map(String.init)
    let service = lines.firstIndex(of: "[Service]")
    #expect(service != nil)
    let directives = lines.drop { $0 != "[Service]" }.dropFirst()
    #expect(directives.allSatisfy { !$0.hasPrefix("#") && $0.contains("=") })
    #expect(directives.first == "SystemCallArchitectures=x86-64 x86 x32")
    #expect(directives.contains { $0.hasPrefix("SystemCallFilter=@") })
    #expect(directives.contains("SystemCallErrorNumber=EPERM"))
    #expect(directives.contains("LockPersonality=yes"))
    #expect(r.stderr.contains("warning: personality:") && r.stderr.contains("warning: socket:"))

    let personality = #"""
      {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}
      """#
    let exact = syscage("convert", "-", "--to", "systemd", "--strict", "--arch", "x86_64", stdin: #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#)
    #expect(exact.status == 0, "\(exact.stderr)")
    #expect(exact.stdout.contains("\nSystemCallFilter=read\n"))
    let strict = syscage("convert", "-", "--to", "systemd", "--strict", "--arch", "x86_64", stdin: personality)
    #expect(strict.status == 65 && strict.stdout.isEmpty)
    #expect(strict.stderr.contains("error: personality:"))
  }

  @Test func dockerIsNormalizedAndExpandsOnRequest() throws {
    let r = syscage("convert", Self.docker, "--to", "docker")
    #expect(r.status == 0)
    #expect(!r.stderr.contains("expanded for"))
    let original = try Profile.load(path: Self.docker).profile
    #expect(r.stdout == original.encode(format: .docker))
    let expanded = syscage("convert", Self.docker, "--to", "docker", "--expand", "--arch", "aarch64", "--kernel", "6.18")
    #expect(expanded.status == 0)
    #expect(expanded.stderr.contains("expanded for aarch64 (ABIs aarch64, arm)"))
    #expect(!expanded.stdout.contains("\"includes\"") && !expanded.stdout.contains("archMap"))
    #expect(expanded.stdout.contains("\"arm_fadvise64_64\"") && !expanded.stdout.contains("\"arch_prctl\""))
  }

  @Test func usageAndInputErrors() throws {
    #expect(syscage("convert", Self.docker).status == 64)  // no --to
    #expect(syscage("convert", Self.docker, "--to", "yaml").status == 64)
    #expect(syscage("convert", Self.docker, "--to", "spo", "--bundle", "/tmp").status == 64)
    #expect(syscage("convert", Self.docker, "--to", "oci", "--bundle", "/tmp", "-o", "/tmp/x").status == 64)
    #expect(syscage("convert", Self.docker, "--to", "k8s-pod", "--name", "Bad_Name").status == 64)
    #expect(syscage("convert", Self.docker, "--to", "oci", "--expand").status == 64)
    #expect(syscage("convert", Self.docker, "--to", "systemd", "--patch").status == 64)
    #expect(syscage("convert", "-", "--to", "spo", stdin: #"{"defaultAction": "SCMP_ACT_ALLOW"}"#).status == 64)  // no name

    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let bad = dir.appendingPathComponent("bad.json").path
    try Data(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_SOMETIMES"}]}"#.utf8)
      .write(to: URL(fileURLWithPath: bad))
    let r = syscage("convert", bad, "--to", "systemd")
    #expect(r.status == 65)
    #expect(r.stderr.contains("bad.json") && r.stderr.contains("syscalls[0].action"))
    let off = syscage("convert", "-", "--to", "oci", stdin: "{}")
    #expect(off.status == 65 && off.stderr.contains("disables seccomp"))
    let copy = dir.appendingPathComponent("p.json").path
    try FileManager.default.copyItem(atPath: Self.docker, toPath: copy)
    #expect(syscage("convert", copy, "--to", "docker", "-o", copy).status == 64)
  }

  /// Docker's default profile with a typo added: converting it for x86_64 warns only
  /// about what applies there, leaves out the names that make no rule on the output's
  /// ABIs (saying so once, in one list), decides exactly as the input does, and reads back
  /// without a warning.
  @Test func expandedOutputsLeaveOutNamesWithoutARuleAndSaySoOnce() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var profile = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.docker))) as? [String: Any])
    var entries = try #require(profile["syscalls"] as? [[String: Any]])
    entries[0]["names"] = (entries[0]["names"] as? [String] ?? []) + ["opnat"]
    profile["syscalls"] = entries
    let input = dir.appendingPathComponent("typo.json").path
    try JSONSerialization.data(withJSONObject: profile).write(to: URL(fileURLWithPath: input))

    for target in [["oci"], ["spo", "--name", "app"], ["docker", "--expand"]] {
      let out = dir.appendingPathComponent("out-\(target[0])").path
      let r = run(syscageExecutable, ["convert", input, "--to"] + target + ["--arch", "x86_64", "--kernel", "6.18", "-o", out])
      #expect(r.status == 0, "\(target): \(r.stderr)")
      // sync_file_range2 is in an entry for arm and aarch64 only: nothing to say for x86_64.
      #expect(!r.stderr.contains("sync_file_range2"), "\(target): \(r.stderr)")
      #expect(r.stderr.components(separatedBy: "left out").count == 2, "\(target): \(r.stderr)")
      #expect(r.stderr.contains("left out 2 names that make no rule on x86_64, x86, x32 (runc skips them too):"), "\(r.stderr)")
      #expect(r.stderr.contains("    only on other ABIs: riscv_hwprobe\n") && r.stderr.contains("    not a syscall on any ABI: opnat\n"), "\(r.stderr)")
      let text = try String(contentsOfFile: out, encoding: .utf8)
      #expect(!text.contains("opnat") && !text.contains("riscv_hwprobe"), "\(target)")
      // recv still makes a rule on x86, through socketcall.
      #expect(text.contains("recv"), "\(target)")
    }
    // The OCI file decides as the input does, and syscage reads it back without a warning.
    let oci = dir.appendingPathComponent("out-oci").path
    let same = syscage("diff", input, oci, "--arch", "x86_64", "--kernel", "6.18")
    #expect(same.status == 0, "\(same.stdout)\(same.stderr)")
    let again = syscage("convert", oci, "--to", "oci", "--kernel", "6.18")
    #expect(again.status == 0)
    #expect(!again.stderr.contains("warning") && !again.stderr.contains("left out"), "\(again.stderr)")
    // Docker's form, not expanded, keeps every entry, so every warning stands.
    let docker = syscage("convert", input, "--to", "docker", "--arch", "x86_64")
    #expect(docker.stderr.contains("sync_file_range2") && docker.stderr.contains("opnat") && !docker.stderr.contains("left out"))
    #expect(docker.stdout.contains("riscv_hwprobe"))
  }
}
