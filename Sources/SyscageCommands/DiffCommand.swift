import ArgumentParser
import Foundation
import Profiles
import Seccomp
import Syscalls

extension RuntimeLayer: ExpressibleByArgument {}

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
      Numbers no rule names are shown as ranges.

      The profiles' own decisions are compared. runc's ENOSYS answer for numbers above the \
      highest syscall a profile names is what runc adds when it loads a profile, not part \
      of it: when that boundary moves, one line (marked !) says so and why, and it alone \
      is not a difference. --runtime runc compares everything as runc loads the profiles.

      --subset BASE CANDIDATE proves that CANDIDATE is equally or more restrictive than \
      BASE on every ABI, syscall and argument region, in the kernel's precedence \
      (KILL_PROCESS, KILL_THREAD, TRAP, ERRNO, USER_NOTIF, TRACE, LOG, ALLOW), both as \
      runc loads them (what a node runs): exit 0 with "proved", else exit 1 with the first \
      counterexample (ABI, syscall, argument values, both actions) and the number of \
      regions that differ. A syscall too complex to compare exactly is not proven (exit 1).

      Exits 0 when the profiles decide the same, 1 when they differ, 65 on bad input.

      Examples:
        syscage diff docker.json mine.json
        syscage diff docker.json mine.json --arch x86_64 --json
        syscage diff old.json new.json --runtime runc
        syscage diff --subset baseline.json candidate.json --json
      """)

  @Argument(help: "The first (old) profile.")
  var first: String

  @Argument(help: "The second (new) profile.")
  var second: String

  @Flag(help: "Print one JSON object per difference (with --subset: one object, the proof).")
  var json = false

  @Flag(help: "Prove that the second profile (the candidate) is equally or more restrictive than the first (the base).")
  var subset = false

  @Option(help: "Compare as this runtime loads the profiles (runc: with its ENOSYS answer above the highest named syscall).")
  var runtime: RuntimeLayer?

  @OptionGroup var policyArguments: PolicyArguments

  func validate() throws {
    if policyArguments.noEnosysStub && (runtime != nil || subset) {
      throw ValidationError("--no-enosys-stub contradicts \(subset ? "--subset, which compares as runc loads the profiles" : "--runtime")")
    }
  }

  func run() throws {
    let (_, a) = try policyArguments.load(first)
    let (_, b) = try policyArguments.load(second)
    if subset { return try prove(base: a, candidate: b) }
    let diff = DecisionDiff(a, b, view: runtime.map { .loaded($0) } ?? .own(boundaries: .runc))
    for change in diff.changes {
      if json {
        print(jsonLine(Self.json(change)))
      } else {
        print(Self.marker(change) + " " + change.description)
      }
    }
    if !json {
      let count = diff.changes.filter { if case .runtimeBoundary = $0 { false } else { true } }.count
      printError(diff.isEqual ? "syscage: the profiles decide the same" : "syscage: \(count) difference\(count == 1 ? "" : "s")")
    }
    if !diff.isEqual { throw ExitCode(ExitStatus.negative) }
  }

  func prove(base: Policy, candidate: Policy) throws {
    let runtime = runtime ?? .runc
    let report = SubsetProofReport(SubsetProof(base: base, candidate: candidate, runtime: runtime), base: first, candidate: second, runtime: runtime)
    if json {
      print(jsonLine(report.json))
    } else {
      for line in report.lines { print(line) }
    }
    if !report.proof.proved { throw ExitCode(ExitStatus.negative) }
  }

  static func marker(_ c: DecisionDiff.Change) -> String {
    switch c {
    case .syscall(_, _, _, _, let old, let new), .numbers(_, _, _, _, let old, let new), .badArch(let old, let new):
      if !old.permits && new.permits { return "+" }
      if old.permits && !new.permits { return "-" }
      return "~"
    case .archOnlyIn(_, let inFirst): return inFirst ? "-" : "+"
    case .tooComplex: return "?"
    case .runtimeBoundary: return "!"
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
    case .runtimeBoundary(let arch, let runtime, let first, let last, let old, let new, let from, let to):
      obj.merge(["kind": "runtime-boundary", "arch": arch.name, "runtime": runtime.rawValue, "first": Int(first), "last": Int(last),
                 "old": old.description, "new": new.description, "from": from.description, "to": to.description]) { $1 }
    }
    return obj
  }
}
