import Foundation
import Syscalls
import Testing
import TestSupport

/// LXC runs what `syscage convert --to lxc` writes: the engine cases (a deny-list, an
/// allow-list recorded on the host, Docker's default) under `lxc-execute -s
/// lxc.seccomp.profile=FILE`, and a version 1 policy.
@Suite(.serialized) struct LXCTests {
  /// `syscage convert PROFILE --to lxc -o OUT` (plus `extra`); returns OUT.
  static func convert(_ profile: String, in dir: URL, name: String = "profile.seccomp", extra: [String] = []) throws -> String {
    let out = dir.appendingPathComponent(name).path
    let r = run(syscageExecutable, ["convert", profile, "--to", "lxc", "-o", out] + extra)
    try #require(r.status == 0, "convert failed (\(r.status)): \(r.stderr)")
    return out
  }

  @Test(.enabled(if: LXC.ready || isCI, Comment(rawValue: LXC.reason)))
  func denyDirRefusesMkdirAndEchoWorks() throws {
    try #require(LXC.ready, Comment(rawValue: LXC.reason))
    let c = try LXC.makeContainer()
    defer { c.destroy() }
    let json = try writeFile(EngineCases.denyDir, "deny-dir.json", in: c.directory)
    let policy = try Self.convert(json, in: c.directory)
    let text = try String(contentsOfFile: policy, encoding: .utf8)
    #expect(text.hasPrefix("2\ndenylist\n"))
    let with = c.execute(EngineCases.denyDirScript, profile: policy)
    #expect(with.status == 0, "\(with.stderr)")
    #expect(with.stdout == "hi\nMKDIR_FAILED\n", "\(with.stdout)\(with.stderr)")
    #expect(with.stderr.contains("Operation not permitted"), "\(with.stderr)")
    let without = c.execute(EngineCases.denyDirScript + "; rmdir /tmp/x")
    #expect(without.stdout == "hi\nMKDIR_OK\n", "\(without.stdout)\(without.stderr)")
  }

  @Test(.enabled(if: LXC.ready || isCI, Comment(rawValue: LXC.reason)))
  func hostRecordedAllowListRunsTheSame() throws {
    try #require(LXC.ready, Comment(rawValue: LXC.reason))
    let c = try LXC.makeContainer()
    defer { c.destroy() }
    let recorded = try EngineCases.recordAllowList(into: c.directory)
    let policy = try Self.convert(recorded.path, in: c.directory)
    let text = try String(contentsOfFile: policy, encoding: .utf8)
    #expect(text.hasPrefix("2\nallowlist errno 1\n"))
    let without = c.execute(EngineCases.allowListScript)
    try #require(without.status == 0, "\(without.stderr)")
    let with = c.execute(EngineCases.allowListScript, profile: policy)
    #expect(with.status == 0, "LXC's calls after its filter must be allowed: \(with.stderr)")
    #expect(with.stdout == without.stdout, "with:\n\(with.stdout)\(with.stderr)\nwithout:\n\(without.stdout)")
    #expect(with.stdout.hasPrefix("hi\n") && with.stdout.hasSuffix("made\n"))
  }

  @Test(.enabled(if: LXC.ready || isCI, Comment(rawValue: LXC.reason)))
  func dockersDefaultRefusesKeyctl() throws {
    try #require(LXC.ready, Comment(rawValue: LXC.reason))
    let c = try LXC.makeContainer()
    defer { c.destroy() }
    let policy = try Self.convert(EngineCases.dockerDefault.path, in: c.directory)
    let with = c.execute(EngineCases.keyctlScript, profile: policy)
    #expect(with.stdout == "keyctl: EPERM\n", "\(with.stdout)\(with.stderr)")
    let without = c.execute(EngineCases.keyctlScript)
    #expect(without.stdout.hasPrefix("keyctl: ") && without.stdout != "keyctl: EPERM\n", "\(without.stdout)\(without.stderr)")
  }

  /// Version 1 allows what it lists and kills everything else: every x86_64 syscall but
  /// mkdir and mkdirat is listed, so `mkdir` dies of SIGSYS (128 + 31) and the shell goes on.
  @Test(.enabled(if: LXC.ready || isCI, Comment(rawValue: LXC.reason)))
  func versionOneKillsWhatItLeavesOff() throws {
    try #require(LXC.ready, Comment(rawValue: LXC.reason))
    let c = try LXC.makeContainer()
    defer { c.destroy() }
    let names = SyscallTable.entries(in: Arch.x86_64.abi).map(\.name).filter { $0 != "mkdir" && $0 != "mkdirat" }
    let names_json = names.map { "\"\($0)\"" }.joined(separator: ",")
    let json = try writeFile(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": [\#(names_json)], "action": "SCMP_ACT_ALLOW"}]}"#,
      "all-but-mkdir.json", in: c.directory)
    let policy = try Self.convert(json, in: c.directory, name: "v1.seccomp", extra: ["--lxc-version", "1"])
    let text = try String(contentsOfFile: policy, encoding: .utf8)
    #expect(text.hasPrefix("1\nallowlist\n0 # read\n"))
    let script = "echo hi; env mkdir /tmp/x; echo \"mkdir exit=$?\""
    let with = c.execute(script, profile: policy)
    #expect(with.stdout == "hi\nmkdir exit=159\n", "\(with.stdout)\(with.stderr)")
    let without = c.execute(script + "; rmdir /tmp/x")
    #expect(without.stdout == "hi\nmkdir exit=0\n", "\(without.stdout)\(without.stderr)")
  }
}

