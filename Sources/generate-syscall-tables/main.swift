import Foundation
import SyscallTableGenerator

// Regenerates Sources/Syscalls/GeneratedSyscallTable.swift and
// Sources/Profiles/GeneratedEmbeddedProfiles.swift from Data/.
// Usage: swift run generate-syscall-tables [PACKAGE_ROOT]
let root = URL(fileURLWithPath: CommandLine.arguments.dropFirst().first ?? FileManager.default.currentDirectoryPath)
do {
  let source = try SyscallTableGenerator.generate(dataDirectory: root.appendingPathComponent("Data"))
  let out = root.appendingPathComponent("Sources/Syscalls/GeneratedSyscallTable.swift")
  try Data(source.utf8).write(to: out, options: .atomic)
  print("wrote \(out.path)")
  let profiles = try SyscallTableGenerator.generateEmbeddedProfiles(dataDirectory: root.appendingPathComponent("Data"))
  let profilesOut = root.appendingPathComponent("Sources/Profiles/GeneratedEmbeddedProfiles.swift")
  try Data(profiles.utf8).write(to: profilesOut, options: .atomic)
  print("wrote \(profilesOut.path)")
} catch {
  FileHandle.standardError.write(Data("generate-syscall-tables: \(error)\n".utf8))
  exit(65)
}
