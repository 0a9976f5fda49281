/// An LXC container configuration (`LXCPATH/NAME/config`) edited as text.
public enum LXCContainerConfig {
  /// The key of the container's seccomp policy file.
  public static let seccompProfileKey = "lxc.seccomp.profile"

  /// `config` with `lxc.seccomp.profile = path`: the first line setting the key is replaced
  /// (keeping its place), later ones are removed (LXC would take the last), and when there is
  /// none the line is appended. Every other line, comments included, is kept as it was.
  public static func settingSeccompProfile(_ path: String, in config: String) -> String {
    var lines = config.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let endsWithNewline = config.hasSuffix("\n")
    if endsWithNewline { lines.removeLast() }
    let setting = "\(seccompProfileKey) = \(path)"
    var replaced = false
    var result: [String] = []
    for line in lines {
      if key(of: line) == seccompProfileKey {
        if !replaced { result.append(setting) }
        replaced = true
        continue
      }
      result.append(line)
    }
    if !replaced { result.append(setting) }
    return result.joined(separator: "\n") + "\n"
  }

  /// The key a configuration line sets (`lxc.seccomp.profile` for `  lxc.seccomp.profile=x`),
  /// nil for comments, blank lines and lines without `=`.
  public static func key(of line: String) -> String? {
    let t = line.drop { $0 == " " || $0 == "\t" }
    guard !t.hasPrefix("#"), let eq = t.firstIndex(of: "=") else { return nil }
    var k = t[..<eq]
    while k.last == " " || k.last == "\t" { k = k.dropLast() }
    return k.isEmpty ? nil : String(k)
  }
}
