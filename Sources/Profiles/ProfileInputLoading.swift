#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A profile read from a file, and which file it came from when that was another one.
public struct LoadedProfile: Sendable {
  public var profile: Profile
  public var warnings: [Diagnostic]
  /// For a Pod input: the Localhost reference and the profile file read for it.
  public var resolved: (reference: LocalhostReference, file: String)?
}

extension Profile {
  /// Reads a profile from `path` (`-` for standard input), telling JSON from YAML by
  /// content (`looksLikeYAML`): a JSON profile (Docker's or OCI form), a
  /// security-profiles-operator SeccompProfile, or a Pod whose Localhost profile is then
  /// read (as JSON) from:
  /// - `seccompRoot`/localhostProfile, when `seccompRoot` is given;
  /// - else next to the Pod file (`DIR/profiles/NAME.json`, as `convert --to k8s-pod -o DIR`
  ///   lays it out), then under the kubelet's default root `/var/lib/kubelet/seccomp`.
  public static func loadInput(
    path: String, format: ProfileFormat = .docker, strict: Bool = false, seccompRoot: String? = nil
  ) throws(InputError) -> LoadedProfile {
    let bytes = try readInputFile(path)
    let file = path == "-" ? nil : path
    guard looksLikeYAML(bytes) else {
      let (profile, warnings) = try decode(bytes, file: file, format: format, strict: strict)
      return LoadedProfile(profile: profile, warnings: warnings)
    }
    switch try decodeKubernetesYAML(bytes, file: file, strict: strict) {
    case .seccompProfile(let profile, let warnings):
      return LoadedProfile(profile: profile, warnings: warnings)
    case .localhost(let ref):
      let candidates = localhostCandidates(ref, podFile: file, seccompRoot: seccompRoot)
      for candidate in candidates where access(candidate, F_OK) == 0 {
        let referenced = try readInputFile(candidate)
        let (profile, warnings) = try decode(referenced, file: candidate, format: format, strict: strict)
        return LoadedProfile(profile: profile, warnings: warnings, resolved: (ref, candidate))
      }
      throw InputError(
        Diagnostic(
          .error, file: file, path: ref.path, line: ref.line,
          "Localhost \(ref.localhostProfile): no such file at \(candidates.joined(separator: " nor ")) "
            + "(--seccomp-root names the kubelet's seccomp root)"))
    }
  }

  /// The files a Localhost reference may be, in the order they are tried.
  static func localhostCandidates(_ ref: LocalhostReference, podFile: String?, seccompRoot: String?) -> [String] {
    func join(_ dir: String, _ rel: String) -> String { dir.hasSuffix("/") ? dir + rel : dir + "/" + rel }
    if let seccompRoot { return [join(seccompRoot, ref.localhostProfile)] }
    var out: [String] = []
    if let podFile {
      let dir = podFile.contains("/") ? String(podFile[..<podFile.lastIndex(of: "/")!]) : "."
      out.append(join(dir.isEmpty ? "/" : dir, ref.localhostProfile))
    }
    out.append(join(KubernetesPodConversion.defaultSeccompRoot, ref.localhostProfile))
    return out
  }
}
