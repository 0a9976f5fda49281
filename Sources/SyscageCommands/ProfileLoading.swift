import ArgumentParser
import Enforcement
import Foundation
import Host
import Profiles
import Seccomp
import Syscalls

/// Options shared by every command that reads a profile and turns it into a policy.
struct PolicyArguments: ParsableArguments {
  @Option(name: .customLong("arch"), help: "An ABI to build for (repeatable; default: the profile's own for this machine).")
  var arches: [Arch] = []

  @Option(help: "Capabilities of the program, comma-separated (default: Docker's default container set).")
  var caps: String?

  @Option(help: "The kernel version includes/excludes compare against (default: the running kernel).")
  var kernel: String?

  @Flag(help: "Do not return ENOSYS for numbers above the highest the profile names.")
  var noEnosysStub = false

  @Option(
    help: ArgumentHelp(
      "The action for calls from an ABI the filter does not list (default: kill-process): \(DefaultActionArgument.grammar).",
      valueName: "action"),
    transform: { try DefaultActionArgument(parsing: $0) })
  var badArch: DefaultActionArgument?

  @Flag(help: "Treat warnings (unknown syscall names, ignored fields) as errors.")
  var strict = false

  @Option(
    help: ArgumentHelp(
      "The kubelet's seccomp root: where a Pod input's Localhost profile is read from (default: next to the Pod file, then /var/lib/kubelet/seccomp).",
      valueName: "dir"))
  var seccompRoot: String?

  var native: Arch { arches.first ?? .native }

  func validate() throws {
    if let seccompRoot, !seccompRoot.hasPrefix("/") {
      throw ValidationError("--seccomp-root wants an absolute path, not '\(seccompRoot)'")
    }
  }

  /// Reads a profile (JSON, a SeccompProfile or a Pod's Localhost profile); says which
  /// file a Pod's reference was read from; bad input ends the command with 65.
  func loadInput(_ path: String) throws -> LoadedProfile {
    do {
      let loaded = try Profile.loadInput(path: path, strict: strict, seccompRoot: seccompRoot)
      if let (ref, file) = loaded.resolved {
        printError("syscage: \(path == "-" ? "standard input" : path): Localhost \(ref.localhostProfile): read \(file)")
      }
      return loaded
    } catch {
      throw fail(error)
    }
  }

  func context() throws -> ExpansionContext {
    var kernelVersion = KernelVersion.running
    if let kernel {
      guard let k = KernelVersion(release: kernel) else { throw ValidationError("--kernel wants X.Y, not '\(kernel)'") }
      kernelVersion = k
    }
    let capabilities = caps.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
      ?? ExpansionContext.dockerDefaultCapabilities
    return ExpansionContext(native: native, capabilities: capabilities, kernel: kernelVersion)
  }

  func options() throws -> PolicyOptions {
    PolicyOptions(
      context: try context(), arches: arches.isEmpty ? nil : arches, enosysStub: !noEnosysStub,
      badArchAction: badArch?.seccompAction ?? .killProcess)
  }

  /// Loads a profile, prints its warnings, and builds its policy; bad input ends the command with 65.
  /// With `refuseDisabled`, so does a profile that disables seccomp (`Profile.isDisabled`).
  func load(_ path: String, refuseDisabled: Bool = false) throws -> (profile: Profile, policy: Policy) {
    let loaded = try loadInput(path)
    let options = try options()
    for w in loaded.profile.relevant(loaded.warnings, in: options.context) { printError(w.description) }
    if loaded.profile.isDisabled && refuseDisabled {
      throw fail(disabledMessage(path, warnings: loaded.warnings) + "; there is no filter to build", code: ExitStatus.dataError)
    }
    if loaded.profile.isDisabled {
      printError("syscage: \(disabledMessage(path, warnings: loaded.warnings))")
    }
    let dependsOnHost = (loaded.profile.syscalls ?? []).contains { $0.includes != nil || $0.excludes != nil }
    if dependsOnHost {
      let caps = caps == nil ? "Docker's default capabilities" : "capabilities \(options.context.capabilities.sorted().joined(separator: ","))"
      printError("syscage: expanded for \(options.context.native), kernel \(options.context.kernel), \(caps)")
    }
    return (loaded.profile, Policy(profile: loaded.profile, options: options))
  }
}

/// Loads a profile for a command that wraps a program: the expansion assumes syscage's
/// own bounding capability set and the running kernel; a bad profile ends the command
/// with 125, as `env` and `docker run` report their own failures.
///
/// A profile that disables seccomp (no defaultAction and no syscalls) is refused (125)
/// unless `unconfined`: then the program runs without a filter, after a warning.
func loadForWrapping(_ path: String, strict: Bool, enosysStub: Bool, unconfined: Bool = false) throws
  -> (profile: Profile, policy: Policy)
{
  let loaded: LoadedProfile
  do {
    loaded = try Profile.loadInput(path: path, strict: strict)
  } catch {
    for d in error.diagnostics { printError(d.description) }
    throw ExitCode(125)
  }
  if let (ref, file) = loaded.resolved {
    printError("syscage: \(path == "-" ? "standard input" : path): Localhost \(ref.localhostProfile): read \(file)")
  }
  let context = ExpansionContext(native: .native, capabilities: Capabilities.bounding(), kernel: .running)
  for w in loaded.profile.relevant(loaded.warnings, in: context) { printError(w.description) }
  if loaded.profile.isDisabled {
    let message = disabledMessage(path, warnings: loaded.warnings)
    guard unconfined else {
      printError("syscage: \(message); refused: --unconfined runs the program without a filter anyway")
      throw ExitCode(125)
    }
    printError("syscage: warning: \(message); --unconfined: the program runs without a filter")
  }
  let options = PolicyOptions(context: context, enosysStub: enosysStub)
  warnIfIoUring(loaded.profile, named: path, options: options)
  return (loaded.profile, Policy(profile: loaded.profile, options: options))
}

/// Warns before a run when `profile` allows io_uring, as lint's io-uring-allowed does.
func warnIfIoUring(_ profile: Profile, named path: String, options: PolicyOptions? = nil) {
  let options = options ?? PolicyOptions(context: ExpansionContext(native: .native, capabilities: Capabilities.bounding(), kernel: .running))
  if let warning = Lint.ioUringWarning(profile, named: path, options: options) { printError("syscage: warning: \(warning)") }
}

/// Warns when the filter of a profile syscage writes is longer than the kernel takes on
/// some ABI it lists (the output is still written: the kernel refuses to load it, which
/// fails closed, and another compiler may lay it out differently).
func warnIfTooLong(_ profile: Profile, what: String) {
  guard !profile.isDisabled else { return }
  let size = ProgramSize(profile: profile, kernel: .running)
  if !size.fits { printError("syscage: warning: \(what): its filter is too long for the kernel to load: \(size)") }
}

/// "P: the profile disables seccomp: ..." (`Profile.disabledMessage`).
func disabledMessage(_ path: String, warnings: [Diagnostic]) -> String {
  Profile.disabledMessage(path, warnings: warnings)
}
