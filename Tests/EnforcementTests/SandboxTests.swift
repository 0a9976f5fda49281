import Enforcement
import Foundation
import Host
import Profiles
import Seccomp
import Syscalls
import Testing

/// A Swift program sandboxing itself, checked in child processes (exit tests).
@Suite struct SandboxTests {
  @Test func applyPutsEveryThreadUnderTheFilter() async {
    await #expect(processExitsWith: .exitCode(0)) {
      let profile = Profile(defaultAction: .allow, syscalls: [SyscallEntry(names: ["mkdir", "mkdirat"], action: .errno, errnoRet: 13)])
      do {
        try Sandbox.apply(Policy(profile: profile, options: PolicyOptions(context: HostFacts.dockerDefault())))
      } catch {
        exit(2)
      }
      // A thread that existed before and one started after are both filtered.
      let done = DispatchSemaphore(value: 0)
      nonisolated(unsafe) var threadErrno: Int32 = 0
      Thread.detachNewThread {
        threadErrno = mkdir("/tmp/syscage-sandbox-test-\(getpid())", 0o700) == 0 ? 0 : errno
        done.signal()
      }
      done.wait()
      let mainErrno = mkdir("/tmp/syscage-sandbox-test-main-\(getpid())", 0o700) == 0 ? 0 : errno
      exit(threadErrno == EACCES && mainErrno == EACCES ? 0 : 1)
    }
  }

  @Test func killRulesKillTheProcess() async {
    await #expect(processExitsWith: .signal(SIGSYS)) {
      let profile = Profile(defaultAction: .allow, syscalls: [SyscallEntry(names: ["getppid"], action: .killProcess)])
      try? Sandbox.apply(Policy(profile: profile, options: PolicyOptions(context: HostFacts.dockerDefault())))
      _ = getppid()
      exit(0)
    }
  }

  /// The strict-mode program of the seccomp literature: after entering strict mode a
  /// thread can write to a descriptor it already has, and an open kills it (only it:
  /// strict mode ends the calling thread with SIGKILL).
  @Test func strictModeAllowsWritesAndKillsOnOpen() async {
    await #expect(processExitsWith: .exitCode(0)) {
      var pair: [Int32] = [0, 0]
      guard pipe(&pair) == 0 else { exit(3) }
      let fds = pair
      let t = Thread {
        do { try Sandbox.enterStrictMode() } catch { Sandbox.exitThread(4) }
        var a: UInt8 = 65
        _ = write(fds[1], &a, 1)  // an already open descriptor: allowed
        _ = open("/etc/hostname", O_RDONLY)  // anything else: this thread gets SIGKILL
        var b: UInt8 = 66
        _ = write(fds[1], &b, 1)  // never reached
        Sandbox.exitThread(0)
      }
      t.start()
      func next(_ timeoutMs: Int32) -> UInt8? {
        var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeoutMs) == 1 else { return nil }
        var byte: UInt8 = 0
        return read(fds[0], &byte, 1) == 1 ? byte : nil
      }
      guard next(5000) == 65 else { exit(1) }  // the write worked
      guard next(1000) == nil else { exit(2) }  // the open killed the thread before its second write
      exit(0)
    }
  }
}
