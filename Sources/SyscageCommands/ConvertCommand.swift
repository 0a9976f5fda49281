import ArgumentParser
import Foundation
import Host
import OutputFiles
import Profiles
import Seccomp
import Syscalls

struct ConvertCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "convert",
    abstract: "Convert a profile to OCI, Kubernetes, security-profiles-operator, systemd, systemd-nspawn, LXC or Docker form.",
    discussion: """
      Every format but docker is fully expanded for one host: Docker's includes and \
      excludes are evaluated for the native arch (the first --arch, else this machine's), \
      the capability set (--caps, else Docker's default container set) and the kernel \
      (--kernel, else the running one); stderr says which were used. One --arch names \
      the host, whose ABIs come from the profile (Docker's archMap: x86_64 brings x86 and \
      x32); several --arch name the ABIs exactly.

      --to oci       the runtime-spec linux.seccomp object (JSON). With --bundle DIR, \
      written into DIR/config.json in place, atomically, every other key kept as it was.

      --to k8s-pod   a Pod whose securityContext.seccompProfile is Localhost \
      profiles/NAME.json (--patch: only that part, as a strategic-merge patch), and the \
      profile file itself, OCI-shaped and expanded so that containerd and CRI-O read it \
      alike. The container sets allowPrivilegeEscalation: false; it has no command (a \
      profile file does not say what it was recorded from; record --format k8s-pod \
      writes the recorded one). Without -o: the Pod (the patch) alone, a stream \
      `kubectl apply -f -` takes; the profile file is written only with -o DIR: \
      DIR/pod.yaml (DIR/pod-patch.yaml) and DIR/pod.yaml (DIR/pod-patch.yaml) and \
      DIR/profiles/NAME.json; copy the latter to SECCOMP_ROOT/profiles/NAME.json on every \
      node (--seccomp-root, default /var/lib/kubelet/seccomp). NAME is --name or the \
      input file's base name.

      --to spo       a security-profiles-operator SeccompProfile (v1beta1) in YAML.

      --to oci-artifact -o DIR   an OCI image layout (oci-layout, index.json, \
      blobs/sha256/...) in a new or empty DIR holding the OCI profile as an artifact of \
      type application/vnd.cncf.seccomp-profile.config.v1+json, as runtimes pull \
      profiles (KEP-6061) and security-profiles-operator publishes them; tag latest. \
      Warns at the runtimes' default limits (1 MiB, 128 syscall entries) and for \
      SCMP_ACT_NOTIFY and listener fields.

      The input may also be YAML (told from JSON by content): a SeccompProfile (its \
      spec), or a Pod whose seccompProfile is Localhost, read from --seccomp-root (else \
      next to the Pod file, then /var/lib/kubelet/seccomp); lint, diff, merge, check \
      and compile read them too.

      --to systemd   a [Service] drop-in: SystemCallArchitectures=, SystemCallFilter= \
      (systemd's groups where a whole group is allowed), SystemCallErrorNumber=, \
      SystemCallLog=, and RestrictAddressFamilies=, RestrictNamespaces=, LockPersonality= \
      for the argument rules they can carry. What systemd cannot express is listed as \
      warnings on stderr (and as comments in the output); such a syscall gets its most \
      restrictive answer (fail closed); with --strict that is an error. Per-syscall \
      errnos need systemd >= 247. Without SystemCallErrorNumber= a refused call kills \
      the process (SIGSYS) unless its entry has an :ERRNO; stderr says so.

      --to nspawn    a systemd-nspawn settings file ([Exec] SystemCallFilter=, names \
      only): for /etc/systemd/nspawn/MACHINE.nspawn, or each value as \
      --system-call-filter=VALUE. nspawn refuses with EPERM only, adds the file's names \
      to its own allow-list and ignores name:ERRNO (a --to systemd drop-in pasted there \
      fails open), so an allow-list also refuses every other call by name. Other \
      errnos, kill, argument rules and ABIs the profile leaves out are warnings \
      (refused: fail closed; a logged call is allowed without the log); with \
      --strict an error.

      --to lxc       an LXC seccomp policy for lxc.seccomp.profile: version 2 (allowlist \
      or denylist, the default action, an [x86_64]-style section, `name errno N|kill|\
      trap|notify` lines with argument rules), allowing LXC's own calls after it loads \
      the filter. LXC applies every line to each ABI of the host, has no log or trace \
      action, and kills the calling thread only: what it cannot express is warned about \
      (and fails closed), as for systemd. --lxc-version 1: syscall numbers of the native \
      ABI, allowed, every other call killed (deny-lists cannot be written).

      --to docker    Docker's JSON, normalized (--expand: expanded as above).

      Container runtimes make calls of their own after loading the container's filter, \
      before its program runs. The outputs for a runtime (oci, k8s-pod, spo, --bundle) \
      allow those of the OCI runtimes (runc and crun, --for oci) in both noNewPrivileges \
      modes, in an entry of their own, and \
      stderr says what was added; --for RUNTIME (\(RuntimeTarget.allCases.map(\.rawValue).joined(separator: ", "))) \
      chooses another, also for --to docker and systemd, which add nothing without it. \
      A rule that refuses or kills such a call is warned about, naming the call, the \
      runtime and the mode (with --strict: an error, nothing written). With --bundle, \
      the bundle's process.noNewPrivileges (absent: false) is the mode, and its \
      process.capabilities.bounding the capabilities of the expansion (--caps wins).

      Examples:
        syscage convert docker.json --to oci -o seccomp.json
        syscage convert docker.json --to oci --bundle ./mybundle
        syscage convert hand-written.json --to docker --for podman -o app.json
        syscage convert app.json --to k8s-pod -o k8s/   # pod.yaml, profiles/app.json
        syscage convert app.json --to k8s-pod --patch --name app
        syscage convert app.json --to spo --name app -o app-seccompprofile.yaml
        syscage convert docker.json --to systemd --caps CAP_NET_ADMIN
        syscage convert app.json --to lxc -o app.seccomp
        syscage convert app.json --to nspawn -o /etc/systemd/nspawn/app.nspawn
        syscage convert docker.json --to docker --expand --arch aarch64
      """)

  enum Target: String, ExpressibleByArgument, CaseIterable {
    case oci
    case ociArtifact = "oci-artifact"
    case k8sPod = "k8s-pod"
    case spo
    case systemd
    case lxc
    case nspawn
    case docker

    /// The format written.
    var format: OutputFormat {
      switch self {
      case .oci, .ociArtifact: .oci
      case .k8sPod: .k8sPod
      case .spo: .spo
      case .systemd: .systemd
      case .lxc: .lxc
      case .nspawn: .nspawn
      case .docker: .docker
      }
    }
  }

  @Argument(help: "The profile (Docker or OCI JSON, a SeccompProfile, or a Pod with a Localhost profile; - for standard input).")
  var profile: String

  @Option(name: .customLong("to"), help: ArgumentHelp("The output format.", valueName: "format"))
  var target: Target

  @OptionGroup var policyArguments: PolicyArguments

  @Option(
    name: .shortAndLong,
    help: "Write the output here instead of standard output (- is standard output); a directory for --to k8s-pod (created if missing).")
  var output: String?

  @Option(help: "An OCI bundle directory: set linux.seccomp in its config.json in place (--to oci).")
  var bundle: String?

  @Option(help: "The profile's name, a DNS-1123 subdomain (k8s-pod, spo; default: the input file's base name).")
  var name: String?

  @Flag(help: "Write a patch for a Pod's spec.securityContext instead of a whole Pod (k8s-pod).")
  var patch = false

  @Option(help: "The container image of the example Pod (k8s-pod; default: \(KubernetesPodConversion.defaultImage)).")
  var image: String?

  @Option(help: ArgumentHelp("LXC's policy language version (lxc): 2, or 1 (numbers, an allow-list that kills).", valueName: "1|2"))
  var lxcVersion: Int?

  @Flag(help: "Expand includes/excludes and archMap (docker; the other formats are always expanded).")
  var expand = false

  // --for: the runtime whose calls after loading the filter the output allows (ConvertRuntime.swift).
  @Option(
    name: .customLong("for"),
    help: ArgumentHelp(
      "Allow what this runtime does under the container's filter (default: the format's: oci, runc and crun, for oci, k8s-pod, spo and --bundle; lxc, nspawn for theirs; none for docker and systemd).",
      valueName: "runtime"))
  var runtimeChoice: RuntimeTarget?

  func validate() throws {
    if bundle != nil && target != .oci { throw ValidationError("--bundle applies to --to oci only") }
    if target == .ociArtifact && (output == nil || output == "-") { throw ValidationError("--to oci-artifact writes a directory: give -o DIR") }
    if bundle != nil && output != nil {
      throw ValidationError("--bundle writes into the bundle's config.json; leave out -o")
    }
    if target != .k8sPod {
      if patch { throw ValidationError("--patch applies to --to k8s-pod only") }
      if image != nil { throw ValidationError("--image applies to --to k8s-pod only") }
    }
    if name != nil && target != .k8sPod && target != .spo {
      throw ValidationError("--name applies to --to k8s-pod and --to spo only")
    }
    if let name, !KubernetesPodConversion.isValidName(name) {
      throw ValidationError(
        "--name '\(name)' is not a Kubernetes name; use lower-case letters, digits, '-' and '.' (at most 253), starting and ending with a letter or digit")
    }
    if let lxcVersion {
      if target != .lxc { throw ValidationError("--lxc-version applies to --to lxc only") }
      if LXCConversion.Version(rawValue: lxcVersion) == nil { throw ValidationError("--lxc-version is 1 or 2, not \(lxcVersion)") }
    }
    if expand && target != .docker {
      throw ValidationError("--expand applies to --to docker only; the other formats are always expanded")
    }
    if policyArguments.noEnosysStub || policyArguments.badArch != nil {
      throw ValidationError("--no-enosys-stub and --bad-arch belong to compile; convert writes profiles, not filters")
    }
  }

  /// Where the conversion goes, examined before any work.
  enum Destination {
    case file(OutputFile?)
    case kubernetes(OutputDirectory?)
    case bundle(OutputFile)
    case artifact(OutputDirectory)
  }

  func destination() throws -> Destination {
    if let bundle { return .bundle(try bundleConfig(bundle)) }
    if target == .ociArtifact, let output { return .artifact(try checkedArtifactDirectory(output)) }
    if target == .k8sPod {
      guard let output, output != "-" else { return .kubernetes(nil) }
      return .kubernetes(try checkedKubernetesDirectory(output, name: try resolvedName(), patch: patch, inputs: [profile]))
    }
    return .file(try output.map { try checkedOutput($0, inputs: [profile]) })
  }

  func run() throws {
    let destination = try destination()
    let loaded = try policyArguments.loadInput(profile)
    var source = loaded.profile
    // --bundle: its process's noNewPrivileges and capabilities.
    let process = try bundleProcess()
    // One --arch names the host (its ABIs come from the profile, as Docker picks them);
    // several name the ABIs exactly, the first being the host's.
    let conversion = ConversionTarget(
      context: try conversionContext(process), arches: policyArguments.arches.count > 1 ? policyArguments.arches : nil)
    // An expanded output holds only the entries for this host: warnings about the others do not apply.
    let expanded = target != .docker || expand
    for w in expanded ? source.relevant(loaded.warnings, in: conversion.context) : loaded.warnings { printError(w.description) }

    if source.isDisabled && target != .docker {
      throw fail(disabledMessage(profile, warnings: loaded.warnings) + "; there is no filter to build", code: ExitStatus.dataError)
    }
    if source.isDisabled {
      printError("syscage: warning: \(disabledMessage(profile, warnings: loaded.warnings)); written back unchanged")
    }
    // The runtime's calls after loading the filter (--for, --bundle, the format's default).
    source = try withRuntimeCalls(source, conversion, process)

    warnIfTooLong(source, what: displayName)
    if expanded { printError("syscage: expanded for " + expansionSummary(source, conversion, capabilitiesSource(process))) }
    if expanded && target != .systemd && target != .nspawn, let note = conversion.leftOutNote(for: source) { printError("syscage: " + note) }
    let header = ["Converted by syscage from \(displayName)."]

    if case .bundle(let config) = destination {
      try writeIntoBundle(config, OCIConversion.seccomp(source, target: conversion))
      return
    }
    let options = RenderOptions(
      target: conversion, expand: target != .docker || expand, header: header,
      name: target == .spo || target == .k8sPod ? try resolvedName() : nil, image: image ?? KubernetesPodConversion.defaultImage,
      patch: patch, seccompRoot: policyArguments.seccompRoot ?? KubernetesPodConversion.defaultSeccompRoot,
      lxcVersion: LXCConversion.Version(rawValue: lxcVersion ?? 2) ?? .v2)
    let rendered: RenderedProfile
    do {
      rendered = try ProfileRendering.render(source, as: target.format, options: options)
    } catch {
      throw fail("\(displayName): \(error); nothing written", code: ExitStatus.dataError)
    }
    try report(rendered, format: target.format, strict: policyArguments.strict, what: displayName)
    switch (rendered.content, destination) {
    case (.kubernetes(let pod), .kubernetes(let dir)):
      guard let dir else { return try printKubernetes(pod) }
      do {
        try writeKubernetes(pod, into: dir)
      } catch {
        throw fail(error)
      }
    case (.text, .file(let out)):
      try emit(rendered.bytes, to: out)
      if target == .nspawn { printError("syscage: for systemd-nspawn: \(NspawnConversion.usage)") }
    case (.text, .artifact(let dir)):
      try writeArtifact(rendered.bytes, profile: source, into: dir)
    default:
      break
    }
  }

  var displayName: String { profile == "-" ? "standard input" : profile }

  /// `x86_64 (ABIs x86_64, x86, x32), kernel 6.18, Docker's default capabilities (CAP_...)`.
  func expansionSummary(_ source: Profile, _ conversion: ConversionTarget, _ which: String) -> String {
    let abis = conversion.filterArches(of: source).map(\.name).joined(separator: ", ")
    let caps = conversion.context.capabilities.sorted().joined(separator: ",")
    return "\(conversion.context.native) (ABIs \(abis)), kernel \(conversion.context.kernel), \(which) (\(caps.isEmpty ? "none" : caps))"
  }

  /// --name, else the input's base name made into a Kubernetes name.
  func resolvedName() throws -> String {
    if let name { return name }
    guard profile != "-", let derived = KubernetesPodConversion.name(fromPath: profile) else {
      throw fail("cannot make a Kubernetes name from '\(displayName)'; give --name", code: ExitStatus.usage)
    }
    return derived
  }

  /// BUNDLE/config.json, examined as an output before any work (it is replaced atomically, through a link its target).
  func bundleConfig(_ bundle: String) throws -> OutputFile {
    do {
      return try checkedOutput(try OCIBundleFiles(bundle: bundle).configPath, inputs: [profile])
    } catch let problem as OCIBundleFiles.Problem {
      throw fail(problem)
    }
  }

  /// Sets linux.seccomp in BUNDLE/config.json, keeping the rest of the file; replaces it atomically.
  func writeIntoBundle(_ config: OutputFile, _ seccomp: JSONValue) throws {
    let configPath = config.path
    let edited: [UInt8]
    do {
      edited = try OCIBundleEditor.settingSeccomp(seccomp, inConfig: try OCIBundleFiles.readConfig(atPath: configPath), file: configPath)
    } catch let problem as OCIBundleFiles.Problem {
      throw fail(problem)
    } catch let error as InputError {
      throw fail(error)
    }
    try emit(edited, to: config)
    printError("syscage: set linux.seccomp in \(configPath)")
  }
}
