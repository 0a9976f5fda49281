import Foundation
import Profiles
import Seccomp
import Testing
import TestSupport

/// The engine cases under runc (`syscage convert --bundle`, noNewPrivileges true and false)
/// and bubblewrap (`syscage compile --format raw` handed over with `--seccomp FD`).
@Suite struct EngineRuncBwrapTests {
  static let runcReason = Comment(rawValue: Containers.runcReason)
  static let bwrapReason = Comment(rawValue: Peer.bwrap.skipReason + " (as root, with busybox-static)")

  func syscage(_ args: [String]) -> ProcessResult { run(syscageExecutable, args) }

  /// A runc bundle in `dir` running `args`, its rootfs from `EngineCases.makeRootfs`.
  func bundle(in dir: URL, args: [String], noNewPrivileges: Bool) throws -> URL {
    let bundle = try Containers.makeBundle(in: dir, args: args, noNewPrivileges: noNewPrivileges)
    try FileManager.default.removeItem(at: bundle.appendingPathComponent("rootfs"))
    _ = try EngineCases.makeRootfs(in: bundle, name: "rootfs")
    return bundle
  }

  /// Runs the bundle without a profile, then with `profile` converted into it; both results.
  func runc(_ profile: String, args: [String], noNewPrivileges: Bool) throws -> (with: ProcessResult, without: ProcessResult) {
    try #require(Containers.runcReady, Self.runcReason)
    let dir = try Containers.temporaryDirectory("syscage-runc")
    defer { try? FileManager.default.removeItem(at: dir) }
    let b = try bundle(in: dir, args: args, noNewPrivileges: noNewPrivileges)
    let without = Containers.runc(b)
    let converted = syscage(["convert", profile, "--to", "oci", "--bundle", b.path])
    try #require(converted.status == 0, "convert --bundle: \(converted.stderr)")
    return (Containers.runc(b), without)
  }

  func profileFile(_ json: String) throws -> (String, URL) {
    let dir = try Containers.temporaryDirectory("syscage-profile")
    return (try writeFile(json, "profile.json", in: dir), dir)
  }

  @Test(.enabled(if: Peer.runc.shouldRun, runcReason), arguments: [true, false])
  func runcDenyDirRefusesMkdir(noNewPrivileges: Bool) throws {
    let (deny, dir) = try profileFile(EngineCases.denyDir)
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try runc(deny, args: ["/bin/sh", "-c", EngineCases.denyDirScript], noNewPrivileges: noNewPrivileges)
    #expect(r.with.status == 0 && r.with.stdout == "hi\nMKDIR_FAILED\n", "\(r.with.stdout)\(r.with.stderr)")
    #expect(r.with.stderr.contains("Operation not permitted"))
    #expect(r.without.status == 0 && r.without.stdout == "hi\nMKDIR_OK\n", "\(r.without.stdout)\(r.without.stderr)")
  }

  @Test(.enabled(if: Peer.runc.shouldRun, runcReason), arguments: [true, false])
  func runcHostRecordedAllowListGivesTheSameOutput(noNewPrivileges: Bool) throws {
    try #require(Containers.runcReady, Self.runcReason)
    let dir = try Containers.temporaryDirectory("syscage-recorded")
    defer { try? FileManager.default.removeItem(at: dir) }
    let recorded = try EngineCases.recordAllowList(into: dir)
    let r = try runc(recorded.path, args: ["/bin/sh", "-c", EngineCases.allowListScript], noNewPrivileges: noNewPrivileges)
    #expect(r.without.status == 0 && r.without.stdout.hasPrefix("hi\n"), "\(r.without.stderr)")
    #expect(r.with.status == 0 && r.with.stdout == r.without.stdout, "with the profile: \(r.with.stdout)\(r.with.stderr)")
  }

  @Test(.enabled(if: Peer.runc.shouldRun, runcReason), arguments: [true, false])
  func runcDockerDefaultRefusesKeyctl(noNewPrivileges: Bool) throws {
    let r = try runc(EngineCases.dockerDefault.path, args: [EngineCases.keyctlScript], noNewPrivileges: noNewPrivileges)
    #expect(r.with.status == 0 && r.with.stdout == "keyctl: EPERM\n", "\(r.with.stdout)\(r.with.stderr)")
    #expect(r.without.status == 0 && r.without.stdout.hasPrefix("keyctl: ") && r.without.stdout != "keyctl: EPERM\n")
  }

