import ArgumentParser
import Enforcement
import Foundation
import Recording
import Seccomp
import Syscalls

struct RecordCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "record",
    abstract: "Record the syscalls a program makes and write an allow-list profile.",
    discussion: """
      Runs the program under ptrace (following its children and threads, as strace -f \
      does), counts every syscall per ABI at its entry (exit and exit_group included), \
      and writes an allow-list profile for exactly the ABIs seen to -o: the calls seen \
      plus the guard rails (exit, exit_group, rt_sigreturn, restart_syscall and the vDSO \
      calls), ERRNO(EPERM) for the rest and ERRNO(ENOSYS) for clone3, faccessat2, \
      fchmodat2 and openat2 when they were not seen. With -c, prints the table strace -c \
      prints on stderr (time is the latency from entry to exit, as strace -c -w). \
      Recording waits until every traced process has ended.

      Without -c and --json (a profile only), the program stops once per call: \
      before its execve, the child sets no_new_privs and loads a seccomp filter \
      that sends every call to the tracer (SECCOMP_RET_TRACE), which only counts \
      it; this is about twice as fast as stopping at entry and exit. no_new_privs \
      means setuid/setgid programs run without their privileges (and file \
      capabilities are not gained), as they will under the profile anyway; use \
      --stops two to record without it. -c and --json stop at entry and exit to \
      see errors and times.

      With --verify, after writing the profile syscage runs the program again under \
      it (no_new_privs set) with every call the profile does not allow sent to \
      the tracer, which prints it on stderr ("denied: ...") and fails it with the \
      profile's errno (EPERM for KILL/TRAP actions, so the run goes on), and \
      compares the exit status with the recording's. The exit status is still the \
      recorded run's. Ctrl-C reaches the program \
      as it would without syscage; the profile is still written.

      Exits with the program's status (128 + signal when it was killed); syscage's own \
      failures exit 125 (cannot trace, cannot write the profile), 126 (cannot execute) \
      and 127 (not found). Nothing is written to the program's stdout.

      Examples:
        syscage record -o ls.json -- ls -l /
        syscage record -o app.json --format oci -c -- ./app --selftest
        syscage record -o make.json --verify -- make -j2
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable {
    case docker, oci
  }

  @Option(name: .shortAndLong, help: "Where to write the profile.")
  var output: String

  @Option(help: "The profile format: docker or oci.")
  var format: Format = .docker

  @Flag(name: .customShort("c"), help: "Print an strace -c style table on stderr.")
  var count = false

  @Flag(help: "Print the statistics as JSON on stderr.")
  var json = false

  enum Stops: String, ExpressibleByArgument, CaseIterable {
    case one, two
  }

  @Option(
    help: ArgumentHelp(
      "one: a seccomp stop per call (counts only, sets no_new_privs); two: entry and exit stops (errors and times).",
      discussion: "Defaults to one, or two with -c or --json."))
  var stops: Stops?

  @Flag(help: "Run the program again under the profile and report every call it would deny.")
  var verify = false

  @Argument(parsing: .captureForPassthrough, help: "The program and its arguments (after --).")
  var command: [String] = []

  func run() throws {
    var argv = command
    if argv.first == "--" { argv.removeFirst() }
    guard let name = argv.first else { throw ValidationError("name a program to record after --") }
    guard let path = Launcher.resolve(name) else {
      throw fail("\(name): command not found", code: 127)
    }
    let recording: Recording
    do {
      let timing = stops == .two || (stops == nil && (count || json))
      recording = try Recorder.record(executable: path, arguments: argv, timing: count || (json && stops != .one), oneStop: !timing)
    } catch {
      throw fail("\(name): \(error)", code: error.exitStatus)
    }
    let profile = recording.profile()
    let text = profile.encode(format: format == .oci ? .oci : .docker)
    do {
      try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
    } catch {
      throw fail("cannot write \(output): \(error.localizedDescription)", code: 125)
    }
    for e in recording.unnamed {
      printError("syscage: warning: \(e.arch) syscall \(e.number) has no name in the table; it is not in the profile")
    }
    if recording.unplaced > 0 {
      printError("syscage: warning: \(recording.unplaced) calls of an unknown ABI or number were not recorded")
    }
    if count { FileHandle.standardError.write(Data(StraceTable(recording).text.utf8)) }
    var verification: Verification?
    if verify {
      do {
        let v = try Verifier.verify(executable: path, arguments: argv, profile: profile)
        for d in v.denials { printError("syscage: denied: \(d.description)") }
        if v.deniedCount > v.denials.count {
          printError("syscage: … and \(v.deniedCount - v.denials.count) more denied calls")
        }
        if v.termination == recording.termination && v.deniedCount == 0 {
          printError("syscage: verify: the program ran the same under the profile (\(v.termination)), no call denied")
        } else if v.termination == recording.termination {
          printError(
            "syscage: verify: \(v.deniedCount) calls denied; the exit status is the same (\(v.termination))")
        } else {
          printError(
            "syscage: verify: DIFFERS: under the profile the program \(v.termination) (recorded: \(recording.termination)); \(v.deniedCount) calls denied"
          )
        }
        verification = v
      } catch {
        printError("syscage: verify: cannot run \(name) under the profile: \(error)")
      }
    }
    if json {
      var object = jsonObject(recording)
      if let v = verification {
        object["verify"] = [
          "status": Int(v.termination.shellStatus), "same": v.termination == recording.termination,
          "deniedCount": v.deniedCount,
          "denied": v.denials.map { d -> [String: Any] in
            [
              "name": d.name, "arch": d.arch.name, "number": Int(d.number.rawValue), "errno": Int(d.errno),
              "args": d.arguments.map { "0x" + String($0, radix: 16) }, "action": "\(d.action)",
            ]
          },
        ] as [String: Any]
      }
      printError(jsonLine(object))
    }
    throw ExitCode(recording.termination.shellStatus)
  }

  func jsonObject(_ r: Recording) -> [String: Any] {
    var arches: [String: Any] = [:]
    for arch in r.arches {
      var calls: [String: Any] = [:]
      for e in r.entries where e.arch == arch {
        calls[e.name] = [
          "number": Int(e.number.rawValue), "calls": e.statistics.calls, "errors": e.statistics.errors,
          "seconds": e.statistics.seconds,
        ]
      }
      arches[arch.name] = calls
    }
    var termination: [String: Any] = ["status": Int(r.termination.shellStatus)]
    switch r.termination {
    case .exited(let code): termination["exited"] = Int(code)
    case .signaled(let sig): termination["signal"] = Int(sig)
    }
    return [
      "pid": Int(r.pid), "termination": termination, "arches": arches, "profile": output, "tracees": r.tracees,
      "stops": r.oneStop ? "one" : "two",
    ]
  }
}
