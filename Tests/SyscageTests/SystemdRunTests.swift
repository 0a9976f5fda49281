import Foundation
import Profiles
import Seccomp
import Testing
import TestSupport

/// A private `systemd --user` manager around a whole suite: started before its first test,
/// stopped after its last, reachable from the tests as `SystemdUserScope.manager`.
struct SystemdUserScope: SuiteTrait, TestScoping {
  @TaskLocal static var started: Result<SystemdUser, Containers.SetupError>?

  var isRecursive: Bool { false }

  func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
    guard SystemdUser.ready else { return try await function() }
    let result: Result<SystemdUser, Containers.SetupError>
    do {
      result = .success(try SystemdUser.start())
    } catch let error as Containers.SetupError {
      result = .failure(error)
    }
    defer { if case .success(let manager) = result { manager.stop() } }
    try await Self.$started.withValue(result) { try await function() }
  }

  /// The suite's manager; fails the test when it could not start.
  static func manager() throws -> SystemdUser {
    try #require(started != nil, "no systemd --user manager for this suite")
    return try started!.get()
  }
}

/// `systemd-run --user` units run what `syscage convert --to systemd` writes, each line of
/// the drop-in given as `-p`: the engine cases, and the kill a unit filter makes by default.
@Suite(SystemdUserScope()) struct SystemdRunTests {
  static let reason = Comment(rawValue: Peer.systemdRun.skipReason + " (as root, with busybox-static)")

  func syscage(_ args: [String]) -> ProcessResult { run(syscageExecutable, args) }

  /// The drop-in's `[Service]` lines for `profile`, and convert's stderr.
  func dropIn(_ profile: String) throws -> (properties: [String], text: String, stderr: String) {
    let r = syscage(["convert", profile, "--to", "systemd"])
    try #require(r.status == 0, "convert --to systemd: \(r.stderr)")
    let lines = r.stdout.split(separator: "\n").map(String.init)
    let service = try #require(lines.firstIndex(of: "[Service]"), "\(r.stdout)")
    return (Array(lines[(service + 1)...]), r.stdout, r.stderr)
  }

  func setup() throws -> (SystemdUser, URL, URL) {
    try #require(SystemdUser.ready, Self.reason)
    let manager = try SystemdUserScope.manager()
    let dir = try Containers.temporaryDirectory("syscage-sdrun")
    return (manager, dir, try EngineCases.makeRootfs(in: dir))
  }

  @Test(.enabled(if: Peer.systemdRun.shouldRun, reason)) func denyDirRefusesMkdir() throws {
    let (manager, dir, rootfs) = try setup()
    defer { try? FileManager.default.removeItem(at: dir) }
    let unit = try dropIn(try writeFile(EngineCases.denyDir, "deny.json", in: dir))
    #expect(unit.properties.contains("SystemCallFilter=~mkdir:EPERM mkdirat:EPERM"), "\(unit.properties)")
    let script = ["/bin/sh", "-c", EngineCases.denyDirScript]
    let with = manager.run(properties: unit.properties, command: script, rootDirectory: rootfs)
    #expect(with.status == 0 && with.stdout == "hi\nMKDIR_FAILED\n", "\(with.stdout)\(with.stderr)")
    #expect(with.stderr.contains("Operation not permitted"))
    let without = manager.run(properties: [], command: script, rootDirectory: rootfs)
    #expect(without.status == 0 && without.stdout == "hi\nMKDIR_OK\n", "\(without.stdout)\(without.stderr)")
  }

  @Test(.enabled(if: Peer.systemdRun.shouldRun, reason)) func hostRecordedAllowListGivesTheSameOutput() throws {
    let (manager, dir, rootfs) = try setup()
    defer { try? FileManager.default.removeItem(at: dir) }
    let recorded = try EngineCases.recordAllowList(into: dir)
    let unit = try dropIn(recorded.path)
    let script = ["/bin/sh", "-c", EngineCases.allowListScript]
    let with = manager.run(properties: unit.properties, command: script, rootDirectory: rootfs)
    let without = manager.run(properties: [], command: script, rootDirectory: rootfs)
    #expect(without.status == 0 && without.stdout.hasPrefix("hi\n"), "\(without.stderr)")
    #expect(with.status == 0 && with.stdout == without.stdout, "with the profile (\(unit.properties)): \(with.stdout)\(with.stderr)")
  }

  @Test(.enabled(if: Peer.systemdRun.shouldRun, reason)) func dockerDefaultRefusesKeyctl() throws {
    let (manager, dir, rootfs) = try setup()
    defer { try? FileManager.default.removeItem(at: dir) }
    let unit = try dropIn(EngineCases.dockerDefault.path)
    // What the drop-in cannot say exactly is said (personality's values, refused families' errno).
    #expect(unit.stderr.contains("personality: LockPersonality=yes"), "\(unit.stderr)")
    #expect(unit.properties.contains("SystemCallErrorNumber=EPERM") && unit.properties.contains("RestrictNamespaces=yes"))
    let with = manager.run(properties: unit.properties, command: [EngineCases.keyctlScript], rootDirectory: rootfs)
    #expect(with.status == 0 && with.stdout == "keyctl: EPERM\n", "\(with.stdout)\(with.stderr)")
    let without = manager.run(properties: [], command: [EngineCases.keyctlScript], rootDirectory: rootfs)
    #expect(without.status == 0 && without.stdout.hasPrefix("keyctl: ") && without.stdout != "keyctl: EPERM\n", "\(without.stdout)")
  }

  @Test(.enabled(if: Peer.systemdRun.shouldRun, reason)) func withoutSystemCallErrorNumberTheUnitKillsAndTheDropInSaysSo() throws {
    let (manager, dir, rootfs) = try setup()
    defer { try? FileManager.default.removeItem(at: dir) }
    let kill = #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]}"#
    let unit = try dropIn(try writeFile(kill, "kill.json", in: dir))
    #expect(!unit.properties.contains { $0.hasPrefix("SystemCallErrorNumber=") })
    #expect(unit.stderr.contains("note: no SystemCallErrorNumber=: systemd kills the process (SIGSYS)"), "\(unit.stderr)")
    #expect(unit.text.contains("# no SystemCallErrorNumber=: systemd kills the process") && unit.text.contains("(mkdir, mkdirat)"))
    let r = manager.run(properties: unit.properties, command: ["/bin/sh", "-c", EngineCases.denyDirScript], rootDirectory: rootfs)
    // busybox sh forks mkdir: the child dies of SIGSYS, and the shell says so.
    #expect(r.stdout == "hi\nMKDIR_FAILED\n" && r.stderr.contains("Bad system call"), "\(r.status) \(r.stdout)\(r.stderr)")
  }
}
