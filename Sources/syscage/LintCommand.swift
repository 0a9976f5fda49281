import ArgumentParser
import Foundation
import Seccomp
import Syscalls

extension LintFinding.Level: ExpressibleByArgument {
  public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
  public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

struct LintCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lint",
    abstract: "Review a profile: dangerous calls it allows, rules that do not do what they seem to.",
    discussion: """
      Every finding has a level (info, warning, error), a stable id, the JSON path it is \
      about, and what to do. The profile is read for one host: Docker's default \
      capabilities and the running kernel unless --caps and --kernel say otherwise.

      Exits 1 when a finding is at or above --level (default: warning), 0 otherwise, \
      65 when the profile (or the --against file) cannot be read.

      Checks: \(Lint.checks.map(\.id).joined(separator: ", ")).

      Examples:
        syscage lint profile.json
        syscage lint profile.json --level error --json
        syscage lint profile.json --against docker-default
        syscage lint profile.json --against other.json --caps CAP_SYS_ADMIN
      """)

  @Argument(help: "The profile.")
  var profile: String

  @Option(help: "The lowest level that makes the exit status 1: info, warning or error.")
  var level: LintFinding.Level = .warning

  @Option(help: "Also list what the profile allows beyond another profile: docker-default or a file.")
  var against: String?

  @Flag(help: "Print one JSON object per finding.")
  var json = false

  @OptionGroup var policyArguments: PolicyArguments

  func run() throws {
    let (loaded, _) = try policyArguments.load(profile)
    var reference: LintReference? = nil
    if let against {
      if against == "docker-default" {
        reference = .dockerDefault
      } else {
        do {
          let other = try Profile.load(path: against, strict: policyArguments.strict)
          reference = LintReference(name: against, profile: other.profile)
        } catch {
          throw fail(error)
        }
      }
    }
    let findings = Lint.run(loaded, options: try policyArguments.options(), against: reference)
    for f in findings {
      if json {
        var obj: [String: Any] = ["level": f.level.rawValue, "id": f.id, "message": f.message, "arches": f.arches.map(\.name)]
        obj["path"] = f.path
        if !f.lists.isEmpty { obj["lists"] = f.lists.map { ["label": $0.label, "names": $0.names] as [String: Any] } }
        print(jsonLine(obj))
      } else {
        print("\(profile): \(f.description)")
      }
    }
    if !json {
      let counts = LintFinding.Level.allCases.reversed().map { l in "\(findings.filter { $0.level == l }.count) \(l.rawValue)" }
      printError("syscage: \(findings.count) finding\(findings.count == 1 ? "" : "s") (\(counts.joined(separator: ", ")))")
    }
    if findings.contains(where: { $0.level >= level }) { throw ExitCode(ExitStatus.negative) }
  }
}
