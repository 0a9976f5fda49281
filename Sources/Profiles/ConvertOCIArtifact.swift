import Seccomp

/// A profile as an OCI artifact in an OCI image layout directory (`oci-layout`,
/// `index.json`, `blobs/sha256/...`), in the format container runtimes pull seccomp
/// profiles in (KEP-6061; what security-profiles-operator's `spoc push` publishes and
/// CRI-O reads): an image manifest whose config and artifact type are
/// `application/vnd.cncf.seccomp-profile.config.v1+json` with an empty `{}` config, and
/// one `application/json` layer, the OCI runtime-spec profile, titled `profile.json`.
///
/// Pure: the files' bytes from the profile's JSON; writing them is the caller's.
public struct OCIArtifactLayout: Sendable {
  public static let mediaType = "application/vnd.cncf.seccomp-profile.config.v1+json"
  public static let layerMediaType = "application/json"
  public static let manifestMediaType = "application/vnd.oci.image.manifest.v1+json"
  public static let indexMediaType = "application/vnd.oci.image.index.v1+json"
  /// The runtimes' default limits: the profile's size and its number of syscall entries.
  public static let maxProfileBytes = 1 << 20
  public static let maxSyscallEntries = 128
  /// The tag `index.json` gives the manifest (`oci:DIR:latest`).
  public static let tag = "latest"

  /// One file of the layout, relative to its directory.
  public struct File: Sendable, Hashable {
    public var path: String
    public var bytes: [UInt8]
  }

  /// In write order: the blobs first, `index.json` and `oci-layout` last.
  public var files: [File]
  /// `sha256:...` of the manifest.
  public var manifestDigest: String
  /// What runtimes refuse or limit by default (size, entries, user notification).
  public var warnings: [String]

  /// The layout for `json`, the profile's OCI runtime-spec JSON, whose decoded form is
  /// `profile` (for the warnings).
  public init(json: [UInt8], profile: Profile) {
    func digest(_ b: [UInt8]) -> String { "sha256:" + SHA256.hex(b) }
    func blob(_ b: [UInt8]) -> File { File(path: "blobs/sha256/" + SHA256.hex(b), bytes: b) }
    let config = Array("{}".utf8)
    let q = JSONValue.quoted
    let manifest = Array("""
      {
      \t"schemaVersion": 2,
      \t"mediaType": \(q(Self.manifestMediaType)),
      \t"artifactType": \(q(Self.mediaType)),
      \t"config": {
      \t\t"mediaType": \(q(Self.mediaType)),
      \t\t"digest": \(q(digest(config))),
      \t\t"size": \(config.count)
      \t},
      \t"layers": [
      \t\t{
      \t\t\t"mediaType": \(q(Self.layerMediaType)),
      \t\t\t"digest": \(q(digest(json))),
      \t\t\t"size": \(json.count),
      \t\t\t"annotations": {
      \t\t\t\t"org.opencontainers.image.title": "profile.json"
      \t\t\t}
      \t\t}
      \t]
      }

      """.utf8)
    let index = Array("""
      {
      \t"schemaVersion": 2,
      \t"mediaType": \(q(Self.indexMediaType)),
      \t"manifests": [
      \t\t{
      \t\t\t"mediaType": \(q(Self.manifestMediaType)),
      \t\t\t"artifactType": \(q(Self.mediaType)),
      \t\t\t"digest": \(q(digest(manifest))),
      \t\t\t"size": \(manifest.count),
      \t\t\t"annotations": {
      \t\t\t\t"org.opencontainers.image.ref.name": \(q(Self.tag))
      \t\t\t}
      \t\t}
      \t]
      }

      """.utf8)
    files = [blob(config), blob(json), blob(manifest), File(path: "index.json", bytes: index),
             File(path: "oci-layout", bytes: Array(#"{"imageLayoutVersion": "1.0.0"}"#.utf8) + [10])]
    manifestDigest = digest(manifest)
    warnings = Self.warnings(json: json, profile: profile)
  }

  /// What container runtimes refuse or limit by default in such an artifact.
  public static func warnings(json: [UInt8], profile: Profile) -> [String] {
    var out: [String] = []
    if json.count > maxProfileBytes {
      out.append("the profile is \(json.count) bytes: runtimes refuse artifacts over \(maxProfileBytes) bytes (1 MiB) by default")
    }
    let entries = profile.syscalls?.count ?? 0
    if entries > maxSyscallEntries {
      out.append("the profile has \(entries) syscall entries: runtimes refuse more than \(maxSyscallEntries) by default")
    }
    var notify: [String] = []
    if profile.defaultAction == .notify { notify.append("defaultAction") }
    for (i, e) in (profile.syscalls ?? []).enumerated() where e.action == .notify { notify.append("syscalls[\(i)]") }
    if !notify.isEmpty {
      out.append("\(notify.joined(separator: ", ")): SCMP_ACT_NOTIFY: runtimes refuse user notification in a pulled profile (no listener of theirs answers it)")
    }
    let listener = [profile.listenerPath.map { _ in "listenerPath" }, profile.listenerMetadata.map { _ in "listenerMetadata" }].compactMap { $0 }
    if !listener.isEmpty {
      out.append("\(listener.joined(separator: ", ")): runtimes refuse listener fields in a pulled profile")
    }
    return out
  }
}
