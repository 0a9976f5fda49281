import ArgumentParser
import Foundation
import Seccomp
import Syscalls

struct CheckCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "The decision a profile makes for one call, and the rule that made it.",
    discussion: """
      Exits 0 when the call is allowed (ALLOW or LOG), 1 when it is not.

      Examples:
        syscage check docker.json personality 0xffffffff
        syscage check docker.json socket 0x100000028 1 0
        syscage check docker.json --arch x86 socketcall 1
      """)

  @Argument(help: "The profile.")
  var profile: String

  @Argument(help: "The syscall, by name or number.")
  var syscall: String

  @Argument(help: "Up to six arguments (decimal, 0x hex, or negative).")
  var args: [String] = []

  @OptionGroup var policyArguments: PolicyArguments

  @Flag(help: "Print JSON.")
  var json = false

  func validate() throws {
    if args.count > 6 { throw ValidationError("a syscall has at most six arguments") }
    for a in args where parseArgument(a) == nil { throw ValidationError("'\(a)' is not a number") }
  }

  func run() throws {
    let (profileValue, policy) = try policyArguments.load(profile)
    _ = profileValue
    let arch = policyArguments.native
    let number: SyscallNumber
    if let n = Int32(syscall) {
      number = SyscallNumber(n)
    } else if let n = arch.number(of: syscall) {
      number = n
    } else if SyscallTable.isKnown(syscall) {
      throw fail("'\(syscall)' does not exist on \(arch)", code: ExitStatus.dataError)
    } else {
      let near = SyscallTable.suggestions(for: syscall)
      throw fail("unknown syscall '\(syscall)'" + (near.isEmpty ? "" : "; did you mean \(near.joined(separator: ", "))?"), code: ExitStatus.dataError)
    }
    let values = args.compactMap(parseArgument)
    let decision = policy.decide(arch: arch, number: number, args: values)
    let name = arch.name(of: number) ?? "syscall \(number)"
    let call = "\(name)(\(values.map { "0x" + String($0, radix: 16) }.joined(separator: ", ")))"
    var because = policy.explanation(of: decision, arch: arch)
    let rule = policy.rule(of: decision)
    if arch == .x86_64 && (name == "uretprobe" || name == "uprobe") {
      because += "; note: the kernel lets native \(name) calls bypass seccomp, whatever the filter says"
    }
    if json {
      var obj: [String: Any] = [
        "arch": arch.name, "syscall": name, "number": Int(number.rawValue), "args": values.map { "0x" + String($0, radix: 16) },
        "action": decision.action.description, "allowed": decision.action.permits, "reason": because,
      ]
      if let rule { obj["rule"] = rule.source }
      print(jsonLine(obj))
    } else {
      print("\(call) on \(arch): \(decision.action), \(because)")
    }
    if !decision.action.permits { throw ExitCode(ExitStatus.negative) }
  }
}
