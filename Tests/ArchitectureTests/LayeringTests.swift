import Foundation
import Testing

/// The module layering of docs/architecture.md, read from Package.swift and the sources'
/// `import` lines: the pure core (BPF < Seccomp < Profiles) reads nothing of the host, a
/// lower module never imports a higher one, and no library imports the command line.
@Suite struct LayeringTests {
  /// The pure core, lowest first: each may import only the ones before it (and Syscalls).
  static let core = ["BPF", "Seccomp", "Profiles"]
  /// What the core may import besides itself.
  static let coreMayImport: Set<String> = ["Syscalls", "Yams", "Testing"]
  /// Modules that reach the host (system calls, files) and may not be imported by the core.
  static let hostModules: Set<String> = ["CLinux", "Glibc", "Musl", "Darwin", "Foundation", "FoundationEssentials", "System", "SystemPackage"]

  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// One target of Package.swift.
  struct Target {
    var name: String
    var kind: String
    var dependencies: [String]
    var path: String
  }

  /// The targets of Package.swift, with the names of their dependencies (a product's name
  /// for `.product(name:package:)`).
  static func targets() throws -> [Target] {
    let text = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
    var out: [Target] = []
    let kinds = ["target", "executableTarget", "testTarget"]
    var rest = Substring(text)
    while let range = kinds.compactMap({ rest.range(of: ".\($0)(") }).min(by: { $0.lowerBound < $1.lowerBound }) {
      let kind = String(rest[rest.index(after: range.lowerBound)..<rest.index(before: range.upperBound)])
      // The call's text, up to its closing parenthesis.
      var depth = 1
      var end = range.upperBound
      while end < rest.endIndex, depth > 0 {
        if rest[end] == "(" { depth += 1 } else if rest[end] == ")" { depth -= 1 }
        end = rest.index(after: end)
      }
      let call = rest[range.upperBound..<end]
      rest = rest[end...]
      guard let name = quoted(after: "name:", in: call) else { continue }
      var dependencies: [String] = []
      if let deps = call.range(of: "dependencies:") {
        let list = call[deps.upperBound...]
        var level = 0
        var body = ""
        for c in list {
          if c == "[" { level += 1; if level == 1 { continue } }
          if c == "]" { level -= 1; if level == 0 { break } }
          if level >= 1 { body.append(c) }
        }
        dependencies = strings(in: body, skippingAfter: "package:")
      }
      let path = quoted(after: "path:", in: call) ?? (kind == "testTarget" ? "Tests/\(name)" : "Sources/\(name)")
      out.append(Target(name: name, kind: kind, dependencies: dependencies, path: path))
    }
    return out
  }

  static func quoted(after key: String, in text: Substring) -> String? {
    guard let k = text.range(of: key) else { return nil }
    let after = text[k.upperBound...]
    guard let open = after.firstIndex(of: "\"") else { return nil }
    let start = after.index(after: open)
    guard let close = after[start...].firstIndex(of: "\"") else { return nil }
    return String(after[start..<close])
  }

  /// The string literals of `text`, less those right after `key` (a product's package).
  static func strings(in text: String, skippingAfter key: String) -> [String] {
    var out: [String] = []
    let parts = text.split(separator: "\"", omittingEmptySubsequences: false)
    for i in stride(from: 1, to: parts.count, by: 2) {
      if parts[i - 1].trimmingCharacters(in: .whitespaces).hasSuffix(key) { continue }
      out.append(String(parts[i]))
    }
    return out
  }

  /// The Swift files under `path`, relative to the package root.
  static func swiftFiles(under path: String) -> [String] {
    let dir = root.appendingPathComponent(path)
    guard let walk = FileManager.default.enumerator(atPath: dir.path) else { return [] }
    return walk.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.map { path + "/" + $0 }.sorted()
  }

