import Seccomp
import Syscalls

/// A Pod (or a patch for one) that runs under a Localhost seccomp profile, and that
/// profile's file for the kubelet's seccomp root.
///
/// containerd reads a Localhost file straight into the OCI form and ignores `archMap`,
/// `includes`, `excludes` and `name`; CRI-O reads Docker's form. The file written here
/// is fully expanded and OCI-shaped, so it means the same under both.
public struct KubernetesPodConversion: Sendable {
  /// Where the kubelet looks for Localhost profiles unless configured otherwise.
  public static let defaultSeccompRoot = "/var/lib/kubelet/seccomp"
  public static let defaultImage = "busybox:stable"

  /// The profile's name (the file is `profiles/NAME.json`).
  public var name: String
  /// The Pod manifest (or the patch) as YAML.
  public var manifest: String
  /// The profile file's JSON text.
  public var profileJSON: String
  /// `profiles/NAME.json`: the Pod's `localhostProfile`, relative to the seccomp root.
  public var localhostProfile: String
  /// Where the file must be on every node: the seccomp root joined with `localhostProfile`.
  public var nodePath: String
  /// Whether `manifest` is a patch for a Pod rather than a whole Pod.
  public var isPatch: Bool

  /// - Parameters:
  ///   - name: a DNS-1123 subdomain (see `isValidName`).
  ///   - patch: a strategic-merge patch that sets only the Pod's
  ///     `spec.securityContext.seccompProfile` instead of a whole Pod.
  ///   - command: the container's `command` (the program and arguments the profile was
  ///     recorded from), or nil to leave the image's own entrypoint.
  public init(
    profile: Profile, target: ConversionTarget, name: String, image: String = defaultImage, patch: Bool = false,
    seccompRoot: String = defaultSeccompRoot, header: [String] = [], command: [String]? = nil
  ) {
    self.name = name
    isPatch = patch
    localhostProfile = "profiles/\(name).json"
    let root = seccompRoot.hasSuffix("/") && seccompRoot.count > 1 ? String(seccompRoot.dropLast()) : seccompRoot
    nodePath = root + "/" + localhostProfile
    profileJSON = OCIConversion.seccomp(profile, target: target).prettyPrinted(indent: "  ") + "\n"

    let seccompProfile = YAMLValue.map([
      ("type", .string("Localhost")),
      ("localhostProfile", .string(localhostProfile)),
    ])
    let securityContext = YAMLValue.map([("seccompProfile", seccompProfile)])
    var comments = header
    comments.append("The profile must be at \(nodePath) on every node that may run this pod")
    comments.append("(localhostProfile is relative to the kubelet's seccomp root, \(root)).")
    comments.append("Expanded for \(target.describe(for: profile)).")
    let document: YAMLValue
    if patch {
      comments.append("A strategic-merge patch that sets a Pod's seccomp profile (a Pod's securityContext cannot")
      comments.append("change once it exists: apply it before creating the Pod, e.g. with kustomize); for a")
      comments.append("Deployment, StatefulSet, DaemonSet or Job put the same under spec.template.spec.")
      document = .map([("spec", .map([("securityContext", securityContext)]))])
    } else {
      var container: [(String, YAMLValue)] = [
        ("name", .string(Self.containerName(for: name))),
        ("image", .string(image)),
      ]
      if let command, !command.isEmpty {
        comments.append("command: the program the profile was recorded from, as run on the recording host; the image must have it.")
        container.append(("command", .strings(command)))
      }
      // As the tutorials' Pods: no setuid gain, so the runtime loads the filter with no_new_privs.
      container.append(("securityContext", .map([("allowPrivilegeEscalation", .bool(false))])))
      document = .map([
        ("apiVersion", .string("v1")),
        ("kind", .string("Pod")),
        ("metadata", .map([("name", .string(name))])),
        (
          "spec",
          .map([
            ("securityContext", securityContext),
            ("containers", .sequence([.map(container)])),
          ])
        ),
      ])
    }
    manifest = document.yamlDocument(comments: comments)
  }

  /// The manifest, then `---` and the profile file with a comment naming where it goes
  /// (the JSON is written with spaces, so it is valid YAML too). Not for `kubectl apply`,
  /// which refuses a document without `kind`: only for saving a recording whole.
  public var combined: String {
    manifest + "---\n" + YAMLValue.commentLine("\(localhostProfile): copy to \(nodePath) on every node") + "\n"
      + profileJSON
  }

  /// The container's (or Pod's) `securityContext.seccompProfile` for a Localhost profile,
  /// as YAML to paste.
  public static func securityContextSnippet(localhostProfile: String) -> String {
    YAMLValue.map([
      (
        "securityContext",
        .map([("seccompProfile", .map([("type", .string("Localhost")), ("localhostProfile", .string(localhostProfile))]))])
      )
    ]).yamlDocument()
  }

  /// Whether `name` is a DNS-1123 subdomain (what Kubernetes accepts as an object name):
  /// at most 253 characters of `a-z 0-9 - .`, each dot-separated label starting and ending
  /// with a letter or digit.
  public static func isValidName(_ name: String) -> Bool {
    guard !name.isEmpty, name.utf8.count <= 253 else { return false }
    for label in name.split(separator: ".", omittingEmptySubsequences: false) {
      guard let f = label.first, let l = label.last else { return false }
      func alnum(_ c: Character) -> Bool { c.isASCII && (c.isLowercase || c.isNumber) }
      guard alnum(f), alnum(l), label.allSatisfy({ alnum($0) || $0 == "-" }) else { return false }
    }
    return true
  }

