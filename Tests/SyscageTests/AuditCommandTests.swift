import Foundation
import Synchronization
import Testing
import TestSupport

/// `syscage audit` on logs in the forms people have them.
@Suite struct AuditCommandTests {
  static let log = """
    [ 4408.617868] audit: type=1326 audit(1795383682.213:533): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=1591 comm="rmdir" exe="/bin/busybox" sig=31 arch=c000003e syscall=84 compat=0 ip=0x47cc47 code=0x80000000
    [ 4409.000000] eth0: link up
    Nov 22 21:00:01 host kernel: [ 4410.1] audit: type=1326 audit(1795383690.001:534): auid=1000 uid=1000 gid=1000 ses=2 pid=2000 comm="app" exe="/usr/bin/app" sig=0 arch=40000003 syscall=102 compat=1 ip=0xf7f1 code=0x50001
    type=SECCOMP msg=audit(1795383691.5:535): auid=1000 uid=1000 gid=1000 ses=2 subj=unconfined pid=2000 comm="app" exe="/usr/bin/app" sig=0 arch=c000003e syscall=35 compat=0 ip=0x7f00 code=0x7ffc0000
    type=SECCOMP msg=audit(1795383692.5:536): auid=1000 uid=1000 gid=1000 ses=2 pid=2000 comm="app" exe="/usr/bin/app" sig=0 arch=c000003e syscall=notanumber compat=0 ip=0x7f00 code=0x7ffc0000

    """

  @Test func namesRecordsAndGroupsThem() throws {
    let r = run(syscageExecutable, ["audit"], stdin: Self.log)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("exe /bin/busybox: 1 record"))
    #expect(r.stdout.contains("rmdir (84, x86_64) KILL_PROCESS"))
    #expect(r.stdout.contains("exe /usr/bin/app: 2 records"))
    #expect(r.stdout.contains("socketcall (102, x86) ERRNO(1)"))
    #expect(r.stdout.contains("nanosleep (35, x86_64) LOG"))
    #expect(r.stderr.contains("<stdin>:5"))  // the malformed record, by line
    let strict = run(syscageExecutable, ["audit", "--strict"], stdin: Self.log)
    #expect(strict.status == 65)
    let byComm = run(syscageExecutable, ["audit", "--group-by", "comm"], stdin: Self.log)
    #expect(byComm.stdout.contains("comm rmdir: 1 record") && byComm.stdout.contains("comm app: 2 records"))
  }

  @Test func jsonRecordsFromFiles() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).log").path
    try Data(Self.log.utf8).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let r = run(syscageExecutable, ["audit", "--json", path])
    let records = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    #expect(records.count == 3)
    #expect(records.first?["syscall"] as? String == "rmdir")
    #expect(records.first?["line"] as? Int == 1)
    #expect(records.first?["file"] as? String == path)
    let missing = run(syscageExecutable, ["audit", path + ".none"])
    #expect(missing.status == 65 && missing.stderr.contains(".none"))
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func readsTheKernelsBuffer() throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
    let r = run(syscageExecutable, ["audit", "--kmsg"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("rate-limits"))
  }
}