  /// Runs `command` in a bubblewrap container on `rootfs` (private /tmp, /proc, /dev, every
  /// namespace unshared), with the raw filter `syscage compile PROFILE --format raw` writes
  /// for `profile` on descriptor 9, or without a filter.
  func bwrap(_ rootfs: URL, profile: String?, command: [String], in dir: URL) throws -> ProcessResult {
    var prefix = ["/usr/bin/bwrap", "--bind", rootfs.path, "/", "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
                  "--unshare-all", "--die-with-parent"]
    var suffix = ""
    if let profile {
      let filter = dir.appendingPathComponent("filter-\(UUID().uuidString.prefix(8)).bpf").path
      let c = syscage(["compile", profile, "--format", "raw", "-o", filter])
      try #require(c.status == 0, "compile --format raw: \(c.stderr)")
      prefix += ["--seccomp", "9"]
      suffix = " 9< " + Containers.shellQuote(filter)
    }
    let line = (prefix + command).map(Containers.shellQuote).joined(separator: " ")
    return run("/bin/sh", ["-c", "exec " + line + suffix])
  }

  func bwrapSetup() throws -> (URL, URL) {
    try #require(Containers.bwrapReady && Containers.busybox != nil, Self.bwrapReason)
    let dir = try Containers.temporaryDirectory("syscage-bwrap")
    return (dir, try EngineCases.makeRootfs(in: dir))
  }

  @Test(.enabled(if: Peer.bwrap.shouldRun, bwrapReason)) func bwrapDenyDirRefusesMkdir() throws {
    let (dir, rootfs) = try bwrapSetup()
    defer { try? FileManager.default.removeItem(at: dir) }
    let deny = try writeFile(EngineCases.denyDir, "deny.json", in: dir)
    let script = ["/bin/sh", "-c", EngineCases.denyDirScript]
    let with = try bwrap(rootfs, profile: deny, command: script, in: dir)
    #expect(with.status == 0 && with.stdout == "hi\nMKDIR_FAILED\n", "\(with.stdout)\(with.stderr)")
    #expect(with.stderr.contains("Operation not permitted"))
    let without = try bwrap(rootfs, profile: nil, command: script, in: dir)
    #expect(without.status == 0 && without.stdout == "hi\nMKDIR_OK\n", "\(without.stdout)\(without.stderr)")
  }

  @Test(.enabled(if: Peer.bwrap.shouldRun, bwrapReason)) func bwrapHostRecordedAllowListGivesTheSameOutput() throws {
    let (dir, rootfs) = try bwrapSetup()
    defer { try? FileManager.default.removeItem(at: dir) }
    let recorded = try EngineCases.recordAllowList(into: dir)
    let script = ["/bin/sh", "-c", EngineCases.allowListScript]
    let with = try bwrap(rootfs, profile: recorded.path, command: script, in: dir)
    let without = try bwrap(rootfs, profile: nil, command: script, in: dir)
    #expect(without.status == 0 && without.stdout.hasPrefix("hi\n"), "\(without.stderr)")
    #expect(with.status == 0 && with.stdout == without.stdout, "with the profile: \(with.stdout)\(with.stderr)")
  }

  @Test(.enabled(if: Peer.bwrap.shouldRun, bwrapReason)) func bwrapDockerDefaultRefusesKeyctl() throws {
    let (dir, rootfs) = try bwrapSetup()
    defer { try? FileManager.default.removeItem(at: dir) }
    let with = try bwrap(rootfs, profile: EngineCases.dockerDefault.path, command: [EngineCases.keyctlScript], in: dir)
    #expect(with.status == 0 && with.stdout == "keyctl: EPERM\n", "\(with.stdout)\(with.stderr)")
    let without = try bwrap(rootfs, profile: nil, command: [EngineCases.keyctlScript], in: dir)
    #expect(without.status == 0 && without.stdout.hasPrefix("keyctl: ") && without.stdout != "keyctl: EPERM\n", "\(without.stdout)")
  }
}
