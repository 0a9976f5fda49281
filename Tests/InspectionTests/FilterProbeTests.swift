import Foundation
import Inspection
import TestSupport
import Testing

// Hand-written classic BPF, so these tests depend on nothing but the kernel.
private typealias I = FilterProbe.Instruction

private let ldNr = I(code: 0x20, k: 0)  // ld [0]: seccomp_data.nr
private let ldArch = I(code: 0x20, k: 4)  // ld [4]: seccomp_data.arch
private func ldArgLow(_ i: UInt32) -> I { I(code: 0x20, k: 16 + 8 * i) }  // ld [16 + 8i]
private func ldArgHigh(_ i: UInt32) -> I { I(code: 0x20, k: 20 + 8 * i) }  // ld [20 + 8i]
private func jeq(_ k: UInt32, _ jt: UInt8, _ jf: UInt8) -> I { I(code: 0x15, jt: jt, jf: jf, k: k) }
private func jge(_ k: UInt32, _ jt: UInt8, _ jf: UInt8) -> I { I(code: 0x35, jt: jt, jf: jf, k: k) }
private func ret(_ k: UInt32) -> I { I(code: 0x06, k: k) }

private let allow: UInt32 = 0x7fff_0000
private let log: UInt32 = 0x7ffc_0000
private let trace: UInt32 = 0x7ff0_0000
private let userNotif: UInt32 = 0x7fc0_0000
private func errnoAction(_ e: UInt32) -> UInt32 { 0x0005_0000 | e }
private func trapAction(_ d: UInt32) -> UInt32 { 0x0003_0000 | d }
private let killThread: UInt32 = 0x0000_0000
private let killProcess: UInt32 = 0x8000_0000

private let archX86_64: UInt32 = 0xc000_003e
private let archI386: UInt32 = 0x4000_0003
private let getppid: UInt32 = 110  // x86_64
private let getpid: UInt32 = 39  // x86_64
private let getpid32: UInt32 = 20  // i386
private let args: [UInt64] = [1, 2, 3, 4, 5, 6]

