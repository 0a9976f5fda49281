import Processes
import Foundation
import Profiles
import Seccomp
import Syscalls

/// `record --json`'s object: per ABI and call the statistics and runs, the termination,
/// what the profile assembly added (runtimes, occasional calls, the container runtime's
/// calls) and, with `--verify`, the verification and the amendments. A tree of
/// dictionaries, arrays, strings, numbers and `NSNull`, for `JSONSerialization`.
public struct RecordReport {
  public var recording: RecordedRun
  public var recorded: RecordedRuns
  public var assembled: AssembledProfile
  /// The profile's path (-o), nil when none is written.
  public var output: String?
  /// Counted in the kernel (the ebpf backend): no stops.
  public var countedInKernel: Bool
  public var backend: String
  public var containerRuntime: RuntimeTarget
  public var verification: Verification?
  public var amendments: [Amendment]
  public var replay: ReplayConditions?

  public init(
    recording: RecordedRun, recorded: RecordedRuns, assembled: AssembledProfile, output: String?, countedInKernel: Bool,
    backend: String, containerRuntime: RuntimeTarget, verification: Verification?, amendments: [Amendment],
    replay: ReplayConditions?
  ) {
    self.recording = recording
    self.recorded = recorded
    self.assembled = assembled
    self.output = output
    self.countedInKernel = countedInKernel
    self.backend = backend
    self.containerRuntime = containerRuntime
    self.verification = verification
    self.amendments = amendments
    self.replay = replay
  }

  /// The object.
  public var object: [String: Any] {
    let r = recording
    let runCounts = recorded.runCounts
    var arches: [String: Any] = [:]
    for arch in r.arches {
      var calls: [String: Any] = [:]
      for e in r.entries where e.arch == arch {
        calls[e.name] = [
          "number": Int(e.number.rawValue), "calls": e.statistics.calls, "errors": e.statistics.errors,
          "seconds": e.statistics.seconds, "runs": runCounts[arch]?[e.name] ?? 0,
        ]
      }
      arches[arch.name] = calls
    }
    var termination: [String: Any] = ["status": Int(r.termination.shellStatus)]
    switch r.termination {
    case .exited(let code): termination["exited"] = Int(code)
    case .signaled(let sig): termination["signal"] = Int(sig)
    }
    if r.detached { termination = ["detached": true] }
    var object: [String: Any] = [
      "pid": Int(r.pid), "termination": termination, "arches": arches, "profile": output.map { $0 as Any } ?? NSNull(),
      "tracees": r.tracees, "stops": countedInKernel ? "none" : (r.oneStop ? "one" : "two"), "backend": backend,
      "runs": recorded.runs.count,
      "runtimes": Dictionary(
        uniqueKeysWithValues: assembled.runtimes.map { rt in
          (rt.rawValue, assembled.runtimeCalls.first { $0.runtime == rt }?.calls ?? [])
        }),
      "occasional": assembled.occasional,
      "container": ["for": containerRuntime.rawValue, "calls": assembled.containerCalls] as [String: Any],
    ]
    if let v = verification {
      object["verify"] =
        [
          "status": Int(v.termination.shellStatus), "same": v.termination == recorded.runs[0].termination,
          "deniedCount": v.deniedCount,
          "denied": v.denials.map { d -> [String: Any] in
            [
              "name": d.name, "arch": d.arch.name, "number": Int(d.number.rawValue), "errno": Int(d.errno),
              "args": d.arguments.map { "0x" + String($0, radix: 16) }, "action": "\(d.action)",
            ]
          },
          "amended": amendments.map { a -> [String: Any] in
            [
              "round": a.round,
              "calls": Dictionary(uniqueKeysWithValues: a.calls.map { ($0.key.name, $0.value.sorted()) }),
              "arguments": Dictionary(uniqueKeysWithValues: a.arguments.map { ($0.key.name, $0.value.keys.sorted()) }),
            ]
          },
          "stdin": replay?.stdinKind.rawValue ?? "", "stdout": replay?.stdoutKind.rawValue ?? "",
        ] as [String: Any]
    }
    return object
  }
}
