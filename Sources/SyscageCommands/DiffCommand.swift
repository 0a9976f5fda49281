import ArgumentParser
import Foundation
import Profiles
import Seccomp
import Syscalls

struct DiffCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "diff",
    abstract: "Compare what two profiles decide, exactly: per ABI, per syscall, per argument region.",
    discussion: """
      Profiles are compared by their decisions, not their text: entries split or joined, \
      names reordered, `name` vs `names`, redundant rules make no difference. Every \
      syscall's argument space is cut into the regions the two profiles' conditions \
      distinguish (intervals between comparison boundaries, MASKED_EQ patterns), and \
      each region is decided exactly; nothing is sampled. A syscall too complex to \
      compare exactly is reported as such (and counts as a difference).

      Lines start with + (newly allowed), - (newly denied) or ~ (another action or errno). \
      Numbers no rule names (default action, ENOSYS stub) are shown as ranges.

      Exits 0 when the profiles decide the same, 1 when they differ, 65 on bad input.

      Examples:
        syscage diff docker.json mine.json
        syscage diff docker.json mine.json --arch x86_64 --json
      """)

  @Argument(help: "The first (old) profile.")
  var first: String

  @Argument(help: "The second (new) profile.")
  var second: String

  @Flag(help: "Print one JSON object per difference.")
  var json = false

  @OptionGroup var policyArguments: PolicyArguments

  func run() throws {
    let (_, a) = try policyArguments.load(first)
    let (_, b) = try policyArguments.load(second)
    let diff = DecisionDiff(a, b)
    for change in diff.changes {
      if json {
        print(jsonLine(Self.json(change)))
      } else {
        print(Self.marker(change) + " " + change.description)
      }
    }
    if !json {
      printError(diff.isEqual ? "syscage: the profiles decide the same" : "syscage: \(diff.changes.count) difference\(diff.changes.count == 1 ? "" : "s")")
    }
    if !diff.isEqual { throw ExitCode(ExitStatus.negative) }
  }

  static func marker(_ c: DecisionDiff.Change) -> String {
    switch c {
    case .syscall(_, _, _, _, let old, let new), .numbers(_, _, _, _, let old, let new), .badArch(let old, let new):
      if !old.permits && new.permits { return "+" }
      if old.permits && !new.permits { return "-" }
      return "~"
    case .archOnlyIn(_, let inFirst): return inFirst ? "-" : "+"
    case .tooComplex: return "?"
    }
  }

  static func json(_ c: DecisionDiff.Change) -> [String: Any] {
    var obj: [String: Any] = ["change": marker(c), "text": c.description]
    switch c {
    case .syscall(let arch, let name, let number, let region, let old, let new):
      obj.merge(["kind": "syscall", "arch": arch.name, "syscall": name, "number": Int(number.rawValue), "region": region,
                 "old": old.description, "new": new.description]) { $1 }
    case .numbers(let arch, let first, let last, let names, let old, let new):
      obj.merge(["kind": "numbers", "arch": arch.name, "first": Int(first), "last": Int(last), "names": names,
                 "old": old.description, "new": new.description]) { $1 }
    case .archOnlyIn(let arch, let inFirst):
      obj.merge(["kind": "arch", "arch": arch.name, "in": inFirst ? "first" : "second"]) { $1 }
    case .badArch(let old, let new):
      obj.merge(["kind": "bad-arch", "old": old.description, "new": new.description]) { $1 }
    case .tooComplex(let arch, let name, let number, let reason):
      obj.merge(["kind": "too-complex", "arch": arch.name, "syscall": name, "number": Int(number.rawValue), "reason": reason]) { $1 }
    }
    return obj
  }
}
