import Foundation
import Profiles
import Seccomp
import TestSupport
import Testing

/// lint, diff, merge, check and compile read a SeccompProfile and a Pod's Localhost
/// profile as they read the JSON: the same decisions.
@Suite struct YAMLInputTests {
  static let docker = packageRoot.appendingPathComponent("Data/docker-default.json").path

  func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-yaml-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  func syscage(_ args: [String]) -> ProcessResult { run(syscageExecutable, args) }

  static let calls = ["mount", "mkdir", "keyctl", "ptrace", "read", "clone", "personality", "socket", "unshare"]

  /// What check, lint and compile say about `path`, with the lines that name the input left out.
  func answers(_ path: String) -> [String] {
    var out: [String] = []
    for call in Self.calls {
      let r = syscage(["check", path, "--kernel", "6.18", "--arch", "x86_64", call])
      out.append("check \(call): \(r.status) \(r.stdout)")
    }
    let compiled = syscage(["compile", path, "--kernel", "6.18", "--arch", "x86_64", "--format", "disasm"])
    out.append("compile: \(compiled.status) \(compiled.stdout)")
    let lint = syscage(["lint", path, "--kernel", "6.18", "--arch", "x86_64"])
    out.append("lint: \(lint.status)")
    return out
  }

  @Test func seccompProfileDecidesAsTheJSONItCameFrom() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let yaml = dir.appendingPathComponent("dd.yaml").path
    let c = syscage(["convert", Self.docker, "--to", "spo", "--name", "dd", "--kernel", "6.18", "--arch", "x86_64", "-o", yaml])
    #expect(c.status == 0, "\(c.stderr)")
    let json = dir.appendingPathComponent("dd.json").path
    #expect(syscage(["convert", Self.docker, "--to", "oci", "--kernel", "6.18", "--arch", "x86_64", "-o", json]).status == 0)
    let fromYAML = answers(yaml)
    #expect(fromYAML == answers(json))
    #expect(fromYAML.contains { $0.hasPrefix("check mount: 1 ") } && fromYAML.contains { $0.hasPrefix("check read: 0 ") })
    // diff finds nothing between them; merge takes the YAML as a profile.
    let d = syscage(["diff", yaml, json, "--kernel", "6.18", "--arch", "x86_64"])
    #expect(d.status == 0, "\(d.stdout)\(d.stderr)")
    let merged = dir.appendingPathComponent("merged.json").path
    #expect(syscage(["merge", yaml, json, "--kernel", "6.18", "--arch", "x86_64", "-o", merged]).status == 0)
  }

  @Test func podInputReadsItsLocalhostProfile() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let k8s = dir.appendingPathComponent("k8s").path
    #expect(syscage(["convert", Self.docker, "--to", "k8s-pod", "--name", "app", "--kernel", "6.18", "-o", k8s]).status == 0)
    let pod = k8s + "/pod.yaml"
    // Next to the Pod file, as convert -o DIR lays it out.
    let r = syscage(["check", pod, "--kernel", "6.18", "mount"])
    #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
    #expect(r.stderr.contains("\(pod): Localhost profiles/app.json: read \(k8s)/profiles/app.json"), "\(r.stderr)")
    #expect(answers(pod) == answers(k8s + "/profiles/app.json"))
    // Under --seccomp-root only, when it is given.
    let root = dir.appendingPathComponent("root").path
    let missing = syscage(["lint", pod, "--seccomp-root", root])
    #expect(missing.status == 65)
    #expect(missing.stderr.contains("\(pod):13: error: spec.securityContext.seccompProfile.localhostProfile:"), "\(missing.stderr)")
    #expect(missing.stderr.contains("\(root)/profiles/app.json"))
    try FileManager.default.createDirectory(atPath: root + "/profiles", withIntermediateDirectories: true)
    try Data(#"{"defaultAction": "SCMP_ACT_ALLOW"}"#.utf8).write(to: URL(fileURLWithPath: root + "/profiles/app.json"))
    let viaRoot = syscage(["check", pod, "--seccomp-root", root, "mount"])
    #expect(viaRoot.status == 0 && viaRoot.stderr.contains("read \(root)/profiles/app.json"), "\(viaRoot.stderr)")
    // A bad referenced file is reported under its own name.
    try Data(#"{"defaultAction": "SCMP_ACT_NOPE"}"#.utf8).write(to: URL(fileURLWithPath: root + "/profiles/app.json"))
    let bad = syscage(["check", pod, "--seccomp-root", root, "mount"])
    #expect(bad.status == 65 && bad.stderr.contains("\(root)/profiles/app.json:1: error: defaultAction"), "\(bad.stderr)")
  }

  /// run takes the Pod too: the program runs under the Localhost profile it names.
  @Test func runUnderAPodsLocalhostProfile() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let deny = try writeFile(EngineCases.denyDir, "deny-dir.json", in: dir)
    let k8s = dir.appendingPathComponent("k8s").path
    #expect(syscage(["convert", deny, "--to", "k8s-pod", "-o", k8s]).status == 0)
    let target = dir.appendingPathComponent("made").path
    let r = syscage(["run", "--profile", k8s + "/pod.yaml", "--", "mkdir", target])
    #expect(r.status != 0 && !FileManager.default.fileExists(atPath: target), "\(r.stderr)")
    #expect(r.stderr.contains("Localhost profiles/deny-dir.json: read \(k8s)/profiles/deny-dir.json"), "\(r.stderr)")
    #expect(syscage(["run", "--profile", k8s + "/profiles/deny-dir.json", "--", "true"]).status == 0)
  }

  @Test func badYAMLIsExit65WithFileLineAndPath() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let bad = try writeFile(
      """
      apiVersion: security-profiles-operator.x-k8s.io/v1beta1
      kind: SeccompProfile
      metadata:
        name: bad
      spec:
        defaultAction: SCMP_ACT_ERRNO
        syscalls:
        - action: SCMP_ACT_ALLOW
          names: [read]
          args:
          - {index: 9, op: SCMP_CMP_EQ}

      """, "bad.yaml", in: dir)
    for command in ["lint", "compile", "check"] {
      let r = syscage([command, bad] + (command == "check" ? ["read"] : []))
      #expect(r.status == 65, "\(command): \(r.stderr)")
      #expect(r.stderr.contains("\(bad):11: error: spec.syscalls[0].args[0].index"), "\(command): \(r.stderr)")
    }
    let broken = try writeFile("spec: [\n", "broken.yaml", in: dir)
    let r = syscage(["lint", broken])
    #expect(r.status == 65 && r.stderr.contains("\(broken):2: error: invalid YAML"), "\(r.stderr)")
  }
}
