// record-benchmark: the cost of recording a program's syscalls, as ratios to the
// untraced run: untraced, strace -c -f, syscage record (one stop per call, profile
// only, the program on the tracer's CPU until it forks), record --cpus all (left to the
// scheduler), record -c (two stops), record --baseline with a complete baseline (recorded
// just before), and record --backend ebpf (as root); then that recorded profile under
// run and under watch (nothing violates it: allowed calls never leave the kernel, so
// watch should cost what run costs). Median wall time of N runs each,
// and the peak resident memory (wait4's ru_maxrss: the larger of syscage and its tracee).
//
//   swift build -c release --product syscage
//   swift run -c release record-benchmark [--runs N] [--count N] [--syscage PATH]
import Foundation
import Recording

#if canImport(Glibc)
  import Glibc
#endif

struct Measure {
  var seconds: Double
  var maxrssKB: Int
  var status: Int32
}

/// Runs argv with stdin, stdout and stderr on /dev/null; wall time and ru_maxrss.
func measure(_ argv: [String]) -> Measure {
  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
  var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
  cargs.append(nil)
  defer { for p in cargs { free(p) } }
  var pid: pid_t = 0
  var start = timespec(), end = timespec()
  clock_gettime(CLOCK_MONOTONIC, &start)
  let rc = posix_spawn(&pid, argv[0], &actions, nil, cargs, environ)
  guard rc == 0 else {
    FileHandle.standardError.write(Data("cannot run \(argv[0]): \(String(cString: strerror(rc)))\n".utf8))
    exit(1)
  }
  var status: Int32 = 0
  var usage = rusage()
  while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
  clock_gettime(CLOCK_MONOTONIC, &end)
  let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
  return Measure(seconds: seconds, maxrssKB: Int(usage.ru_maxrss), status: status)
}

func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }

var runs = 3
var count = 500_000
var syscage = FileManager.default.currentDirectoryPath + "/.build/release/syscage"
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
  let a = args.removeFirst()
  switch a {
  case "--runs": runs = Int(args.removeFirst()) ?? runs
  case "--count": count = Int(args.removeFirst()) ?? count
  case "--syscage": syscage = args.removeFirst()
  default:
    print("usage: record-benchmark [--runs N] [--count N] [--syscage PATH]")
    exit(2)
  }
}
guard FileManager.default.isExecutableFile(atPath: syscage) else {
  print("no syscage at \(syscage): run `swift build -c release --product syscage` first (or pass --syscage)")
  exit(1)
}
let strace = ["/usr/bin/strace", "/bin/strace"].first { FileManager.default.isExecutableFile(atPath: $0) }
let profile = FileManager.default.temporaryDirectory.appendingPathComponent("record-benchmark-\(getpid()).json").path
defer { unlink(profile) }

let workloads: [(name: String, argv: [String])] = [
  ("dd bs=1 count=\(count)", ["/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=\(count)"]),
  ("tar cf /dev/null /usr/include", ["/bin/tar", "cf", "/dev/null", "/usr/include"]),
  // GNU tar does not read the files when the archive is /dev/null; through a pipe it does.
  ("sh -c 'tar cf - /usr/include | cat'", ["/bin/sh", "-c", "/bin/tar cf - /usr/include | /bin/cat >/dev/null"]),
]
var methods: [(name: String, prefix: [String])] = [("untraced", [])]
if let strace { methods.append(("strace -c -f", [strace, "-c", "-f", "-o", "/dev/null"])) }
methods.append(("record (one stop)", [syscage, "record", "-o", profile, "--"]))
methods.append(("record -c (two stops)", [syscage, "record", "-o", profile, "-c", "--"]))
methods.append(("record --cpus all", [syscage, "record", "-o", profile, "--cpus", "all", "--"]))
let baseline = FileManager.default.temporaryDirectory.appendingPathComponent("record-benchmark-base-\(getpid()).json").path
defer { unlink(baseline) }
methods.append(("record --baseline", [syscage, "record", "-o", profile, "--baseline", baseline, "--"]))
// The recorded profile enforced, and watched (nothing violates it): both should cost
// what the filter costs, since allowed calls never leave the kernel.
methods.append(("run --profile (recorded)", [syscage, "run", "--profile", baseline, "--"]))
methods.append(("watch --profile (recorded)", [syscage, "watch", "--profile", baseline, "--"]))
if geteuid() == 0 {
  methods.append(("record --backend ebpf", [syscage, "record", "-o", profile, "--backend", "ebpf", "--"]))
} else {
  print("(not root: the eBPF backend's row is missing)")
}

print("record-benchmark: median of \(runs) runs, wall time; ratio to untraced; peak RSS (ru_maxrss)")
if strace == nil { print("(strace not found: its column is missing)") }
var onestopVsStrace: [String] = []
var targets: [String] = []
var peakSyscageKB = 0
var untracedKB = 0
for w in workloads {
  print("\n\(w.name)")
  print("  method                       seconds     ratio   peak RSS")
  var results: [String: Double] = [:]
  // The complete baseline: this workload recorded once.
  _ = measure([syscage, "record", "-o", baseline, "--"] + w.argv)
  for m in methods {
    var times: [Double] = []
    var rss = 0
    var status: Int32 = 0
    for _ in 0..<runs {
      let r = measure(m.prefix + w.argv)
      times.append(r.seconds)
      rss = max(rss, r.maxrssKB)
      status = r.status
    }
    let t = median(times)
    results[m.name] = t
    if m.name.hasPrefix("record") { peakSyscageKB = max(peakSyscageKB, rss) }
    if m.name == "untraced" { untracedKB = max(untracedKB, rss) }
    let ratio = t / (results["untraced"] ?? t)
    let note = status == 0 ? "" : "  (status \(status))"
    print(
      "  " + m.name.padding(toLength: 26, withPad: " ", startingAt: 0)
        + String(format: "%10.3f %8.1f× %7.1f MB", t, ratio, Double(rss) / 1024) + note)
  }
  if let s = results["strace -c -f"], let o = results["record (one stop)"] {
    onestopVsStrace.append(String(format: "%@: one-stop record = %.2f × strace -c -f", w.name, o / s))
  }
  if let o = results["record (one stop)"], let c = results["record -c (two stops)"] {
    print(String(format: "  one stop / two stops: %.2f", o / c))
  }
  if let u = results["untraced"], let b = results["record --baseline"] {
    targets.append(String(format: "%@: --baseline = %.2f × untraced (target ≤ 1.2)", w.name, b / u))
  }
  if let u = results["untraced"], let r = results["run --profile (recorded)"], let wt = results["watch --profile (recorded)"] {
    targets.append(
      String(
        format: "%@: untraced %.3f s, run %.3f s, watch %.3f s: run = %.2f × untraced, watch = %.2f × untraced = %.2f × run",
        w.name, u, r, wt, r / u, wt / u, wt / r))
  }
  if let u = results["untraced"], let e = results["record --backend ebpf"] {
    targets.append(String(format: "%@: --backend ebpf = %.2f × untraced (target ≤ 2)", w.name, e / u))
  }
}
print("")
for line in onestopVsStrace + targets { print(line) }
print(String(format: "peak RSS of syscage record (with its tracee): %.1f MB (target ≤ 50 MB)", Double(peakSyscageKB) / 1024))
print(
  String(
    format: "(ru_maxrss also counts this benchmark's own pages at the spawn: the untraced peak, %.1f MB, is that floor)",
    Double(untracedKB) / 1024))
print("target: one-stop record ≤ 0.5 × strace -c -f")
_ = Recorder.traceAll.count
