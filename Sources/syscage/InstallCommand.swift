import ArgumentParser
import Foundation
import OutputFiles
import Seccomp

struct InstallCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "install",
    abstract: "Put a profile where a kubelet or the containers tools read it.",
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

      The file is replaced atomically (never a device or a FIFO; a link's target gets \
      the bytes), then read back and compared. The input is any profile lint reads.

      Examples:
        syscage install app.json --kubelet
        syscage install app.json --kubelet --root /var/lib/kubelet/seccomp --name app
        syscage install deny-dir.json --containers
      """)

  @Argument(help: "The profile (JSON, a SeccompProfile, or a Pod with a Localhost profile; - for standard input).")
  var profile: String

  @Flag(help: "Install under a kubelet's seccomp root, for Localhost profiles.")
  var kubelet = false

  @Flag(help: "Install as the containers tools' (podman's) default seccomp profile.")
  var containers = false

  @Option(help: ArgumentHelp("The kubelet's seccomp root (--kubelet; default: \(KubernetesPodConversion.defaultSeccompRoot)).", valueName: "dir"))
  var root: String?

  @Option(help: "The profile's name, a DNS-1123 subdomain (--kubelet; default: the input file's base name).")
  var name: String?

  @OptionGroup var policyArguments: PolicyArguments

  func validate() throws {
    guard kubelet != containers else { throw ValidationError("give one of --kubelet and --containers") }
    if containers && (root != nil || name != nil) { throw ValidationError("--root and --name apply to --kubelet only") }
    if let root, !root.hasPrefix("/") { throw ValidationError("--root wants an absolute path, not '\(root)'") }
    if let name, !KubernetesPodConversion.isValidName(name) {
      throw ValidationError(
        "--name '\(name)' is not a Kubernetes name; use lower-case letters, digits, '-' and '.' (at most 253), starting and ending with a letter or digit")
    }
    if policyArguments.noEnosysStub || policyArguments.badArch != "SCMP_ACT_KILL_PROCESS" {
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

    if kubelet {
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

extension String {
  /// The directory part of a path (`/` for a file at the root, `.` for a bare name).
  fileprivate var dirname: String {
    guard let slash = lastIndex(of: "/") else { return "." }
    return slash == startIndex ? "/" : String(self[..<slash])
  }
}
