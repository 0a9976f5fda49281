import Foundation
import SyscallTableGenerator

// Regenerates Sources/Syscalls/GeneratedSyscallTable.swift from Data/.
// Usage: swift run generate-syscall-tables [PACKAGE_ROOT]
let root = URL(fileURLWithPath: CommandLine.arguments.dropFirst().first ?? FileManager.default.currentDirectoryPath)
do {
  let source = try SyscallTableGenerator.generate(dataDirectory: root.appendingPathComponent("Data"))
  let out = root.appendingPathComponent("Sources/Syscalls/GeneratedSyscallTable.swift")
  try Data(source.utf8).write(to: out, options: .atomic)
  print("wrote \(out.path)")
} catch {
  FileHandle.standardError.write(Data("generate-syscall-tables: \(error)\n".utf8))
  exit(65)
}
