import ArgumentParser
import Enforcement
import Foundation
import Recording
import Profiles
import Seccomp
import Syscalls

// The values of options and arguments that several commands take.

/// `--default-action` of the commands that build an allow-list of the calls a program
/// was seen to make (record, import): `DefaultActionArgument`'s grammar; an action that
/// cannot be an allow-list's default is a usage error (64) saying why.
struct AllowListDefaultAction: ParsableArguments {
  @Option(
    name: .customLong("default-action"),
    help: ArgumentHelp("The action for the calls the profile does not list: \(DefaultActionArgument.allowListGrammar).", valueName: "action"),
    transform: { try DefaultActionArgument(parsing: $0) })
  var given: DefaultActionArgument?

  /// The action given, else errno (EPERM).
  var value: DefaultActionArgument { given ?? .errnoEPERM }

  func validate() throws {
    if let given, let reason = given.allowListRefusal {
      throw ValidationError("--default-action \(given): \(reason)")
    }
  }
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

/// Parses a syscall argument: decimal, 0x hex, 0o octal, or negative (two's complement).
func parseArgument(_ s: String) -> UInt64? {
  let t = s.replacingOccurrences(of: "_", with: "")
  if t.hasPrefix("-") { return Int64(t).map { UInt64(bitPattern: $0) } }
  if t.lowercased().hasPrefix("0x") { return UInt64(t.dropFirst(2), radix: 16) }
  if t.lowercased().hasPrefix("0o") { return UInt64(t.dropFirst(2), radix: 8) }
  return UInt64(t)
}

/// The program and its arguments after `--` of a command that wraps a program (run, watch).
func wrappedCommand(_ command: [String]) throws -> [String] {
  var argv = command
  if argv.first == "--" { argv.removeFirst() }
  guard !argv.isEmpty else { throw ValidationError("name a program after --") }
  return argv
}

extension CPUPlacement: ExpressibleByArgument {}

extension OutputFormat: ExpressibleByArgument {}
