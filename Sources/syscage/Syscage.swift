import ArgumentParser

@main
struct Syscage: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "syscage",
    abstract: "Give every program exactly the syscalls it needs.",
    version: "0.1.0",
    subcommands: [SyscallsCommand.self, CompileCommand.self, CheckCommand.self, RunCommand.self, ConvertCommand.self, StatusCommand.self, ProbeCommand.self, AuditCommand.self, LintCommand.self, ImportCommand.self, RecordCommand.self, DumpCommand.self, WatchCommand.self, DiffCommand.self, MergeCommand.self, InstallCommand.self])

  static func main() {
    rejectUnknownSubcommand(Array(CommandLine.arguments.dropFirst()), of: self)
    main(nil)
  }
}
