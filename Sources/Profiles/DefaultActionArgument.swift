import Seccomp
import Syscalls

/// An action as the command line spells it (`--default-action`, `--bad-arch`): one
/// grammar for every command.
///
/// A name, in any case, `-` or `_` between words, with or without the profiles'
/// `SCMP_ACT_` prefix: `errno`, `kill-process`, `kill-thread`, `kill` (libseccomp's
/// `SCMP_ACT_KILL`, which kills the thread), `trap`, `log`, `trace`, `notify`, `allow`.
/// `errno` and `trace` take a number after `:` or in parentheses: `errno:EPERM`,
/// `errno:1`, `ERRNO(38)`, `SCMP_ACT_ERRNO:ENOSYS`; an errno is a name (the generic
/// numbering) or 1-4095, trace's value 0-65535. `errno` alone is EPERM's.
public struct DefaultActionArgument: Hashable, Sendable, CustomStringConvertible {
  /// The action.
  public var action: ActionName
  /// The errno (ERRNO) or tracer value (TRACE) given after the name; nil when none was.
  public var errno: UInt32?

  public init(action: ActionName, errno: UInt32? = nil) {
    self.action = action
    self.errno = errno
  }

  /// `errno` (EPERM), the default action of the profiles syscage builds.
  public static let errnoEPERM = DefaultActionArgument(action: .errno)

  /// What the grammar accepts, for a command's help.
  public static let grammar =
    "errno (EPERM), errno:NAME|N, kill-process, kill-thread (kill), trap, log, trace[:N], notify, allow; SCMP_ACT_* spellings too"

  /// What the grammar accepts as an allow-list's default (see `allowListRefusal`), for a
  /// command's help.
  public static let allowListGrammar =
    "errno (EPERM; the default), errno:NAME|N, kill-process, kill-thread (kill), trap, log; SCMP_ACT_* spellings too"

  /// A value that is not in the grammar, and why.
  public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
  }

  /// Parses `text` (see the type's grammar).
  public init(parsing text: String) throws(ParseError) {
    let trimmed = Substring(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    var name = trimmed
    var parameter: Substring?
    if let open = trimmed.firstIndex(where: { $0 == ":" || $0 == "(" }) {
      name = trimmed[..<open]
      var rest = trimmed[trimmed.index(after: open)...]
      if trimmed[open] == "(" {
        guard rest.hasSuffix(")") else { throw ParseError(description: "'\(text)' opens a parenthesis it does not close") }
        rest = rest.dropLast()
      }
      parameter = rest
    }
    var key = String(name.uppercased().map { $0 == "-" ? "_" : $0 })
    if !key.hasPrefix("SCMP_ACT_") { key = "SCMP_ACT_" + key }
    guard let action = ActionName(rawValue: key) else {
      throw ParseError(description: "'\(name)' is not an action; use \(Self.grammar)")
    }
    self.action = action
    guard let parameter else { return }
    let shortName = Self.shortName(action)
    switch action {
    case .errno:
      if let n = UInt32(parameter) {
        guard n >= 1 && n <= 4095 else {
          throw ParseError(
            description: n == 0
              ? "errno 0 makes a refused call return success; give an errno name (EPERM) or 1-4095"
              : "errno \(n) is out of range; give an errno name (EPERM) or 1-4095")
        }
        errno = n
      } else if let n = ErrnoNames.generic.first(where: { $0.value == parameter.uppercased() })?.key {
        errno = UInt32(n)
      } else {
        throw ParseError(description: "'\(parameter)' is not an errno; give a name (EPERM, ENOSYS, EACCES, ...) or a number 1-4095")
      }
    case .trace:
      guard let n = UInt32(parameter), n <= 65535 else {
        throw ParseError(description: "trace's value is the number the tracer is given, 0-65535, not '\(parameter)'")
      }
      errno = n
    default:
      throw ParseError(description: "\(shortName) takes no value; only errno (errno:EPERM, errno:1) and trace (trace:N) do")
    }
  }

  /// The action with its errno: ERRNO without one is EPERM's.
  public var seccompAction: SeccompAction {
    action.action(errnoRet: errno)
  }

  /// Why this cannot be the default action of an allow-list of the calls a program was
  /// seen to make (`record`, `import`): nil when it can.
  public var allowListRefusal: String? {
    switch action {
    case .allow:
      "allow would let every call run, so the list of the calls seen would decide nothing (log lets them run and logs them)"
    case .notify:
      "notify hands every other call to a listener the profile cannot name; runtimes refuse it as a default action"
    case .trace:
      "trace hands every other call to a ptrace tracer, and without one each fails with ENOSYS (errno:ENOSYS says so without a tracer)"
    default:
      nil
    }
  }

  /// The short spelling: `errno:38`, `kill-process`, `log`.
  public var description: String {
    let name = Self.shortName(action)
    return errno.map { "\(name):\($0)" } ?? name
  }

  static func shortName(_ action: ActionName) -> String {
    String(action.rawValue.dropFirst("SCMP_ACT_".count).lowercased().map { $0 == "_" ? "-" : $0 })
  }
}