  /// A valid name made from a file name: its base name without `.json`, lower-cased,
  /// other characters turned into `-`; nil when nothing usable is left.
  public static func name(fromPath path: String) -> String? {
    var base = path.split(separator: "/").last.map(String.init) ?? path
    for ext in [".json", ".JSON"] where base.hasSuffix(ext) { base.removeLast(ext.count) }
    var out = ""
    for c in base.lowercased() {
      out.append(c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "-") ? c : "-")
    }
    // Labels must start and end with a letter or digit.
    let labels = out.split(separator: ".").map { $0.trimmingCharacters(of: "-") }.filter { !$0.isEmpty }
    let name = String(labels.joined(separator: ".").prefix(253)).trimmingCharacters(of: "-.")
    return isValidName(name) ? name : nil
  }

  /// A container name (a DNS-1123 label, at most 63 characters) from the profile name.
  static func containerName(for name: String) -> String {
    let label = String(name.map { $0 == "." ? "-" : $0 }.prefix(63)).trimmingCharacters(of: "-")
    return label.isEmpty ? "main" : label
  }
}

extension StringProtocol {
  /// The string without leading and trailing characters from `set`.
  func trimmingCharacters(of set: String) -> String {
    let chars = Array(self)
    var start = 0
    var end = chars.count
    while start < end, set.contains(chars[start]) { start += 1 }
    while end > start, set.contains(chars[end - 1]) { end -= 1 }
    return String(chars[start..<end])
  }
}

// MARK: - security-profiles-operator

/// A security-profiles-operator `SeccompProfile` (v1beta1) resource.
public struct SPOConversion: Sendable {
  public var yaml: String
  /// What the resource cannot say (ABIs the operator does not accept, a default errno).
  public var warnings: [String]

  public init(profile: Profile, target: ConversionTarget, name: String, header: [String] = []) {
    let p = profile.ociExpanded(for: target)
    var warnings: [String] = []
    var spec: [(String, YAMLValue)] = []
    spec.append(("defaultAction", .string((p.defaultAction ?? .allow).rawValue)))
    if let e = p.defaultErrnoRet, e != 1, p.defaultAction?.takesErrno == true {
      warnings.append(
        "defaultErrnoRet \(e): a SeccompProfile has no defaultErrnoRet, so the default action returns EPERM")
    }
    let arches = p.architectures ?? []
    let accepted = arches.filter(ConversionTables.spoAccepts)
    let refused = arches.filter { !ConversionTables.spoAccepts($0) }
    if !refused.isEmpty {
      warnings.append(
        "architectures \(refused.map(\.profileName).joined(separator: ", ")): not accepted by the operator; left out")
    }
    if !accepted.isEmpty { spec.append(("architectures", .strings(accepted.map(\.profileName)))) }
    if let listenerPath = p.listenerPath, !listenerPath.isEmpty { spec.append(("listenerPath", .string(listenerPath))) }
    if let meta = p.listenerMetadata, !meta.isEmpty { spec.append(("listenerMetadata", .string(meta))) }
    var entries: [YAMLValue] = []
    for (i, e) in (p.syscalls ?? []).enumerated() {
      var pairs: [(String, YAMLValue)] = [("action", .string(e.action.rawValue)), ("names", .strings(e.names))]
      if let errno = e.errnoRet, e.action.takesErrno {
        if errno == 0 {
          warnings.append(
            "syscalls[\(i)] (\(e.names.joined(separator: ","))): errnoRet 0 is dropped by the operator (omitempty), so it returns EPERM")
        }
        pairs.append(("errnoRet", .integer(UInt64(errno))))
      }
      if let args = e.args, !args.isEmpty {
        for a in args where max(a.value, a.valueTwo ?? 0) > UInt64(Int64.max) {
          warnings.append(
            "syscalls[\(i)] (\(e.names.joined(separator: ","))): argument \(a.index)'s value \(max(a.value, a.valueTwo ?? 0)) is above 2^63-1: the resource's schema (int64) refuses it")
        }
        pairs.append(
          (
            "args",
            .sequence(
              args.map { a in
                var arg: [(String, YAMLValue)] = [("index", .integer(UInt64(a.index))), ("value", .integer(a.value))]
                if let v2 = a.valueTwo { arg.append(("valueTwo", .integer(v2))) }
                arg.append(("op", .string(a.op.rawValue)))
                return .map(arg)
              })
          ))
      }
      entries.append(.map(pairs))
    }
    if !entries.isEmpty { spec.append(("syscalls", .sequence(entries))) }
    if let flags = p.flags, !flags.isEmpty { spec.append(("flags", .strings(flags.map(\.rawValue)))) }
    let document = YAMLValue.map([
      ("apiVersion", .string("security-profiles-operator.x-k8s.io/v1beta1")),
      ("kind", .string("SeccompProfile")),
      ("metadata", .map([("name", .string(name))])),
      ("spec", .map(spec)),
    ])
    var comments = header
    comments.append("Expanded for \(target.describe(for: profile)).")
    yaml = document.yamlDocument(comments: comments)
    self.warnings = warnings
  }
}
