// record-stability: do recorded profiles hold on the next run? Records each program N
// times with `syscage record --default-action kill-process` (one profile per recording),
// replays every profile M times with `syscage run`, and prints per program how many
// replays passed (exit status 0, the expected output, no process left behind), which
// calls only some recordings made, and the statuses of the failed replays.
//
// The programs: a Go hello world, a Go HTTP server answering one request on 127.0.0.1
// (both built with `go build` from Debian's golang-go) and a Python multiprocessing.Pool
// program (/usr/bin/python3).
//
//   swift build --product syscage
//   swift run record-stability [--recordings N] [--replays M] [--syscage PATH]
//                              [--record-option OPT]... [PROGRAM ...]
//
// PROGRAM is go-hello, go-http or python-pool (default: all three). --record-option
// passes an option to every `syscage record` (e.g. --no-runtimes to see what a profile
// without the runtime entries does).
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

struct Outcome {
  var status: Int32
  var output: String
  var leftOver: Bool
  var timedOut: Bool
}

/// Runs argv in a process group of its own, stdin /dev/null, stdout and stderr to a
/// file; waits up to `timeout` seconds, then kills the group. `leftOver`: processes of
/// the group were still alive after the leader ended (killed then).
func spawn(_ argv: [String], timeout: Double = 60) -> Outcome {
  let out = NSTemporaryDirectory() + "/record-stability-\(UUID().uuidString)"
  defer { unlink(out) }
  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
  posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  posix_spawn_file_actions_adddup2(&actions, 1, 2)
  var attr = posix_spawnattr_t()
  posix_spawnattr_init(&attr)
  defer { posix_spawnattr_destroy(&attr) }
  posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
  posix_spawnattr_setpgroup(&attr, 0)
  var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
  cargs.append(nil)
  defer { for p in cargs { free(p) } }
  var pid: pid_t = 0
  guard posix_spawn(&pid, argv[0], &actions, &attr, cargs, environ) == 0 else {
    return Outcome(status: 127, output: "cannot run \(argv[0])", leftOver: false, timedOut: false)
  }
  var status: Int32 = 0
  let deadline = Date().addingTimeInterval(timeout)
  var timedOut = false
  while true {
    let r = waitpid(pid, &status, WNOHANG)
    if r == pid { break }
    if r < 0 && errno != EINTR { break }
    if Date() > deadline {
      timedOut = true
      kill(-pid, SIGKILL)
      _ = waitpid(pid, &status, 0)
      break
    }
    usleep(2000)
  }
  // Give a pool worker a moment to notice its parent is gone, then look for the group.
  var leftOver = false
  for _ in 0..<50 {
    if kill(-pid, 0) != 0 { break }
    leftOver = true
    usleep(10_000)
  }
  if kill(-pid, 0) == 0 {
    leftOver = true
    kill(-pid, SIGKILL)
  } else {
    leftOver = false
  }
  let output = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
  let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
  return Outcome(status: timedOut ? -1 : code, output: output, leftOver: leftOver, timedOut: timedOut)
}

struct Program {
  var name: String
  var argv: [String]
  /// What the program prints on stdout when it works.
  var expected: String
}

/// A line on stdout, unbuffered (progress shows while the benchmark runs).
func say(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func fail(_ message: String) -> Never {
  try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "/record-stability-\(getpid())")
  FileHandle.standardError.write(Data("record-stability: \(message)\n".utf8))
  exit(1)
}

/// Builds the Go programs into `dir` (GOCACHE inside it, no modules).
func buildGo(_ name: String, _ source: String, in dir: String) -> String {
  let src = dir + "/\(name).go"
  let exe = dir + "/\(name)"
  try? Data(source.utf8).write(to: URL(fileURLWithPath: src))
  let go = ["/usr/bin/go", "/usr/lib/go/bin/go"].first { FileManager.default.isExecutableFile(atPath: $0) }
  guard let go else { fail("needs Go (apt-get install golang-go)") }
  setenv("GOCACHE", dir + "/gocache", 1)
  setenv("GO111MODULE", "off", 1)
  setenv("GOFLAGS", "", 1)
  let r = spawn([go, "build", "-o", exe, src], timeout: 600)
  guard r.status == 0 else { fail("go build \(name): \(r.output)") }
  return exe
}

/// The programs' sources, in Tests/Programs (the tests build the same files).
func program(_ name: String) -> String {
  let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  guard let text = try? String(contentsOf: root.appendingPathComponent("Tests/Programs/\(name)"), encoding: .utf8) else {
    fail("cannot read Tests/Programs/\(name)")
  }
  return text
}

