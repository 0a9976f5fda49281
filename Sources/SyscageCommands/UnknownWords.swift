import ArgumentParser
import Foundation
import Syscalls

/// The option names a command accepts (`--verify`, `-o`), read from its own argument
/// definitions (the tool description argument-parser dumps), once per command.
func optionNames(of command: any ParsableCommand.Type) -> [String] {
  OptionNameCache.shared.names(of: command)
}

/// `optionNames(of:)`'s answers: dumping a command's description takes a while.
final class OptionNameCache: @unchecked Sendable {
  static let shared = OptionNameCache()
  private let lock = NSLock()
  private var known: [ObjectIdentifier: [String]] = [:]

  func names(of command: any ParsableCommand.Type) -> [String] {
    let key = ObjectIdentifier(command)
    if let names = lock.withLock({ known[key] }) { return names }
    let names = dumpedOptionNames(of: command)
    lock.withLock { known[key] = names }
    return names
  }
}

/// The option names in the tool description argument-parser dumps for `command`.
func dumpedOptionNames(of command: any ParsableCommand.Type) -> [String] {
  guard let data = command._dumpHelp().data(using: .utf8),
    let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
    let info = root["command"] as? [String: Any],
    let arguments = info["arguments"] as? [[String: Any]]
  else { return ["--help"] }
  return arguments.flatMap { argument -> [String] in
    (argument["names"] as? [[String: Any]] ?? []).compactMap { n -> String? in
      guard let name = n["name"] as? String, let kind = n["kind"] as? String else { return nil }
      return (kind == "short" || kind == "longWithSingleDash" ? "-" : "--") + name
    }
  }
}

/// Refuses a mistyped option that argument-parser handed to a wrapped program's words:
/// before `--` (or, without `--`, before the first word not starting with `-`), a word
/// starting with `-` is one of syscage's options or a usage error, never the program.
func rejectUnknownOptions(in words: [String], of command: any ParsableCommand.Type) throws {
  let known = optionNames(of: command)
  let end = words.firstIndex(of: "--") ?? words.firstIndex { !$0.hasPrefix("-") || $0 == "-" } ?? words.endIndex
  for word in words[..<end] where word.hasPrefix("-") && word != "-" {
    let name = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? word
    if known.contains(name) { continue }
    // Bundled short flags (-cv): known when every letter is.
    if !name.hasPrefix("--"), name.count > 2, name.dropFirst().allSatisfy({ known.contains("-\($0)") }) { continue }
    throw ValidationError(unknownOptionMessage(name, known: known, dashDash: words.contains("--")))
  }
}

/// `unknown option '--verfy'; did you mean '--verify'?`
func unknownOptionMessage(_ name: String, known: [String], dashDash: Bool) -> String {
  let longs = known.filter { $0.hasPrefix("--") }
  var near = name.hasPrefix("--") ? nearestWords(to: name, in: longs, maxDistance: max(2, name.count / 3)) : []
  if near.isEmpty, name.count > 2 { near = longs.filter { $0.hasPrefix(name) } }
  if !near.isEmpty { return "unknown option '\(name)'; did you mean \(near.prefix(3).map { "'\($0)'" }.joined(separator: " or "))?" }
  return "unknown option '\(name)'" + (dashDash ? "" : "; a program whose name starts with - goes after --")
}

/// Refuses a first word that is not one of `root`'s subcommands, naming the nearest ones
/// (argument-parser says only "Unexpected argument"): ends the process with 64.
func rejectUnknownSubcommand(_ arguments: [String], of root: any ParsableCommand.Type) {
  if let error = unknownSubcommandError(arguments, of: root) { root.exit(withError: error) }
}

/// `unknown command 'recrod'; did you mean 'record'?` when the first word of `arguments`
/// is not one of `root`'s subcommands (nil when it is, or is an option).
func unknownSubcommandError(_ arguments: [String], of root: any ParsableCommand.Type) -> ValidationError? {
  guard let first = arguments.first, !first.hasPrefix("-") else { return nil }
  let names = root.configuration.subcommands.map { $0.configuration.commandName ?? "" } + ["help"]
  guard !names.contains(first) else { return nil }
  let near = nearestWords(to: first, in: names, maxDistance: max(2, first.count / 3))
  let hint = near.isEmpty
    ? "; the commands are \(names.dropLast().joined(separator: ", "))"
    : "; did you mean \(near.prefix(3).map { "'\($0)'" }.joined(separator: " or "))?"
  return ValidationError("unknown command '\(first)'\(hint)")
}
