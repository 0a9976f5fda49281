import Foundation
import Testing
import TestSupport

/// One containerd for the suite, started by the tests as their own child process with its
/// own config, state and socket, and stopped by its pid (its directories removed) when the
/// suite ends, whether its tests pass or fail.
struct SharedContainerd: SuiteTrait, TestScoping {
  /// The suite's containerd, or why it could not be started.
  @TaskLocal static var current: Result<Containerd, any Error>?

  var isRecursive: Bool { false }

  func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    guard Containerd.ready else { return try await function() }
    let started = Result { try Containerd.start() }
    defer { if case .success(let containerd) = started { containerd.stop() } }
    try await Self.$current.withValue(started) { try await function() }
  }

  /// The suite's containerd; throws why it is not there.
  static func instance() throws -> Containerd {
    guard let current else { throw NotStarted() }
    return try current.get()
  }

  struct NotStarted: Error, CustomStringConvertible {
    var description: String { "the suite did not start containerd" }
  }
}

/// The engine cases under containerd: `ctr run --seccomp --seccomp-profile FILE` with
/// syscage's OCI profile, and the CRI path the kubelet takes (RunPodSandbox, then
/// CreateContainer with a Localhost SecurityProfile, StartContainer) with the profile file
/// `syscage install --kubelet --root ROOT` writes, ROOT standing for the kubelet's seccomp
/// root, and the Pod `syscage convert --to k8s-pod` writes. Images are OCI archives written by Tests/Engines/oci_archive.py.
@Suite(SharedContainerd()) struct ContainerdTests {
  static let reason = Comment(rawValue: Containerd.reason)
  static var criReady: Bool { Containerd.ready && Peer.criClient.isAvailable }
  static let criReason = Comment(rawValue: Containerd.reason + "; and " + Peer.criClient.skipReason)

  /// A fresh directory and a busybox-static image imported into the namespace under a
  /// fresh name, removed after.
  struct Fixture {
    let containerd: Containerd
    let dir: URL
    let image: String
    let namespace: String

    init(namespace: String = "default") throws {
      containerd = try SharedContainerd.instance()
      self.namespace = namespace
      dir = try Containers.temporaryDirectory("syscage-containerd")
      image = "docker.io/syscage-test/busybox-\(UUID().uuidString.prefix(8).lowercased()):latest"
      do {
        try containerd.importImage(rootfs: try EngineCases.makeRootfs(in: dir), ref: image, namespace: namespace)
      } catch {
        try? FileManager.default.removeItem(at: dir)
        throw error
      }
    }

    func remove() {
      containerd.removeImage(image, namespace: namespace)
      try? FileManager.default.removeItem(at: dir)
    }

    /// Runs `script` with /bin/sh in a container started by `ctr run` under the OCI
    /// profile at `profile` (no seccomp when nil).
    func ctr(_ script: String, profile: String?) -> ProcessResult {
      containerd.run(image: image, command: ["/bin/sh", "-c", script], seccompProfile: profile)
    }

    /// `profile` through `syscage convert --to oci`, written to `name` in the directory.
    func oci(_ profile: String, _ name: String) throws -> String {
      let out = dir.appendingPathComponent(name).path
      let r = TestSupport.run(syscageExecutable, ["convert", profile, "--to", "oci", "-o", out])
      try #require(r.status == 0, "syscage convert --to oci failed (\(r.status)): \(r.stderr)")
      return out
    }
  }

  // MARK: - ctr

  @Test(.enabled(if: Containerd.ready || isCI, reason))
  func ctrDenyDirRefusesMkdirOnly() throws {
    try #require(Containerd.ready, Self.reason)
    let f = try Fixture()
    defer { f.remove() }
    let profile = try f.oci(try writeFile(EngineCases.denyDir, "deny-dir.json", in: f.dir), "deny-dir.oci.json")

    let with = f.ctr(EngineCases.denyDirScript, profile: profile)
    #expect(with.status == 0, "ctr run under the deny-list: \(with.stderr)")
    #expect(with.stdout.hasPrefix("hi\n"), "\(with.stdout)\(with.stderr)")
    #expect(with.stdout.contains("MKDIR_FAILED"), "\(with.stdout)")
    #expect(with.stderr.contains("Operation not permitted"), "\(with.stderr)")

    let without = f.ctr(EngineCases.denyDirScript, profile: nil)
    #expect(without.status == 0, "\(without.stderr)")
    #expect(without.stdout == "hi\nMKDIR_OK\n", "\(without.stdout)\(without.stderr)")
  }

  /// The profile `syscage record -o` writes on the host, with no other flag, given to ctr
  /// as it is.
  @Test(.enabled(if: Containerd.ready || isCI, reason))
  func ctrHostRecordedAllowListStartsTheContainer() throws {
    try #require(Containerd.ready, Self.reason)
    let f = try Fixture()
    defer { f.remove() }
    let recorded = try EngineCases.recordAllowList(into: f.dir)

    let without = f.ctr(EngineCases.allowListScript, profile: nil)
    try #require(without.status == 0, "\(without.stderr)")
    #expect(without.stdout.hasPrefix("hi\n") && without.stdout.hasSuffix("made\n"), "\(without.stdout)")

    let with = f.ctr(EngineCases.allowListScript, profile: recorded.path)
    #expect(with.status == 0, "ctr run under the recorded profile: \(with.stderr)")
    #expect(with.stdout == without.stdout, "with: \(with.stdout)\(with.stderr)\nwithout: \(without.stdout)")
  }

  @Test(.enabled(if: Containerd.ready || isCI, reason))
  func ctrDockerDefaultRefusesKeyctl() throws {
    try #require(Containerd.ready, Self.reason)
    let f = try Fixture()
    defer { f.remove() }
    let profile = try f.oci(EngineCases.dockerDefault.path, "docker-default.oci.json")

    let with = f.ctr(EngineCases.keyctlScript, profile: profile)
    #expect(with.status == 0, "\(with.stderr)")
    #expect(with.stdout == "keyctl: EPERM\n", "\(with.stdout)\(with.stderr)")

    let without = f.ctr(EngineCases.keyctlScript, profile: nil)
    #expect(without.status == 0, "\(without.stderr)")
    #expect(without.stdout.hasPrefix("keyctl: ") && without.stdout != "keyctl: EPERM\n", "\(without.stdout)\(without.stderr)")
  }

  // MARK: - CRI

  /// What the kubelet does with a Pod `syscage convert --to k8s-pod -o DIR` wrote and a
  /// profile `syscage install --kubelet --root ROOT` put on the node: the profile's path is
  /// the seccomp root joined with the Pod's `localhostProfile`, and
  /// `allowPrivilegeEscalation: false` becomes no_new_privs.
  struct KubeletView {
    var localhostRef: String
    var noNewPrivileges: Bool
  }

  /// The `localhostProfile:` value in YAML `text`.
  static func localhostProfile(in text: String) -> String? {
    guard let line = text.split(separator: "\n").first(where: {
      $0.trimmingCharacters(in: .whitespaces).hasPrefix("localhostProfile:")
    }) else { return nil }
    return line.split(separator: ":", maxSplits: 1)[1]
      .trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
  }

  /// `profile` installed with `syscage install --kubelet --root ROOT --name NAME` (ROOT a
  /// fresh seccomp root in `dir`) and its Pod from `syscage convert --to k8s-pod -o DIR`,
  /// read as the kubelet reads them.
  static func kubernetes(_ profile: String, name: String, in dir: URL) throws -> KubeletView {
    let seccompRoot = dir.appendingPathComponent("kubelet-seccomp-\(name)")
    let installed = run(syscageExecutable, ["install", profile, "--kubelet", "--root", seccompRoot.path, "--name", name])
    try #require(installed.status == 0, "syscage install --kubelet failed (\(installed.status)): \(installed.stderr)")
    let pasted = try #require(localhostProfile(in: installed.stdout), "install printed no localhostProfile: \(installed.stdout)")
    let root = dir.appendingPathComponent("k8s-\(name)")
    let r = run(syscageExecutable, ["convert", profile, "--to", "k8s-pod", "--name", name, "-o", root.path])
    try #require(r.status == 0, "syscage convert --to k8s-pod failed (\(r.status)): \(r.stderr)")
    let pod = try String(contentsOf: root.appendingPathComponent("pod.yaml"), encoding: .utf8)
    let relative = try #require(localhostProfile(in: pod), "no localhostProfile in pod.yaml:\n\(pod)")
    #expect(relative == "profiles/\(name).json", "\(pod)")
    #expect(relative == pasted, "the Pod and install's snippet name different files: \(relative), \(pasted)")
    let path = seccompRoot.appendingPathComponent(relative).path
    #expect(FileManager.default.fileExists(atPath: path), "the Pod names \(relative), which install did not write")
    let noNewPrivileges = pod.split(separator: "\n").contains {
      $0.trimmingCharacters(in: .whitespaces) == "allowPrivilegeEscalation: false"
    }
    return KubeletView(localhostRef: path, noNewPrivileges: noNewPrivileges)
  }

  /// Runs `script` in a pod through the CRI, under the Localhost profile `view` names (no
  /// seccomp field when nil).
  static func cri(_ f: Fixture, _ client: CRIClient, _ script: String, _ view: KubeletView?) -> CRIClient.Result {
    client.run(
      f.containerd, image: f.image, command: ["/bin/sh", "-c", script], localhostProfile: view?.localhostRef,
      noNewPrivileges: view?.noNewPrivileges ?? false)
  }

  static func criFixture() throws -> (Fixture, CRIClient) {
    let f = try Fixture(namespace: Containerd.criNamespace)
    do {
      return (f, try CRIClient.prepare(in: f.dir.appendingPathComponent("cri-messages")))
    } catch {
      f.remove()
      throw error
    }
  }

  @Test(.enabled(if: criReady || isCI, criReason))
  func criDenyDirRefusesMkdirOnly() throws {
    try #require(Self.criReady, Self.criReason)
    let (f, client) = try Self.criFixture()
    defer { f.remove() }
    let view = try Self.kubernetes(
      try writeFile(EngineCases.denyDir, "deny-dir.json", in: f.dir), name: "deny-dir", in: f.dir)

    let with = Self.cri(f, client, EngineCases.denyDirScript, view)
    try #require(with.status == 0, "the CRI refused the pod under the deny-list: \(with.message)")
    #expect(with.exitCode == 0)
    #expect(with.stdout.hasPrefix("hi\n"), "\(with.stdout)\(with.stderr)")
    #expect(with.stdout.contains("MKDIR_FAILED"), "\(with.stdout)")
    #expect(with.stderr.contains("Operation not permitted"), "\(with.stderr)")

    let without = Self.cri(f, client, EngineCases.denyDirScript, nil)
    try #require(without.status == 0, "\(without.message)")
    #expect(without.stdout == "hi\nMKDIR_OK\n", "\(without.stdout)\(without.stderr)")
  }

  /// The README's Kubernetes flow: `syscage record -o` on the host with no other flag,
  /// then `install --kubelet` and `convert --to k8s-pod`; the pod starts and prints what it prints unconfined.
  @Test(.enabled(if: criReady || isCI, criReason))
  func criHostRecordedAllowListStartsThePod() throws {
    try #require(Self.criReady, Self.criReason)
    let (f, client) = try Self.criFixture()
    defer { f.remove() }
    let recorded = try EngineCases.recordAllowList(into: f.dir)
    let view = try Self.kubernetes(recorded.path, name: "recorded", in: f.dir)

    let without = Self.cri(f, client, EngineCases.allowListScript, nil)
    try #require(without.status == 0 && without.exitCode == 0, "\(without.message)\(without.stderr)")
    #expect(without.stdout.hasPrefix("hi\n") && without.stdout.hasSuffix("made\n"), "\(without.stdout)")

    let with = Self.cri(f, client, EngineCases.allowListScript, view)
    try #require(with.status == 0, "the CRI refused the pod under the recorded profile: \(with.message)")
    #expect(with.exitCode == 0, "\(with.stdout)\(with.stderr)")
    #expect(with.stdout == without.stdout, "with: \(with.stdout)\(with.stderr)\nwithout: \(without.stdout)")
  }

  @Test(.enabled(if: criReady || isCI, criReason))
  func criDockerDefaultRefusesKeyctl() throws {
    try #require(Self.criReady, Self.criReason)
    let (f, client) = try Self.criFixture()
    defer { f.remove() }
    let view = try Self.kubernetes(EngineCases.dockerDefault.path, name: "docker-default", in: f.dir)

    let with = Self.cri(f, client, EngineCases.keyctlScript, view)
    try #require(with.status == 0, "the CRI refused the pod under Docker's default: \(with.message)")
    #expect(with.stdout == "keyctl: EPERM\n", "\(with.stdout)\(with.stderr)")

    let without = Self.cri(f, client, EngineCases.keyctlScript, nil)
    try #require(without.status == 0, "\(without.message)")
    #expect(without.stdout.hasPrefix("keyctl: ") && without.stdout != "keyctl: EPERM\n", "\(without.stdout)\(without.stderr)")
  }
}

