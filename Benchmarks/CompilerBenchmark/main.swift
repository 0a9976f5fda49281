import BPF
import CBench
import Foundation
import Host
import Profiles
import Seccomp
import Syscalls

// Compares syscage's compiler with libseccomp 2.5.4 (what runc links) on Docker's
// default profile for x86_64, side by side in one run: program length, instructions
// executed per syscall, cacheable syscalls, compile time, and nanoseconds per call
// under each filter. See Benchmarks/README.md.
//
// Usage: swift run -c release compiler-benchmark [PROFILE]
// Environment: ROUNDS (timing rounds, 7), CALLS (calls per timing, 200000), BATCHES (20),
// ESTIMATOR=mean (per round the mean of all calls, not the fastest batch's),
// RUNS (syscage compile runs, 500), LIBSECCOMP_RUNS (50), NO_TIMING=1 (skip ns/call),
// LIBSECCOMP_PYTHON (the interpreter with python3-seccomp, /usr/bin/python3),
// DUMP=DIR (write the programs there as raw struct sock_filter records).

// MARK: - Set-up

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent()
let profilePath = CommandLine.arguments.dropFirst().first ?? root.appendingPathComponent("Data/docker-default.json").path
let env = ProcessInfo.processInfo.environment
func setting(_ name: String, _ fallback: Int) -> Int { env[name].flatMap { Int($0) }.map { max(1, $0) } ?? fallback }
let rounds = setting("ROUNDS", 7)
let callsPerTiming = setting("CALLS", 200_000)
let compileRuns = setting("RUNS", 500)
let libseccompRuns = setting("LIBSECCOMP_RUNS", 50)
let skipTiming = env["NO_TIMING"].map { $0 != "" && $0 != "0" } ?? false
let batches = min(setting("BATCHES", 20), callsPerTiming)
let wholeLoop = env["ESTIMATOR"] == "mean"

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data(("compiler-benchmark: " + message + "\n").utf8))
  exit(2)
}

guard let profileData = FileManager.default.contents(atPath: profilePath) else { fail("cannot read \(profilePath)") }
let bytes = [UInt8](profileData)
let context = ExpansionContext(native: .x86_64, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: .running)
let options = PolicyOptions(context: context)

let profile: Profile
do {
  profile = try Profile.decode(bytes, file: profilePath).profile
} catch {
  fail("\(error)")
}
let policy = Policy(profile: profile, options: options)
let syscage: [BPFInstruction]
do {
  syscage = try Compiler.compile(policy)
} catch {
  fail("syscage cannot compile the profile: \(error)")
}
let abis: [Arch] = [.x86_64, .x86, .x32]

// MARK: - Helpers

