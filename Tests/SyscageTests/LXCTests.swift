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
