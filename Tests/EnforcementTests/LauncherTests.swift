import BPF
import Enforcement
import Foundation
import Host
import Processes
import Profiles
import Seccomp
import Syscalls
import TestSupport
import Testing

/// `Launcher.run` called in the test process, which has children of its own.
@Suite struct LauncherTests {
  static let allowAll: [BPFInstruction] = [.ret(SeccompAction.allow)]

  /// A shell loop that waits until process `pid` has ended (a zombie, or gone).
  static func untilEnded(_ pid: Int32) -> String {
    "while [ -e /proc/\(pid) ] && ! grep -q '^State:[[:space:]]*Z' /proc/\(pid)/status 2>/dev/null; do sleep 0.01; done"
  }

  /// While `run` waits, a `Process` of the test ends (told to by the program) and another
  /// child, spawned here and reaped only here, is a zombie: neither is reaped by the
  /// launcher, whose thread waits for its own program and threads only.
  @Test func runLeavesTheCallersOtherChildrenToTheirOwners() throws {
    let flag = FileManager.default.temporaryDirectory.appendingPathComponent("launcher-\(getpid())-\(UUID())").path
    defer { unlink(flag) }
    let other = Process()
    other.executableURL = URL(fileURLWithPath: "/bin/sh")
    other.arguments = ["-c", "while [ ! -e '\(flag)' ]; do sleep 0.01; done; exit 7"]
    try startUnblocked(other)
    var spawned: pid_t = 0
    let rc = withCStrings(["sh", "-c", "exit 9"]) { argv in
      posix_spawn(&spawned, "/bin/sh", nil, nil, UnsafePointer(argv).withMemoryRebound(
        to: UnsafeMutablePointer<CChar>?.self, capacity: 4) { UnsafeMutablePointer(mutating: $0) }, environ)
    }
    try #require(rc == 0)
    let script = "\(Self.untilEnded(spawned)); : > '\(flag)'; \(Self.untilEnded(other.processIdentifier)); exit 3"
    let outcome = try Launcher.run(
      Launcher.Request(executable: "/bin/sh", arguments: ["sh", "-c", script], program: Self.allowAll))
    #expect(outcome.termination == .exited(3))
    #expect(outcome.seccompKill == nil)
    var status: Int32 = 0
    #expect(waitpid(spawned, &status, 0) == spawned)
    #expect(Termination(waitStatus: status) == .exited(9))
    other.waitUntilExit()
    #expect(other.terminationReason == .exit)
    #expect(other.terminationStatus == 7)
  }

  /// The launcher's own thread still names a seccomp kill from the killed thread's registers.
  @Test func runNamesTheCallOfASeccompKill() throws {
    let policy = Policy(
      profile: Profile(
        defaultAction: .allow, architectures: [.x86_64],
        syscalls: [SyscallEntry(names: ["uname"], action: .killProcess)]),
      options: PolicyOptions(context: HostFacts.dockerDefault()))
    let program = try Compiler.compile(policy)
    let outcome = try Launcher.run(
      Launcher.Request(executable: "/bin/uname", arguments: ["uname"], program: program))
    #expect(outcome.termination == .signaled(SIGSYS))
    #expect(outcome.seccompKill?.name == "uname")
  }
}
