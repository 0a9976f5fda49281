import ArgumentParser
import Foundation
import Profiles
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
    if looksNumeric(syscall), parseSyscallNumber(syscall) == nil {
      throw ValidationError(
        "'\(syscall)' is out of range: the kernel's syscall number is 32 bits (\(Int32.min) to \(UInt32.max), or 0x0 to 0xffffffff)")
    }
  }

  /// Whether `s` is written as a number (decimal, 0x hex, or negative), in range or not.
  func looksNumeric(_ s: String) -> Bool {
    let t = s.hasPrefix("-") ? s.dropFirst() : s[...]
    if t.lowercased().hasPrefix("0x") { return t.count > 2 && t.dropFirst(2).allSatisfy(\.isHexDigit) }
    return !t.isEmpty && t.allSatisfy { $0.isASCII && $0.isNumber }
  }

  /// A syscall number as the kernel could see it in `seccomp_data.nr` (a 32-bit word):
  /// decimal from -2147483648 to 4294967295, or 0x hex up to 0xffffffff (bit 30, the
  /// x32 bit, and the sign bit included).
  func parseSyscallNumber(_ s: String) -> SyscallNumber? {
    guard looksNumeric(s) else { return nil }
    if s.lowercased().hasPrefix("0x") {
      return UInt32(s.dropFirst(2), radix: 16).map { SyscallNumber(Int32(bitPattern: $0)) }
    }
    if s.hasPrefix("-") { return Int32(s).map { SyscallNumber($0) } }
    return UInt32(s).map { SyscallNumber(Int32(bitPattern: $0)) }
  }

  func run() throws {
    let (profileValue, policy) = try policyArguments.load(profile)
    _ = profileValue
    let arch = policyArguments.native
    let number: SyscallNumber
    if let n = parseSyscallNumber(syscall) {
      number = n
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
    // Named by the table of the ABI the kernel takes it for (x86_64 with bit 30 is x32).
    let name = (Arch(auditArch: arch.auditArch.rawValue, number: Int64(number.rawValue)) ?? arch).name(of: number)
      ?? "unnamed syscall \(number)"
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
