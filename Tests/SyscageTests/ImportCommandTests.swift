import Foundation
import Profiles
import Seccomp
import Testing
import TestSupport

/// `syscage import` as a user meets it: profiles from strace logs and audit records.
@Suite struct ImportCommandTests {
  func syscage(_ args: [String], stdin: String? = nil) -> ProcessResult {
    run(syscageExecutable, args, stdin: stdin)
  }

  func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-import-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  func write(_ text: String, _ name: String, in dir: URL) throws -> String {
    let url = dir.appendingPathComponent(name)
    try Data(text.utf8).write(to: url)
    return url.path
  }

  func profile(_ json: String) throws -> Profile {
    try Profile.decode(Array(json.utf8), file: nil).profile
  }

  /// `architectures` as written.
  func arches(_ json: String) throws -> [String]? {
    (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["architectures"] as? [String]
  }

  static let trace = """
    100 execve("/usr/bin/cat", ["cat", "/etc/hostname"], 0x7ffd /* 3 vars */) = 0
    100 openat(AT_FDCWD, "/etc/hostname", O_RDONLY|O_CLOEXEC) = 3
    100 read(3</etc/hostname>, "host\\n", 131072) = 5
    100 clone3({flags=CLONE_VM, exit_signal=SIGCHLD, stack=0x7f, stack_size=0x1000}, 88 <unfinished ...>
    101 write(1, "host\\n", 5) = 5
    100 <... clone3 resumed>) = 101
    100 [ Process PID=100 runs in 32 bit mode. ]
    100 _llseek(3, 0, [0], SEEK_SET) = 0
    101 +++ exited with 0 +++

    """

  @Test func straceLogToDockerProfile() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = try write(Self.trace, "app.trace", in: dir)
    let r = syscage(["import", "--strace", log, "--arch", "x86_64"])
    #expect(r.status == 0, "\(r.stderr)")
    let p = try profile(r.stdout)
    #expect(p.defaultAction == .errno && p.defaultErrnoRet == 1)
    #expect(try arches(r.stdout) == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
    let allow = try #require(p.syscalls?.first)
    #expect(allow.action == .allow)
    #expect(allow.names == allow.names.sorted())
    for name in ["execve", "openat", "read", "write", "clone3", "_llseek", "exit_group", "exit", "rt_sigreturn", "restart_syscall", "clock_gettime", "time"] {
      #expect(allow.names.contains(name), "\(name)")
    }
    // clone3 was seen, so only the other libc probes get ENOSYS.
    let enosys = try #require(p.syscalls?.last)
    #expect(enosys.action == .errno && enosys.errnoRet == 38)
    #expect(enosys.names == ["faccessat2", "fchmodat2", "openat2"])
    #expect(r.stderr.contains("ABIs: x86_64 (5 syscalls, 5 calls), x86 (1 syscalls, 1 calls)"), "\(r.stderr)")
  }

  @Test func standardInputJSONSummaryOCIAndPidFilter() throws {
    let r = syscage(["import", "--strace", "-", "--arch", "x86_64", "--format", "oci", "--pid", "101", "--json"], stdin: Self.trace)
    #expect(r.status == 0, "\(r.stderr)")
    let p = try Profile.decode(Array(r.stdout.utf8), file: nil, format: .oci).profile
    #expect(try arches(r.stdout) == ["SCMP_ARCH_X86_64"])
    #expect(p.syscalls?.first?.names.contains("write") == true)
    #expect(p.syscalls?.first?.names.contains("openat") == false)
    #expect(!r.stdout.contains("comment"))  // OCI has no comments
    let summary = try #require(try JSONSerialization.jsonObject(with: Data(r.stderr.utf8)) as? [String: Any])
    #expect(summary["source"] as? String == "strace")
    #expect(summary["pids"] as? [Int] == [101])
    #expect((summary["abis"] as? [[String: Any]])?.first?["arch"] as? String == "x86_64")
    #expect(summary["skippedLines"] as? Int == 0)
  }

