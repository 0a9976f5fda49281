import Foundation
import Seccomp
import Syscalls

// Compares syscage's compiler with libseccomp 2.5.4 on Docker's default profile (x86_64),
// side by side in one run: program length, instructions per syscall, cacheable
// syscalls, compile time. Usage: swift run -c release compiler-benchmark [PROFILE]

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let profilePath = CommandLine.arguments.dropFirst().first ?? root.appendingPathComponent("Data/docker-default.json").path
let bytes = [UInt8](FileManager.default.contents(atPath: profilePath) ?? Data())
let context = ExpansionContext(native: .x86_64, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: .running)

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
func time(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
  let clock = ContinuousClock()
  var samples: [Double] = []
  for _ in 0..<runs {
    let t = clock.now
    try body()
    let d = clock.now - t
    samples.append(Double(d.components.attoseconds) / 1e12 + Double(d.components.seconds) * 1e6)
  }
  return median(samples)
}

let (profile, _) = try Profile.decode(bytes, file: profilePath)
var policy = Policy(profile: profile, options: PolicyOptions(context: context))
var program = try Compiler.compile(policy)
let decodeUs = try time(200) { _ = try Profile.decode(bytes, file: nil) }
let policyUs = time(200) { policy = Policy(profile: profile, options: PolicyOptions(context: context)) }
let codegenUs = try time(Int(ProcessInfo.processInfo.environment["RUNS"] ?? "200")!) { program = try Compiler.compile(policy) }
print("decode \(decodeUs) us, policy \(policyUs) us, codegen \(codegenUs) us")
