// derive-runtime-calls: finds the calls runc makes after installing a container's
// seccomp filter, by recording `runc run` of a busybox-static bundle whose filter allows
// everything (noNewPrivileges false, as Docker runs containers). Prints the union of
// --runs runs; with --check, exits 1 when a call is missing from RuntimeCalls.runc.
//
//   swift run derive-runtime-calls [--runs N] [--check] [--runc PATH] [--busybox PATH]
// Needs root, runc and busybox-static.
import Foundation
import Enforcement
import Recording
import Seccomp

#if canImport(Glibc)
  import Glibc
#endif

func die(_ message: String) -> Never {
  FileHandle.standardError.write(Data("derive-runtime-calls: \(message)\n".utf8))
  exit(2)
}

func firstExecutable(_ paths: [String]) -> String? { paths.first { FileManager.default.isExecutableFile(atPath: $0) } }

var runs = 5
var check = false
var runc = firstExecutable(["/usr/sbin/runc", "/usr/bin/runc"])
var busybox = firstExecutable(["/bin/busybox", "/usr/bin/busybox"])
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
  let a = args.removeFirst()
  switch a {
  case "--runs": runs = Int(args.isEmpty ? "" : args.removeFirst()) ?? runs
  case "--check": check = true
  case "--runc": runc = args.isEmpty ? nil : args.removeFirst()
  case "--busybox": busybox = args.isEmpty ? nil : args.removeFirst()
  default: die("unknown argument \(a); usage: derive-runtime-calls [--runs N] [--check] [--runc PATH] [--busybox PATH]")
  }
}
guard geteuid() == 0 else { die("needs root: runc creates namespaces and mounts") }
guard let runc else { die("runc not found (apt-get install runc)") }
guard let busybox else { die("busybox-static not found (apt-get install busybox-static)") }

/// Runs a program to the end, its output discarded; its exit status.
func quietly(_ path: String, _ arguments: [String]) -> Int32 {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: path)
  p.arguments = arguments
  p.standardOutput = FileHandle.nullDevice
  p.standardError = FileHandle.nullDevice
  do { try p.run() } catch { return 127 }
  p.waitUntilExit()
  return p.terminationStatus
}

let fm = FileManager.default
let dir = fm.temporaryDirectory.appendingPathComponent("syscage-derive-\(getpid())")
defer { try? fm.removeItem(at: dir) }
let rootfs = dir.appendingPathComponent("rootfs")
do {
  for d in ["bin", "proc", "dev", "sys", "tmp"] {
    try fm.createDirectory(at: rootfs.appendingPathComponent(d), withIntermediateDirectories: true)
  }
  try fm.copyItem(atPath: busybox, toPath: rootfs.appendingPathComponent("bin/busybox").path)
  try fm.createSymbolicLink(atPath: rootfs.appendingPathComponent("bin/true").path, withDestinationPath: "busybox")
} catch {
  die("cannot make the bundle in \(dir.path): \(error)")
}
guard quietly(runc, ["spec", "--bundle", dir.path]) == 0 else { die("runc spec failed") }
let configURL = dir.appendingPathComponent("config.json")
guard let data = try? Data(contentsOf: configURL),
  var config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
  var process = config["process"] as? [String: Any], var linux = config["linux"] as? [String: Any]
else { die("runc spec wrote an unexpected config.json") }
process["args"] = ["/bin/true"]
process["terminal"] = false
process["noNewPrivileges"] = false
config["process"] = process
config["root"] = ["path": "rootfs", "readonly": false]
// A filter that lets every call through (one rule, so runc installs it): nothing the
// runtime does is denied, so every call reaches the tracer.
linux["seccomp"] = [
  "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [["names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"]],
]
config["linux"] = linux
do {
  try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(to: configURL)
} catch {
  die("cannot write \(configURL.path): \(error)")
}

var union: Set<String> = []
for i in 0..<runs {
  let id = "syscage-derive-\(getpid())-\(i)"
  let derivation: RuntimeCalls.Derivation
  do {
    derivation = try RuntimeCalls.derive(executable: runc, arguments: ["runc", "run", "--bundle", dir.path, id])
  } catch {
    die("cannot record runc: \(error)")
  }
  _ = quietly(runc, ["delete", "--force", id])
  guard derivation.termination == .exited(0) else { die("runc run ended \(derivation.termination)") }
  guard derivation.filteredProcesses > 0 else { die("no process installed a filter; is seccomp in the bundle?") }
  union.formUnion(derivation.calls)
  FileHandle.standardError.write(Data("run \(i + 1): \(derivation.calls.count) calls\n".utf8))
}
let sorted = union.sorted()
print(sorted.map { "\"\($0)\"" }.joined(separator: ", "))
if check {
  let missing = sorted.filter { !RuntimeCalls.runc.contains($0) }
  if !missing.isEmpty {
    FileHandle.standardError.write(Data("missing from RuntimeCalls.runc: \(missing.joined(separator: ", "))\n".utf8))
    exit(1)
  }
  let unseen = RuntimeCalls.runc.filter { !union.contains($0) }
  FileHandle.standardError.write(
    Data("every call found is in RuntimeCalls.runc (\(RuntimeCalls.runc.count) listed; not seen in these runs: \(unseen.joined(separator: ", ")))\n".utf8))
}