/// The command line of the LXC format: convert, record and import.
@Suite struct LXCCommandTests {
  static var sample: String { packageRoot.appendingPathComponent("Tests/ProfilesTests/Fixtures/docker-mkseccomp.sample").path }

  @Test func importNamesReadsMkseccompSampleAndListsWhatItLeavesOutOnce() throws {
    let dir = try Containers.temporaryDirectory("syscage-names")
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("names.json").path
    let r = run(syscageExecutable, ["import", "--names", Self.sample, "--arch", "x86_64", "-o", out])
    #expect(r.status == 0, "\(r.stderr)")
    let lines = r.stderr.split(separator: "\n")
    #expect(lines.filter { $0.contains("not syscalls of x86_64") }.count == 1, "\(r.stderr)")
    #expect(lines.contains { $0.contains("no syscall on any ABI: llseek oldwait4") }, "\(r.stderr)")
    #expect(lines.count < 6, "\(r.stderr)")
    let profile = try String(contentsOfFile: out, encoding: .utf8)
    #expect(profile.contains("\"openat\"") && !profile.contains("\"waitpid\""))
    // The same list for x86 keeps the 32-bit names.
    let x86 = run(syscageExecutable, ["import", "--names", Self.sample, "--arch", "x86"])
    #expect(x86.status == 0 && x86.stdout.contains("\"waitpid\"") && x86.stdout.contains("SCMP_ARCH_X86"), "\(x86.stderr)")
  }

  @Test func importLXCNamesTheLineLXCRefuses() throws {
    let dir = try Containers.temporaryDirectory("syscage-lxc-import")
    defer { try? FileManager.default.removeItem(at: dir) }
    let bad = try writeFile("2\nallowlist errno 1\nread\nmkdir errno 1\n", "bad.seccomp", in: dir)
    let r = run(syscageExecutable, ["import", "--lxc", bad])
    #expect(r.status == 65)
    #expect(r.stderr.contains("bad.seccomp:4: error: mkdir: the action errno 1 is the policy's default"), "\(r.stderr)")
    #expect(r.stdout.isEmpty)
    let good = try writeFile("2\ndenylist\n[all]\nkeyctl errno 1\nnosuch errno 1\n", "good.seccomp", in: dir)
    let ok = run(syscageExecutable, ["import", "--lxc", good, "--format", "oci"])
    #expect(ok.status == 0, "\(ok.stderr)")
    #expect(ok.stdout.contains("\"keyctl\"") && ok.stdout.contains("SCMP_ARCH_X32"))
    #expect(ok.stderr.contains("no syscall on any ABI (LXC skips it): nosuch"), "\(ok.stderr)")
    #expect(run(syscageExecutable, ["import", "--lxc", good, "--strict"]).status == 65)
  }

  @Test func convertToLXCSaysWhatItCannotAndStrictRefuses() throws {
    let dir = try Containers.temporaryDirectory("syscage-lxc-convert")
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = try writeFile(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_LOG"}]}"#,
      "log.json", in: dir)
    let r = run(syscageExecutable, ["convert", log, "--to", "lxc"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.hasPrefix("2\nallowlist errno 1\n"))
    #expect(r.stderr.contains("syscage: warning: SCMP_ACT_LOG: LXC has no log action"), "\(r.stderr)")
    let out = dir.appendingPathComponent("strict.seccomp").path
    let strict = run(syscageExecutable, ["convert", log, "--to", "lxc", "--strict", "-o", out])
    #expect(strict.status == 65, "\(strict.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out))
    let deny = try writeFile(EngineCases.denyDir, "deny.json", in: dir)
    let v1 = run(syscageExecutable, ["convert", deny, "--to", "lxc", "--lxc-version", "1"])
    #expect(v1.status == 65 && v1.stderr.contains("version 1 is an allow-list only"), "\(v1.stderr)")
    #expect(run(syscageExecutable, ["convert", deny, "--to", "systemd", "--lxc-version", "1"]).status == 64)
    #expect(run(syscageExecutable, ["convert", deny, "--to", "lxc", "--lxc-version", "3"]).status == 64)
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func recordWritesAnLXCPolicy() throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
    let busybox = try #require(Containers.busybox, "needs busybox-static")
    let dir = try Containers.temporaryDirectory("syscage-lxc-record")
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("true.seccomp").path
    let r = run(syscageExecutable, ["record", "--format", "lxc", "-o", out, "--", busybox, "true"])
    #expect(r.status == 0, "\(r.stderr)")
    let text = try String(contentsOfFile: out, encoding: .utf8)
    #expect(text.hasPrefix("2\nallowlist errno 1\n# Recorded by syscage from: \(busybox) true.\n"), "\(text)")
    #expect(text.contains("\n[x86_64]\n") && text.contains("\nexecve\n") && text.contains("\nclone3 errno 38\n"), "\(text)")
  }
}
