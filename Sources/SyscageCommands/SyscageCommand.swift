import ArgumentParser

/// The `syscage` command and its subcommands. The executable's `main` calls
/// `Syscage.main()`; tests parse and validate through `Syscage.parseAsRoot(_:)`.
public struct Syscage: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "syscage",
    abstract: "Give every program exactly the syscalls it needs.",
    version: "0.1.0",
    subcommands: [SyscallsCommand.self, CompileCommand.self, CheckCommand.self, RunCommand.self, ConvertCommand.self, StatusCommand.self, ProbeCommand.self, AuditCommand.self, LintCommand.self, ImportCommand.self, RecordCommand.self, DumpCommand.self, WatchCommand.self, DiffCommand.self, MergeCommand.self, InstallCommand.self])

  public init() {}

  /// Runs the command line of this process: rejects an unknown subcommand with a
  /// suggestion, then parses, validates and runs (exits the process).
  public static func main() {
    rejectUnknownSubcommand(Array(CommandLine.arguments.dropFirst()), of: self)
    main(nil)
  }
}
