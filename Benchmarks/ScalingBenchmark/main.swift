import Foundation
import TestSupport

// Times syscage's input-driven paths at n, 10n and 100n and prints the CPU time and the
// growth per tenfold (linear is about 10x, quadratic 100x): lint of many entries (on one
// ABI and on three), of one long name, of many names; merge --intersect of entries with
// six conditions; audit --json of many records, beside grep and jq over the same records. With --fuzz N, runs N seeded mutations of profiles, strace logs and
// audit logs through the commands instead and reports any crash, hang (over 5 s) or
// exit status outside 0, 1, 64, 65. See Benchmarks/README.md.
//
// Usage: swift build -c release && .build/release/scaling-benchmark [--fuzz N] [--seed S]
// Environment: SYSCAGE (the binary; default: the syscage next to this one), SCALE (1:
// the sizes below; 0.1 for a quick run).

let env = ProcessInfo.processInfo.environment
let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
let syscage = env["SYSCAGE"] ?? here.appendingPathComponent("syscage").path
let scale = env["SCALE"].flatMap(Double.init) ?? 1
let work = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("syscage-scaling-\(getpid())")
try? FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: work) }

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data(("scaling-benchmark: " + message + "\n").utf8))
  exit(2)
}
guard FileManager.default.isExecutableFile(atPath: syscage) else { fail("no syscage at \(syscage) (build it, or set SYSCAGE)") }

/// CPU time (user + system) of every child waited for so far.
func childCPU() -> Double {
  var u = rusage()
  getrusage(RUSAGE_CHILDREN.rawValue, &u)
  return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}

/// Runs syscage; returns the exit status (-1 on timeout, 128+N on a signal), the seconds
/// taken and the CPU seconds it used (on a shared machine the steadier figure).
func runSyscage(_ arguments: [String], timeout: Double = 600) -> (status: Int32, seconds: Double, cpu: Double) {
  run(syscage, arguments, timeout: timeout)
}

/// Runs `executable` with standard output to `output` (default /dev/null); as `runSyscage`.
func run(_ executable: String, _ arguments: [String], output: String = "/dev/null", timeout: Double = 600) -> (status: Int32, seconds: Double, cpu: Double) {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: executable)
  p.arguments = arguments
  p.standardOutput = FileHandle(forWritingAtPath: output)
  p.standardError = FileHandle(forWritingAtPath: "/dev/null")
  p.standardInput = FileHandle(forReadingAtPath: "/dev/null")
  let cpuBefore = childCPU()
  let start = Date()
  do { try p.run() } catch { fail("cannot run \(executable): \(error)") }
  let deadline = start.addingTimeInterval(timeout)
  while p.isRunning && Date() < deadline { usleep(1000) }
  if p.isRunning {
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    return (-1, Date().timeIntervalSince(start), childCPU() - cpuBefore)
  }
  p.waitUntilExit()
  let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
  return (status, Date().timeIntervalSince(start), childCPU() - cpuBefore)
}

func write(_ name: String, _ text: String) -> String {
  let path = work.appendingPathComponent(name).path
  _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
  return path
}

func json(_ value: Any) -> String {
  String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
}

let names = ["read", "write", "openat", "close", "mmap", "mprotect", "socket", "connect", "ioctl", "fcntl",
  "clone", "prctl", "personality", "futex", "kill", "setsockopt", "getsockopt", "sendto", "recvfrom", "madvise",
  "lseek", "pread64", "pwrite64", "readv", "writev", "dup3", "pipe2", "unshare", "setns", "mount"]
let actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_LOG"]
let ops = ["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_GE", "SCMP_CMP_LE", "SCMP_CMP_MASKED_EQ"]


func profile(_ syscalls: [[String: Any]]) -> String { json(["defaultAction": "SCMP_ACT_ERRNO", "syscalls": syscalls]) }

