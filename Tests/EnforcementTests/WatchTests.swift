import Enforcement
import Foundation
import Seccomp
import Syscalls
import TestSupport
import Testing

@Suite struct WatchPolicyTests {
  static let profile = Profile(
    defaultAction: .errno, architectures: [.x86_64],
    syscalls: [
      SyscallEntry(names: ["read", "write"], action: .allow),
      SyscallEntry(names: ["getpid"], action: .log),
      SyscallEntry(names: ["mkdir"], action: .killProcess),
      SyscallEntry(names: ["rmdir"], action: .trap),
    ])

  @Test func everyDecisionThatIsNotAllowOrLogBecomesUserNotif() throws {
    let policy = Policy(profile: Self.profile, options: PolicyOptions(context: .dockerDefault(), enosysStub: true))
    let watch = policy.watchPolicy
    for name in ["read", "write", "getpid", "mkdir", "rmdir", "openat", "clone3"] {
      let n = try #require(Arch.x86_64.number(of: name))
      let original = policy.decide(arch: .x86_64, number: n)
      let watched = watch.decide(arch: .x86_64, number: n)
      if original.action.permits {
        #expect(watched.action == original.action, "\(name)")
      } else {
        #expect(watched.action == .userNotif, "\(name)")
      }
    }
    #expect(watch.decide(arch: .x86, number: SyscallNumber(20)).action == .userNotif)
    #expect(try Compiler.compile(watch).count > 0)
  }

  @Test func learningAddsAllowEntriesAndDropsDenials() {
    let learnt = Self.profile.learning([.x86_64: ["mkdir", "openat"]])
    let policy = Policy(profile: learnt.profile, options: PolicyOptions(context: .dockerDefault(), enosysStub: true))
    for name in ["mkdir", "openat", "read"] {
      #expect(policy.decide(arch: .x86_64, number: Arch.x86_64.number(of: name)!).action.permits, "\(name)")
    }
    #expect(!policy.decide(arch: .x86_64, number: Arch.x86_64.number(of: "rmdir")!).action.permits)
    #expect(learnt.removed == ["mkdir"])
  }
}

// Watcher.run itself is exercised through the syscage executable (WatchCommandTests):
// it makes the calling process a child subreaper and reaps its orphans, which would
// take the children of other tests running in this process.
