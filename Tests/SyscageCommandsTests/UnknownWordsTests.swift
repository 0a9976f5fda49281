import ArgumentParser
import Testing

@testable import SyscageCommands

/// A mistyped subcommand or option gets the nearest names, not argument-parser's
/// "Unexpected argument".
@Suite struct UnknownWordsTests {
  func subcommandMessage(_ arguments: [String]) -> String? {
    unknownSubcommandError(arguments, of: Syscage.self).map { Syscage.message(for: $0) }
  }

  @Test func everySubcommandIsKnown() {
    let names = Syscage.configuration.subcommands.compactMap { $0.configuration.commandName }
    #expect(
      Set(names) == [
        "syscalls", "compile", "check", "run", "convert", "status", "probe", "audit", "lint", "import", "record", "dump", "watch", "diff",
        "merge", "install",
      ])
    for name in names + ["help"] { #expect(subcommandMessage([name, "x"]) == nil, "\(name)") }
  }

  @Test func aMistypedSubcommandGetsTheNearest() {
    #expect(subcommandMessage(["recrod", "-o", "x"]) == "unknown command 'recrod'; did you mean 'record'?")
    #expect(subcommandMessage(["complie"]) == "unknown command 'complie'; did you mean 'compile'?")
    #expect(subcommandMessage(["lnt"]) == "unknown command 'lnt'; did you mean 'lint'?")
    #expect(Syscage.exitCode(for: unknownSubcommandError(["recrod"], of: Syscage.self)!) == .validationFailure)
  }

  @Test func aWordNearNothingListsTheCommands() {
    #expect(
      subcommandMessage(["frobnicate"])
        == "unknown command 'frobnicate'; the commands are syscalls, compile, check, run, convert, status, probe, audit, lint, import, record, dump, watch, diff, merge, install")
  }

  @Test func optionsAndNothingAreNotSubcommands() {
    #expect(subcommandMessage([]) == nil)
    #expect(subcommandMessage(["--version"]) == nil)
    #expect(subcommandMessage(["-h"]) == nil)
  }

  @Test func aMistypedOptionGetsTheNearest() {
    let known = ["--verify", "--version", "--output", "-o", "--help"]
    #expect(unknownOptionMessage("--verfy", known: known, dashDash: true) == "unknown option '--verfy'; did you mean '--verify'?")
    #expect(unknownOptionMessage("--outp", known: known, dashDash: true) == "unknown option '--outp'; did you mean '--output'?")
    #expect(unknownOptionMessage("--zzzzzz", known: known, dashDash: true) == "unknown option '--zzzzzz'")
    #expect(
      unknownOptionMessage("--zzzzzz", known: known, dashDash: false) == "unknown option '--zzzzzz'; a program whose name starts with - goes after --")
  }

  @Test func optionsBeforeTheProgramAreSyscages() throws {
    #expect(throws: Never.self) { try rejectUnknownOptions(in: ["--", "ls", "--bogus"], of: RunCommand.self) }
    #expect(throws: Never.self) { try rejectUnknownOptions(in: ["ls", "--bogus"], of: RunCommand.self) }
    #expect(throws: Never.self) { try rejectUnknownOptions(in: ["--strict", "--", "ls"], of: RunCommand.self) }
    #expect(throws: ValidationError.self) { try rejectUnknownOptions(in: ["--bogus", "--", "ls"], of: RunCommand.self) }
    // Bundled short flags are known when every letter is.
    #expect(throws: Never.self) { try rejectUnknownOptions(in: ["-c", "--", "ls"], of: RecordCommand.self) }
  }

  @Test func theOptionNamesComeFromTheCommand() {
    let names = optionNames(of: RecordCommand.self)
    for name in ["-o", "--output", "--verify", "--amend", "-p", "--pid", "--default-action", "--for", "-c", "--backend"] {
      #expect(names.contains(name), "\(name)")
    }
  }
}