func median(_ xs: [Double]) -> Double {
  let s = xs.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Median wall time of `runs` runs of `body`, in microseconds.
func medianMicroseconds(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
  let clock = ContinuousClock()
  var samples: [Double] = []
  samples.reserveCapacity(runs)
  for _ in 0..<runs {
    let t = clock.now
    try body()
    let d = clock.now - t
    samples.append(Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12)
  }
  return median(samples)
}

func fmt(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }

/// libseccomp's figure divided by syscage's ("3.1×": syscage needs 3.1 times less).
func ratio(_ theirs: Double?, _ ours: Double) -> String {
  guard let theirs, ours > 0 else { return "" }
  return fmt(theirs / ours, 2) + "×"
}

/// A table with a left-aligned first column and right-aligned others.
func printTable(_ header: [String], _ rows: [[String]]) {
  let all = [header] + rows
  let n = all.map(\.count).max() ?? 0
  var widths = [Int](repeating: 0, count: n)
  for r in all { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
  func line(_ r: [String]) -> String {
    var s = ""
    for i in 0..<n {
      let c = i < r.count ? r[i] : ""
      let pad = String(repeating: " ", count: widths[i] - c.count)
      s += i == 0 ? c + pad : "  " + pad + c
    }
    return s
  }
  print(line(header))
  print(widths.enumerated().map { String(repeating: "-", count: $0.element + ($0.offset == 0 ? 0 : 2)) }.joined())
  for r in rows { print(line(r)) }
}

// MARK: - libseccomp through Scripts/libseccomp-compile.py

struct ProcessResult {
  var status: Int32
  var stdout: [UInt8]
  var stderr: String
  var timedOut: Bool
}

let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("compiler-benchmark-\(getpid())")
try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)

/// Runs a program with a time limit (libseccomp 2.5.4's add_rule can loop forever on
/// some profiles), collecting its output through files.
func run(_ executable: String, _ arguments: [String], timeout: Double) -> ProcessResult? {
  let out = scratch.appendingPathComponent("stdout")
  let err = scratch.appendingPathComponent("stderr")
  _ = FileManager.default.createFile(atPath: out.path, contents: nil)
  _ = FileManager.default.createFile(atPath: err.path, contents: nil)
  guard let outHandle = try? FileHandle(forWritingTo: out), let errHandle = try? FileHandle(forWritingTo: err) else {
    return nil
  }
  let p = Process()
  p.executableURL = URL(fileURLWithPath: executable)
  p.arguments = arguments
  p.standardOutput = outHandle
  p.standardError = errHandle
  p.standardInput = FileHandle.nullDevice
  do { try p.run() } catch { return nil }
  let deadline = Date().addingTimeInterval(timeout)
  var timedOut = false
  while p.isRunning {
    if Date() > deadline {
      timedOut = true
      p.terminate()
      break
    }
    usleep(5_000)
  }
  p.waitUntilExit()
  try? outHandle.close()
  try? errHandle.close()
  let stdout = (try? Data(contentsOf: out)).map { [UInt8]($0) } ?? []
  let stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
  return ProcessResult(status: p.terminationStatus, stdout: stdout, stderr: stderr, timedOut: timedOut)
}

struct Libseccomp {
  var tree: [BPFInstruction]  // OPTIMIZE=2, what runc uses for > 32 names
  var linear: [BPFInstruction]?  // OPTIMIZE=1
  var treeMedianUs: Double?
  var linearMedianUs: Double?
  var version: String
  var skippedUnknown: [String]
}

/// libseccomp's programs and compile times, or why there are none.
func libseccomp() -> Result<Libseccomp, ProcessError> {
  let python = env["LIBSECCOMP_PYTHON"] ?? "/usr/bin/python3"
  let script = root.appendingPathComponent("Scripts/libseccomp-compile.py").path
  guard FileManager.default.isExecutableFile(atPath: python) else { return .failure(ProcessError("\(python) not found")) }
  guard FileManager.default.fileExists(atPath: script) else { return .failure(ProcessError("\(script) not found")) }
  let oci = scratch.appendingPathComponent("profile.oci.json")
  do {
    try Data(profile.expanded(for: context).encode(format: .oci).utf8).write(to: oci)
  } catch {
    return .failure(ProcessError("cannot write the expanded profile: \(error)"))
  }
  func compile(_ extra: [String]) -> Result<[BPFInstruction], ProcessError> {
    let bpf = scratch.appendingPathComponent("out.bpf")
    try? FileManager.default.removeItem(at: bpf)
    guard let r = run(python, [script, oci.path, "-o", bpf.path] + extra, timeout: 60) else {
      return .failure(ProcessError("cannot run \(python)"))
    }
    guard !r.timedOut else { return .failure(ProcessError("libseccomp-compile.py timed out (libseccomp looped)")) }
    guard r.status == 0 else {
      return .failure(ProcessError("libseccomp-compile.py exited \(r.status): " + r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))
    }
    guard let raw = try? Data(contentsOf: bpf), let program = [BPFInstruction](rawBytes: [UInt8](raw)), !program.isEmpty else {
      return .failure(ProcessError("libseccomp-compile.py wrote no program"))
    }
    return .success(program)
  }
  func time(_ extra: [String]) -> Double? {
    guard let r = run(python, [script, oci.path, "--time", String(libseccompRuns)] + extra, timeout: 300),
      r.status == 0,
      let obj = try? JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any],
      let us = obj["median_us"] as? Double
    else { return nil }
    return us
  }
  let report = scratch.appendingPathComponent("report.json")
  let tree: [BPFInstruction]
  switch compile(["--optimize", "2", "--report", report.path]) {
  case .success(let p): tree = p
  case .failure(let e): return .failure(e)
  }
  var version = "?"
  var skipped: [String] = []
  if let data = try? Data(contentsOf: report), let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
    version = obj["libseccomp"] as? String ?? "?"
    skipped = obj["skipped_unknown"] as? [String] ?? []
  }
  let linear = try? compile(["--optimize", "1"]).get()
  return .success(Libseccomp(
    tree: tree, linear: linear, treeMedianUs: time(["--optimize", "2"]), linearMedianUs: time(["--optimize", "1"]),
    version: version, skippedUnknown: skipped))
}