  @Test func defaultActionAndOutputFile() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = try write(Self.trace, "app.trace", in: dir)
    let out = dir.appendingPathComponent("app.json").path
    let r = syscage(["import", "--strace", log, "-o", out, "--default-action", "kill_process"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.isEmpty)
    #expect(r.stderr.contains("wrote \(out)"))
    let p = try profile(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out)), as: UTF8.self))
    #expect(p.defaultAction == .killProcess && p.defaultErrnoRet == nil)

    let enosys = syscage(["import", "--strace", log, "--default-action", "ERRNO(38)"])
    #expect(enosys.status == 0)
    let q = try profile(enosys.stdout)
    #expect(q.defaultAction == .errno && q.defaultErrnoRet == 38)
    #expect(q.syscalls?.count == 1)  // the default already answers ENOSYS

    let bad = syscage(["import", "--strace", log, "--default-action", "maybe"])
    #expect(bad.status == 64)
  }

  @Test func neverOverwritesAnInput() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = try write(Self.trace, "app.trace", in: dir)
    let r = syscage(["import", "--strace", log, "-o", log])
    #expect(r.status == 64)
    #expect(try String(contentsOfFile: log, encoding: .utf8) == Self.trace)
  }

  @Test func usageErrors() {
    #expect(syscage(["import"]).status == 64)
    #expect(syscage(["import", "--strace", "a", "--audit", "b"]).status == 64)
    #expect(syscage(["import", "--strace", "a", "--comm", "x"]).status == 64)
    #expect(syscage(["import", "--audit", "a", "--arch", "x86"]).status == 64)
    #expect(syscage(["import", "--strace", "-", "-"]).status == 64)
  }

  @Test func badInput() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let missing = syscage(["import", "--strace", dir.appendingPathComponent("none.trace").path])
    #expect(missing.status == 65)
    #expect(missing.stderr.contains("none.trace: error: cannot open"))

    let log = try write("getpid() = 1\nnonsense here\ngetppid() = 1\n", "bad.trace", in: dir)
    let lenient = syscage(["import", "--strace", log])
    #expect(lenient.status == 0)
    #expect(lenient.stderr.contains("bad.trace:2: warning: expected a syscall line"), "\(lenient.stderr)")
    #expect(lenient.stderr.contains("skipped 1 malformed line"))

    let strict = syscage(["import", "--strace", log, "--strict"])
    #expect(strict.status == 65)
    #expect(strict.stdout.isEmpty)
    #expect(strict.stderr.contains("bad.trace:2: error:"))

    let empty = syscage(["import", "--audit", "-"], stdin: "nothing to see\n")
    #expect(empty.status == 65)
    #expect(empty.stderr.contains("no syscalls found"))
  }

  @Test func auditLogWithSelection() throws {
    let log = """
      [  10.000001] audit: type=1326 audit(1700000000.100:1): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=10 comm="app" exe="/usr/bin/app" sig=0 arch=c000003e syscall=83 compat=0 ip=0x1 code=0x7ffc0000
      [  10.000002] audit: type=1326 audit(1700000000.100:2): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=10 comm="app" exe="/usr/bin/app" sig=0 arch=40000003 syscall=20 compat=1 ip=0x1 code=0x7ffc0000
      [  10.000003] audit: type=1326 audit(1700000000.100:3): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=11 comm="other" exe="/usr/bin/other" sig=31 arch=c000003e syscall=84 compat=0 ip=0x1 code=0x80000000
      [  10.000004] usb 1-1: new high-speed USB device number 2 using xhci_hcd
      type=SECCOMP msg=audit(1700000000.100:4): auid=0 uid=0 gid=0 ses=1 pid=10 comm="app" exe="/usr/bin/app" sig=0 arch=c000003e syscall=257 compat=0 ip=0x1 code=0x7ffc0000

      """
    let r = syscage(["import", "--audit", "-", "--exe", "app"], stdin: log)
    #expect(r.status == 0, "\(r.stderr)")
    let p = try profile(r.stdout)
    #expect(try arches(r.stdout) == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
    let names = p.syscalls?.first?.names ?? []
    #expect(names.contains("mkdir") && names.contains("getpid") && names.contains("openat"))
    #expect(!names.contains("rmdir"))
    #expect(r.stderr.contains("3 seccomp records (LOG 3) from /usr/bin/app"), "\(r.stderr)")

    let byComm = syscage(["import", "--audit", "-", "--comm", "other"], stdin: log)
    #expect(byComm.status == 0)
    #expect(try profile(byComm.stdout).syscalls?.first?.names.contains("rmdir") == true)
    #expect(try arches(byComm.stdout) == ["SCMP_ARCH_X86_64"])
  }

  /// Real strace output of a real command, imported, then enforced on the same command.
  @Test(.enabled(if: Peer.strace.shouldRun, Comment(rawValue: Peer.strace.skipReason)))
  func realStraceRoundTrip() throws {
    try #require(Peer.strace.isAvailable, Comment(rawValue: Peer.strace.skipReason))
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let trace = dir.appendingPathComponent("sh.trace").path
    let out = dir.appendingPathComponent("sh.json").path
    let command = ["sh", "-c", "ls / >/dev/null; cat /etc/hostname >/dev/null"]
    let traced = run("/usr/bin/strace", ["-f", "-o", trace] + command)
    #expect(traced.status == 0, "\(traced.stderr)")

    let imported = syscage(["import", "--strace", trace, "-o", out])
    #expect(imported.status == 0, "\(imported.stderr)")
    #expect(!imported.stderr.contains("warning"), "\(imported.stderr)")
    let p = try profile(try String(contentsOfFile: out, encoding: .utf8))
    let allowed = Set(p.syscalls?.first?.names ?? [])
    for name in ["execve", "openat", "read", "write", "close", "mmap", "exit_group"] {
      #expect(allowed.contains(name), "\(name) missing from \(allowed.sorted())")
    }
    // Every call strace saw is in the profile.
    let text = try String(contentsOfFile: trace, encoding: .utf8)
    let seen = Set(text.split(separator: "\n").compactMap { line -> String? in
      let body = line.drop { $0.isNumber }.drop { $0 == " " }
      guard let open = body.firstIndex(of: "("), body.first?.isLetter == true else { return nil }
      return String(body[..<open])
    })
    #expect(seen.isSubset(of: allowed), "\(seen.subtracting(allowed).sorted())")

    let enforced = run(syscageExecutable, ["run", "--profile", out, "--"] + command)
    #expect(enforced.status == 0, "\(enforced.stderr)")
  }
}
