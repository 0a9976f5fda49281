import Foundation
import Profiles
import Seccomp
import Testing
import TestSupport

/// The committed runtime calls (`GeneratedRuntimeCalls.swift`): re-derived for every runtime
/// on the machine by `derive-runtime-calls` (recording in the test process would wait for any
/// child and reap other tests' children), rendered back byte for byte, and proven needed and
/// enough: a profile of the program's own calls plus the runtime's set starts the
/// container, the same without the runtime's set does not.
@Suite(.serialized) struct RuntimeCallsDerivationTests {
  static let generatedFile = packageRoot.appendingPathComponent("Sources/Seccomp/GeneratedRuntimeCalls.swift")
  static var deriver: String {
    URL(fileURLWithPath: syscageExecutable).deletingLastPathComponent().appendingPathComponent("derive-runtime-calls").path
  }
  static let rootReason = Comment(rawValue: Peer.root.skipReason)

  /// What the tool found for one runtime and mode.
  struct Found {
    var noNewPrivileges: Bool
    var calls: [String]
    var programCalls: [String]
  }

  /// Derives `runtime` with `derive-runtime-calls --check` (`runs` runs per mode); fails
  /// when a call found is not in the committed set.
  func derive(_ runtime: ContainerRuntime, peer: Peer, runs: Int = 2) throws -> [Found] {
    try #require(peer.isAvailable, Comment(rawValue: peer.skipReason))
    try #require(Peer.root.isAvailable, Self.rootReason)
    try #require(Containers.busybox != nil, "needs busybox-static (apt-get install busybox-static)")
    try #require(FileManager.default.isExecutableFile(atPath: Self.deriver), "build derive-runtime-calls first (swift build)")
    let r = run(Self.deriver, ["--runtime", runtime.rawValue, "--runs", "\(runs)", "--check", "--json"], timeout: 600)
    #expect(r.status == 0, "derive-runtime-calls --runtime \(runtime): \(r.stderr)")
    var found: [Found] = []
    for line in r.stdout.split(separator: "\n") {
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
      let entry = Found(
        noNewPrivileges: try #require(object["noNewPrivileges"] as? Bool), calls: object["calls"] as? [String] ?? [],
        programCalls: object["programCalls"] as? [String] ?? [])
      #expect(entry.calls.contains("execve"), "\(runtime): the runtime's execve of the program was not seen: \(entry.calls)")
      #expect(entry.programCalls.contains("exit_group"), "\(runtime): /bin/true's own calls were not seen: \(entry.programCalls)")
      found.append(entry)
    }
    #expect(!found.isEmpty, "derive-runtime-calls printed nothing: \(r.stderr)")
    return found
  }

  /// A Docker/OCI profile allowing exactly `names` (everything else EPERM).
  static func allowList(_ names: Set<String>) -> [String: Any] {
    [
      "defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [["names": names.sorted(), "action": "SCMP_ACT_ALLOW"]],
    ]
  }