struct ProcessError: Error, CustomStringConvertible {
  var description: String
  init(_ d: String) { description = d }
}

// MARK: - Figures of a program (the logic of FilterStatistics, for any program)

struct Steps {
  var count = 0
  var total = 0
  var worst = 0
  var average: Double { count == 0 ? 0 : Double(total) / Double(count) }
  mutating func add(_ s: Int) {
    count += 1
    total += s
    worst = max(worst, s)
  }
}

struct ABIFigures {
  var allowed = Steps()
  var denied = Steps()
  /// Allowed with zero arguments, and the policy has no argument condition for it.
  var argumentFree = 0
  /// Of those, the ones whose path the kernel's cache emulator accepts.
  var cacheable = 0
  var perSyscall: [String: Int] = [:]
}

/// Every syscall of each ABI's table, zero arguments, through the interpreter, as
/// `FilterStatistics` does; "argument-free" is judged by syscage's policy (the same
/// profile), so the two programs are measured over the same question. For x32 the
/// cache emulation is reported although the kernel never caches x32 numbers.
func figures(_ program: [BPFInstruction]) -> [ABIFigures] {
  abis.map { arch in
    var f = ABIFigures()
    let ap = policy.policy(for: arch)
    for (name, number) in SyscallTable.entries(in: arch.abi) {
      let r = Interpreter.run(program, on: SeccompData(nr: number.word, arch: arch.auditArch))
      f.perSyscall[name] = r.steps
      if r.action == .allow {
        f.allowed.add(r.steps)
        if let ap, ap.rules(for: number).allSatisfy({ $0.conditions.isEmpty }) {
          f.argumentFree += 1
          if KernelCache.isCached(program, arch: arch.auditArch, nr: number.word) { f.cacheable += 1 }
        }
      } else {
        f.denied.add(r.steps)
      }
    }
    return f
  }
}

/// The longest path through the program from its first instruction, whatever the input
/// (an upper bound on the instructions any call can execute).
func longestPath(_ p: [BPFInstruction]) -> Int {
  var longest = [Int](repeating: 1, count: p.count)
  for i in stride(from: p.count - 1, through: 0, by: -1) {
    let ins = p[i]
    var next: [Int] = []
    switch ins.code & 0x07 {
    case BPF.ret: next = []
    case BPF.jmp:
      if ins.code & 0xf0 == BPF.ja { next = [i + 1 + Int(ins.k)] } else { next = [i + 1 + Int(ins.jt), i + 1 + Int(ins.jf)] }
    default: next = [i + 1]
    }
    longest[i] = 1 + (next.filter { $0 < p.count }.map { longest[$0] }.max() ?? 0)
  }
  return longest.first ?? 0
}

// MARK: - Compile

print("compiler-benchmark: syscage vs libseccomp on \(profilePath)")
print("expansion: \(context)")
print("syscall table: \(SyscallTable.version)")
print("")

