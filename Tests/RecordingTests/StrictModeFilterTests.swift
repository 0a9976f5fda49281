import BPF
import Enforcement
import Processes
import Profiles
import Recording
import Seccomp
import Syscalls
import Testing

/// The strict-mode detector `run` stacks and the prefix `record` puts before its filters:
/// they stop exactly the requests for strict mode, and cost no other call its cache.
@Suite struct StrictModeFilterTests {
  static let trace = SeccompAction.trace(Launcher.strictModeData).returnValue

  func data(_ arch: Arch, _ nr: UInt32, _ args: [UInt64]) -> SeccompData {
    SeccompData(nr: nr, arch: arch.auditArch, args: args)
  }

  @Test func detectorStopsStrictModeRequestsOnly() throws {
    let d = Launcher.strictModeDetector
    let x32 = UInt32(SyscallNumber.x32Bit)
    let cases: [(Arch, UInt32, [UInt64], Bool)] = [
      (.x86_64, 157, [22, 1], true), (.x86_64, 157, [22, 2], false), (.x86_64, 157, [22, 0x1_0000_0001], false),
      (.x86_64, 157, [15, 1], false), (.x86_64, 157, [0x1_0000_0016, 1], true),  // option is an int
      (.x86_64, 317, [0, 0], true), (.x86_64, 317, [1, 0], false), (.x86_64, 317, [2, 0], false),
      (.x86_64, x32 | 157, [22, 1], true), (.x86_64, x32 | 317, [0], true),
      (.x86, 172, [22, 1], true), (.x86, 354, [0], true), (.x86, 172, [22, 2], false), (.x86, 157, [22, 1], false),
      (.x86_64, 39, [22, 1], false), (.aarch64, 167, [22, 1], false),
    ]
    for (arch, nr, args, stops) in cases {
      let r = Interpreter.run(d, on: data(arch, nr, args))
      #expect((r.returnValue == Self.trace) == stops, "\(arch) \(nr) \(args): \(r)")
      if !stops { #expect(r.returnValue == SeccompAction.allow.returnValue, "\(arch) \(nr) \(args): \(r)") }
      // The prefixed one-stop filter agrees, and otherwise says what traceAll says.
      let prefixed = Interpreter.run(Recorder.stoppingAtStrictMode(Recorder.traceAll), on: data(arch, nr, args))
      #expect(prefixed.returnValue == (stops ? Self.trace : SeccompAction.trace(0).returnValue), "\(arch) \(nr) \(args)")
    }
  }

  @Test func everyOtherCallStaysCached() throws {
    let d = Launcher.strictModeDetector
    for (arch, numbers) in [(Arch.x86_64, 0..<UInt32(470)), (Arch.x86, 0..<UInt32(470))] {
      let strict: Set<UInt32> = arch == .x86 ? [172, 354] : [157, 317]
      for nr in numbers {
        #expect(KernelCache.isCached(d, arch: arch.auditArch, nr: nr) == !strict.contains(nr), "\(arch) \(nr)")
      }
    }
    // A baseline filter keeps its cached calls behind the prefix.
    let baseline = Profile(defaultAction: .errno, syscalls: [SyscallEntry(names: ["read", "write", "prctl"], action: .allow)])
    let filter = try Recorder.baselineFilter(baseline)
    let prefixed = Recorder.stoppingAtStrictMode(filter)
    for name in ["read", "write"] {
      let nr = UInt32(Arch.x86_64.number(of: name)!.rawValue)
      #expect(KernelCache.isCached(filter, arch: Arch.x86_64.auditArch, nr: nr))
      #expect(KernelCache.isCached(prefixed, arch: Arch.x86_64.auditArch, nr: nr), "\(name)")
    }
    // prctl, allowed by the baseline without a stop, still stops when it asks for strict mode.
    #expect(Interpreter.run(prefixed, on: data(.x86_64, 157, [22, 1])).returnValue == Self.trace)
    #expect(Interpreter.run(prefixed, on: data(.x86_64, 157, [15, 1])).returnValue == SeccompAction.allow.returnValue)
  }
}
