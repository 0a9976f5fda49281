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
      Recording waits until every traced process has ended. Ctrl-C reaches the program \
      as it would without syscage; the profile is still written.

      Exits with the program's status (128 + signal when it was killed); syscage's own \
      failures exit 125 (cannot trace, cannot write the profile), 126 (cannot execute) \
      and 127 (not found). Nothing is written to the program's stdout.

      Examples:
        syscage record -o ls.json -- ls -l /
        syscage record -o app.json --format oci -c -- ./app --selftest
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
      recording = try Recorder.record(executable: path, arguments: argv, timing: count || json)
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
    if json { printError(jsonLine(jsonObject(recording))) }
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
    ]
  }
}