let lib = libseccomp()
let other: Libseccomp? = try? lib.get()
switch lib {
case .success(let l):
  var s = "libseccomp \(l.version) via Scripts/libseccomp-compile.py (runc's rule adding; OPTIMIZE=2 is runc's choice for > 32 names)"
  if !l.skippedUnknown.isEmpty {
    s += "\n  names unknown to this libseccomp, skipped as runc does: " + l.skippedUnknown.joined(separator: ", ")
  }
  print(s)
case .failure(let e):
  print("libseccomp column missing: \(e)")
  if e.description.hasSuffix("not found") {
    print("  (it needs /usr/bin/python3 with the Debian package python3-seccomp)")
  }
}
print("")

// Sanity: the shared statistics code agrees with FilterStatistics on syscage's program.
let ours = figures(syscage)
let reference = FilterStatistics(program: syscage, policy: policy)
for (arch, f) in zip(abis, ours) {
  if let r = reference.arches.first(where: { $0.arch == arch }),
    r.allowed.total != f.allowed.total || r.allowed.count != f.allowed.count || r.denied.total != f.denied.total
  {
    print("warning: FilterStatistics and this benchmark disagree on \(arch)")
  }
}
if let dir = env["DUMP"], !dir.isEmpty {  // the programs, as raw struct sock_filter records
  let d = URL(fileURLWithPath: dir)
  try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
  try? Data(syscage.rawBytes).write(to: d.appendingPathComponent("syscage.bpf"))
  if let other {
    try? Data(other.tree.rawBytes).write(to: d.appendingPathComponent("libseccomp-tree.bpf"))
    if let l = other.linear { try? Data(l.rawBytes).write(to: d.appendingPathComponent("libseccomp-linear.bpf")) }
  }
}
let tree = other.map { figures($0.tree) }
let linear = other?.linear.map { figures($0) }

// MARK: - Table 1: the programs

print("== Programs: every syscall of each ABI's table with zero arguments, run in syscage's Interpreter ==")
var rows: [[String]] = []
@MainActor func row(_ label: String, _ a: Double, _ b: Double?, _ c: Double?, _ target: String, digits: Int = 0) {
  rows.append([label, fmt(a, digits), b.map { fmt($0, digits) } ?? "-", c.map { fmt($0, digits) } ?? "-", ratio(b, a), target])
}
row("program length (instructions)", Double(syscage.count), other.map { Double($0.tree.count) },
    other?.linear.map { Double($0.count) }, "≤ \(1246 / 3) (1246/3)")
row("longest path, any input", Double(longestPath(syscage)), other.map { Double(longestPath($0.tree)) },
    other?.linear.map { Double(longestPath($0)) }, "")
let abiLabel = ["x86_64", "ia32", "x32"]
for (i, _) in abis.enumerated() {
  let a = ours[i], t = tree?[i], l = linear?[i]
  row("\(abiLabel[i]) allowed: avg insns (\(a.allowed.count) / \(t.map { String($0.allowed.count) } ?? "-") calls)",
      a.allowed.average, t?.allowed.average, l?.allowed.average, "≤ 10", digits: 1)
  row("\(abiLabel[i]) allowed: worst insns", Double(a.allowed.worst), t.map { Double($0.allowed.worst) },
      l.map { Double($0.allowed.worst) }, "≤ 16")
  row("\(abiLabel[i]) denied: avg insns (\(a.denied.count) / \(t.map { String($0.denied.count) } ?? "-") calls)",
      a.denied.average, t?.denied.average, l?.denied.average, "", digits: 1)
  row("\(abiLabel[i]) denied: worst insns", Double(a.denied.worst), t.map { Double($0.denied.worst) },
      l.map { Double($0.denied.worst) }, "")
}
printTable(["metric", "syscage", "libseccomp tree", "libseccomp linear", "tree/syscage", "target"], rows)
print("")

