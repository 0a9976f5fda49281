import ArgumentParser
import Foundation
import Host
import OutputFiles
import Profiles
import Seccomp

struct InstallCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "install",
    abstract: "Put a profile where a kubelet, the containers tools or an LXC container read it.",
    discussion: """
      --kubelet      copies the profile, fully expanded and OCI-shaped as `convert --to \
      k8s-pod` writes it, to ROOT/profiles/NAME.json (ROOT: --root, default \
      /var/lib/kubelet/seccomp; NAME: --name or the input's base name), and prints the \
      securityContext.seccompProfile to paste into the Pod. Do it on every node.

      --containers   installs the profile (Docker's form, normalized; podman evaluates \
      includes and excludes per container) as the containers tools' default: \
      /etc/containers/seccomp.json, which podman reads instead of the package's \
      /usr/share/containers/seccomp.json when it exists, so no package file is replaced. \
      A seccomp_profile set in containers.conf wins over both: that is said.

      --lxc NAME     writes the profile as an LXC policy (version 2, with LXC's own calls \
      after its filter, as `convert --to lxc` writes it) to LXCPATH/NAME/syscage.seccomp \
      and sets lxc.seccomp.profile to it in LXCPATH/NAME/config, every other line kept \
      (LXCPATH: -P/--lxcpath, default /var/lib/lxc). The container gets it when it next \
      starts.

      The file is replaced atomically (never a device or a FIFO; a link's target gets \
      the bytes), then read back and compared. The input is any profile lint reads.

      Examples:
        syscage install app.json --kubelet
        syscage install app.json --kubelet --root /var/lib/kubelet/seccomp --name app
        syscage install deny-dir.json --containers
        syscage install app.json --lxc web -P /var/lib/lxc
      """)

  @Argument(help: "The profile (JSON, a SeccompProfile, or a Pod with a Localhost profile; - for standard input).")
  var profile: String

  @Flag(help: "Install under a kubelet's seccomp root, for Localhost profiles.")
  var kubelet = false

  @Flag(help: "Install as the containers tools' (podman's) default seccomp profile.")
  var containers = false

  @Option(help: ArgumentHelp("Install as this LXC container's seccomp policy (lxc.seccomp.profile).", valueName: "container"))
  var lxc: String?

  @Option(name: [.customShort("P"), .long], help: ArgumentHelp("The LXC containers' directory (--lxc; default: \(LXCContainerFiles.defaultPath)).", valueName: "dir"))
  var lxcpath: String?

  @Option(help: ArgumentHelp("The kubelet's seccomp root (--kubelet; default: \(KubernetesPodConversion.defaultSeccompRoot)).", valueName: "dir"))
  var root: String?

  @Option(help: "The profile's name, a DNS-1123 subdomain (--kubelet; default: the input file's base name).")
  var name: String?

  @OptionGroup var policyArguments: PolicyArguments

  func validate() throws {
    guard [kubelet, containers, lxc != nil].filter({ $0 }).count == 1 else {
      throw ValidationError("give one of --kubelet, --containers and --lxc")
    }
    if !kubelet && (root != nil || name != nil) { throw ValidationError("--root and --name apply to --kubelet only") }
    if lxc == nil && lxcpath != nil { throw ValidationError("--lxcpath applies to --lxc only") }
    if let lxc, !LXCContainerFiles.isValidName(lxc) {
      throw ValidationError("--lxc '\(lxc)' is not a container name (no '/', not empty, not . or ..)")
    }
    if let root, !root.hasPrefix("/") { throw ValidationError("--root wants an absolute path, not '\(root)'") }
    if let name, !KubernetesPodConversion.isValidName(name) {
      throw ValidationError(
        "--name '\(name)' is not a Kubernetes name; use lower-case letters, digits, '-' and '.' (at most 253), starting and ending with a letter or digit")
    }
    if policyArguments.noEnosysStub || policyArguments.badArch != nil {
      throw ValidationError("--no-enosys-stub and --bad-arch belong to compile; install writes profiles, not filters")
    }
  }

  func run() throws {
    let profileName: String
    if kubelet {
      guard let n = name ?? (profile == "-" ? nil : KubernetesPodConversion.name(fromPath: profile)) else {
        throw fail("cannot make a Kubernetes name from '\(profile == "-" ? "standard input" : profile)'; give --name", code: ExitStatus.usage)
      }
      profileName = n
    } else {
      profileName = ""
    }
    let loaded = try policyArguments.loadInput(profile)
    let source = loaded.profile
    let context = try policyArguments.context()
    for w in source.relevant(loaded.warnings, in: context) { printError(w.description) }
    if source.isDisabled {
      throw fail(disabledMessage(profile, warnings: loaded.warnings) + "; there is no filter to install", code: ExitStatus.dataError)
    }
    warnIfTooLong(source, what: profile)

    if let lxc {
      try installForLXC(source, container: lxc, context: context)
    } else if kubelet {
      let target = ConversionTarget(
        context: context, arches: policyArguments.arches.count > 1 ? policyArguments.arches : nil)
      let pod = KubernetesPodConversion(
        profile: source, target: target, name: profileName, seccompRoot: root ?? KubernetesPodConversion.defaultSeccompRoot)
      printError("syscage: expanded for \(target.describe(for: source))")
      if let note = target.leftOutNote(for: source) { printError("syscage: " + note) }
      let rootDir = String((root ?? KubernetesPodConversion.defaultSeccompRoot).reversed().drop { $0 == "/" }.reversed())
      let written: String
      do {
        written = try InstalledFile.install(
          Array(pod.profileJSON.utf8), at: pod.nodePath, createDirectories: [rootDir.isEmpty ? "/" : rootDir, pod.nodePath.dirname])
      } catch {
        if case .missingDirectory(let dir) = error.problem {
          throw fail(
            "cannot create \(error.path): \(dir) does not exist; is a kubelet set up here? --root names its seccomp root (the kubelet's --root-dir, then seccomp)",
            code: ExitStatus.cantCreate)
        }
        throw fail(error)
      }
      printError("syscage: installed \(written) (read back: the same bytes); do the same on every node that may run the Pod")
      printError("syscage: paste into the Pod's spec (or a container's):")
      try emit(Array(KubernetesPodConversion.securityContextSnippet(localhostProfile: pod.localhostProfile).utf8), to: nil)
    } else {
      let path = ContainersDefaultProfile.overridePath
      let written: String
      do {
        written = try InstalledFile.install(Array(DockerConversion.text(source).utf8), at: path, createDirectories: [path.dirname])
      } catch {
        throw fail(error)
      }
      printError("syscage: installed \(written) (read back: the same bytes): podman uses it instead of \(ContainersDefaultProfile.packagePath) for containers run without --security-opt seccomp=")
      for (file, value) in ContainersDefaultProfile.configuredProfiles() where value != path {
        printError("syscage: warning: \(file) sets seccomp_profile = \"\(value)\", which wins over \(path): remove that line for this profile to take effect")
      }
      printError("syscage: to go back to the package's default: rm \(path)")
    }
  }
}

