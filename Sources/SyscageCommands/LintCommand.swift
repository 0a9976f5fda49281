import ArgumentParser
import Foundation
import Host
import Profiles
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

      --for RUNTIME (\(RuntimeTarget.allCases.map(\.rawValue).joined(separator: ", "))) \
      names every call that runtime makes after loading the container's filter that \
      the profile refuses or kills (runtime-call-refused, an error: the container does \
      not start), mode by mode: noNewPrivileges true and false, or the one \
      --no-new-privileges gives. podman is crun and runc; docker, containerd and \
      kubernetes are runc.

      Checks: \(Lint.checks.map(\.id).joined(separator: ", ")).

      Examples:
        syscage lint profile.json
        syscage lint profile.json --level error --json
        syscage lint profile.json --against docker-default
        syscage lint profile.json --against other.json --caps CAP_SYS_ADMIN
        syscage lint deny-dir.json --for runc --no-new-privileges false
      """)

  @Argument(help: "The profile.")
  var profile: String

  @Option(help: "The lowest level that makes the exit status 1: info, warning or error.")
  var level: LintFinding.Level = .warning

  @Option(help: "Also list what the profile allows beyond another profile: docker-default or a file.")
  var against: String?

  @Flag(help: "Print one JSON object per finding.")
  var json = false

  @Option(
    name: .customLong("for"),
    help: ArgumentHelp("Name the calls this runtime makes after loading the filter that the profile refuses.", valueName: "runtime"))
  var runtimeChoice: RuntimeTarget?

  @Option(help: ArgumentHelp("With --for: the container's noNewPrivileges (default: both modes).", valueName: "true|false"))
  var noNewPrivileges: Bool?

  func validate() throws {
    if noNewPrivileges != nil && runtimeChoice == nil {
      throw ValidationError("--no-new-privileges is the mode of the --for runtime; give --for too")
    }
  }

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
    let runtime = runtimeChoice.map { RuntimeSelection($0, noNewPrivileges: noNewPrivileges) }
    let findings = Lint.run(loaded, options: try policyArguments.options(), against: reference, runtime: runtime)
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
