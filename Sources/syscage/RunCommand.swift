import ArgumentParser
import Enforcement
import Foundation
import Seccomp
import Syscalls

struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run a program under a profile.",
    discussion: """
      Compiles the profile for this machine's ABIs, sets no_new_privs (unless \
      --allow-new-privs), loads the filter in the child just before execve, and exits \
      with the program's status (128 + signal when it was killed). When seccomp kills \
      the program, says which syscall did it. syscage's own failures exit 125 (bad \
      profile, filter refused), 126 (cannot execute) and 127 (not found).

      The expansion assumes the capabilities syscage itself has and the running kernel.

      Examples:
        syscage run --profile app.json -- ./app --port 8080
        syscage run --profile docker.json --log-denials -- sh -c 'mkdir /tmp/x'
      """)

  @Option(help: "The profile (Docker or OCI JSON).")
  var profile: String

  @Flag(help: "Log ERRNO denials to the kernel log too (SECCOMP_FILTER_FLAG_LOG).")
  var logDenials = false

  @Flag(help: "Leave no_new_privs unset, as Docker does (needs CAP_SYS_ADMIN).")
  var allowNewPrivs = false

  @Flag(help: "Do not return ENOSYS for numbers above the highest the profile names.")
  var noEnosysStub = false

  @Flag(help: "Treat warnings as errors.")
  var strict = false

  @Flag(help: "Run the program even when the profile disables seccomp (no defaultAction and no syscalls).")
  var unconfined = false

  @Argument(parsing: .captureForPassthrough, help: "The program and its arguments (after --).")
  var command: [String] = []

  func validate() throws {
    try rejectUnknownOptions(in: command, of: Self.self)
    _ = try wrappedCommand(command)
  }

  func run() throws {
    let argv = try wrappedCommand(command)
    let name = argv[0]
    let (_, policy) = try loadForWrapping(profile, strict: strict, enosysStub: !noEnosysStub, unconfined: unconfined)
    for f in Preflight.check(policy) {
      if f.isFatal {
        printError("syscage: \(profile) does not allow execve on \(f.arch) (\(f.decision.action)): the program cannot start; allow execve")
        throw ExitCode(125)
      }
      printError("syscage: warning: \(profile) refuses \(f.syscall) (\(f.decision.action)), which the loader and libc usually call before main")
    }
    let program: [BPFInstruction]
    do {
      program = try Compiler.compile(policy)
    } catch {
      printError("syscage: \(profile): \(error)")
      throw ExitCode(125)
    }
    guard let path = Launcher.resolve(name) else {
      printError("syscage: \(name): command not found")
      throw ExitCode(127)
    }
    var flags = policy.flags.filter { $0 != .tsync }.reduce(UInt32(0)) { $0 | $1.bit }
    if logDenials { flags |= FilterFlag.log.bit }
    let request = Launcher.Request(executable: path, arguments: argv, program: program, flags: flags, noNewPrivileges: !allowNewPrivs)
    let outcome: Launcher.Outcome
    do {
      outcome = try Launcher.run(request)
    } catch {
      printError("syscage: \(name): \(error)")
      throw ExitCode(error.exitStatus)
    }
    if let kill = outcome.seccompKill {
      let decision = policy.decide(arch: kill.arch, number: kill.number)
      let why: String
      switch decision.reason {
      case .rule(let i): why = "by \(decision.arch.flatMap { policy.policy(for: $0)?.rules[i].source } ?? "a rule") of \(profile)"
      case .defaultAction: why = "not allowed by \(profile) (default action \(decision.action))"
      case .badArch, .x32Rejected: why = "\(kill.arch) calls are not allowed by \(profile) (\(policy.badArchAction) for other ABIs)"
      default: why = "by \(profile) (\(decision))"
      }
      printError("syscage: killed by seccomp: \(kill.name ?? "syscall") (\(kill.number), \(kill.arch)), \(why)")
    }
    throw ExitCode(outcome.termination.shellStatus)
  }
}