extension InstallCommand {
  /// --lxc: the policy into LXCPATH/NAME/syscage.seccomp, then lxc.seccomp.profile in its config.
  func installForLXC(_ source: Profile, container: String, context: ExpansionContext) throws {
    let place = LXCContainerFiles(lxcpath: lxcpath ?? LXCContainerFiles.defaultPath, container: container)
    let configText: String
    do {
      configText = try place.readConfig()
    } catch {
      switch error {
      case .noConfig(let path):
        throw fail(
          "\(path): no such container configuration; is \(container) an LXC container in \(place.lxcpath)? (-P names another lxcpath)",
          code: ExitStatus.unavailable)
      case .notText(let path):
        throw fail("\(path): not UTF-8 text; an LXC configuration is key = value lines", code: ExitStatus.dataError)
      }
    }
    let target = ConversionTarget(context: context, arches: policyArguments.arches.count > 1 ? policyArguments.arches : nil)
    let policy: LXCConversion
    do {
      policy = try LXCConversion(profile: source, target: target, header: ["Installed by syscage from \(profile) for LXC container \(container)."])
    } catch {
      throw fail("\(profile): \(error); nothing installed", code: ExitStatus.dataError)
    }
    printError("syscage: expanded for \(target.describe(for: source))")
    for note in policy.notes { printError("syscage: note: \(note)") }
    for w in policy.warnings { printError("syscage: warning: \(w)") }
    if !policy.runtimeCallsAdded.isEmpty {
      printError("syscage: allowed LXC's own calls after its filter: \(policy.runtimeCallsAdded.joined(separator: ", "))")
    }
    do {
      let written = try InstalledFile.install(Array(policy.text.utf8), at: place.policyPath)
      let edited = LXCContainerConfig.settingSeccompProfile(written, in: configText)
      let configWritten = try InstalledFile.install(Array(edited.utf8), at: place.configPath)
      printError("syscage: installed \(written) and set \(LXCContainerConfig.seccompProfileKey) = \(written) in \(configWritten) (both read back: the same bytes); \(container) gets it when it next starts")
    } catch {
      throw fail(error)
    }
  }
}

extension String {
  /// The directory part of a path (`/` for a file at the root, `.` for a bare name).
  fileprivate var dirname: String {
    guard let slash = lastIndex(of: "/") else { return "." }
    return slash == startIndex ? "/" : String(self[..<slash])
  }
}