  /// Starts /bin/true in a busybox bundle under `profile` with runc, or with crun in a
  /// private mount namespace without cgroup2 (crun refuses this machine's hybrid layout).
  func runOCI(_ runtime: ContainerRuntime, profile: [String: Any], noNewPrivileges: Bool) throws -> ProcessResult {
    let dir = try Containers.temporaryDirectory("syscage-derive-test")
    defer { try? FileManager.default.removeItem(at: dir) }
    let bundle = try Containers.makeBundle(in: dir, args: ["/bin/true"], noNewPrivileges: noNewPrivileges) { config in
      var linux = config["linux"] as? [String: Any] ?? [:]
      linux["seccomp"] = profile
      config["linux"] = linux
    }
    if runtime == .runc { return Containers.runc(bundle) }
    let id = "syscage-derive-test-\(UUID().uuidString.prefix(8))"
    defer { _ = run("/usr/bin/crun", ["delete", "--force", id]) }
    let script = "if grep -q ' /sys/fs/cgroup/unified ' /proc/self/mounts; then umount /sys/fs/cgroup/unified || exit 125; fi; "
      + "exec /usr/bin/crun run --bundle \(Containers.shellQuote(bundle.path)) \(id)"
    return run("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script], timeout: 60)
  }

  /// Starts /bin/true with lxc-execute under an LXC v2 allow-list of `names`.
  func runLXC(_ names: Set<String>, noNewPrivileges: Bool) throws -> ProcessResult {
    let dir = try Containers.temporaryDirectory("syscage-derive-lxc")
    defer { try? FileManager.default.removeItem(at: dir) }
    let name = "syscage-derive-test-\(UUID().uuidString.prefix(8))"
    let base = dir.appendingPathComponent("base.conf")
    try Data("lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n".utf8).write(to: base)
    let created = run("/usr/bin/lxc-create", ["-P", dir.path, "-n", name, "-t", "busybox", "-f", base.path])
    try #require(created.status == 0, "lxc-create: \(created.stderr)")
    defer { _ = run("/usr/bin/lxc-destroy", ["-P", dir.path, "-n", name]) }
    let policy = dir.appendingPathComponent("policy.seccomp")
    try Data(("2\nallowlist errno 1\n[x86_64]\n" + names.sorted().joined(separator: "\n") + "\n").utf8).write(to: policy)
    return run(
      "/usr/bin/lxc-execute",
      [
        "-P", dir.path, "-n", name, "-s", "lxc.seccomp.profile=\(policy.path)", "-s",
        "lxc.no_new_privs=\(noNewPrivileges ? 1 : 0)", "--", "/bin/true",
      ], timeout: 60)
  }

  /// With the committed set the container starts; without it, it does not.
  func expectNeededAndEnough(
    _ runtime: ContainerRuntime, _ found: Found, start: (Set<String>) throws -> ProcessResult
  ) throws {
    let mode = found.noNewPrivileges
    let committed = Set(runtime.callsAfterFilter(noNewPrivileges: mode))
    let program = Set(found.programCalls)
    try #require(!committed.subtracting(program).isEmpty, "\(runtime) \(mode): /bin/true makes every runtime call; the test would mean nothing")
    let with = try start(program.union(committed))
    #expect(with.status == 0, "\(runtime) noNewPrivileges \(mode) did not start /bin/true under its own calls plus /bin/true's: \(with.stderr)")
    let without = try start(program)
    #expect(without.status != 0, "\(runtime) noNewPrivileges \(mode) started /bin/true without its calls after the filter")
  }

  @Test(.enabled(if: Peer.runc.shouldRun && Peer.root.shouldRun, Comment(rawValue: Peer.runc.skipReason)))
  func runcsCallsAreRederivedNeededAndEnough() throws {
    let found = try derive(.runc, peer: .runc)
    #expect(Set(found.map(\.noNewPrivileges)) == [false, true])
    for f in found {
      try expectNeededAndEnough(.runc, f) { try runOCI(.runc, profile: Self.allowList($0), noNewPrivileges: f.noNewPrivileges) }
    }
  }

  @Test(.enabled(if: Peer.crun.shouldRun && Peer.root.shouldRun, Comment(rawValue: Peer.crun.skipReason)))
  func cruncsCallsAreRederivedNeededAndEnough() throws {
    let found = try derive(.crun, peer: .crun)
    #expect(Set(found.map(\.noNewPrivileges)) == [false, true])
    // With noNewPrivileges true crun's calls (close, execve) are /bin/true's own too: only false can show the need.
    for f in found where !f.noNewPrivileges {
      try expectNeededAndEnough(.crun, f) { try runOCI(.crun, profile: Self.allowList($0), noNewPrivileges: f.noNewPrivileges) }
    }
  }

  @Test(.enabled(if: Peer.lxc.shouldRun && Peer.root.shouldRun, Comment(rawValue: Peer.lxc.skipReason)))
  func lxcsCallsAreRederivedNeededAndEnough() throws {
    let found = try derive(.lxc, peer: .lxc)
    #expect(Set(found.map(\.noNewPrivileges)) == [false, true])
    for f in found {
      try expectNeededAndEnough(.lxc, f) { try runLXC($0, noNewPrivileges: f.noNewPrivileges) }
    }
  }

  @Test(.enabled(if: Peer.nspawn.shouldRun && Peer.root.shouldRun, Comment(rawValue: Peer.nspawn.skipReason)))
  func nspawnsCallsAreRederived() throws {
    let found = try derive(.nspawn, peer: .nspawn)
    #expect(Set(found.map(\.noNewPrivileges)) == [false, true])
  }

  @Test(.enabled(if: Peer.bwrap.shouldRun && Peer.root.shouldRun, Comment(rawValue: Peer.bwrap.skipReason)))
  func bubblewrapsCallsAreRederived() throws {
    let found = try derive(.bwrap, peer: .bwrap)
    // bubblewrap always sets no_new_privs: one mode recorded, the same set for both.
    #expect(found.map(\.noNewPrivileges) == [true])
    #expect(ContainerRuntime.bwrap.callsAfterFilter(noNewPrivileges: false) == ContainerRuntime.bwrap.callsAfterFilter(noNewPrivileges: true))
  }

  /// The generated file is what rendering its own data gives, byte for byte: it was written
  /// by `derive-runtime-calls --write` and not edited by hand.
  @Test func generatedFileIsItsRendering() throws {
    let committed = try String(contentsOf: Self.generatedFile, encoding: .utf8)
    let rendered = RuntimeCalls.renderGenerated(RuntimeCalls.recorded, sources: RuntimeCalls.sources)
    #expect(rendered == committed, "Sources/Seccomp/GeneratedRuntimeCalls.swift differs from its rendering; re-run `swift run derive-runtime-calls --write`")
    for runtime in ContainerRuntime.allCases {
      let source = try #require(RuntimeCalls.sources[runtime], "\(runtime) has no recorded set; run derive-runtime-calls --write where it is installed")
      #expect(source.runs >= 20, "\(runtime)'s sets come from \(source.runs) runs")
      for mode in [false, true] {
        let calls = runtime.callsAfterFilter(noNewPrivileges: mode)
        #expect(calls.contains("execve") && calls == Set(calls).sorted(), "\(runtime) \(mode): \(calls)")
      }
    }
  }

  /// The rendering does not depend on the order the data comes in.
  @Test func renderingIsDeterministic() {
    let a = RuntimeCalls.renderGenerated(
      [.runc: [true: ["write", "close"], false: ["b", "a"]]], sources: [.runc: .init(version: "v \"1\"", runs: 3, modes: [true, false])])
    let b = RuntimeCalls.renderGenerated(
      [.runc: [false: ["a", "b"], true: ["close", "write"]]], sources: [.runc: .init(version: "v \"1\"", runs: 3, modes: [false, true])])
    #expect(a == b)
    #expect(a.contains(#"Source(version: "v \"1\"", runs: 3, modes: [false, true])"#), "\(a)")
  }
}
