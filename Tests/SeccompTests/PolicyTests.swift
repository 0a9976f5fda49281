import Profiles
import Seccomp
import Syscalls
import Testing

/// Policy.decide is the specification; these tests pin its semantics (DESIGN.md).
@Suite struct PolicyTests {
  static let kernel = KernelVersion(major: 6, minor: 18)
  static func options(_ arches: [Arch]? = nil, caps: [String] = ExpansionContext.dockerDefaultCapabilities, native: Arch = .x86_64, stub: Bool = true) -> PolicyOptions {
    PolicyOptions(context: ExpansionContext(native: native, capabilities: caps, kernel: kernel), arches: arches, enosysStub: stub)
  }

  static func profile(_ defaultAction: ActionName, errno: UInt32? = nil, arches: [Arch]? = [.x86_64], _ entries: [SyscallEntry]) -> Profile {
    Profile(defaultAction: defaultAction, defaultErrnoRet: errno, architectures: arches, syscalls: entries)
  }

  func decide(_ p: Policy, _ arch: Arch, _ name: String, _ args: [UInt64] = []) -> SeccompAction {
    p.decide(arch: arch, number: arch.number(of: name)!, args: args).action
  }

  @Test func mostRestrictiveMatchWinsWhateverTheOrder() {
    for entries in [
      [SyscallEntry(names: ["personality"], action: .allow),
       SyscallEntry(names: ["personality"], action: .killProcess, args: [ArgumentCondition(index: 0, value: 5, op: .equal)])],
      [SyscallEntry(names: ["personality"], action: .killProcess, args: [ArgumentCondition(index: 0, value: 5, op: .equal)]),
       SyscallEntry(names: ["personality"], action: .allow)],
    ] {
      let p = Policy(profile: Self.profile(.errno, entries), options: Self.options())
      #expect(decide(p, .x86_64, "personality", [5]) == .killProcess)
      #expect(decide(p, .x86_64, "personality", [6]) == .allow)
    }
  }

  @Test func equallyRestrictiveMatchesGoToTheFirstInFileOrder() {
    let p = Policy(profile: Self.profile(.allow, [
      SyscallEntry(names: ["personality"], action: .errno, errnoRet: 1, args: [ArgumentCondition(index: 0, value: 5, op: .equal)]),
      SyscallEntry(names: ["personality"], action: .errno, errnoRet: 2, args: [ArgumentCondition(index: 0, value: 3, op: .greaterOrEqual)]),
    ]), options: Self.options())
    #expect(decide(p, .x86_64, "personality", [5]) == .errno(1))
    #expect(decide(p, .x86_64, "personality", [4]) == .errno(2))
    #expect(decide(p, .x86_64, "personality", [2]) == .allow)
    let d = p.decide(arch: .x86_64, number: Arch.x86_64.number(of: "personality")!, args: [4])
    #expect(d.reason == .rule(1))
  }

  @Test func argumentsAreComparedAsTheKernelSeesThem() {
    // Docker's socket rule `a0 > 40`: the kernel reads an int, so 0x1_00000028 is AF_VSOCK (40).
    let p = Policy(profile: Self.profile(.errno, [
      SyscallEntry(names: ["socket"], action: .allow, args: [ArgumentCondition(index: 0, value: 40, op: .greaterThan)]),
      SyscallEntry(names: ["chmod"], action: .allow, args: [ArgumentCondition(index: 1, value: 0o755, op: .equal)]),
      SyscallEntry(names: ["mmap"], action: .allow, args: [ArgumentCondition(index: 1, value: 0x1_0000_0000, op: .greaterThan)]),
    ]), options: Self.options())
    #expect(decide(p, .x86_64, "socket", [0x1_0000_0028]) == .errno(1))
    #expect(decide(p, .x86_64, "socket", [41]) == .allow)
    #expect(decide(p, .x86_64, "socket", [0x1_0000_0029]) == .allow)
    #expect(decide(p, .x86_64, "socket", [0xffff_ffff_ffff_ffff]) == .allow)  // -1 as int is 0xffffffff > 40, unsigned
    #expect(decide(p, .x86_64, "chmod", [0, 0x1_0000 | 0o755]) == .allow)  // umode_t: 16 bits
    #expect(decide(p, .x86_64, "mmap", [0, 0x1_0000_0001]) == .allow)  // size_t: 64 bits
    #expect(decide(p, .x86_64, "mmap", [0, 0x1_0000_0000]) == .errno(1))
  }