/// Entries over the table's names, actions in turn, every other one with a condition.
func lintEntries(_ n: Int) -> [String] {
  let entries: [[String: Any]] = (0..<n).map { i in
    var e: [String: Any] = ["names": [names[i % names.count]], "action": actions[i % 3]]
    if i % 2 == 1 { e["args"] = [["index": i % 6, "value": i, "op": "SCMP_CMP_EQ"]] }
    return e
  }
  return ["lint", write("entries-\(n).json", profile(entries))]
}
/// The same entries with architectures x86_64, x86 and x32 (x86's socketcall multiplexes socket, connect, ...).
func lintEntriesThreeABIs(_ n: Int) -> [String] {
  let entries: [[String: Any]] = (0..<n).map { i in
    var e: [String: Any] = ["names": [names[i % names.count]], "action": actions[i % 3]]
    if i % 2 == 1 { e["args"] = [["index": i % 6, "value": i, "op": "SCMP_CMP_EQ"]] }
    return e
  }
  let text = json(["defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": entries])
  return ["lint", write("entries-abis-\(n).json", text)]
}
func lintLongName(_ n: Int) -> [String] {
  ["lint", write("name-\(n).json", profile([["names": [String(repeating: "x", count: n)], "action": "SCMP_ACT_ALLOW"]]))]
}
func lintNames(_ n: Int) -> [String] {
  let list = (0..<n).map { i in i % 2 == 0 ? names[i % names.count] : "nosuch\(i)" }
  return ["lint", write("names-\(n).json", profile([["names": list, "action": "SCMP_ACT_ALLOW"]]))]
}
func mergeEntries(_ n: Int) -> [String] {
  func one(_ seed: UInt64) -> String {
    var r = SplitMix64(seed: seed)
    let entries: [[String: Any]] = (0..<n).map { i in
      ["names": [names[i % names.count]], "action": "SCMP_ACT_ALLOW",
       "args": (0..<6).map { k in ["index": k, "value": r.below(1000), "op": ops[r.below(4)]] }]
    }
    return write("merge-\(n)-\(seed).json", profile(entries))
  }
  return ["merge", "--intersect", one(1), one(2)]
}
func auditRecords(_ n: Int) -> [String] {
  var text = ""
  for i in 0..<n {
    text += "type=1326 audit(1700000000.\(String(format: "%03d", i % 1000)):\(i)): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=\(1000 + i % 50) comm=\"x\" exe=\"/bin/x\" sig=0 arch=c000003e syscall=\(i % 300) compat=0 ip=0x7f code=0x7ffc0000\n"
  }
  return ["audit", "--json", write("audit-\(n).log", text)]
}

let cases: [(label: String, base: Int, build: (Int) -> [String])] = [
  ("lint, entries", 1_000, lintEntries),
  ("lint, entries on x86_64, x86, x32", 1_000, lintEntriesThreeABIs),
  ("lint, one name of n bytes", 100_000, lintLongName),
  ("lint, names in one entry", 1_000, lintNames),
  ("merge --intersect, entries of 6 conditions", 4, mergeEntries),
  ("audit --json, records", 1_000, auditRecords),
]

// MARK: - Fuzzing

