import Seccomp
import Syscalls

/// The formats syscage writes a profile in (`record --format`, `convert --to`,
/// `import --format`, `watch --learn`).
public enum OutputFormat: String, CaseIterable, Hashable, Sendable {
  /// Docker's JSON.
  case docker
  /// The runtime-spec `linux.seccomp` object.
  case oci
  /// A security-profiles-operator `SeccompProfile`.
  case spo
  /// A systemd `[Service]` drop-in.
  case systemd
  /// A systemd-nspawn settings file.
  case nspawn
  /// A Pod (or a patch for one) and its Localhost profile file: a directory.
  case k8sPod = "k8s-pod"
  /// An LXC seccomp policy.
  case lxc
}

/// How `ProfileRendering.render` writes a profile.
public struct RenderOptions: Sendable {
  /// The host the formats other than Docker's and OCI's are expanded for, and those two
  /// with `expand`; nil writes Docker's and OCI's JSON of the profile as it is.
  public var target: ConversionTarget?
  /// Docker and OCI JSON: expanded for `target` (only its entries, its ABIs), or the
  /// profile as it is.
  public var expand: Bool
  /// Comment lines at the top (the formats that have comments).
  public var header: [String]
  /// The resource's name (spo, k8s-pod).
  public var name: String?
  /// k8s-pod: the container's image, a patch instead of a Pod, the kubelet's seccomp
  /// root, and the container's command (nil: the image's entrypoint).
  public var image: String
  public var patch: Bool
  public var seccompRoot: String
  public var command: [String]?
  /// lxc: the policy language version.
  public var lxcVersion: LXCConversion.Version

  public init(
    target: ConversionTarget? = nil, expand: Bool = false, header: [String] = [], name: String? = nil,
    image: String = KubernetesPodConversion.defaultImage, patch: Bool = false,
    seccompRoot: String = KubernetesPodConversion.defaultSeccompRoot, command: [String]? = nil,
    lxcVersion: LXCConversion.Version = .v2
  ) {
    self.target = target
    self.expand = expand
    self.header = header
    self.name = name
    self.image = image
    self.patch = patch
    self.seccompRoot = seccompRoot
    self.command = command
    self.lxcVersion = lxcVersion
  }
}

/// A profile in an output format: the text of one file, or for k8s-pod the Pod and the
/// profile file; what the engine answers otherwise (notes) and what the format cannot
/// say (warnings), one sentence each.
public struct RenderedProfile: Sendable {
  /// What is written.
  public enum Content: Sendable {
    /// One file (or standard output).
    case text(String)
    /// A directory's files (`KubernetesPodConversion.files`), or the Pod alone on
    /// standard output.
    case kubernetes(KubernetesPodConversion)
  }

  public var content: Content
  public var notes: [String]
  public var warnings: [String]

  /// The bytes of the one file (for k8s-pod: the Pod, or the patch).
  public var bytes: [UInt8] {
    switch content {
    case .text(let text): Array(text.utf8)
    case .kubernetes(let pod): Array(pod.manifest.utf8)
    }
  }
}

/// The one renderer of every output format: a profile, a format and options in, the
/// text to write out. Pure: it reads no file and nothing of the host.
public enum ProfileRendering {
  /// A format that needs what the options do not give, or a profile it cannot write.
  public struct Failure: Error, Sendable, CustomStringConvertible {
    public var description: String
  }

  /// `profile` in `format`. LXC's version 1 cannot write deny-lists (the error says why);
  /// spo and k8s-pod need `options.name`, every format but an unexpanded Docker or OCI
  /// JSON `options.target`.
  public static func render(_ profile: Profile, as format: OutputFormat, options: RenderOptions = RenderOptions())
    throws(Failure) -> RenderedProfile
  {
    func named() throws(Failure) -> String {
      guard let name = options.name else { throw Failure(description: "the \(format.rawValue) format needs a name") }
      return name
    }
    func host() throws(Failure) -> ConversionTarget {
      guard let target = options.target else { throw Failure(description: "the \(format.rawValue) format is expanded for a host; none given") }
      return target
    }
    switch format {
    case .docker:
      let text = options.expand ? DockerConversion.text(profile, expandFor: try host()) : DockerConversion.text(profile)
      return RenderedProfile(content: .text(text), notes: [], warnings: [])
    case .oci:
      let text = options.expand ? OCIConversion.text(profile, target: try host()) : profile.encode(format: .oci)
      return RenderedProfile(content: .text(text), notes: [], warnings: [])
    case .spo:
      return rendered(SPOConversion(profile: profile, target: try host(), name: try named(), header: options.header))
    case .systemd:
      return rendered(SystemdConversion(profile: profile, target: try host(), header: options.header))
    case .nspawn:
      return rendered(NspawnConversion(profile: profile, target: try host(), header: options.header))
    case .lxc:
      let target = try host()
      do {
        return rendered(try LXCConversion(profile: profile, target: target, version: options.lxcVersion, header: options.header))
      } catch {
        throw Failure(description: "\(error)")
      }
    case .k8sPod:
      let pod = KubernetesPodConversion(
        profile: profile, target: try host(), name: try named(), image: options.image, patch: options.patch,
        seccompRoot: options.seccompRoot, header: options.header, command: options.command)
      return RenderedProfile(content: .kubernetes(pod), notes: [], warnings: [])
    }
  }

  static func rendered(_ conversion: some TextConversion) -> RenderedProfile {
    RenderedProfile(content: .text(conversion.text), notes: conversion.notes, warnings: conversion.warnings)
  }
}

extension KubernetesPodConversion {
  /// The files a k8s-pod output directory holds: the Pod (or the patch), then the profile.
  public static func files(name: String, patch: Bool) -> [String] {
    [patch ? "pod-patch.yaml" : "pod.yaml", "profiles/\(name).json"]
  }

  /// The contents of `files(name:patch:)`, in that order.
  public var fileContents: [[UInt8]] { [Array(manifest.utf8), Array(profileJSON.utf8)] }
}