let goHello = program("hello.go")

let goHTTP = program("http.go")

let pythonPool = program("pool.py")

var recordings = 20
var replays = 50
var syscage = FileManager.default.currentDirectoryPath + "/.build/debug/syscage"
var recordOptions: [String] = []
var chosen: [String] = []
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
  let a = args.removeFirst()
  switch a {
  case "--recordings": recordings = Int(args.isEmpty ? "" : args.removeFirst()) ?? 0
  case "--replays": replays = Int(args.isEmpty ? "" : args.removeFirst()) ?? 0
  case "--syscage": syscage = args.isEmpty ? "" : args.removeFirst()
  case "--record-option": recordOptions.append(args.isEmpty ? "" : args.removeFirst())
  case "go-hello", "go-http", "python-pool": chosen.append(a)
  default: fail("unknown argument \(a)")
  }
}
guard recordings > 0, replays > 0 else { fail("--recordings and --replays want a number above 0") }
guard FileManager.default.isExecutableFile(atPath: syscage) else { fail("no syscage at \(syscage) (swift build first, or --syscage)") }
if chosen.isEmpty { chosen = ["go-hello", "go-http", "python-pool"] }

let dir = NSTemporaryDirectory() + "/record-stability-\(getpid())"
try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)

var programs: [Program] = []
for name in chosen {
  switch name {
  case "go-hello": programs.append(Program(name: name, argv: [buildGo("hello", goHello, in: dir)], expected: "hello, world\n"))
  case "go-http": programs.append(Program(name: name, argv: [buildGo("http", goHTTP, in: dir)], expected: "ok\n"))
  default:
    let script = dir + "/pool.py"
    try? Data(pythonPool.utf8).write(to: URL(fileURLWithPath: script))
    programs.append(Program(name: name, argv: ["/usr/bin/python3", script], expected: "328350\n"))
  }
}

say("record-stability: \(recordings) recordings x \(replays) replays each, --default-action kill-process\(recordOptions.isEmpty ? "" : " " + recordOptions.joined(separator: " "))")
say("program       recordings  replays  passed  failed  profiles failing  calls only some recordings made")
var allPassed = true
for program in programs {
  var callSets: [Set<String>] = []
  var passed = 0, failed = 0, failingProfiles = 0
  var statuses: [String: Int] = [:]
  for r in 0..<recordings {
    let profile = dir + "/\(program.name)-\(r).json"
    let rec = spawn([syscage, "record", "-o", profile, "--default-action", "kill-process", "--json", "--stops", "one"] + recordOptions + ["--"] + program.argv)
    guard rec.status == 0, rec.output.contains(program.expected) else { fail("recording \(program.name) failed (\(rec.status)): \(rec.output)") }
    if let line = rec.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
      let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
      let arches = object["arches"] as? [String: [String: Any]]
    {
      callSets.append(Set(arches.values.flatMap(\.keys)))
    }
    var profileFailed = false
    for _ in 0..<replays {
      let o = spawn([syscage, "run", "--profile", profile, "--"] + program.argv)
      if o.status == 0 && o.output.hasSuffix(program.expected) && !o.leftOver {
        passed += 1
      } else {
        failed += 1
        profileFailed = true
        let why = o.timedOut ? "timed out" : "status \(o.status)" + (o.leftOver ? ", processes left" : "")
        statuses[why, default: 0] += 1
      }
    }
    if profileFailed { failingProfiles += 1 }
  }
  let union = callSets.reduce(Set<String>()) { $0.union($1) }
  let sometimes = union.filter { c in !callSets.allSatisfy { $0.contains(c) } }.sorted().map { c in
    "\(c) \(callSets.filter { $0.contains(c) }.count)/\(callSets.count)"
  }
  let line = [
    program.name.padding(toLength: 13, withPad: " ", startingAt: 0), String(format: "%10d", recordings),
    String(format: "%8d", recordings * replays), String(format: "%7d", passed), String(format: "%7d", failed),
    String(format: "%17d", failingProfiles), " " + (sometimes.isEmpty ? "-" : sometimes.joined(separator: ", ")),
  ]
  say(line.joined(separator: " "))
  if !statuses.isEmpty {
    say("  failed replays: " + statuses.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
  }
  if failed > 0 { allPassed = false }
}
try? FileManager.default.removeItem(atPath: dir)
exit(allPassed ? 0 : 1)
