import Foundation
import Testing
import TestSupport

/// `syscage install --lxc`: the policy goes next to the container's configuration, the
/// configuration points at it, and lxc-execute of the container then runs under it.
struct InstallLXCTests {
  @Test(.enabled(if: LXC.ready || isCI, Comment(rawValue: LXC.reason)))
  func installedPolicyIsWhatTheContainerRunsUnder() throws {
    try #require(LXC.ready, Comment(rawValue: LXC.reason))
    let c = try LXC.makeContainer()
    defer { c.destroy() }
    let containerDir = c.lxcpath.appendingPathComponent(c.name)
    try FileManager.default.createDirectory(at: containerDir, withIntermediateDirectories: true)
    let config = containerDir.appendingPathComponent("config")
    let original = try String(contentsOf: c.config, encoding: .utf8)
    try Data(("# kept as it is\nlxc.seccomp.profile = /nonexistent/old.seccomp\n" + original).utf8).write(to: config)
    let profile = try writeFile(EngineCases.denyDir, "deny-dir.json", in: c.directory)

    let without = run(LXC.executePath, ["-P", c.lxcpath.path, "-n", c.name, "--", "/bin/sh", "-c", "true"])
    #expect(without.status != 0, "the old policy path should stop the container: \(without.stderr)")

    let r = run(syscageExecutable, ["install", profile, "--lxc", c.name, "-P", c.lxcpath.path])
    #expect(r.status == 0, "\(r.stderr)")
    let policyPath = containerDir.appendingPathComponent("syscage.seccomp").path
    let policy = try String(contentsOfFile: policyPath, encoding: .utf8)
    #expect(policy.hasPrefix("2\n") || policy.contains("\n2\n"), "\(policy)")
    let edited = try String(contentsOf: config, encoding: .utf8)
    let settings = edited.split(separator: "\n").filter { $0.hasPrefix("lxc.seccomp.profile") }
    #expect(settings == ["lxc.seccomp.profile = \(policyPath)"], "\(edited)")
    #expect(edited.contains("# kept as it is\n") && edited.contains("lxc.net.0.type = empty"), "\(edited)")

    let under = run(
      LXC.executePath, ["-P", c.lxcpath.path, "-n", c.name, "--", "/bin/sh", "-c", EngineCases.denyDirScript], timeout: 30)
    #expect(under.stdout.hasPrefix("hi\n") && under.stdout.contains("MKDIR_FAILED"), "\(under.stdout)\(under.stderr)")
    #expect(under.stderr.contains("Operation not permitted"), "\(under.stderr)")
  }

  @Test func aMissingContainerIsSaidAndNothingIsWritten() throws {
    let dir = try Containers.temporaryDirectory("syscage-lxc-missing")
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = try writeFile(EngineCases.denyDir, "deny-dir.json", in: dir)
    let r = run(syscageExecutable, ["install", profile, "--lxc", "nosuch", "-P", dir.path])
    #expect(r.status == 69, "\(r.stderr)")
    #expect(r.stderr.contains("nosuch") && r.stderr.contains("config"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("nosuch").path))
    let bad = run(syscageExecutable, ["install", profile, "--lxc", "../x", "-P", dir.path])
    #expect(bad.status == 64, "\(bad.stderr)")
    let both = run(syscageExecutable, ["install", profile, "--lxc", "a", "--kubelet"])
    #expect(both.status == 64, "\(both.stderr)")
  }
}
