import ArgumentParser
import Foundation
import Syscalls

/// The option names a command accepts (`--verify`, `-o`), read from its own argument
/// definitions (the tool description argument-parser dumps).
func optionNames(of command: any ParsableCommand.Type) -> [String] {
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
/// (argument-parser says only "Unexpected argument").
func rejectUnknownSubcommand(_ arguments: [String], of root: any ParsableCommand.Type) {
  guard let first = arguments.first, !first.hasPrefix("-") else { return }
  let names = root.configuration.subcommands.map { $0.configuration.commandName ?? "" } + ["help"]
  guard !names.contains(first) else { return }
  let near = nearestWords(to: first, in: names, maxDistance: max(2, first.count / 3))
  let hint = near.isEmpty
    ? "; the commands are \(names.dropLast().joined(separator: ", "))"
    : "; did you mean \(near.prefix(3).map { "'\($0)'" }.joined(separator: " or "))?"
  root.exit(withError: ValidationError("unknown command '\(first)'\(hint)"))
}
