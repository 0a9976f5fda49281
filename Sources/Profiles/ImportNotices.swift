import Seccomp
import Syscalls

// What `import --lxc` and `import --names` say about the names they leave out (pure: the
// caller prints the diagnostics), and a diagnostic as `--json` writes it.

extension LXCPolicyImport {
  /// The names that are no syscall on any ABI (LXC skips them).
  public var noSyscall: [(name: String, line: Int)] { unknown.filter { !SyscallTable.isKnown($0.name) } }

  /// The names that are syscalls, but of none of the ABIs LXC's filter covers on the host.
  public var notOnTheseABIs: [(name: String, line: Int)] { unknown.filter { SyscallTable.isKnown($0.name) } }

  /// The policy's diagnostics, then one for the names that are no syscall and one for the
  /// names that are not syscalls of its ABIs, each at the first such name's line: errors
  /// with `strict`, else warnings.
  public func diagnostics(strict: Bool, file: String?) -> [Diagnostic] {
    var out = diagnostics
    let unknown = noSyscall, elsewhere = notOnTheseABIs
    let abis = (profile.architectures ?? []).map(\.name).joined(separator: ", ")
    if !unknown.isEmpty {
      out.append(
        Diagnostic(
          strict ? .error : .warning, file: file, line: unknown[0].line,
          "no syscall on any ABI (LXC skips \(unknown.count == 1 ? "it" : "them")): \(unknown.map(\.name).joined(separator: " "))"))
    }
    if !elsewhere.isEmpty {
      out.append(
        Diagnostic(
          strict ? .error : .warning, file: file, line: elsewhere[0].line,
          "not a syscall of \(abis) (LXC skips \(elsewhere.count == 1 ? "it" : "them")): \(elsewhere.map(\.name).joined(separator: " "))"))
    }
    return out
  }
}

extension SyscallNameList {
  /// The list's diagnostics, then one for the names that are no syscall on any ABI (an
  /// error with `strict`) and a warning for the names that are not syscalls of `arch`,
  /// each at the first such name's line.
  public func diagnostics(on arch: Arch, strict: Bool, file: String?) -> [Diagnostic] {
    var out = diagnostics
    let unknown = self.unknown, missing = missing(on: arch)
    func line(of name: String) -> Int? { names.first { $0.name == name }?.line }
    if !unknown.isEmpty {
      out.append(
        Diagnostic(
          strict ? .error : .warning, file: file, line: line(of: unknown[0]),
          "left out \(unknown.count) name\(unknown.count == 1 ? "" : "s") that \(unknown.count == 1 ? "is" : "are") no syscall on any ABI: \(unknown.joined(separator: " "))"
        ))
    }
    if !missing.isEmpty {
      out.append(
        Diagnostic(
          .warning, file: file, line: line(of: missing[0]),
          "left out \(missing.count) name\(missing.count == 1 ? "" : "s") that \(missing.count == 1 ? "is not a syscall" : "are not syscalls") of \(arch): \(missing.joined(separator: " "))"
        ))
    }
    return out
  }
}

extension Diagnostic {
  /// The diagnostic as a JSON object's members: severity, message, and file and line
  /// when known (values for `JSONSerialization`).
  public var jsonObject: [String: Any] {
    var o: [String: Any] = ["severity": severity.rawValue, "message": message]
    if let file { o["file"] = file }
    if let line { o["line"] = line }
    return o
  }
}