  @Test func maskedEqualMasksItsDatum() {
    let p = Policy(profile: Self.profile(.errno, [
      SyscallEntry(names: ["personality"], action: .allow, args: [ArgumentCondition(index: 0, value: 4, valueTwo: 5, op: .maskedEqual)]),
    ]), options: Self.options())
    #expect(decide(p, .x86_64, "personality", [4]) == .allow)
    #expect(decide(p, .x86_64, "personality", [5]) == .allow)
    #expect(decide(p, .x86_64, "personality", [1]) == .errno(1))
  }

  @Test func notEqualOnAWideArgumentHoldsWhenEitherHalfDiffers() {
    let p = Policy(profile: Self.profile(.errno, [
      SyscallEntry(names: ["mmap"], action: .allow, args: [ArgumentCondition(index: 1, value: 0x1_0000_0005, op: .notEqual)]),
    ]), options: Self.options())
    #expect(decide(p, .x86_64, "mmap", [0, 5]) == .allow)
    #expect(decide(p, .x86_64, "mmap", [0, 0x2_0000_0005]) == .allow)
    #expect(decide(p, .x86_64, "mmap", [0, 0x1_0000_0005]) == .errno(1))
  }

  @Test func x32AndNegativeOne() {
    let only64 = Policy(profile: Self.profile(.errno, arches: [.x86_64], [SyscallEntry(names: ["read"], action: .allow)]), options: Self.options())
    #expect(only64.decide(auditArch: Arch.x86_64.auditArch, nr: 0x4000_0000).reason == .x32Rejected)
    let onlyX32 = Policy(profile: Self.profile(.errno, arches: [.x32], [SyscallEntry(names: ["read"], action: .allow)]), options: Self.options([.x32]))
    #expect(onlyX32.decide(auditArch: Arch.x86_64.auditArch, nr: 99999).reason == .x86_64Rejected)
    #expect(onlyX32.explanation(of: onlyX32.decide(auditArch: Arch.x86_64.auditArch, nr: 99999), arch: .x32).contains("x86_64 is not an ABI"))
    #expect(only64.decide(auditArch: Arch.x86_64.auditArch, nr: 0x4000_0000).action == .killProcess)
    #expect(only64.decide(auditArch: Arch.x86_64.auditArch, nr: 0xffff_ffff).action == .errno(1))
    #expect(only64.decide(auditArch: Arch.x86_64.auditArch, nr: 0).action == .allow)

    let both = Policy(profile: Self.profile(.errno, arches: [.x86_64, .x32], [SyscallEntry(names: ["read"], action: .allow)]), options: Self.options())
    #expect(both.decide(auditArch: Arch.x86_64.auditArch, nr: 0x4000_0000).action == .allow)
    #expect(both.decide(auditArch: Arch.x86_64.auditArch, nr: 0x4000_0001).action == .errno(38))  // above x32's highest
    #expect(both.decide(auditArch: Arch.x86_64.auditArch, nr: 1).action == .errno(38))  // above x86_64's highest
    #expect(both.decide(auditArch: Arch.x86_64.auditArch, nr: 0xffff_ffff).action == .errno(1))
  }