func fuzz(_ count: Int, seed: UInt64) {
  var r = SplitMix64(seed: seed)
  let seeds: [(kind: String, text: String)] = [
    ("profile", profile([
      ["names": ["read", "write", "socket"], "action": "SCMP_ACT_ALLOW"],
      ["names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [["index": 0, "value": 8, "op": "SCMP_CMP_EQ"]]],
      ["names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": [["index": 0, "value": 0x7e020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"]]],
    ])),
    ("strace", "1234  openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY) = 3\n[pid  1235] 21:38:33.880537 write(1, \"x\", 1) = 1\n1234  read(3, <unfinished ...>\n1234  <... read resumed>\"\", 10) = 0\n% time     seconds  usecs/call     calls    errors syscall\n------ ----------- ----------- --------- --------- ----------------\n 50.00    0.000001           1         3           read\n100.00    0.000002                     3           total\n"),
    ("audit", "type=1326 audit(1700000000.123:42): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=7 comm=\"mkdir\" exe=\"/usr/bin/mkdir\" sig=0 arch=c000003e syscall=83 compat=0 ip=0x7f code=0x50000\n[  12.5] audit: type=1326 audit(1.0:9): pid=1 arch=40000003 syscall=102 code=0x7ffc0000\n"),
  ]
  let tokens = ["\"", "{", "}", "[", "]", ",", ":", "0x", "-1", "18446744073709551616", "9223372036854775808", "4294967296",
    "=", " ", "\n", "(", ")", "syscall=", "arch=", "pid=", "audit(", "<unfinished ...>", "resumed>", "\u{0}", "é", "1e999"]
  var bad: [String] = []
  var slowest = 0.0
  for i in 0..<count {
    let s = seeds[r.below(seeds.count)]
    let bytes = mutated(s.text, tokens: tokens, &r)
    let path = work.appendingPathComponent("fuzz-\(i)").path
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    let commands: [[String]]
    switch s.kind {
    case "profile":
      commands = [["check", path, "socket", "40"], ["lint", path], ["convert", path, "--to", "oci"], ["diff", path, path],
        ["merge", path, path], ["compile", path, "-o", path + ".bpf"], ["check", path, "0x40000001", "--arch", "x32"]]
    case "strace": commands = [["import", "--strace", path]]
    default: commands = [["audit", "--json", path], ["audit", path], ["import", "--audit", path]]
    }
    for c in commands {
      let (status, seconds, _) = runSyscage(c, timeout: 5)
      slowest = max(slowest, seconds)
      if ![0, 1, 64, 65].contains(status) {
        let keep = work.deletingLastPathComponent().appendingPathComponent("syscage-fuzz-\(seed)-\(i)").path
        try? FileManager.default.copyItem(atPath: path, toPath: keep)
        bad.append("case \(i): syscage \(c.joined(separator: " ")) exited \(status == -1 ? "by timeout (5 s)" : String(status)); input kept at \(keep)")
      }
    }
  }
  print("fuzz: \(count) cases from seed \(seed), slowest run \(String(format: "%.2f", slowest)) s, \(bad.count) failure(s)")
  for b in bad { print("  " + b) }
  exit(bad.isEmpty ? 0 : 1)
}

// MARK: - Main

let arguments = Array(CommandLine.arguments.dropFirst())
if let k = arguments.firstIndex(of: "--fuzz") {
  guard k + 1 < arguments.count, let n = Int(arguments[k + 1]), n > 0 else { fail("--fuzz wants a number of cases") }
  let seed = arguments.firstIndex(of: "--seed").flatMap { $0 + 1 < arguments.count ? UInt64(arguments[$0 + 1]) : nil } ?? 1
  fuzz(n, seed: seed)
}

print("syscage: \(syscage)")
print("CPU seconds (user + system) of each run; wall seconds at 100n in brackets")
print(String(repeating: " ", count: 44) + "        n       10n      100n   growth per tenfold")
var lastInputs: [String: [String]] = [:]
for c in cases {
  let base = max(1, Int(Double(c.base) * scale))
  var times: [Double] = []
  var wall = 0.0
  var note = ""
  for n in [base, base * 10, base * 100] {
    let arguments = c.build(n)
    let (status, seconds, cpu) = runSyscage(arguments)
    if ![0, 1].contains(status) { note = " (exit \(status) at n = \(n))" }
    times.append(cpu)
    wall = seconds
    lastInputs[c.label] = arguments
  }
  func f(_ t: Double) -> String { String(format: "%8.3fs", t) }
  let growth = "\(String(format: "%.1f", times[1] / max(times[0], 1e-6)))x, \(String(format: "%.1f", times[2] / max(times[1], 1e-6)))x"
  print(c.label.padding(toLength: 44, withPad: " ", startingAt: 0) + " \(f(times[0])) \(f(times[1])) \(f(times[2]))   \(growth)\(note)  [n = \(base); \(String(format: "%.2f", wall)) s]")
  if c.label.hasPrefix("audit --json"), let log = lastInputs[c.label]?.last {
    // Peers over the same file: the floor (grep counting the records) and jq reading and
    // writing syscage's own JSON lines again (a JSON writer's cost per record).
    let records = base * 100
    let jsonOut = work.appendingPathComponent("audit.jsonl").path
    _ = FileManager.default.createFile(atPath: jsonOut, contents: nil)
    _ = run(syscage, ["audit", "--json", log], output: jsonOut)
    var peers: [(String, String, [String])] = [("grep -c type=1326", "/usr/bin/grep", ["-c", "type=1326", log])]
    if FileManager.default.isExecutableFile(atPath: "/usr/bin/jq") { peers.append(("jq -c . (its output)", "/usr/bin/jq", ["-c", ".", jsonOut])) }
    for (label, path, arguments) in peers {
      let (status, _, cpu) = run(path, arguments)
      let ratio = cpu > 0 ? String(format: "syscage / peer = %.1f", times[2] / cpu) : "peer under the clock's resolution"
      print("  peer at \(records) records: \(label.padding(toLength: 24, withPad: " ", startingAt: 0)) \(f(cpu))   \(ratio)\(status == 0 ? "" : " (exit \(status))")")
    }
  }
}