@Suite(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
struct FilterProbeTests {
  init() throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
    try #require(FilterProbe.isSupported, "this kernel has no working seccomp user notification")
  }

  @Test func allowReachesTheNotificationWithTheCallsData() {
    let report = FilterProbe.probe(program: [ret(allow)], nr: getpid, args: args)
    #expect(report.outcome == .allowed(nr: getpid, arch: archX86_64, args: args))
    // The supervisor failed the call with the marker: it never ran.
    #expect(report.returnValue == -Int64(FilterProbe.markerErrno))
    #expect(report.instructionPointer != 0)
  }

  @Test func errnoComesBackWithoutANotification() {
    #expect(FilterProbe.run(program: [ret(errnoAction(13))], nr: getpid) == .errno(13))
  }

  @Test func killProcessKillsTheWholeProcessWithSIGSYS() {
    #expect(FilterProbe.run(program: [ret(killProcess)], nr: getpid) == .killedProcess(signal: SIGSYS))
  }

  @Test func killThreadKillsOnlyTheCallingThread() {
    #expect(FilterProbe.run(program: [ret(killThread)], nr: getpid) == .killedThread)
  }

  @Test func trapRaisesSIGSYSWithTheData() {
    #expect(
      FilterProbe.run(program: [ret(trapAction(7))], nr: getppid)
        == .trapped(data: 7, nr: getppid, arch: archX86_64))
  }

  @Test(arguments: [("LOG", log), ("TRACE", trace)])
  func logAndTraceCountAsAllowed(name: String, action: UInt32) {
    // TRACE without a tracer would fail with ENOSYS, but USER_NOTIF is more restrictive and wins.
    #expect(
      FilterProbe.run(program: [ret(action)], nr: getpid, args: args)
        == .allowed(nr: getpid, arch: archX86_64, args: args), "\(name)")
  }

  @Test func theArchDecidesBetweenNativeAndIA32() throws {
    try #require(FilterProbe.isIA32Supported, "int $0x80 does not reach ia32 emulation on this kernel")
    let program = [ldArch, jeq(archI386, 0, 1), ret(errnoAction(1)), ret(allow)]
    #expect(FilterProbe.run(program: program, abi: .ia32, nr: getpid32) == .errno(1))
    #expect(
      FilterProbe.run(program: program, abi: .native, nr: getpid)
        == .allowed(nr: getpid, arch: archX86_64, args: [0, 0, 0, 0, 0, 0]))
    // The ia32 notification names the i386 call.
    #expect(
      FilterProbe.run(program: [ret(allow)], abi: .ia32, nr: getpid32, args: [7, 8])
        == .allowed(nr: getpid32, arch: archI386, args: [7, 8, 0, 0, 0, 0]))
    #expect(
      FilterProbe.run(program: [ret(trapAction(9))], abi: .ia32, nr: getpid32)
        == .trapped(data: 9, nr: getpid32, arch: archI386))
  }

  @Test func anX32NumberKeepsItsBit() {
    let program = [ldNr, jge(0x4000_0000, 0, 1), ret(errnoAction(2)), ret(allow)]
    #expect(FilterProbe.run(program: program, nr: getpid | 0x4000_0000) == .errno(2))
    #expect(
      FilterProbe.run(program: program, nr: getpid)
        == .allowed(nr: getpid, arch: archX86_64, args: [0, 0, 0, 0, 0, 0]))
    // Without the check, the notification carries the x32 number as the filter saw it.
    #expect(
      FilterProbe.run(program: [ret(allow)], nr: getpid | 0x4000_0000)
        == .allowed(nr: getpid | 0x4000_0000, arch: archX86_64, args: [0, 0, 0, 0, 0, 0]))
  }

  @Test func argumentsArriveWithTheirHighBits() {
    let wide: [UInt64] = [0x1_0000_0028, 0xffff_ffff_ffff_ffff, 0, 0x8000_0000_0000_0000, 42, 0xdead_beef_0000_0001]
    #expect(FilterProbe.run(program: [ret(allow)], nr: 41, args: wide) == .allowed(nr: 41, arch: archX86_64, args: wide))
    // socket(0x1_00000028, ...): a filter that looks at the low word only sees AF_VSOCK (40);
    // one that checks the high word sees the difference.
    let lowOnly = [ldArgLow(0), jeq(40, 0, 1), ret(errnoAction(1)), ret(allow)]
    #expect(FilterProbe.run(program: lowOnly, nr: 41, args: [0x1_0000_0028]) == .errno(1))
    let highToo = [ldArgHigh(0), jeq(0, 0, 3), ldArgLow(0), jeq(40, 0, 1), ret(errnoAction(1)), ret(allow)]
    #expect(FilterProbe.run(program: highToo, nr: 41, args: [0x1_0000_0028]).isAllowed)
    #expect(FilterProbe.run(program: highToo, nr: 41, args: [40]) == .errno(1))
  }

  @Test func ia32FiltersSeeTheUpperRegisterHalvesOf64BitCode() throws {
    // Measured on 6.18: for `int $0x80` from 64-bit code the kernel copies all 64 bits of
    // rbx...rbp into seccomp_data.args, although the i386 system call itself uses the low 32.
    try #require(FilterProbe.isIA32Supported, "int $0x80 does not reach ia32 emulation on this kernel")
    let wide: [UInt64] = [0x1_0000_0028, 2, 3, 4, 5, 0xffff_ffff_0000_0006]
    #expect(
      FilterProbe.run(program: [ret(allow)], abi: .ia32, nr: getpid32, args: wide)
        == .allowed(nr: getpid32, arch: archI386, args: wide))
    let highWordZero = [ldArgHigh(0), jeq(0, 1, 0), ret(errnoAction(22)), ret(allow)]
    #expect(FilterProbe.run(program: highWordZero, abi: .ia32, nr: getpid32, args: wide) == .errno(22))
    #expect(FilterProbe.run(program: highWordZero, abi: .ia32, nr: getpid32, args: [40]).isAllowed)
  }

  @Test func theMarkerErrnoNeverPassesForAnAnswer() {
    // A filter that returns the marker itself is an ERRNO answer, not "allowed".
    #expect(FilterProbe.run(program: [ret(errnoAction(UInt32(FilterProbe.markerErrno)))], nr: getpid)
      == .errno(FilterProbe.markerErrno))
    // ERRNO(0) "succeeds" without running; the data is clamped to MAX_ERRNO.
    #expect(FilterProbe.run(program: [ret(errnoAction(0))], nr: getpid) == .errno(0))
    #expect(FilterProbe.run(program: [ret(errnoAction(0xffff))], nr: getpid) == .errno(4095))
  }

  @Test func userNotifIsToldApartFromENOSYS() {
    #expect(
      FilterProbe.run(program: [ret(userNotif)], nr: getpid, args: args)
        == .userNotification(nr: getpid, arch: archX86_64, args: args))
    #expect(FilterProbe.run(program: [ret(errnoAction(UInt32(ENOSYS)))], nr: getpid) == .errno(ENOSYS))
    // Both in one filter, decided by the argument.
    let program = [ldArgLow(0), jeq(1, 0, 1), ret(userNotif), ret(errnoAction(UInt32(ENOSYS)))]
    #expect(FilterProbe.run(program: program, nr: getpid, args: [1]) == .userNotification(
      nr: getpid, arch: archX86_64, args: [1, 0, 0, 0, 0, 0]))
    #expect(FilterProbe.run(program: program, nr: getpid, args: [2]) == .errno(ENOSYS))
  }

  @Test func anUnknownActionKillsTheProcess() {
    #expect(FilterProbe.run(program: [ret(0x0001_0000)], nr: getpid) == .killedProcess(signal: SIGSYS))
  }

  @Test func nrMinusOneReachesTheFilter() {
    #expect(
      FilterProbe.run(program: [ret(allow)], nr: 0xffff_ffff)
        == .allowed(nr: 0xffff_ffff, arch: archX86_64, args: [0, 0, 0, 0, 0, 0]))
  }

  @Test func aProgramTheKernelRejectsFailsToLoad() {
    // ld [1]: misaligned seccomp_data access; a program without a return.
    #expect(FilterProbe.run(program: [I(code: 0x20, k: 1), ret(allow)], nr: getpid)
      == .loadFailed(step: "filter", errno: EINVAL))
    #expect(FilterProbe.run(program: [ldNr], nr: getpid) == .loadFailed(step: "filter", errno: EINVAL))
    #expect(FilterProbe.run(program: [I](), nr: getpid) == .loadFailed(step: "filter", errno: EINVAL))
  }

  @Test func tupleProgramsWork() {
    let program: [(code: UInt16, jt: UInt8, jf: UInt8, k: UInt32)] = [
      (0x20, 0, 0, 0), (0x15, 0, 1, getpid), (0x06, 0, 0, errnoAction(1)), (0x06, 0, 0, allow),
    ]
    #expect(FilterProbe.run(program: program, nr: getpid) == .errno(1))
    #expect(FilterProbe.run(program: program, nr: getppid).isAllowed)
  }

  @Test func probesRunConcurrently() async {
    let outcomes = await withTaskGroup(of: (UInt32, FilterProbe.Outcome).self) { group in
      for e in UInt32(1)...16 {
        group.addTask { (e, FilterProbe.run(program: [ldNr, jeq(getpid, 0, 1), ret(errnoAction(e)), ret(allow)], nr: getpid)) }
      }
      var all: [(UInt32, FilterProbe.Outcome)] = []
      for await o in group { all.append(o) }
      return all
    }
    #expect(outcomes.count == 16)
    for (e, outcome) in outcomes { #expect(outcome == .errno(Int32(e))) }
  }

  @Test func twoHundredProbesFinish() {
    let program = [ldNr, jeq(getpid, 0, 1), ret(errnoAction(1)), ret(allow)]
    let clock = ContinuousClock()
    var reported: Duration = .zero
    var allowed = 0, denied = 0
    let total = clock.measure {
      for i in 0..<200 {
        let report = FilterProbe.probe(program: program, nr: i % 2 == 0 ? getpid : getppid)
        reported += report.duration
        switch report.outcome {
        case .errno(1): denied += 1
        case .allowed: allowed += 1
        default: Issue.record("probe \(i): \(report.outcome)")
        }
      }
    }
    #expect(allowed == 100 && denied == 100)
    let each = total / 200
    print("FilterProbe: 200 probes in \(total), \(each) each (fork to reap: \(reported / 200))")
    #expect(each < .milliseconds(100))
  }
}