/// `syscage audit --netlink`: records this kernel makes for our own LOG, ERRNO and KILL
/// rules, read live from the audit multicast group.
@Suite struct AuditNetlinkCommandTests {
  static let profile = #"""
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["chdir"], "action": "SCMP_ACT_LOG"},
      {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
      {"names": ["rmdir"], "action": "SCMP_ACT_KILL_PROCESS"}]}
    """#

  /// Copies of the shell, mkdir and rmdir under names of their own (their records are told
  /// from other tests' by exe), and the profile.
  struct Programs {
    var dir: URL
    var profile: String
    var shell: String, mkdir: String, rmdir: String

    init() throws {
      dir = try Containers.temporaryDirectory("syscage-audit-nl")
      profile = dir.appendingPathComponent("p.json").path
      try Data(AuditNetlinkCommandTests.profile.utf8).write(to: URL(fileURLWithPath: profile))
      let id = UUID().uuidString.prefix(6)
      let base = dir
      func copy(_ path: String, _ name: String) throws -> String {
        let target = base.appendingPathComponent("\(name)-\(id)").path
        try FileManager.default.copyItem(atPath: URL(fileURLWithPath: path).resolvingSymlinksInPath().path, toPath: target)
        return target
      }
      shell = try copy("/bin/sh", "sh")
      mkdir = try copy("/bin/mkdir", "mkdir")
      rmdir = try copy("/bin/rmdir", "rmdir")
      try FileManager.default.createDirectory(at: dir.appendingPathComponent("empty"), withIntermediateDirectories: true)
    }

    /// One logged call each: chdir (LOG), mkdir (ERRNO, logged with --log-denials), rmdir (KILL_PROCESS).
    func makeRecords() {
      let log = run(syscageExecutable, ["run", "--profile", profile, "--", shell, "-c", "cd /"])
      #expect(log.status == 0, "\(log.stderr)")
      let errno = run(syscageExecutable, ["run", "--profile", profile, "--log-denials", "--", mkdir, dir.appendingPathComponent("x").path])
      #expect(errno.status == 1, "\(errno.stderr)")
      let kill = run(syscageExecutable, ["run", "--profile", profile, "--", rmdir, dir.appendingPathComponent("empty").path])
      #expect(kill.status == 128 + 31, "\(kill.stderr)")
    }
  }

  /// Bytes one thread appends and another reads.
  final class Buffer: Sendable {
    let data = Mutex(Data())
    func append(_ d: Data) { data.withLock { $0.append(d) } }
    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
  }

  /// A syscage process read while it runs.
  final class Live: @unchecked Sendable {
    let process: Process
    let out = Buffer(), err = Buffer()

    init(_ arguments: [String]) throws {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: syscageExecutable)
      p.arguments = arguments
      let o = Pipe(), e = Pipe()
      p.standardOutput = o
      p.standardError = e
      p.standardInput = FileHandle.nullDevice
      let out = out, err = err
      o.fileHandleForReading.readabilityHandler = { out.append($0.availableData) }
      e.fileHandleForReading.readabilityHandler = { err.append($0.availableData) }
      try startUnblocked(p)
      process = p
    }

    var stdout: String { out.text }
    var stderr: String { err.text }

    /// Waits up to `seconds` for `condition`.
    @discardableResult
    func wait(_ seconds: Double, until condition: () -> Bool) -> Bool {
      let deadline = Date().addingTimeInterval(seconds)
      while !condition() && Date() < deadline { usleep(50_000) }
      return condition()
    }

    /// Stops it (SIGTERM), kills it if it does not end, and returns its status.
    func stop() -> Int32 {
      if process.isRunning { process.terminate() }
      if !wait(10, until: { !process.isRunning }) { kill(process.processIdentifier, SIGKILL) }
      process.waitUntilExit()
      usleep(100_000)  // the last of its output
      return process.terminationStatus
    }
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func followsTheMulticastGroupLive() throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
    let programs = try Programs()
    defer { try? FileManager.default.removeItem(at: programs.dir) }
    let json = try Live(["audit", "--netlink", "--follow", "--json"])
    let summary = try Live(["audit", "--netlink", "--follow", "--group-by", "exe"])
    defer { _ = json.stop(); _ = summary.stop() }
    try #require(json.wait(10) { json.stderr.contains("listening") }, "\(json.stderr)")
    try #require(summary.wait(10) { summary.stderr.contains("listening") }, "\(summary.stderr)")

    programs.makeRecords()
    func records() -> [[String: Any]] {
      json.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        .filter { [programs.shell, programs.mkdir, programs.rmdir].contains($0["exe"] as? String ?? "") }
    }
    json.wait(15) { records().count >= 3 }
    #expect(json.stop() == 0, "\(json.stderr)")  // SIGTERM ends a live read cleanly
    let byExe = Dictionary(records().map { ($0["exe"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    let chdir = try #require(byExe[programs.shell], "\(json.stdout)")
    #expect(chdir["syscall"] as? String == "chdir" && chdir["arch"] as? String == "x86_64" && chdir["action"] as? String == "LOG")
    #expect(chdir["file"] as? String == "<netlink>" && chdir["serial"] is Int && chdir["pid"] is Int)
    let mkdir = try #require(byExe[programs.mkdir], "\(json.stdout)")
    #expect(["mkdir", "mkdirat"].contains(mkdir["syscall"] as? String ?? "") && mkdir["action"] as? String == "ERRNO")  // the kernel logs no errno
    #expect(mkdir["comm"] as? String == URL(fileURLWithPath: programs.mkdir).lastPathComponent)
    let rmdir = try #require(byExe[programs.rmdir], "\(json.stdout)")
    #expect(rmdir["syscall"] as? String == "rmdir" && rmdir["action"] as? String == "KILL_PROCESS")

    // Without --json, each record as a line, and the grouped summary when stopped.
    summary.wait(5) { summary.stdout.contains(programs.rmdir) }
    #expect(summary.stop() == 0, "\(summary.stderr)")
    #expect(summary.stdout.contains("exe \(programs.shell): 1 record"), "\(summary.stdout)")
    #expect(summary.stdout.contains("chdir (80, x86_64) LOG"))
    #expect(summary.stdout.contains("rmdir (84, x86_64) KILL_PROCESS"))
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func readsForAGivenTimeThenSummarizes() throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
    let programs = try Programs()
    defer { try? FileManager.default.removeItem(at: programs.dir) }
    let reader = try Live(["audit", "--netlink", "--timeout", "6", "--group-by", "comm"])
    defer { _ = reader.stop() }
    try #require(reader.wait(10) { reader.stderr.contains("listening") }, "\(reader.stderr)")
    programs.makeRecords()
    #expect(reader.wait(15) { !reader.process.isRunning })
    #expect(reader.stop() == 0, "\(reader.stderr)")
    #expect(reader.stdout.contains("comm \(URL(fileURLWithPath: programs.mkdir).lastPathComponent): 1 record"), "\(reader.stdout)")
    #expect(!reader.stdout.contains("by pid"))  // no per-record lines without --follow
  }

  @Test func usage() {
    let noEnd = run(syscageExecutable, ["audit", "--netlink"])
    #expect(noEnd.status == 64 && noEnd.stderr.contains("--follow"), "\(noEnd.stderr)")
    #expect(run(syscageExecutable, ["audit", "--netlink", "--kmsg", "--follow"]).status == 64)
    #expect(run(syscageExecutable, ["audit", "--timeout", "3"], stdin: "").status == 64)
    let help = run(syscageExecutable, ["audit", "--help"])
    #expect(help.stdout.contains("CAP_AUDIT_READ") && help.stdout.contains("200 of 200"))
  }

  /// Without CAP_AUDIT_READ the kernel refuses to let a socket join the group: exit 69, and why.
  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func withoutCapAuditRead() throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
    try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs setpriv (util-linux)")
    let r = run("/usr/bin/setpriv", ["--bounding-set=-audit_read", syscageExecutable, "audit", "--netlink", "--follow"], timeout: 20)
    #expect(r.status == 69, "\(r.stderr)")
    #expect(r.stderr.contains("CAP_AUDIT_READ"))
  }
}
