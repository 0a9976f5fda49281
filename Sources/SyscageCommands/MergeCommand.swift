import ArgumentParser
import Foundation
import OutputFiles
import Profiles
import Seccomp
import Syscalls

struct MergeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "merge",
    abstract: "Combine profiles by their decisions: the union (default) or the intersection.",
    discussion: """
      The union allows a call when any input allows it (on each argument region the least \
      restrictive input action wins); --intersect allows it only when every input does (the \
      most restrictive wins, as when the filters are stacked). Rules are never concatenated: \
      the output is built from the inputs' exact decision maps, one rule per argument region \
      whose combined action differs from the merged default, each with a comment naming what \
      every input decided there. The merged default combines the inputs' defaults the same \
      way (so it is their default when they agree). Names with the same action and the \
      same argument rules share one entry. Between different actions of the same rank \
      (ERRNO(1) and ERRNO(38), two TRACE data) the first input's is kept, and the entry's \
      comment and stderr say so: a choice, not an inexact merge.

      The profiles' own decisions are merged: runc's ENOSYS answer for numbers above the \
      highest syscall a profile names is what runc adds when it loads a profile, and the \
      merged profile gets its own. \
      One profile gives a name the same rules on every ABI it lists: inputs whose \
      decisions differ per ABI merge exactly one ABI at a time (--arch).

      The output is checked against the combination on every region; anything it cannot \
      express exactly (numbers without a syscall name, syscalls too complex to compare) is \
      reported on stderr and the exit status is 1. 65 on bad input.

      Examples:
        syscage merge web.json worker.json -o both.json
        syscage merge docker.json mine.json --intersect -o strict.json
      """)

  @Argument(help: "The profiles to merge.")
  var profiles: [String]

  @Flag(help: "Allow only what every input allows.")
  var intersect = false

  @Option(name: .shortAndLong, help: "Write the merged profile here (default and -: standard output).")
  var output: String?

  @OptionGroup var policyArguments: PolicyArguments

  func validate() throws {
    if profiles.isEmpty { throw ValidationError("merge needs at least one profile") }
  }

  func run() throws {
    let out = try output.map { try checkedOutput($0, inputs: profiles) }
    let policies = try profiles.map { try policyArguments.load($0).policy }
    let result = ProfileMerge.merge(policies, labels: profiles, mode: intersect ? .intersection : .union)
    try emit(try profileJSON(result.profile, as: .docker), to: out)
    warnIfTooLong(result.profile, what: "the merged profile")
    for choice in result.choices { printError("syscage: note: \(choice)") }
    for note in result.notes { printError("syscage: merge not exact: \(note)") }
    let rules = result.profile.syscalls?.count ?? 0
    printError("syscage: \(intersect ? "intersection" : "union") of \(profiles.count) profiles: \(rules) entr\(rules == 1 ? "y" : "ies"), default \(result.profile.defaultAction?.rawValue ?? "-")")
    if !result.notes.isEmpty { throw ExitCode(ExitStatus.negative) }
  }
}
