import Foundation
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
