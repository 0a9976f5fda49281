import ArgumentParser
import BPF
import Foundation
import OutputFiles
import Profiles
import Seccomp
import Syscalls

struct CompileCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "compile",
    abstract: "Compile a profile to seccomp BPF.",
    discussion: """
      Formats: raw (struct sock_filter records, as `bwrap --seccomp FD` and crun's \
      run.oci.seccomp_bpf_data load them), disasm (a listing like libseccomp's \
      scmp_bpf_disasm), c (a C array).

      Examples:
        syscage compile app.json -o app.bpf
        syscage compile app.json --format disasm
        syscage compile docker.json --arch x86_64 --arch x86 --stats -o docker.bpf
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable { case raw, disasm, c }

  @Argument(help: "The profile (Docker or OCI JSON; - for standard input).")
  var profile: String

  @OptionGroup var policyArguments: PolicyArguments

  @Option(help: "raw, disasm or c (default: raw to a file, disasm to a terminal).")
  var format: Format?

  @Flag(help: "Print program length, instructions per syscall, cacheable syscalls and compile time on stderr.")
  var stats = false

  @Option(name: .shortAndLong, help: "Write the output here instead of standard output (- is standard output).")
  var output: String?

  func run() throws {
    let clock = ContinuousClock()
    let start = clock.now
    let out = try output.map { try checkedOutput($0, inputs: [profile]) }
    let toTerminal = (out == nil || out?.kind == .standardOutput) && isatty(1) != 0
    let (_, policy) = try policyArguments.load(profile, refuseDisabled: true)
    let program: [BPFInstruction]
    do {
      program = try Compiler.compile(policy)
    } catch {
      throw fail("\(profile): \(error)", code: ExitStatus.dataError)
    }
    let elapsed = clock.now - start
    let format = self.format ?? (toTerminal ? .disasm : .raw)
    let bytes: [UInt8]
    switch format {
    case .raw:
      if toTerminal {
        throw fail("refusing to write binary BPF to a terminal; use -o FILE or --format disasm", code: ExitStatus.usage)
      }
      bytes = program.rawBytes
    case .disasm: bytes = Array(Disassembler.listing(program, annotate: true).utf8)
    case .c: bytes = Array(cArray(program).utf8)
    }
    try emit(bytes, to: out)
    if stats { printStats(program, policy, elapsed) }
  }

  func cArray(_ program: [BPFInstruction]) -> String {
    var s = "#include <linux/filter.h>\n\n/* \(program.count) instructions, compiled by syscage */\n"
    s += "static struct sock_filter filter[] = {\n"
    for i in program {
      s += "\t{ 0x\(String(i.code, radix: 16)), \(i.jt), \(i.jf), 0x\(String(i.k, radix: 16)) },\n"
    }
    s += "};\n\nstatic const struct sock_fprog filter_prog = {\n\t.len = \(program.count),\n\t.filter = filter,\n};\n"
    return s
  }

  func printStats(_ program: [BPFInstruction], _ policy: Policy, _ elapsed: Duration) {
    let stats = FilterStatistics(program: program, policy: policy)
    let ms = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
    printError("program: \(stats.length) instructions (limit \(BPF.maxInstructions)); compiled in \(String(format: "%.2f", ms)) ms")
    printError("arch          allowed avg/worst   denied avg/worst   cacheable")
    for a in stats.arches {
      let cache = a.arch == .x32 ? "never (x32)" : "\(a.cacheable)/\(a.allowedArgumentFree)"
      printError(
        a.arch.name.padding(toLength: 14, withPad: " ", startingAt: 0)
          + "\(a.allowed.count) calls \(String(format: "%.1f", a.allowed.average))/\(a.allowed.worst)".padding(toLength: 20, withPad: " ", startingAt: 0)
          + "\(a.denied.count) calls \(String(format: "%.1f", a.denied.average))/\(a.denied.worst)".padding(toLength: 19, withPad: " ", startingAt: 0)
          + cache)
    }
  }
}