  /// The modules a file imports (`import X`, `@testable import X`, `import struct X.Y`),
  /// conditional ones included.
  static func imports(of file: String) throws -> [(line: Int, module: String)] {
    imports(inText: try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8))
  }

  static func imports(inText text: String) -> [(line: Int, module: String)] {
    var out: [(Int, String)] = []
    for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      var words = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
      while let first = words.first, first.hasPrefix("@") || ["public", "internal", "package", "private", "fileprivate"].contains(first) {
        words.removeFirst()
      }
      guard words.first == "import", words.count >= 2 else { continue }
      let target = ["struct", "class", "enum", "protocol", "func", "var", "let", "typealias"].contains(words[1]) && words.count >= 3
        ? words[2] : words[1]
      out.append((n + 1, String(target.split(separator: ".")[0])))
    }
    return out
  }

  /// File system calls a pure module must not make, as `name(` not preceded by `.` or a word character.
  static let fileCalls = ["open", "openat", "read", "pread", "fopen", "fread", "readlink", "opendir", "stat", "access", "uname"]
  static let fileTypes = ["FileManager", "FileHandle", "contentsOfFile", "Data(contentsOf", "String(contentsOf"]

  static func fileAPIUses(in file: String) throws -> [String] {
    fileAPIUses(inText: try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8), file: file)
  }

  static func fileAPIUses(inText text: String, file: String) -> [String] {
    var out: [String] = []
    for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
      if line.contains("func ") { continue }
      for t in fileTypes where line.contains(t) { out.append("\(file):\(n + 1): \(t)") }
      let chars = Array(line)
      for name in fileCalls {
        var search = line.startIndex
        while let r = line.range(of: name + "(", range: search..<line.endIndex) {
          search = r.upperBound
          let offset = line.distance(from: line.startIndex, to: r.lowerBound)
          if offset > 0, chars[offset - 1] == "." || chars[offset - 1] == "_" || chars[offset - 1].isLetter || chars[offset - 1].isNumber {
            continue
          }
          out.append("\(file):\(n + 1): \(name)(")
        }
      }
    }
    return out
  }

  @Test func theCoreModulesExist() throws {
    let names = Set(try Self.targets().map(\.name))
    for module in Self.core { #expect(names.contains(module), "Package.swift has no target \(module)") }
  }

  @Test func theCoreDependsOnNothingThatReachesTheHost() throws {
    for target in try Self.targets() where Self.core.contains(target.name) {
      let rank = Self.core.firstIndex(of: target.name)!
      for dep in target.dependencies {
        if let other = Self.core.firstIndex(of: dep) {
          #expect(other < rank, "\(target.name) depends on \(dep), a module above it")
        } else {
          #expect(Self.coreMayImport.contains(dep), "\(target.name) depends on \(dep)")
        }
      }
    }
  }

  @Test func theCoreImportsNoHostModuleAndNothingAboveIt() throws {
    var problems: [String] = []
    for target in try Self.targets() where Self.core.contains(target.name) {
      let rank = Self.core.firstIndex(of: target.name)!
      for file in Self.swiftFiles(under: target.path) {
        for (line, module) in try Self.imports(of: file) {
          if Self.hostModules.contains(module) {
            problems.append("\(file):\(line): \(target.name) imports \(module)")
          } else if let other = Self.core.firstIndex(of: module), other > rank {
            problems.append("\(file):\(line): \(target.name) imports \(module), a module above it")
          } else if Self.core.firstIndex(of: module) == nil, !Self.coreMayImport.contains(module) {
            problems.append("\(file):\(line): \(target.name) imports \(module)")
          }
        }
      }
    }
    #expect(problems.isEmpty, Comment(rawValue: problems.joined(separator: "\n")))
  }

  @Test func theCoreCallsNoFileAPI() throws {
    var problems: [String] = []
    for target in try Self.targets() where Self.core.contains(target.name) {
      for file in Self.swiftFiles(under: target.path) { problems += try Self.fileAPIUses(in: file) }
    }
    #expect(problems.isEmpty, Comment(rawValue: problems.joined(separator: "\n")))
  }

  @Test func noLibraryImportsTheCommandLine() throws {
    let targets = try Self.targets()
    // The command line: the `syscage` executable and every target that parses arguments.
    let commandLine = Set(targets.filter { $0.name == "syscage" || $0.dependencies.contains("ArgumentParser") }.map(\.name))
    #expect(commandLine.contains("syscage"))
    var problems: [String] = []
    for target in targets where target.kind == "target" && !commandLine.contains(target.name) {
      for dep in target.dependencies where commandLine.contains(dep) {
        problems.append("Package.swift: \(target.name) depends on the command line (\(dep))")
      }
      for file in Self.swiftFiles(under: target.path) {
        for (line, module) in try Self.imports(of: file) where commandLine.contains(module) {
          problems.append("\(file):\(line): \(target.name) imports the command line (\(module))")
        }
      }
    }
    #expect(problems.isEmpty, Comment(rawValue: problems.joined(separator: "\n")))
  }

  /// The whole order of docs/architecture.md, lowest first: a module may import only
  /// modules of a lower rank (and the packages outside this one); modules of one rank are
  /// siblings and import none of each other (Recording and Enforcement, Syscalls and
  /// OutputFiles). OutputFiles, at the bottom, imports nothing of ours.
  static let order: [[String]] = [
    ["Syscalls", "OutputFiles", "CLinux"],
    ["BPF"],
    ["Seccomp"],
    ["Profiles"],
    ["Host"],
    ["Processes"],
    ["Enforcement", "Inspection", "Recording"],
    ["SyscageCommands"],
    ["syscage"],
  ]

  /// The rank of each module of `order`.
  static var rank: [String: Int] {
    var out: [String: Int] = [:]
    for (i, modules) in order.enumerated() { for m in modules { out[m] = i } }
    return out
  }

  /// Where a module's dependency or import comes from: Package.swift or a source line.
  struct Use {
    var module: String
    var place: String
  }

  /// The breaks of `order` among `targets`, given each target's uses (its Package.swift
  /// dependencies and its sources' imports): a module of the order that uses one of a
  /// rank above its own or of its own rank, or another target of this package that is
  /// not in the order (test support, benchmarks, generators: nothing a library links).
  static func orderViolations(targets: [Target], uses: [String: [Use]]) -> [String] {
    let rank = Self.rank
    let ours = Set(targets.map(\.name))
    var problems: [String] = []
    for target in targets {
      guard let own = rank[target.name] else { continue }
      for use in uses[target.name] ?? [] where use.module != target.name {
        if let other = rank[use.module] {
          if other > own {
            problems.append("\(use.place): \(target.name) uses \(use.module), a module above it")
          } else if other == own {
            problems.append("\(use.place): \(target.name) uses \(use.module), a sibling of the same rank")
          }
        } else if ours.contains(use.module) {
          problems.append("\(use.place): \(target.name) uses \(use.module), which is not a module of the order (test support, benchmark or generator)")
        }
      }
    }
    return problems
  }

  /// Each target's Package.swift dependencies and its sources' imports.
  static func uses(of targets: [Target]) throws -> [String: [Use]] {
    var out: [String: [Use]] = [:]
    for target in targets {
      var list = target.dependencies.map { Use(module: $0, place: "Package.swift (\(target.name))") }
      for file in swiftFiles(under: target.path) {
        list += try imports(of: file).map { Use(module: $0.module, place: "\(file):\($0.line)") }
      }
      out[target.name] = list
    }
    return out
  }

  @Test func everyModuleOfTheOrderExists() throws {
    let names = Set(try Self.targets().map(\.name))
    for module in Self.order.joined() { #expect(names.contains(module), "Package.swift has no target \(module)") }
  }

  @Test func theModulesKeepTheWholeOrder() throws {
    let targets = try Self.targets()
    let problems = Self.orderViolations(targets: targets, uses: try Self.uses(of: targets))
    #expect(problems.isEmpty, Comment(rawValue: problems.joined(separator: "\n")))
  }

  @Test func outputFilesImportsNothingOfOurs() throws {
    let targets = try Self.targets()
    let ours = Set(targets.map(\.name))
    let uses = try Self.uses(of: targets)["OutputFiles"] ?? []
    let problems = uses.filter { ours.contains($0.module) }.map { "\($0.place): OutputFiles uses \($0.module)" }
    #expect(problems.isEmpty, Comment(rawValue: problems.joined(separator: "\n")))
  }

  /// The order's check sees each kind of break: upwards, between siblings, into a target
  /// outside the order; and passes what the order allows.
  @Test func theOrderCheckCatchesEachKindOfBreak() {
    func target(_ name: String) -> Target { Target(name: name, kind: "target", dependencies: [], path: "Sources/\(name)") }
    let targets = ["Syscalls", "OutputFiles", "Host", "Processes", "Enforcement", "Recording", "Inspection", "SyscageCommands", "TestSupport"]
      .map(target)
    func violations(_ module: String, uses used: String) -> [String] {
      Self.orderViolations(targets: targets, uses: [module: [Use(module: used, place: "X.swift:1")]])
    }
    #expect(violations("Recording", uses: "Enforcement") == ["X.swift:1: Recording uses Enforcement, a sibling of the same rank"])
    #expect(violations("Enforcement", uses: "Recording").count == 1)
    #expect(violations("Host", uses: "Processes") == ["X.swift:1: Host uses Processes, a module above it"])
    #expect(violations("OutputFiles", uses: "Syscalls").count == 1)
    #expect(violations("Recording", uses: "SyscageCommands").count == 1)
    #expect(violations("Inspection", uses: "TestSupport").count == 1)
    // What the order allows.
    #expect(violations("Recording", uses: "Processes").isEmpty)
    #expect(violations("SyscageCommands", uses: "Recording").isEmpty)
    #expect(violations("Recording", uses: "OutputFiles").isEmpty)
    #expect(violations("Processes", uses: "SystemPackage").isEmpty)
    #expect(violations("Host", uses: "Foundation").isEmpty)
    // A target outside the order (a test) is not held to it.
    #expect(violations("TestSupport", uses: "SyscageCommands").isEmpty)
  }

  /// The checks themselves catch what they are for.
  @Test func theChecksSeeImportsAndFileCalls() {
    let sample = """
      @preconcurrency import Glibc
      import struct Foundation.Data
      #if canImport(CLinux)
        import CLinux
      #endif
      func read(_ x: Int) {}  // a declaration is not a call
      let fd = open(path, O_RDONLY)
      let n = reader.read(3)
      let m = FileManager.default
      """
    #expect(Self.imports(inText: sample).map(\.module) == ["Glibc", "Foundation", "CLinux"])
    #expect(Self.fileAPIUses(inText: sample, file: "Sample.swift") == ["Sample.swift:7: open(", "Sample.swift:9: FileManager"])
  }
}
