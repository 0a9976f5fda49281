import ArgumentParser
import Foundation
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

/// Parses an `--arch` value, accepting every spelling `Arch(named:)` knows.
func parseArch(_ text: String) throws -> Arch {
  guard let arch = Arch(named: text) else {
    throw ValidationError(
      "unknown arch '\(text)'; known: \(Arch.all.map(\.name).joined(separator: ", "))")
  }
  return arch
}

extension Arch: ExpressibleByArgument {
  /// A name `Arch(named:)` knows, or an audit arch value as audit records print it
  /// (`c000003e`, `0xc000003e`).
  public init?(argument: String) {
    if let arch = Arch(named: argument) {
      self = arch
      return
    }
    let digits = argument.lowercased().hasPrefix("0x") ? argument.dropFirst(2) : Substring(argument)
    guard (1...8).contains(digits.count), let value = UInt32(digits, radix: 16), let arch = Arch(auditArch: value, number: 0) else { return nil }
    self = arch
  }
  public static var allValueStrings: [String] { Arch.all.map(\.name) }
}

/// Encodes a value tree as compact JSON for `--json` output.
func jsonLine(_ object: Any) -> String {
  let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
  return String(decoding: data, as: UTF8.self)
}
