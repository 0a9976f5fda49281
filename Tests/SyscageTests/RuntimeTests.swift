import Foundation
import Testing
import TestSupport

/// Profiles syscage converted or compiled, run by real runtimes: runc with a
/// busybox-static bundle, and bubblewrap loading syscage's raw BPF.
@Suite(.serialized) struct RuntimeTests {
  static let denyList = #"""
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
      {"names": ["rmdir"], "action": "SCMP_ACT_KILL_PROCESS"}]}
    """#
  static let docker = packageRoot.appendingPathComponent("Data/docker-default.json").path
  static var runcReady: Bool { Containers.runcReady }
  static let runcReason = Comment(rawValue: Containers.runcReason)

  func tempDir() throws -> URL { try Containers.temporaryDirectory("syscage-rt") }

  func makeBundle(in dir: URL, args: [String], noNewPrivileges: Bool) throws -> URL {
    try Containers.makeBundle(in: dir, args: args, noNewPrivileges: noNewPrivileges)
  }

  func runc(_ bundle: URL) -> ProcessResult { Containers.runc(bundle) }

  func convertInto(_ bundle: URL, profile: String, extra: [String] = []) throws {
    let r = run(syscageExecutable, ["convert", profile, "--to", "oci", "--bundle", bundle.path] + extra)
    try #require(r.status == 0, "\(r.stderr)")
  }

  @Test(.enabled(if: runcReady || isCI, runcReason), arguments: [true, false])
  func runcEnforcesAConvertedProfile(noNewPrivileges: Bool) throws {
    try #require(Self.runcReady, Self.runcReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("deny.json").path
    try Data(Self.denyList.utf8).write(to: URL(fileURLWithPath: profile))

    let ok = try makeBundle(in: dir.appendingPathComponent("ok"), args: ["sh", "-c", "echo hello; ls / >/dev/null"], noNewPrivileges: noNewPrivileges)
    try convertInto(ok, profile: profile)
    let hello = runc(ok)
    #expect(hello.status == 0, "\(hello.stderr)")
    #expect(hello.stdout == "hello\n")

    let denied = try makeBundle(in: dir.appendingPathComponent("mkdir"), args: ["mkdir", "/tmp/x"], noNewPrivileges: noNewPrivileges)
    try convertInto(denied, profile: profile)
    let mkdir = runc(denied)
    #expect(mkdir.status == 1)
    #expect(mkdir.stderr.contains("Operation not permitted"), "\(mkdir.stderr)")

    let killed = try makeBundle(in: dir.appendingPathComponent("rmdir"), args: ["rmdir", "/tmp"], noNewPrivileges: noNewPrivileges)
    try convertInto(killed, profile: profile)
    let rmdir = runc(killed)
    #expect(rmdir.status == 128 + 31, "\(rmdir.stderr)")
  }

  @Test(.enabled(if: runcReady || isCI, runcReason), arguments: [true, false])
  func runcRunsUnderDockersDefault(noNewPrivileges: Bool) throws {
    try #require(Self.runcReady, Self.runcReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let bundle = try makeBundle(in: dir, args: ["sh", "-c", "echo hello; mkdir /tmp/d && ls /tmp"], noNewPrivileges: noNewPrivileges)
    try convertInto(bundle, profile: Self.docker)
    let r = runc(bundle)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout == "hello\nd\n")
  }

  static var bwrapReady: Bool { Containers.bwrapReady }

  @Test(.enabled(if: bwrapReady || isCI, Comment(rawValue: Peer.bwrap.skipReason)))
  func bubblewrapLoadsRawBPF() throws {
    try #require(Self.bwrapReady, Comment(rawValue: Peer.bwrap.skipReason))
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("deny.json").path
    try Data(Self.denyList.utf8).write(to: URL(fileURLWithPath: profile))
    let bpf = dir.appendingPathComponent("deny.bpf").path
    let compiled = run(syscageExecutable, ["compile", profile, "-o", bpf])
    try #require(compiled.status == 0, "\(compiled.stderr)")
    func bwrap(_ command: String) -> ProcessResult {
      Containers.bwrap(["/bin/sh", "-c", command], bwrapArguments: ["--seccomp", "3"], shellSuffix: "3< \(Containers.shellQuote(bpf))")
    }
    let ok = bwrap("echo hello")
    #expect(ok.status == 0 && ok.stdout == "hello\n", "\(ok.stderr)")
    let mkdir = bwrap("mkdir /tmp/x")
    #expect(mkdir.status == 1 && mkdir.stderr.contains("Operation not permitted"), "\(mkdir.stderr)")
    let rmdir = bwrap("exec rmdir /tmp")
    #expect(rmdir.status == 128 + 31, "\(rmdir.stderr)")
  }

  /// A profile recorded from a busybox program on the host starts the same program in a
  /// runc container with noNewPrivileges false (Docker's default) only with `--for runc`:
  /// runc makes its last setup calls under the container's filter.
  @Test(.enabled(if: runcReady || isCI, runcReason))
  func recordedProfileRunsInRuncWithForRunc() throws {
    try #require(Self.runcReady, Self.runcReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let script = "echo hello; d=/tmp/syscage-proof-$$; mkdir $d && mkdir $d/f && ls $d; rmdir $d/f $d; cat /proc/self/comm"
    let host = run(Containers.busybox!, ["sh", "-c", script])
    try #require(host.status == 0, "\(host.stderr)")

    func recordAndRun(_ extra: [String], in sub: String, convert: [String] = []) throws -> (ProcessResult, ProcessResult) {
      let profile = dir.appendingPathComponent("\(sub).json").path
      let recorded = run(syscageExecutable, ["record", "-o", profile] + extra + ["--", Containers.busybox!, "sh", "-c", script])
      try #require(recorded.status == 0, "\(recorded.stderr)")
      #expect(recorded.stdout == host.stdout)
      let bundle = try makeBundle(in: dir.appendingPathComponent(sub), args: ["/bin/busybox", "sh", "-c", script], noNewPrivileges: false)
      try convertInto(bundle, profile: profile, extra: convert)
      return (recorded, runc(bundle))
    }
    let (_, contained) = try recordAndRun(["--for", "runc"], in: "for-runc")
    #expect(contained.status == 0, "\(contained.stderr)")
    #expect(contained.stdout == host.stdout)

    // With --for none, runc's own calls after installing the filter are refused.
    let (_, bare) = try recordAndRun(["--for", "none"], in: "bare", convert: ["--for", "none"])
    #expect(bare.status != 0, "the container started without runc's calls: \(bare.stdout)")
  }
}