print("== Kernel action cache (emulated seccomp_is_const_allow): cacheable / argument-free allowed / allowed ==")
rows = []
for (i, _) in abis.enumerated() {
  func cell(_ f: ABIFigures?) -> String { f.map { "\($0.cacheable) / \($0.argumentFree) / \($0.allowed.count)" } ?? "-" }
  let note = i == 2 ? "path only: the kernel never caches x32 numbers" : "all argument-free"
  rows.append([abiLabel[i], cell(ours[i]), cell(tree?[i]), cell(linear?[i]), note])
}
printTable(["ABI", "syscage", "libseccomp tree", "libseccomp linear", "target"], rows)
print("")

print("== Instructions for some x86_64 calls (zero arguments) ==")
rows = []
for name in ["read", "write", "futex", "openat", "getpid", "mseal", "socket", "personality", "clone", "keyctl", "ptrace"] {
  rows.append([name] + [ours[0], tree?[0], linear?[0]].map { f in f.flatMap { $0.perSyscall[name] }.map(String.init) ?? "-" })
}
printTable(["syscall", "syscage", "libseccomp tree", "libseccomp linear"], rows)
print("")

// MARK: - Table 2: compile time

print("== Compile time (median) ==")
let decodeUs = medianMicroseconds(compileRuns) { _ = try? Profile.decode(bytes, file: nil) }
var sink = 0
let policyUs = medianMicroseconds(compileRuns) { sink &+= Policy(profile: profile, options: options).arches.count }
let codegenUs = medianMicroseconds(compileRuns) { sink &+= ((try? Compiler.compile(policy)) ?? []).count }
let bothUs = medianMicroseconds(compileRuns) {
  sink &+= ((try? Compiler.compile(Policy(profile: profile, options: options))) ?? []).count
}
rows = [
  ["JSON decode (not in libseccomp's figure)", fmt(decodeUs) + " µs", "-", "-", ""],
  ["Policy construction", fmt(policyUs) + " µs", "-", "-", ""],
  ["Compiler.compile", fmt(codegenUs) + " µs", "-", "-", ""],
  [
    "policy + compile / libseccomp rules + export", fmt(bothUs) + " µs",
    other?.treeMedianUs.map { fmt($0) + " µs" } ?? "-", other?.linearMedianUs.map { fmt($0) + " µs" } ?? "-",
    ratio(other?.treeMedianUs, bothUs),
  ],
]
printTable(["step", "syscage (\(compileRuns) runs)", "libseccomp tree (\(libseccompRuns))", "libseccomp linear", "tree/syscage"], rows)
print("target: policy + compile ≤ 1 ms (1000 µs)")
print("")

// MARK: - Table 3: nanoseconds per call

struct Call {
  var label: String
  var abi: Int32
  var arch: Arch
  var nr: Int
  var args: [UInt64]
}
let calls = [
  Call(label: "personality(0xffffffff), argument-checked allow", abi: 0, arch: .x86_64, nr: 135, args: [0xffff_ffff]),
  Call(label: "keyctl(0xffff), denied: EPERM", abi: 0, arch: .x86_64, nr: 250, args: [0xffff]),
  Call(label: "ia32 personality(0xffffffff), int $0x80", abi: 1, arch: .x86, nr: 136, args: [0xffff_ffff]),
  Call(label: "x32 getpid (39 | 0x40000000), allowed", abi: 0, arch: .x32, nr: 0x4000_0027, args: []),
]

func errnoName(_ e: Int) -> String {
  switch e {
  case 1: "EPERM"
  case 22: "EINVAL"
  case 38: "ENOSYS"
  case 95: "EOPNOTSUPP"
  default: "errno \(e)"
  }
}
func describe(_ result: Int) -> String { result < 0 && result > -4096 ? errnoName(-result) : "ret \(result)" }

