import ArgumentParser
import Foundation
import Profiles
import Testing

@testable import SyscageCommands

/// One `--default-action` grammar, `DefaultActionArgument`'s: record and import accept
/// the same words into the same value, and refuse the same words with the same message;
/// compile's `--bad-arch` reads the same grammar (allow included: it is no allow-list).
@Suite struct DefaultActionGrammarTests {
  let scratch: Scratch

  init() throws { scratch = try Scratch() }

  /// The command lines that take `--default-action VALUE`.
  func commandLines(_ value: String) -> [[String]] {
    [
      ["record", "-o", scratch.file("out.json"), "--default-action", value, "--", "ls"],
      ["import", "--strace", "app.trace", "--default-action", value],
      ["import", "--audit", "audit.log", "--default-action", value],
      ["import", "--names", "names.txt", "--default-action", value],
    ]
  }

  func value(_ arguments: [String]) throws -> DefaultActionArgument {
    let command = try Syscage.parseAsRoot(arguments)
    if let r = command as? RecordCommand { return r.defaultAction }
    return try #require(command as? ImportCommand).defaultAction.value
  }

  static let accepted: [(String, DefaultActionArgument)] = [
    ("errno", DefaultActionArgument(action: .errno)),
    ("SCMP_ACT_ERRNO", DefaultActionArgument(action: .errno)),
    ("errno:ENOSYS", DefaultActionArgument(action: .errno, errno: 38)),
    ("errno:13", DefaultActionArgument(action: .errno, errno: 13)),
    ("ERRNO(38)", DefaultActionArgument(action: .errno, errno: 38)),
    ("kill-process", DefaultActionArgument(action: .killProcess)),
    ("SCMP_ACT_KILL_PROCESS", DefaultActionArgument(action: .killProcess)),
    ("kill_thread", DefaultActionArgument(action: .killThread)),
    ("kill", DefaultActionArgument(action: .kill)),
    ("trap", DefaultActionArgument(action: .trap)),
    ("Log", DefaultActionArgument(action: .log)),
  ]

  /// Words outside the grammar: the parse error's text.
  static let notInTheGrammar: [(String, String)] = [
    ("bogus", "'bogus' is not an action; use \(DefaultActionArgument.grammar)"),
    ("errno:NOSUCHERRNO", "'NOSUCHERRNO' is not an errno"),
    ("errno:0", "errno 0 makes a refused call return success"),
    ("errno:4096", "errno 4096 is out of range"),
    ("kill-process:5", "kill-process takes no value"),
    ("errno(1", "'errno(1' opens a parenthesis it does not close"),
  ]

  /// Actions of the grammar that an allow-list's default cannot be.
  static let notAnAllowListDefault: [(String, String)] = [
    ("allow", "--default-action allow: allow would let every call run, so the list of the calls seen would decide nothing"),
    ("SCMP_ACT_ALLOW", "--default-action allow: allow would let every call run"),
    ("notify", "--default-action notify: notify hands every other call to a listener"),
    ("trace", "--default-action trace: trace hands every other call to a ptrace tracer"),
    ("trace:7", "--default-action trace:7: trace hands every other call to a ptrace tracer"),
  ]

  @Test func everyCommandAcceptsTheSameWords() throws {
    for (word, expected) in Self.accepted {
      #expect(try DefaultActionArgument(parsing: word) == expected, "\(word)")
      for line in commandLines(word) {
        #expect(try value(line) == expected, "\(line)")
      }
    }
  }

  @Test func everyCommandRefusesTheSameWordsWithTheSameMessage() throws {
    for (word, text) in Self.notInTheGrammar + Self.notAnAllowListDefault {
      let refusals = commandLines(word).map { refusal($0) }
      let first = try #require(refusals[0], "\(word) accepted")
      #expect(first.status == 64, "\(word): \(first)")
      #expect(first.message.contains(text), "\(word): \(first.message)")
      for r in refusals.dropFirst() { #expect(r == first, "\(word)") }
    }
  }

  @Test func theAllowListRefusalIsTheGrammarsOwn() throws {
    for (word, _) in Self.notAnAllowListDefault {
      let parsed = try DefaultActionArgument(parsing: word)
      let reason = try #require(parsed.allowListRefusal, "\(word)")
      #expect(refusal(commandLines(word)[0]) == Refusal("--default-action \(parsed): \(reason)"))
    }
    for (word, expected) in Self.accepted { #expect(expected.allowListRefusal == nil, "\(word)") }
  }

  @Test func badArchReadsTheSameGrammar() throws {
    for (word, expected) in Self.accepted + [("allow", DefaultActionArgument(action: .allow)), ("trace:7", DefaultActionArgument(action: .trace, errno: 7))] {
      let c = try parsed(["compile", "p.json", "--bad-arch", word], as: CompileCommand.self)
      #expect(c.policyArguments.badArch == expected, "\(word)")
    }
    for (word, text) in Self.notInTheGrammar {
      let r = try #require(refusal(["compile", "p.json", "--bad-arch", word]), "\(word)")
      #expect(r.status == 64 && r.message.contains(text), "\(word): \(r)")
    }
  }
}
