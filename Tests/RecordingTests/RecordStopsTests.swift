import Foundation
import Host
import Profiles
import Recording
import Seccomp
import Syscalls
import Testing
import TestSupport

/// One stop per call (seccomp stops) against two (entry and exit), and `record --verify`.
@Suite struct RecordStopsTests {
  let helper = RecordCommandTests()

  /// Records `command` with one stop and with two, and checks both saw the same calls
  /// and wrote the same profile.
  func compareStops(_ command: [String], in dir: URL) throws {
    let one = try helper.record(command, in: dir, extra: ["--stops", "one"])
    let two = try helper.record(command, in: dir, extra: ["--stops", "two"])
    #expect(one.result.status == two.result.status)
    #expect(one.result.stdout == two.result.stdout)
    #expect(one.result.stderr.contains("\"stops\":\"one\""))
    #expect(two.result.stderr.contains("\"stops\":\"two\""))
    #expect(Set(one.calls.keys) == Set(two.calls.keys))
    for (arch, calls) in two.calls {
      #expect(Set(one.calls[arch]?.keys ?? [:].keys) == Set(calls.keys), "\(command) \(arch)")
    }
    #expect(one.calls["x86_64"]?["execve"] ?? 0 >= 1)
    #expect(one.calls["x86_64"]?["exit_group"] ?? 0 >= 1)
    let p1 = try String(contentsOfFile: one.profile, encoding: .utf8)
    let p2 = try String(contentsOfFile: two.profile, encoding: .utf8)
    #expect(p1 == p2, "\(command)")
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func oneStopRecordsTheSameCallsAsTwo() throws {
    let dir = try helper.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    try compareStops(["/bin/true"], in: dir)
    try compareStops(["/bin/sh", "-c", "cat /etc/hostname > /dev/null; echo done"], in: dir)
    try compareStops(["/bin/sh", "-c", "ls / | wc -l"], in: dir)
    let source = "int main(void){ long r; __asm__ volatile(\"int $0x80\" : \"=a\"(r) : \"a\"(20L)); return r > 0 ? 0 : 1; }\n"
    if let exe = try helper.compile(source, in: dir) {
      try compareStops([exe], in: dir)
    }
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func profileOnlyIsTheDefaultAndMatchesCountMode() throws {
    let dir = try helper.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p1 = dir.appendingPathComponent("one.json").path
    let p2 = dir.appendingPathComponent("two.json").path
    let command = ["/bin/sh", "-c", "ls / > /dev/null; exit 4"]
    let one = run(syscageExecutable, ["record", "-o", p1, "--for", "none", "--"] + command)
    let two = run(syscageExecutable, ["record", "-o", p2, "--for", "none", "-c", "--"] + command)
    #expect(one.status == 4 && two.status == 4)
    #expect(one.stderr == "")
    #expect(try String(contentsOfFile: p1, encoding: .utf8) == String(contentsOfFile: p2, encoding: .utf8))
    let killed = run(syscageExecutable, ["record", "-o", p1, "--", "sh", "-c", "kill -TERM $$"])
    #expect(killed.status == 128 + 15)
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func verifyReportsDeniedCallsAndADifferentStatus() throws {
    let dir = try helper.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let flag = dir.appendingPathComponent("flag").path
    let made = dir.appendingPathComponent("made").path
    // The first run only creates the flag; the second (verification) run finds it and
    // calls mkdir, which the profile does not allow.
    let source = """
      #include <errno.h>
      #include <fcntl.h>
      #include <sys/stat.h>
      #include <unistd.h>
      int main(int argc, char **argv) {
        (void)argc;
        if (access(argv[1], F_OK) == 0) return mkdir(argv[2], 0700) == 0 ? 0 : (errno == EPERM ? 7 : 8);
        int fd = open(argv[1], O_CREAT | O_WRONLY, 0600);
        close(fd);
        return 0;
      }
      """
    guard let exe = try helper.compile(source, in: dir) else { return }
    let profile = dir.appendingPathComponent("p.json").path
    let r = run(syscageExecutable, ["record", "-o", profile, "--verify", "--json", "--", exe, flag, made])
    #expect(r.status == 0, "the recorded run's status: \(r.stderr)")
    #expect(r.stderr.contains("denied: mkdir (83, x86_64) args 0x"), "\(r.stderr)")
    #expect(r.stderr.contains("→ EPERM"))
    #expect(r.stderr.contains("DIFFERS"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: made), "the denied mkdir did not run")
    let jsonLine = r.stderr.split(separator: "\n").last { $0.hasPrefix("{\"arches\"") } ?? ""
    let object = try JSONSerialization.jsonObject(with: Data(jsonLine.utf8)) as? [String: Any]
    let verify = object?["verify"] as? [String: Any]
    #expect(verify?["status"] as? Int == 7)
    #expect(verify?["same"] as? Bool == false)
    let denied = verify?["denied"] as? [[String: Any]] ?? []
    #expect(denied.contains { $0["name"] as? String == "mkdir" && $0["errno"] as? Int == 1 })

    let same = run(syscageExecutable, ["record", "-o", profile, "--verify", "--", "/bin/sh", "-c", "ls / > /dev/null"])
    #expect(same.status == 0)
    #expect(same.stderr.contains("no call denied"), "\(same.stderr)")
    #expect(!same.stderr.contains("denied:"))
  }

  @Test func tracingPolicyTurnsEveryDenialIntoTrace() throws {
    let profile = ProfileBuilder().build([.x86_64: ["read": 1, "write": 2]])
    let (policy, actions) = Verifier.tracingPolicy(profile, context: HostFacts.dockerDefault())
    #expect(actions.contains(.errno(SeccompAction.eperm)))
    #expect(actions.contains(.errno(SeccompAction.enosys)))
    #expect(Set(actions).count == actions.count)
    for arch in policy.arches {
      #expect(arch.defaultAction.kind == .trace)
      for rule in arch.rules { #expect(rule.action.kind == .trace || rule.action.permits, "\(rule)") }
    }
    #expect(Recorder.traceAll.count == 1)
    _ = try Compiler.compile(policy)
  }
}