  @Test func foreignArchesGetTheBadArchAction() {
    let p = Policy(profile: Self.profile(.errno, arches: [.x86_64], [SyscallEntry(names: ["read"], action: .allow)]), options: Self.options())
    #expect(p.decide(auditArch: Arch.x86.auditArch, nr: 3).reason == .badArch)
    #expect(p.decide(auditArch: Arch.aarch64.auditArch, nr: 63).action == .killProcess)
    let withIA32 = Policy(profile: Self.profile(.errno, arches: [.x86_64, .x86], [SyscallEntry(names: ["read"], action: .allow)]), options: Self.options())
    #expect(withIA32.decide(auditArch: Arch.x86.auditArch, nr: 3).action == .allow)  // read is 3 on i386
    #expect(withIA32.decide(auditArch: Arch.x86.auditArch, nr: 0).action == .errno(1))
  }

  @Test func enosysStubForNumbersAboveTheProfile() {
    let entries = [SyscallEntry(names: ["read", "write", "exit_group"], action: .allow)]
    let p = Policy(profile: Self.profile(.errno, entries), options: Self.options())
    #expect(p.decide(arch: .x86_64, number: SyscallNumber(300)).action == .errno(38))
    #expect(p.decide(arch: .x86_64, number: SyscallNumber(300)).reason == .enosysStub)
    #expect(p.decide(arch: .x86_64, number: SyscallNumber(100)).action == .errno(1))
    #expect(p.decide(auditArch: Arch.x86_64.auditArch, nr: 0xffff_ffff).action == .errno(1))
    let off = Policy(profile: Self.profile(.errno, entries), options: Self.options(stub: false))
    #expect(off.decide(arch: .x86_64, number: SyscallNumber(300)).action == .errno(1))
    let enosysDefault = Policy(profile: Self.profile(.errno, errno: 38, entries), options: Self.options())
    #expect(enosysDefault.policy(for: .x86_64)?.enosysAbove == nil)
    let allowDefault = Policy(profile: Self.profile(.allow, entries), options: Self.options())
    #expect(allowDefault.policy(for: .x86_64)?.enosysAbove == nil)
    let s390x = Policy(profile: Self.profile(.errno, arches: [.s390x], entries), options: Self.options(native: .s390x))
    #expect(s390x.decide(arch: .s390x, number: SyscallNumber(0)).action == .errno(38))
  }

  @Test func multiplexedCallsFailClosedUnderArgumentRules() {
    let p = Policy(profile: Self.profile(.errno, arches: [.x86], [
      SyscallEntry(names: ["socket"], action: .allow, args: [ArgumentCondition(index: 0, value: 1, op: .equal)]),
      SyscallEntry(names: ["bind", "shmget"], action: .allow),
    ]), options: Self.options(native: .x86))
    let socketcall = Arch.x86.number(of: "socketcall")!
    let ipc = Arch.x86.number(of: "ipc")!
    #expect(decide(p, .x86, "socket", [1]) == .allow)
    #expect(decide(p, .x86, "socket", [2]) == .errno(1))
    #expect(p.decide(arch: .x86, number: socketcall, args: [1]).action == .errno(1))  // SYS_SOCKET: fails closed
    #expect(p.decide(arch: .x86, number: socketcall, args: [2]).action == .allow)  // SYS_BIND
    #expect(p.decide(arch: .x86, number: ipc, args: [23]).action == .allow)  // SHMGET
    #expect(p.decide(arch: .x86, number: ipc, args: [21]).action == .errno(1))

    let deny = Policy(profile: Self.profile(.allow, arches: [.x86], [
      SyscallEntry(names: ["socket"], action: .errno, errnoRet: 13, args: [ArgumentCondition(index: 0, value: 40, op: .equal)]),
    ]), options: Self.options(native: .x86))
    #expect(deny.decide(arch: .x86, number: socketcall, args: [1]).action == .errno(13))
    #expect(deny.decide(arch: .x86, number: socketcall, args: [2]).action == .allow)
  }

  @Test func namesAbsentOnAnABIMakeNoRuleThere() {
    let p = Policy(profile: Self.profile(.errno, arches: [.x86_64, .x86], [SyscallEntry(names: ["open", "socketcall", "newfstatat"], action: .allow)]), options: Self.options())
    #expect(p.policy(for: .x86_64)!.rules.map(\.name).sorted() == ["newfstatat", "open"])
    #expect(p.policy(for: .x86)!.rules.map(\.name).sorted() == ["open", "socketcall"])
  }

