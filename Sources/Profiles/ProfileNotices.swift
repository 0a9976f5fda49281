import Seccomp
import Syscalls

// The sentences several commands say about a profile, made in one place (pure: the
// caller prints them).

extension Profile {
  /// "P: the profile disables seccomp: it has no defaultAction and no syscalls", naming the
  /// top-level unknown keys of `warnings` that are near `defaultAction` or `syscalls` (a
  /// misspelling turns the filter off, as moby reads such a profile). `-` is standard input.
  public static func disabledMessage(_ path: String, warnings: [Diagnostic]) -> String {
    let near = warnings.filter { w in
      !w.path.isEmpty && !w.path.contains(".") && !w.path.contains("[")
        && (w.message.contains("did you mean \"defaultAction\"") || w.message.contains("did you mean \"syscalls\""))
    }
    var text = "\(path == "-" ? "standard input" : path): the profile disables seccomp: it has no defaultAction and no syscalls"
    if !near.isEmpty {
      text += " (misspelled? \(near.map { "\"\($0.path)\"" }.joined(separator: ", ")) \(near.count == 1 ? "is not a key" : "are not keys"): ignored)"
    }
    return text
  }
}

extension Lint {
  /// "P allows io_uring_setup, ...: (why that bypasses seccomp) (lint: io-uring-allowed)",
  /// the warning before a run under `profile` (nil when it allows no io_uring call).
  public static func ioUringWarning(_ profile: Profile, named path: String, options: PolicyOptions) -> String? {
    guard !profile.isDisabled else { return nil }
    let names = ioUringAllowed(profile, options: options)
    guard !names.isEmpty else { return nil }
    return "\(path) allows \(names.joined(separator: ", ")): \(ioUringBypass) (lint: io-uring-allowed)"
  }
}

extension RuntimeSelection {
  /// Which of this runtime's calls were added (`what`: why they were missing, `the
  /// program did not make`; `why`: why this runtime), and how to leave them out.
  public func addedNote(_ added: [String], what: String, why: String? = nil) -> String {
    let selection = "\(self)" + (why.map { " (\($0))" } ?? "")
    if added.isEmpty {
      return "for \(selection): nothing to add, the profile allows every call it makes after loading the container's filter"
    }
    return "for \(selection): also allowing the \(added.count) calls it makes after loading the container's filter that \(what): \(added.joined(separator: ", ")) (--for none leaves them out)"
  }
}
