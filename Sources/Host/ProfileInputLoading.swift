#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif
import Profiles

/// A profile read from a file, and which file it came from when that was another one.
public struct LoadedProfile: Sendable {
  public var profile: Profile
  public var warnings: [Diagnostic]
  /// For a Pod input: the Localhost reference and the profile file read for it.
  public var resolved: (reference: LocalhostReference, file: String)?
}

extension Profile {
  /// Reads a profile file (`-` for standard input) and decodes it as `decode` does; a
  /// YAML file (one that does not start with `{`) is read as `loadInput` reads it.
  /// An unreadable file is an `InputError` naming the file and the system's reason.
  public static func load(
    path: String, format: ProfileFormat = .docker, strict: Bool = false
  ) throws(InputError) -> (profile: Profile, warnings: [Diagnostic]) {
    let input = try loadInput(path: path, format: format, strict: strict)
    return (input.profile, input.warnings)
  }

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

/// Reads a whole file (`-` for standard input); an unreadable one is an `InputError`
/// naming the file and the system's reason.
public func readInputFile(_ path: String) throws(InputError) -> [UInt8] {
  let file: String? = path == "-" ? nil : path
  let fd = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else {
    throw InputError(Diagnostic(.error, file: file, "cannot open: \(errnoText(errno))"))
  }
  defer { if path != "-" { close(fd) } }
  var result: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 1 << 16)
  while true {
    let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if n < 0 {
      let e = errno
      if e == EINTR { continue }
      throw InputError(Diagnostic(.error, file: file, "cannot read: \(errnoText(e))"))
    }
    if n == 0 { return result }
    result.append(contentsOf: chunk[0..<n])
  }
}

private func errnoText(_ e: Int32) -> String {
  guard let text = strerror(e) else { return "errno \(e)" }
  return "\(String(cString: text)) (errno \(e))"
}
