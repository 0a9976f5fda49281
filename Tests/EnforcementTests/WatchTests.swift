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

@Suite(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
struct WatcherTests {
  init() throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
  }

  @Test func alertReportsTheCallWithItsArguments() throws {
    let profile = Profile(defaultAction: .allow, syscalls: [SyscallEntry(names: ["mkdir", "mkdirat"], action: .errno, errnoRet: 1)])
    let policy = Policy(profile: profile, options: PolicyOptions(context: .dockerDefault(), enosysStub: true))
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-watcher-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let request = Launcher.Request(
      executable: "/bin/mkdir", arguments: ["mkdir", "-m", "700", dir], program: try Compiler.compile(policy.watchPolicy))
    nonisolated(unsafe) var seen: [Violation] = []
    let outcome = try Watcher.run(request, policy: policy, mode: .alert) { seen.append($0) }
    #expect(outcome.termination == .exited(0))
    #expect(FileManager.default.fileExists(atPath: dir))
    let v = try #require(seen.first)
    #expect(seen.count == 1)
    #expect(v.arch == .x86_64 && (v.name == "mkdir" || v.name == "mkdirat"))
    #expect(v.decision.action == .errno(1))
    #expect(v.response == .allowed)
    #expect(v.pid == outcome.pid && v.tid == outcome.pid)
    #expect(v.jsonLine.contains(#""syscall":"\#(v.name!)""#))
  }
}
