import ArgumentParser
import Foundation
import Profiles
import Seccomp
import Syscalls

/// Exit statuses of DESIGN.md's command-line contract.
enum ExitStatus {
  static let negative: Int32 = 1
  static let usage: Int32 = 64
  static let dataError: Int32 = 65
  static let unavailable: Int32 = 69
  /// An output that cannot be created (EX_CANTCREAT).
  static let cantCreate: Int32 = 73
}

/// Writes a line to standard error.
func printError(_ message: String) {
  FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
}

/// Prints `syscage: message` on stderr and ends the command with `code`.
func fail(_ message: String, code: Int32) -> ExitCode {
  printError("syscage: " + message)
  return ExitCode(code)
}

/// Prints an input error's diagnostics and returns the data-error exit.
func fail(_ error: InputError) -> ExitCode {
  for d in error.diagnostics { printError(d.description) }
  return ExitCode(ExitStatus.dataError)
}

/// Encodes a value tree as compact JSON for `--json` output.
func jsonLine(_ object: Any) -> String {
  let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
  return String(decoding: data, as: UTF8.self)
}
