import ArgumentParser
struct SyscallsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "syscalls")
}
