import ArgumentParser
import Foundation
import Testing

@testable import SyscageCommands

/// How a command line was refused: argument-parser's message for the error and the exit
/// status the executable would end with.
struct Refusal: Equatable, CustomStringConvertible {
  var message: String
  var status: Int32

  init(_ message: String, _ status: Int32 = 64) {
    self.message = message
    self.status = status
  }

  var description: String { "\(status): \(message)" }
}

/// Parses and validates `arguments` as the executable does (without running anything):
/// nil when they are accepted, else how they are refused.
func refusal(_ arguments: [String]) -> Refusal? {
  do {
    _ = try Syscage.parseAsRoot(arguments)
    return nil
  } catch {
    return Refusal(Syscage.message(for: error), Syscage.exitCode(for: error).rawValue)
  }
}

/// Parses and validates `arguments`, which must make a `T`.
func parsed<T: ParsableCommand>(_ arguments: [String], as type: T.Type, sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
  let command: any ParsableCommand
  do {
    command = try Syscage.parseAsRoot(arguments)
  } catch {
    Issue.record("\(arguments) refused: \(Syscage.exitCode(for: error).rawValue) \(Syscage.message(for: error))", sourceLocation: sourceLocation)
    throw error
  }
  return try #require(command as? T, "\(arguments) parsed as \(Swift.type(of: command))", sourceLocation: sourceLocation)
}

/// A directory for the outputs a command line names (validation examines them; parsing
/// creates nothing in it), removed with the suite.
final class Scratch {
  let path: String

  init() throws {
    path = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-parse-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  /// A path in the directory.
  func file(_ name: String) -> String { path + "/" + name }

  /// A file in the directory with `contents`.
  func existing(_ name: String, _ contents: String = "{}") throws -> String {
    let p = file(name)
    try Data(contents.utf8).write(to: URL(fileURLWithPath: p))
    return p
  }
}
