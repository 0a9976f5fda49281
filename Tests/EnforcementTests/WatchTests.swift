import Enforcement
import Foundation
import Host
import Profiles
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
    let policy = Policy(profile: Self.profile, options: PolicyOptions(context: HostFacts.dockerDefault(), enosysStub: true))
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
    let policy = Policy(profile: learnt.profile, options: PolicyOptions(context: HostFacts.dockerDefault(), enosysStub: true))
    for name in ["mkdir", "openat", "read"] {
      #expect(policy.decide(arch: .x86_64, number: Arch.x86_64.number(of: name)!).action.permits, "\(name)")
    }
    #expect(!policy.decide(arch: .x86_64, number: Arch.x86_64.number(of: "rmdir")!).action.permits)
    #expect(learnt.removed == ["mkdir"])
  }
}

@Suite struct ViolationTests {
  @Test func anX32CallIsNamedInTheX32TableAndShownWithoutItsBit() throws {
    let profile = Profile(
      defaultAction: .allow, architectures: [.x86_64, .x86, .x32],
      syscalls: [SyscallEntry(names: ["getpid"], action: .errno, errnoRet: 13)])
    let policy = Policy(profile: profile, options: PolicyOptions(context: HostFacts.dockerDefault(), enosysStub: true))
    let x32Getpid = Int32(39) | SyscallNumber.x32Bit
    let x86_64 = try #require(Arch.all.first { $0 == .x86_64 }).auditArch
    let decision = policy.decide(auditArch: x86_64, nr: UInt32(bitPattern: x32Getpid))
    #expect(decision.reason == .rule(0))
    #expect(Arch.x32.name(of: SyscallNumber(x32Getpid)) == "getpid")
    let v = Violation(
      time: Date(timeIntervalSince1970: 0), pid: 7, tid: 8, comm: "abi", exe: "/tmp/abi", arch: .x32,
      auditArch: x86_64.rawValue, nr: x32Getpid, name: "getpid", args: [1, 2, 3, 4, 5, 6], decision: decision,
      response: .denied(errno: 13, substituted: false))
    let json = try #require(JSONSerialization.jsonObject(with: Data(v.jsonLine.utf8)) as? [String: Any])
    #expect(json["arch"] as? String == "x32")
    #expect(json["audit_arch"] as? String == "0xc000003e")
    #expect(json["syscall"] as? String == "getpid")
    #expect(json["nr"] as? Int == 39)
    #expect(json["returned_errno"] as? Int == 13)
    #expect(json["pid"] as? Int == 7 && json["tid"] as? Int == 8)
    #expect(v.summary.contains("getpid (39, x32)"), "\(v.summary)")
  }
}

// Watcher.run itself is exercised through the syscage executable (WatchCommandTests):
// it makes the calling process a child subreaper and reaps its orphans, which would
// take the children of other tests running in this process.