/// The test containerd's config: `containerd config default` with its paths moved into the
/// instance's directory, and nothing else that matters changed.
@Suite struct ContainerdConfigTests {
  static let defaults = """
    disabled_plugins = []
    root = "/var/lib/containerd"
    state = "/run/containerd"

    [grpc]
      address = "/run/containerd/containerd.sock"

    [debug]
      address = ""

    [plugins]

      [plugins."io.containerd.grpc.v1.cri"]
        restrict_oom_score_adj = false
        sandbox_image = "registry.k8s.io/pause:3.6"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          Root = ""

      [plugins."io.containerd.internal.v1.opt"]
        path = "/opt/containerd"
    """

  @Test func movesEveryPathAndKeepsTheRest() throws {
    let config = try Containerd.config(
      from: Self.defaults, directory: "/tmp/d", socket: "/tmp/d/c.sock", sandboxImage: "localhost/p:1")
    let lines = Set(config.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
    for expected in [
      #"root = "/tmp/d/root""#, #"state = "/tmp/d/state""#, #"address = "/tmp/d/c.sock""#,
      #"address = """#, "restrict_oom_score_adj = true", #"sandbox_image = "localhost/p:1""#,
      #"Root = "/tmp/d/runc-cri""#, #"path = "/tmp/d/opt""#,
    ] {
      #expect(lines.contains(expected), "\(expected) in:\n\(config)")
    }
    #expect(!config.contains("/run/containerd") && !config.contains("/var/lib") && !config.contains("/opt/containerd"), "\(config)")
    #expect(config.contains(#"disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "#), "\(config)")
  }

  @Test func refusesDefaultsWithoutASetting() {
    let without = Self.defaults.replacingOccurrences(of: "    restrict_oom_score_adj = false\n", with: "")
    #expect(throws: (any Error).self) {
      try Containerd.config(from: without, directory: "/tmp/d", socket: "/tmp/d/c.sock", sandboxImage: "p")
    }
  }
}
