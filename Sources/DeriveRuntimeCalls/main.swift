// derive-runtime-calls: finds the calls each container runtime makes after installing a
// container's seccomp filter, by recording it start /bin/true from a busybox-static rootfs
// under a filter that allows everything but one marker call (see RuntimeCalls.derive):
// runc and crun (OCI bundles, noNewPrivileges false and true), LXC (lxc-execute, v2 policy,
// lxc.no_new_privs 0 and 1), systemd-nspawn (--system-call-filter, --no-new-privileges no
// and yes) and bubblewrap (--seccomp FD; always no_new_privs). Each set is the union of
// --runs runs. Prints the sets (--json: one JSON object per runtime and mode, with the
// calls of the program itself too). With --busy every other run has every CPU kept busy by
// spinning processes, so that calls that depend on who wins a race (a helper waiting, or
// killed before its exit_group) show up in one condition or the other. --check exits 1 when a call found is missing from the
// committed set; --write renders GeneratedRuntimeCalls.swift (Sources/Seccomp) with the
// new sets (the runtimes not derived keep their committed sets); with --merge, a runtime
// whose version is the committed one gets the union of its committed and new sets (and
// the runs of both), for calls that appear in few runs.
//
//   swift run derive-runtime-calls [--runtime NAME]... [--runs N] [--check] [--write [--output FILE]] [--busybox PATH]
// Needs root and busybox-static; a runtime not installed is skipped (an error when named).
import Foundation
import Enforcement
import Processes
import Recording
import Seccomp
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

let usage =
  "usage: derive-runtime-calls [--runtime runc|crun|lxc|nspawn|bwrap]... [--runs N] [--check] [--json] [--busy] [--write [--merge] [--output FILE]] [--busybox PATH]"

func die(_ message: String, _ code: Int32 = 2) -> Never {
  FileHandle.standardError.write(Data("derive-runtime-calls: \(message)\n".utf8))
  exit(code)
}

func note(_ message: String) { FileHandle.standardError.write(Data("\(message)\n".utf8)) }

var runs = 5
var check = false
var write = false
var json = false
var busy = false
var merge = false
var output = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .appendingPathComponent("Seccomp/GeneratedRuntimeCalls.swift")
var named: [ContainerRuntime] = []
var busybox = firstExecutable(["/bin/busybox", "/usr/bin/busybox"])
var args = Array(CommandLine.arguments.dropFirst())
@MainActor func value(_ option: String) -> String {
  guard !args.isEmpty else { die("\(option) needs a value; \(usage)", 64) }
  return args.removeFirst()
}
while !args.isEmpty {
  let a = args.removeFirst()
  switch a {
  case "--runs":
    guard let n = Int(value(a)), n > 0 else { die("--runs takes a positive number", 64) }
    runs = n
  case "--check": check = true
  case "--write": write = true
  case "--json": json = true
  case "--busy": busy = true
  case "--merge": merge = true
  case "--output": output = URL(fileURLWithPath: value(a))
  case "--runtime":
    let name = value(a)
    guard let runtime = ContainerRuntime(rawValue: name) else {
      die("unknown runtime \(name): one of \(ContainerRuntime.allCases.map(\.rawValue).joined(separator: ", "))", 64)
    }
    named.append(runtime)
  case "--busybox": busybox = value(a)
  case "-h", "--help":
    print(usage)
    exit(0)
  default: die("unknown argument \(a); \(usage)", 64)
  }
}
guard geteuid() == 0 else { die("needs root: the runtimes create namespaces and mounts", 69) }
guard let busybox else { die("busybox-static not found (apt-get install busybox-static)", 69) }

let fm = FileManager.default
let dir = fm.temporaryDirectory.appendingPathComponent("syscage-derive-\(getpid())")
let engines = Engines(dir: dir, busybox: busybox, tag: "syscage-derive-\(getpid())")
var made: [Engine] = []
@MainActor func tearDown() {
  for engine in made { engine.tearDown() }
  try? fm.removeItem(at: dir)
}
@MainActor func fail(_ message: String, _ code: Int32 = 1) -> Never {
  tearDown()
  die(message, code)
}

for runtime in named.isEmpty ? ContainerRuntime.allCases : named {
  do {
    if let engine = try engines.make(runtime) {
      made.append(engine)
    } else if !named.isEmpty {
      fail("\(runtime) is not installed", 69)
    } else {
      note("\(runtime): not installed, skipped")
    }
  } catch {
    fail("cannot set up \(runtime): \(error)", 69)
  }
}

/// Records one run; fails unless the runtime started the program under the stack it should.
@MainActor func record(_ engine: Engine, mode: Bool, marker: String, run: Int) -> RuntimeCalls.Derivation {
  let launch: Launch
  do { launch = try engine.launch(mode, marker, run) } catch { fail("cannot set up \(engine.runtime): \(error)") }
  let derivation: RuntimeCalls.Derivation
  do {
    derivation = try RuntimeCalls.derive(
      executable: launch.executable, arguments: launch.arguments, filtersBefore: engine.filtersBefore)
  } catch {
    launch.cleanup()
    fail("cannot record \(engine.runtime): \(error)")
  }
  launch.cleanup()
  guard derivation.termination == .exited(0) else {
    fail("\(engine.runtime) (noNewPrivileges \(mode)) ended \(derivation.termination) with a filter refusing \(marker)")
  }
  guard derivation.filteredProcesses > 0, derivation.filtersAtExec != nil else {
    fail("\(engine.runtime): no process ran /bin/true under the container's filter; was the profile applied?")
  }
  return derivation
}

