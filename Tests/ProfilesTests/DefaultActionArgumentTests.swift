import Host
import Profiles
import Seccomp
import Testing

/// The one grammar of `--default-action` and `--bad-arch`.
@Suite struct DefaultActionArgumentTests {
  @Test(arguments: [
    ("errno", ActionName.errno, UInt32?.none),
    ("ERRNO", .errno, nil),
    ("SCMP_ACT_ERRNO", .errno, nil),
    ("scmp_act_errno", .errno, nil),
    ("errno:EPERM", .errno, 1),
    ("errno:eperm", .errno, 1),
    ("errno:1", .errno, 1),
    ("errno:ENOSYS", .errno, 38),
    ("errno:4095", .errno, 4095),
    ("ERRNO(38)", .errno, 38),
    ("SCMP_ACT_ERRNO(EACCES)", .errno, 13),
    ("SCMP_ACT_ERRNO:13", .errno, 13),
    (" errno ", .errno, nil),
    ("kill", .kill, nil),
    ("SCMP_ACT_KILL", .kill, nil),
    ("kill-process", .killProcess, nil),
    ("kill_process", .killProcess, nil),
    ("SCMP_ACT_KILL_PROCESS", .killProcess, nil),
    ("kill-thread", .killThread, nil),
    ("trap", .trap, nil),
    ("log", .log, nil),
    ("SCMP_ACT_LOG", .log, nil),
    ("allow", .allow, nil),
    ("SCMP_ACT_ALLOW", .allow, nil),
    ("trace", .trace, nil),
    ("trace:7", .trace, 7),
    ("notify", .notify, nil),
  ])
  func accepts(text: String, action: ActionName, errno: UInt32?) throws {
    let parsed = try DefaultActionArgument(parsing: text)
    #expect(parsed.action == action, "\(text)")
    #expect(parsed.errno == errno, "\(text)")
  }

  @Test(arguments: [
    ("bogus", "'bogus' is not an action; use errno (EPERM)"),
    ("", "'' is not an action"),
    ("errno:NOSUCHERRNO", "'NOSUCHERRNO' is not an errno; give a name (EPERM, ENOSYS, EACCES, ...) or a number 1-4095"),
    ("errno:0", "errno 0 makes a refused call return success"),
    ("errno:4096", "errno 4096 is out of range"),
    ("errno:", "'' is not an errno"),
    ("ERRNO(38", "opens a parenthesis it does not close"),
    ("kill-process:5", "kill-process takes no value; only errno (errno:EPERM, errno:1) and trace (trace:N) do"),
    ("allow:1", "allow takes no value"),
    ("trace:ENOSYS", "trace's value is the number the tracer is given, 0-65535"),
    ("trace:65536", "trace's value is the number the tracer is given, 0-65535"),
  ])
  func refuses(text: String, message: String) {
    do {
      let parsed = try DefaultActionArgument(parsing: text)
      Issue.record("'\(text)' parsed as \(parsed)")
    } catch {
      #expect(error.description.contains(message), "\(text): \(error.description)")
    }
  }

  @Test func shortSpellingAndKernelAction() throws {
    #expect(try DefaultActionArgument(parsing: "SCMP_ACT_KILL_PROCESS").description == "kill-process")
    #expect(try DefaultActionArgument(parsing: "ERRNO(ENOSYS)").description == "errno:38")
    #expect(try DefaultActionArgument(parsing: "errno").seccompAction == .errno(1))
    #expect(try DefaultActionArgument(parsing: "errno:ENOSYS").seccompAction == .errno(38))
    #expect(try DefaultActionArgument(parsing: "kill").seccompAction == .killThread)
    #expect(try DefaultActionArgument(parsing: "allow").seccompAction == .allow)
    #expect(DefaultActionArgument.errnoEPERM == DefaultActionArgument(action: .errno))
  }

  /// allow, notify and trace cannot end an allow-list of seen calls; the others can.
  @Test func allowListDefaults() throws {
    for text in ["allow", "notify", "trace"] {
      #expect(try DefaultActionArgument(parsing: text).allowListRefusal != nil, "\(text)")
    }
    for text in ["errno", "errno:ENOSYS", "kill", "kill-process", "kill-thread", "trap", "log"] {
      #expect(try DefaultActionArgument(parsing: text).allowListRefusal == nil, "\(text)")
    }
    #expect(try DefaultActionArgument(parsing: "allow").allowListRefusal?.contains("would let every call run") == true)
  }
}