/// One timing: mean ns per call and the call's return value, or the failure.
func measure(_ program: [BPFInstruction], _ call: Call) -> Result<(Double, Int), ProcessError> {
  let filter = program.map { sock_filter(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) }
  let args = (call.args + [UInt64](repeating: 0, count: 6)).prefix(6).map { $0 }
  var ns = 0.0
  var best = 0.0
  var result = 0
  let rc = filter.withUnsafeBufferPointer { f in
    args.withUnsafeBufferPointer { a in
      cbench_filter_batches(
        f.baseAddress, UInt16(f.count), call.abi, call.nr, a.baseAddress, callsPerTiming, batches, &ns, &best, &result)
    }
  }
  if rc != 0 {
    let e = errno
    return .failure(ProcessError(e == EINTR ? "the child died without a result" : String(cString: strerror(e))))
  }
  return .success((wholeLoop ? ns : best, result))
}

var overheadRatios: [Double] = []
let jitSetting = ((try? String(contentsOfFile: "/proc/sys/net/core/bpf_jit_enable", encoding: .utf8)) ?? "?")
  .trimmingCharacters(in: .whitespacesAndNewlines)
if skipTiming {
  print("== Nanoseconds per call: skipped (NO_TIMING) ==")
} else {
  let estimator = wholeLoop
    ? "the mean over all \(callsPerTiming) calls"
    : "the fastest of \(batches) batches of \(callsPerTiming / batches) calls"
  print("== Nanoseconds per call: median of \(rounds) rounds, each \(estimator); conditions interleaved ==")
  // Conditions, in this order: no filter; a minimal filter that always runs (it loads an
  // argument, so the kernel cannot cache it) and allows, for seccomp's fixed cost;
  // syscage; libseccomp's tree.
  let minimal: [BPFInstruction] = [.load(SeccompDataLayout.argument(0, high: false, endianness: .little)), .ret(.allow)]
  var programs: [[BPFInstruction]] = [[], minimal, syscage]
  var names = ["no filter", "2-insn filter", "syscage", "libseccomp"]
  if let other { programs.append(other.tree) } else { names.removeLast() }
  var samples = [[[Double]]](repeating: [[Double]](repeating: [], count: programs.count), count: calls.count)
  var results = [[Int?]](repeating: [Int?](repeating: nil, count: programs.count), count: calls.count)
  var failures: [String] = []
  for round in 0..<rounds {
    for (ci, call) in calls.enumerated() {
      for k in 0..<programs.count {
        let p = (k + round + ci) % programs.count  // rotate the order to cancel drift
        switch measure(programs[p], call) {
        case .success(let (ns, r)):
          samples[ci][p].append(ns)
          results[ci][p] = r
        case .failure(let e):
          if round == 0 { failures.append("\(call.label) under \(names[p]): \(e)") }
        }
      }
    }
  }
  rows = []
  for (ci, call) in calls.enumerated() {
    let m = samples[ci].map { $0.isEmpty ? nil : median($0) }
    func cell(_ p: Int) -> String {
      guard p < programs.count, let v = m[p] else { return "-" }
      return fmt(v) + " (" + (results[ci][p].map(describe) ?? "?") + ")"
    }
    func steps(_ p: [BPFInstruction]) -> String {
      let r = Interpreter.run(p, on: SeccompData(nr: UInt32(truncatingIfNeeded: call.nr), arch: call.arch.auditArch, args: call.args))
      let cached = call.arch != .x32 && KernelCache.isCached(p, arch: call.arch.auditArch, nr: UInt32(truncatingIfNeeded: call.nr))
      return "\(r.steps)\(cached ? " CACHED" : "")"
    }
    func over(_ p: Int) -> Double? { p < programs.count ? m[0].flatMap { bare in m[p].map { $0 - bare } } : nil }
    let oursOver = over(2)
    let theirsOver = over(3)
    var r = "-"
    if let o = oursOver, let t = theirsOver {
      r = t > 0 ? fmt(o / t, 2) : "n/a"
      if t > 0, o > 0 { overheadRatios.append(o / t) }
    }
    rows.append([
      call.label, cell(0), cell(1), cell(2), cell(3), over(1).map { fmt($0) } ?? "-", oursOver.map { fmt($0) } ?? "-",
      theirsOver.map { fmt($0) } ?? "-", r, steps(syscage) + " / " + (other.map { steps($0.tree) } ?? "-"),
    ])
  }
  printTable(
    [
      "call", "no filter ns", "2-insn filter ns", "syscage ns", "libseccomp ns", "2-insn +ns", "syscage +ns",
      "libseccomp +ns", "overhead ratio", "insns (ours / lib)",
    ],
    rows)
  let spreads = samples.joined().filter { $0.count > 1 }.map { ($0.max()! - $0.min()!) / median($0) }
  if let worst = spreads.max() {
    print("spread across rounds, (max − min) / median: \(fmt(median(spreads) * 100))% typical, \(fmt(worst * 100))% worst")
    if median(spreads) > 0.15 {
      print("WARNING: the machine was busy during the timings (typical spread > 15%); rerun on an idle machine.")
    }
  }
  for f in failures { print("failed: \(f)") }
  print("(ret/errno: what the last call returned; +ns: ns under the filter − ns with no filter;")
  print(" overhead ratio: syscage's +ns / libseccomp's +ns, lower is better; CACHED: the kernel would skip the filter;")
  print(" 2-insn filter: `ld args[0]; ret ALLOW`, seccomp's fixed cost of running any filter")
  print(" (BPF JIT: bpf_jit_enable = \(jitSetting); with the JIT a filter runs as native code))")
  if calls.contains(where: { $0.arch == .x32 }) {
    print(" x32: this kernel's answer without CONFIG_X86_X32_ABI is ENOSYS, after the filter ran, so the filter is measured.")
  }
  print(" keyctl: the bare call runs keyctl's unknown-command path (EOPNOTSUPP); under the filters the body is skipped.")
}
print("")

