import Foundation
import Testing
import TestSupport

/// The engine cases under podman (the Docker command line the tutorials type):
/// `podman run --security-opt seccomp=FILE` with syscage's Docker JSON, on a busybox-static
/// image imported locally, runc as the runtime (podman's noNewPrivileges is false).
@Suite struct PodmanTests {
  static let reason = Comment(rawValue: Podman.reason)

  /// A fresh directory, a rootfs imported as a fresh image, and the image's removal.
  struct Fixture {
    let dir: URL
    let image: String

    init() throws {
      dir = try Containers.temporaryDirectory("syscage-podman")
      do {
        image = try Podman.importImage(try EngineCases.makeRootfs(in: dir))
      } catch {
        try? FileManager.default.removeItem(at: dir)
        throw error
      }
    }

    func remove() {
      Podman.removeImage(image)
      try? FileManager.default.removeItem(at: dir)
    }

    /// Runs `script` with /bin/sh in a container of the image under the profile at `profile`
    /// (no seccomp filter when nil).
    func run(_ script: String, profile: String?) -> ProcessResult {
      Podman.run(image: image, command: ["/bin/sh", "-c", script], seccompProfile: profile)
    }

    /// `profile` through `syscage convert --to docker`, written to `name` in the directory.
    func converted(_ profile: String, _ name: String) throws -> String {
      let out = dir.appendingPathComponent(name).path
      let r = TestSupport.run(syscageExecutable, ["convert", profile, "--to", "docker", "-o", out])
      try #require(r.status == 0, "syscage convert --to docker failed (\(r.status)): \(r.stderr)")
      return out
    }
  }

  @Test(.enabled(if: Podman.ready || isCI, reason))
  func denyDirRefusesMkdirOnly() throws {
    try #require(Podman.ready, Self.reason)
    let f = try Fixture()
    defer { f.remove() }
    let profile = try f.converted(try writeFile(EngineCases.denyDir, "deny-dir.json", in: f.dir), "deny-dir.docker.json")

    let with = f.run(EngineCases.denyDirScript, profile: profile)
    #expect(with.status == 0, "podman run under the deny-list: \(with.stderr)")
    #expect(with.stdout.hasPrefix("hi\n"), "\(with.stdout)\(with.stderr)")
    #expect(with.stdout.contains("MKDIR_FAILED"), "\(with.stdout)")
    #expect(with.stderr.contains("Operation not permitted"), "\(with.stderr)")

    let without = f.run(EngineCases.denyDirScript, profile: nil)
    #expect(without.status == 0, "\(without.stderr)")
    #expect(without.stdout == "hi\nMKDIR_OK\n", "\(without.stdout)\(without.stderr)")
  }

  /// The profile `syscage record -o` writes on the host, with no other flag, given to
  /// podman as it is: the container starts and prints what it prints without a filter.
  @Test(.enabled(if: Podman.ready || isCI, reason))
  func hostRecordedAllowListStartsTheContainer() throws {
    try #require(Podman.ready, Self.reason)
    let f = try Fixture()
    defer { f.remove() }
    let recorded = try EngineCases.recordAllowList(into: f.dir)

    let without = f.run(EngineCases.allowListScript, profile: nil)
    try #require(without.status == 0, "\(without.stderr)")
    #expect(without.stdout.hasPrefix("hi\n") && without.stdout.hasSuffix("made\n"), "\(without.stdout)")

    let with = f.run(EngineCases.allowListScript, profile: recorded.path)
    #expect(with.status == 0, "podman run under the recorded profile: \(with.stderr)")
    #expect(with.stdout == without.stdout, "with: \(with.stdout)\(with.stderr)\nwithout: \(without.stdout)")
  }

  /// podman as most distributions ship it, with crun: the plain recording allows crun's
  /// calls too (the Docker format's default is both OCI runtimes), and one made for runc
  /// alone does not start there.
  @Test(.enabled(if: (Podman.ready && Peer.crun.isAvailable) || isCI, reason))
  func hostRecordedAllowListStartsUnderCrunToo() throws {
    try #require(Podman.ready && Peer.crun.isAvailable, Self.reason)
    let f = try Fixture()
    defer { f.remove() }
    let recorded = try EngineCases.recordAllowList(into: f.dir)
    let command = ["/bin/sh", "-c", EngineCases.allowListScript]

    let without = Podman.runWithCrun(image: f.image, command: command, seccompProfile: nil)
    try #require(without.status == 0, "podman --runtime crun without a profile: \(without.stderr)")
    #expect(without.stdout.hasPrefix("hi\n") && without.stdout.hasSuffix("made\n"), "\(without.stdout)")

    let with = Podman.runWithCrun(image: f.image, command: command, seccompProfile: recorded.path)
    #expect(with.status == 0, "podman --runtime crun under the recorded profile: \(with.stderr)")
    #expect(with.stdout == without.stdout, "with: \(with.stdout)\(with.stderr)\nwithout: \(without.stdout)")

    let runcOnly = try EngineCases.recordAllowList(into: f.dir, name: "runc-only.json", extra: ["--for", "runc"])
    let refused = Podman.runWithCrun(image: f.image, command: command, seccompProfile: runcOnly.path)
    #expect(refused.status != 0, "a profile with runc's calls alone started under crun: \(refused.stdout)")
  }

  @Test(.enabled(if: Podman.ready || isCI, reason))
  func dockerDefaultRefusesKeyctl() throws {
    try #require(Podman.ready, Self.reason)
    let f = try Fixture()
    defer { f.remove() }
    let profile = try f.converted(EngineCases.dockerDefault.path, "docker-default.docker.json")

    let with = f.run(EngineCases.keyctlScript, profile: profile)
    #expect(with.status == 0, "\(with.stderr)")
    #expect(with.stdout == "keyctl: EPERM\n", "\(with.stdout)\(with.stderr)")

    let without = f.run(EngineCases.keyctlScript, profile: nil)
    #expect(without.status == 0, "\(without.stderr)")
    #expect(without.stdout.hasPrefix("keyctl: ") && without.stdout != "keyctl: EPERM\n", "\(without.stdout)\(without.stderr)")
  }
}
