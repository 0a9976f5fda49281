import ArgumentParser
import BPF
import Enforcement
import Foundation
import Inspection
import Processes
import Profiles
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
      the program, says which syscall did it and which rule decided (as `check` says \
      it). syscage's own failures exit 125 (bad profile, filter refused), 126 (cannot \
      execute) and 127 (not found).

      The program keeps the signals syscage was given ignored and blocked (nohup's \
      SIGHUP), as with env. A dynamically linked program whose loader calls the profile \
      refuses gets one warning before the start (--no-loader-warning). A request for \
      seccomp strict mode fails under any filter (EINVAL): a second filter stacked below \
      the profile's notices it, and syscage says so after the run (--single-filter \
      leaves it out).

      A traced program cannot trace: when the profile allows ptrace (by a rule, or by \
      its default action, as a deny-list does), the program runs untraced (no \
      detector), and a kill is named from the audit multicast, or by its signal where \
      that cannot be read (--trace-kills traces it).

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

  @Flag(help: "Do not warn when the profile refuses a call the dynamic loader makes before main.")
  var noLoaderWarning = false

  @Flag(help: "Load the profile's filter alone, without the strict-mode detector below it.")
  var singleFilter = false

  @Flag(help: "Trace the program to name a seccomp kill even when the profile allows ptrace (the program then cannot trace).")
  var traceKills = false

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
    let resolved = Launcher.resolve(name)
    let linking = resolved.map(Preflight.linking(of:)) ?? .unknown
    let findings = Preflight.check(policy, linking: linking)
    if let f = findings.first(where: \.isFatal) {
      printError("syscage: \(profile) does not allow execve on \(f.arch) (\(f.decision.action)): the program cannot start; allow execve")
      throw ExitCode(125)
    }
    let loaderRefusals = noLoaderWarning ? [] : findings
    if !loaderRefusals.isEmpty, case .dynamic(let interpreter) = linking {
      let list = loaderRefusals.map { "\($0.syscall) (\($0.decision.action))" }.joined(separator: ", ")
      printError(
        "syscage: warning: \(profile) refuses \(list), which the dynamic loader"
          + (interpreter.isEmpty ? "" : " (\(interpreter))") + " makes before main: \(name) will probably not start; "
          + "allow \(loaderRefusals.count == 1 ? "it" : "them"), or give --no-loader-warning")
    }
    let program: [BPFInstruction]
    do {
      program = try Compiler.compile(policy)
    } catch {
      printError("syscage: \(profile): \(error)")
      throw ExitCode(125)
    }
    guard let path = resolved else {
      printError("syscage: \(name): command not found")
      throw ExitCode(127)
    }
    var flags = policy.flags.filter { $0 != .tsync }.reduce(UInt32(0)) { $0 | $1.bit }
    if logDenials { flags |= FilterFlag.log.bit }
    // A traced program cannot trace (one tracer): when the profile allows ptrace, leave it to the program.
    let untraced = !traceKills && policy.allows("ptrace", on: .native)
    let audit = untraced ? try? AuditNetlink.Listener(receiveBuffer: 1 << 20) : nil
    if untraced && audit == nil {
      printError(
        "syscage: note: \(profile) allows ptrace, so \(name) runs untraced and can trace; a seccomp kill will be named by its signal only "
          + "and a request for strict mode is not noticed (the audit multicast cannot be read here); --trace-kills names both, "
          + "and the program then cannot trace")
    }
    // Untraced, a request for strict mode is read from the audit log: no detector where that cannot be
    // read, nor when the profile may LOG prctl or seccomp itself (its records would look the same).
    let request = Launcher.Request(executable: path, arguments: argv, program: program, flags: flags, noNewPrivileges: !allowNewPrivs,
      watchForKill: !untraced,
      detectStrictMode: !singleFilter && (!untraced || (audit != nil && !policy.mayLog(["prctl", "seccomp"]))))
    let outcome: Launcher.Outcome
    do {
      outcome = try Launcher.run(request)
    } catch {
      printError("syscage: \(name): \(error)")
      throw ExitCode(error.exitStatus)
    }
    let warned = Set(loaderRefusals.map(\.syscall))
    var explained = false
    var seccompKill = outcome.seccompKill
    var strictModeRequest = outcome.strictModeRequest
    if let audit {
      let audited = auditedEvents(
        of: outcome.pid, killed: outcome.termination == .signaled(SIGSYS), strictModeDetector: request.detectStrictMode, from: audit)
      seccompKill = seccompKill ?? audited.kill
      if request.detectStrictMode { strictModeRequest = strictModeRequest ?? audited.strictModeRequest }
    }
    if let kill = seccompKill {
      let count = kill.name.flatMap { kill.arch.argumentTypes(of: $0)?.count } ?? 6
      let shown = kill.arguments.prefix(count).map { "0x" + String($0, radix: 16) }.joined(separator: ", ")
      printError(
        "syscage: killed by seccomp: \(kill.name ?? "syscall") (\(kill.number), \(kill.arch))"
          + (kill.arguments.isEmpty ? " (from the audit log, without its arguments): " : " with arguments (\(shown)): ")
          + policy.killExplanation(arch: kill.arch, number: kill.number, arguments: kill.arguments, profile: profile))
      if let killed = kill.name, kill.arch == .native, warned.contains(killed) {
        printError("syscage: \(killed) is the loader's call warned about before the start: allow it in \(profile)")
        explained = true
      }
    }
    if !warned.isEmpty, !explained, outcome.termination != .exited(0) {
      printError(
        "syscage: \(name) \(outcome.termination) after the warning above: the loader probably failed at "
          + "\(warned.count == 1 ? "the refused call" : "one of the refused calls") (\(loaderRefusals.map(\.syscall).joined(separator: ", ")))")
    }
    if let strict = strictModeRequest {
      printError(
        "syscage: the program asked for seccomp strict mode (\(strict)); the kernel refused it (EINVAL) because "
          + "syscage's filter was already installed: it ran past that point, as it would not unwrapped")
    }
    throw ExitCode(outcome.termination.shellStatus)
  }

  /// What the audit multicast says of process `pid`: its seccomp kill (the kernel logs
  /// kills by default; when `killed`, waits briefly for the record, which the kernel sends
  /// as the process dies), and its first request for strict mode (logged by
  /// `Launcher.loggedStrictModeDetector`; the program's own process only).
  func auditedEvents(of pid: Int32, killed: Bool, strictModeDetector: Bool, from audit: AuditNetlink.Listener) -> (
    kill: SeccompKill?, strictModeRequest: StrictModeRequest?
  ) {
    var kill: SeccompKill? = nil
    var strict: StrictModeRequest? = nil
    var quiet = 0
    var reads = 0
    // A record reaches the multicast when the kernel thread kauditd sends it, shortly after
    // the call: read until a read of 20 ms brings none (a kill's: 10 reads of 100 ms). (At
    // most 1000 reads of the host's other records.)
    while reads < 1000, quiet < (killed && kill == nil ? 10 : 1) {
      reads += 1
      guard case .messages(let messages)? = try? audit.receive(timeoutMilliseconds: killed && kill == nil ? 100 : strictModeDetector ? 20 : 0)
      else {
        quiet += 1
        continue
      }
      for m in messages {
        guard case .record(let r)? = AuditNetlink.record(in: m), r.pid == Int(pid) else { continue }
        if kill == nil, r.signal == Int(SIGSYS), let arch = r.arch, let number = r.number {
          kill = SeccompKill(arch: arch, number: SyscallNumber(number), thread: pid)
        }
        strict = strict ?? StrictModeRequest(auditedArch: r.arch, number: r.number, action: r.action)
      }
    }
    return (kill, strict)
  }
}