// MARK: - Notes and targets

print("Notes:")
print("- syscage's program includes runc's ENOSYS stub semantics (numbers above the profile's highest → ENOSYS)")
print("  at no cost; libseccomp's program does not include runc's stub, which runc prepends (5–6 more")
print("  instructions executed per call). Its figures above are libseccomp's alone.")
print("- Filters are loaded with SECCOMP_FILTER_FLAG_SPEC_ALLOW, as runc loads them.")
print("")
print("== Targets ==")
rows = []
@MainActor func target(_ what: String, _ value: String, _ met: Bool?) {
  rows.append([what, value, met.map { $0 ? "yes" : "NO" } ?? "-"])
}
target("program length ≤ 1246/3 = 415", "\(syscage.count)", syscage.count <= 1246 / 3)
target("x86_64 allowed avg ≤ 10 insns (libseccomp 14.9)", fmt(ours[0].allowed.average), ours[0].allowed.average <= 10)
target("x86_64 allowed worst ≤ 16 insns (libseccomp 24)", String(ours[0].allowed.worst), ours[0].allowed.worst <= 16)
target("same, every ABI (x86_64 / ia32 / x32): avg ≤ 10", ours.map { fmt($0.allowed.average) }.joined(separator: " / "),
       ours.allSatisfy { $0.allowed.average <= 10 })
target("same, every ABI (x86_64 / ia32 / x32): worst ≤ 16", ours.map { String($0.allowed.worst) }.joined(separator: " / "),
       ours.allSatisfy { $0.allowed.worst <= 16 })
let cacheOK = ours.prefix(2).allSatisfy { $0.cacheable == $0.argumentFree }
target("every argument-free allowed call cacheable (x86_64, ia32)",
       ours.prefix(2).map { "\($0.cacheable)/\($0.argumentFree)" }.joined(separator: ", "), cacheOK)
target("policy + compile ≤ 1 ms (libseccomp 11–15 ms)", fmt(bothUs) + " µs", bothUs <= 1000)
if !overheadRatios.isEmpty {
  let geo = exp(overheadRatios.map { log($0) }.reduce(0, +) / Double(overheadRatios.count))
  target("ns overhead vs libseccomp's (geometric mean of ratios)", fmt(geo, 2), nil)
}
printTable(["target", "syscage", "met"], rows)
if sink == 42 { print("") }  // keeps the timed work observable
try? FileManager.default.removeItem(at: scratch)