  @Test func dockerExpansionFollowsMoby() {
    let ctx = ExpansionContext(native: .x86_64, capabilities: ["CAP_CHOWN", "sys_ptrace"], kernel: Self.kernel)
    let old = ExpansionContext(native: .x86_64, capabilities: [], kernel: KernelVersion(major: 4, minor: 4))
    func entry(includes: EntryFilter? = nil, excludes: EntryFilter? = nil) -> SyscallEntry {
      SyscallEntry(names: ["read"], action: .allow, includes: includes, excludes: excludes)
    }
    #expect(Profile.entryApplies(entry(includes: EntryFilter(caps: ["CAP_CHOWN", "CAP_SYS_PTRACE"])), in: ctx))
    #expect(!Profile.entryApplies(entry(includes: EntryFilter(caps: ["CAP_CHOWN", "CAP_SYS_ADMIN"])), in: ctx))  // all
    #expect(!Profile.entryApplies(entry(excludes: EntryFilter(caps: ["CAP_SYS_ADMIN", "CAP_CHOWN"])), in: ctx))  // any
    #expect(Profile.entryApplies(entry(includes: EntryFilter(arches: ["amd64", "x32"])), in: ctx))
    #expect(!Profile.entryApplies(entry(includes: EntryFilter(arches: ["x32"])), in: ctx))  // never matches
    #expect(!Profile.entryApplies(entry(excludes: EntryFilter(arches: ["amd64"])), in: ctx))
    let min48 = KernelVersion(major: 4, minor: 8)
    #expect(Profile.entryApplies(entry(includes: EntryFilter(minKernel: min48)), in: ctx))
    #expect(!Profile.entryApplies(entry(includes: EntryFilter(minKernel: min48)), in: old))
    #expect(!Profile.entryApplies(entry(excludes: EntryFilter(minKernel: min48)), in: ctx))
    #expect(Profile.entryApplies(entry(excludes: EntryFilter(minKernel: min48)), in: old))
  }

  @Test func archMapPicksTheNativeEntry() {
    let p = Profile(defaultAction: .errno, archMap: [
      ArchMapEntry(architecture: .x86_64, subArchitectures: [.x86, .x32]),
      ArchMapEntry(architecture: .aarch64, subArchitectures: [.arm]),
      ArchMapEntry(architecture: .riscv64, subArchitectures: nil),
    ])
    #expect(p.filterArches(native: .x86_64) == [.x86_64, .x86, .x32])
    #expect(p.filterArches(native: .aarch64) == [.aarch64, .arm])
    #expect(p.filterArches(native: .riscv64) == [.riscv64])
    #expect(p.filterArches(native: .ppc64le) == [.ppc64le])
    #expect(Profile(defaultAction: .errno, architectures: [.x86]).filterArches(native: .x86_64) == [.x86_64, .x86])
  }

  @Test func actionsEncodeAsTheKernelReturnsThem() {
    #expect(SeccompAction.allow.returnValue == 0x7fff_0000)
    #expect(SeccompAction.errno(1).returnValue == 0x0005_0001)
    #expect(SeccompAction.killProcess.returnValue == 0x8000_0000)
    #expect(ActionName.kill.action(errnoRet: nil) == .killThread)
    #expect(ActionName.errno.action(errnoRet: nil) == .errno(1))
    #expect(ActionName.errno.action(errnoRet: 70000).data == 70000 & 0xffff)
    #expect(SeccompAction.errno(5000).effectiveErrno == 4095)
    for kind in SeccompAction.Kind.allCases {
      let a = SeccompAction(kind, data: kind == .errno || kind == .trace || kind == .trap ? 7 : 0)
      #expect(SeccompAction(returnValue: a.returnValue) == a)
    }
    #expect(SeccompAction(returnValue: 0x1234_0000) == .killProcess)
  }
}