/// Threads of this process spinning, one per CPU, until `stop`. (Not processes: the
/// recorder runs until it has no child left, and orphans would become its children.)
final class Spinners: Sendable {
  let stopped = Atomic<Bool>(false)
  let running = Atomic<Int>(0)

  init() {
    for _ in 0..<max(1, ProcessInfo.processInfo.activeProcessorCount) {
      running.add(1, ordering: .relaxed)
      Thread { [self] in
        var n: UInt64 = 0
        while !stopped.load(ordering: .relaxed) { n &+= 1 }
        running.subtract(1, ordering: .relaxed)
      }.start()
    }
  }

  func stop() {
    stopped.store(true, ordering: .relaxed)
    while running.load(ordering: .relaxed) > 0 { usleep(1000) }
  }
}

var derived: [ContainerRuntime: [Bool: [String]]] = [:]
var sources: [ContainerRuntime: RuntimeCalls.Source] = [:]
var missing: [String] = []
for engine in made {
  for mode in engine.modes {
    // The container's filter is recognised by its place in the stack: with a filter refusing
    // seccomp, the runtime can load nothing after it, so the program carries exactly the
    // filters before it plus itself.
    let control = record(engine, mode: mode, marker: "seccomp", run: 0)
    guard control.filtersAtExec == engine.filtersBefore + 1 else {
      fail(
        "\(engine.runtime): with a filter refusing seccomp the program carried \(control.filtersAtExec ?? 0) filters, "
          + "not \(engine.filtersBefore + 1): the runtime's filter stack changed; see RuntimeCalls.derive")
    }
    var union: Set<String> = []
    var program: Set<String> = []
    var lastNew = 0
    for i in 1...runs {
      let spinners = busy && i % 2 == 0 ? Spinners() : nil
      let d = record(engine, mode: mode, marker: "kexec_load", run: i)
      spinners?.stop()
      guard d.filtersAtExec == engine.filtersInAll else {
        fail("\(engine.runtime): the program carried \(d.filtersAtExec ?? 0) filters, not \(engine.filtersInAll)")
      }
      if !union.isSuperset(of: d.calls) { lastNew = i }
      union.formUnion(d.calls)
      program.formUnion(d.programCalls)
      note("\(engine.runtime) noNewPrivileges \(mode) run \(i): \(d.calls.count) calls, \(union.count) in all")
    }
    let calls = union.sorted()
    derived[engine.runtime, default: [:]][mode] = calls
    let committed = Set(ContainerRuntime.callsAfterFilter(engine.runtime)(noNewPrivileges: mode))
    let absent = calls.filter { !committed.contains($0) }
    let unseen = committed.subtracting(calls).sorted()
    if json {
      let line: [String: Any] = [
        "runtime": engine.runtime.rawValue, "version": engine.version, "noNewPrivileges": mode, "runs": runs,
        "lastNewCallInRun": lastNew, "calls": calls, "programCalls": program.sorted(), "missingFromCommitted": absent,
        "committedNotSeen": unseen,
      ]
      let data = (try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])) ?? Data()
      print(String(decoding: data, as: UTF8.self))
    } else {
      print(
        "\(engine.runtime) (\(engine.version)) noNewPrivileges \(mode): \(calls.count) calls in \(runs) runs, "
          + "the last new one in run \(lastNew)")
      print("  " + calls.joined(separator: " "))
      if !unseen.isEmpty { print("  committed but not seen in these runs: \(unseen.joined(separator: " "))") }
    }
    if !absent.isEmpty {
      missing.append("\(engine.runtime) noNewPrivileges \(mode): \(absent.joined(separator: ", "))")
    }
  }
  if engine.modes.count == 1, let only = engine.modes.first {
    derived[engine.runtime]![!only] = derived[engine.runtime]![only]
  }
  sources[engine.runtime] = RuntimeCalls.Source(version: engine.version, runs: runs, modes: engine.modes)
}
tearDown()

if write {
  var sets = RuntimeCalls.recorded
  var allSources = RuntimeCalls.sources
  for (runtime, var modes) in derived {
    var source = sources[runtime]!
    if merge, let old = allSources[runtime], old.version == source.version {
      for (mode, calls) in modes { modes[mode] = Set(calls).union(sets[runtime]?[mode] ?? []).sorted() }
      source.runs += old.runs
    }
    sets[runtime] = modes
    allSources[runtime] = source
  }
  do {
    try Data(RuntimeCalls.renderGenerated(sets, sources: allSources).utf8).write(to: output, options: .atomic)
  } catch {
    die("cannot write \(output.path): \(error)", 73)
  }
  note("wrote \(output.path)")
} else if check && !missing.isEmpty {
  die(
    "calls found that the committed sets lack:\n  " + missing.joined(separator: "\n  ")
      + "\nre-run `swift run derive-runtime-calls --write` (as root, with every runtime installed) and commit the result", 1)
}
