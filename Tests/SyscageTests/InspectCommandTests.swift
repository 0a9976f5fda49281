import Foundation
import Testing
import TestSupport

/// `syscage status` and `syscage probe` on processes this test puts under filters.
@Suite struct InspectCommandTests {
  func profile(_ json: String) throws -> (String, URL) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-inspect-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let path = dir.appendingPathComponent("p.json").path
    try Data(json.utf8).write(to: URL(fileURLWithPath: path))
    return (path, dir)
  }

  @Test func statusShowsModeFiltersAndNoNewPrivs() throws {
    let (p, dir) = try profile(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#)
    defer { try? FileManager.default.removeItem(at: dir) }
    // A process under `syscage run` reports itself: mode 2, two filters, no_new_privs set.
    let inside = run(syscageExecutable, ["run", "--profile", p, "--", syscageExecutable, "status", "--json", "self"])
    #expect(inside.status == 64)  // "self" is not a pid: usage error
    let shell = run(syscageExecutable, ["run", "--profile", p, "--", "sh", "-c", "\(syscageExecutable) status --json $$"])
    #expect(shell.status == 0, "\(shell.stderr)")
    let obj = try JSONSerialization.jsonObject(with: Data(shell.stdout.utf8)) as? [String: Any]
    let proc = try #require((obj?["processes"] as? [[String: Any]])?.first)
    #expect(proc["seccomp"] as? Int == 2)
    #expect(proc["filters"] as? Int == 2)  // the profile's and run's strict-mode detector
    #expect(proc["no_new_privs"] as? Bool == true)
    #expect(proc["comm"] as? String == "sh")
    let outside = run(syscageExecutable, ["status", "--json", String(getpid())])
    let o = try JSONSerialization.jsonObject(with: Data(outside.stdout.utf8)) as? [String: Any]
    #expect((o?["processes"] as? [[String: Any]])?.first?["seccomp"] as? Int == 0)
    let kernel = run(syscageExecutable, ["status", "--kernel"])
    #expect(kernel.status == 0 && kernel.stdout.contains("actions available:") && kernel.stdout.contains("user_notif"))
    let gone = run(syscageExecutable, ["status", "999999999"])
    #expect(gone.status == 65)
  }

  @Test
  func probeTellsSeccompDenialsApart() throws {
    let (p, dir) = try profile(#"""
      {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        {"names": ["rmdir"], "action": "SCMP_ACT_KILL_PROCESS"},
        {"names": ["sethostname"], "action": "SCMP_ACT_TRAP"},
        {"names": ["acct"], "action": "SCMP_ACT_KILL_THREAD"}]}
      """#)
    defer { try? FileManager.default.removeItem(at: dir) }
    let inside = run(syscageExecutable, ["run", "--profile", p, "--", syscageExecutable, "probe"])
    #expect(inside.status == 0, "\(inside.stderr)")
    let lines = inside.stdout.split(separator: "\n").map(String.init)
    #expect(lines.count == 4, "\(inside.stdout)")
    #expect(lines.contains { $0.hasPrefix("mkdir ") && $0.contains("errno 13") })
    #expect(lines.contains { $0.hasPrefix("rmdir ") && $0.contains("killed (process") })
    #expect(lines.contains { $0.hasPrefix("sethostname ") && $0.contains("trapped") })
    #expect(lines.contains { $0.hasPrefix("acct ") && $0.contains("killed (thread)") })
    #expect(inside.stderr.contains("4 syscalls blocked"))
    // Outside any filter nothing is blocked, even calls that need privileges (they never run).
    let outside = run(syscageExecutable, ["probe"])
    #expect(outside.status == 0 && outside.stdout.isEmpty && outside.stderr.contains(" 0 syscalls blocked"), "\(outside.stderr)")
    // The profile lists no ABI, so it covers the native one only: every ia32 call is a foreign ABI.
    let ia32 = run(syscageExecutable, ["run", "--profile", p, "--", syscageExecutable, "probe", "--arch", "x86", "--json"])
    let records = ia32.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    #expect(records.count > 300)
    #expect(records.allSatisfy { ($0["outcome"] as? String)?.hasPrefix("killed (process") == true })
  }
}

/// `status --kernel` reads the kernel config in process: a profile that denies chdir (which
/// spawning a helper needs) changes nothing.
@Suite struct StatusKernelConfigTests {
  @Test func kernelAnswersAreTheSameUnderAProfileDenyingChdir() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-status-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("p.json").path
    try Data(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chdir", "fchdir"], "action": "SCMP_ACT_ERRNO"}]}"#.utf8)
      .write(to: URL(fileURLWithPath: profile))
    let outside = run(syscageExecutable, ["status", "--kernel", "--json"])
    #expect(outside.status == 0, "\(outside.stderr)")
    let inside = run(syscageExecutable, ["run", "--profile", profile, "--", syscageExecutable, "status", "--kernel", "--json"])
    #expect(inside.status == 0, "\(inside.stderr)")
    func kernel(_ s: String) throws -> [String: Any] {
      let o = try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any]
      return try #require(o?["kernel"] as? [String: Any], "\(s)")
    }
    let a = try kernel(outside.stdout), b = try kernel(inside.stdout)
    let sorted = { (o: [String: Any]) in String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self) }
    #expect(try sorted(a) == sorted(b))
    // This kernel's config is readable one way or the other; when it is not, the reason is given.
    let release = try #require(a["release"] as? String)
    let readable = FileManager.default.isReadableFile(atPath: "/proc/config.gz") || FileManager.default.isReadableFile(atPath: "/boot/config-\(release)")
    if readable {
      #expect(a["CONFIG_SECCOMP_FILTER"] as? Bool == true && a["config_problem"] == nil, "\(a)")
    } else {
      #expect((a["config_problem"] as? String)?.contains("no /proc/config.gz") == true, "\(a)")
    }
    let text = run(syscageExecutable, ["run", "--profile", profile, "--", syscageExecutable, "status", "--kernel"])
    #expect(text.status == 0 && !text.stdout.contains("unknown") == readable, "\(text.stdout)")
  }
}
