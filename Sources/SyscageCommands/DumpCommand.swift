import ArgumentParser
import BPF
import Foundation
import Host
import Inspection
import OutputFiles
import Profiles
import Seccomp
import Syscalls

struct DumpCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dump",
    abstract: "The seccomp filters a live process runs under, read from the kernel.",
    discussion: """
      Reads every filter of every thread with PTRACE_SECCOMP_GET_FILTER (threads that \
      share a stack of filters are shown once). That needs CAP_SYS_ADMIN, a caller not \
      itself under seccomp, and CONFIG_CHECKPOINT_RESTORE; syscage checks each and says \
      which is missing (exit 69). Each thread is stopped for a moment and left running.

      Formats: disasm (each filter, newest first), table (the stacked filters' decision \
      for every syscall of each ABI, combined by the kernel's precedence; when it depends \
      on arguments, every argument region and its decision, found by walking each \
      filter's paths symbolically), profile (a Docker profile deciding the same, argument \
      rules included, each argument compared as the kernel reads it; syscage compiles it \
      and compares it with the filters region by region).

      A process in strict mode (seccomp mode 1) has no filter to read: dump says so \
      (read, write, exit and sigreturn only).

      Exit status of --format profile: 0 when the profile decides exactly as the \
      filters do on every call; 1 when it cannot (each region it cannot express is \
      listed on stderr: syscall, ABI, arguments, both actions) and then nothing is \
      written unless --partial, which writes the nearest profile anyway. Notes, which \
      do not count, name the arguments whose dropped bits the filters also test \
      (libseccomp compares an `int` as 64 bits: such calls are not compared), what \
      runc's ENOSYS stub changes, and ABIs the profile does not list whose calls the \
      filters stop otherwise than with KILL_PROCESS.

      Examples:
        syscage dump 1234
        syscage dump $(pidof nginx) --format table
        syscage dump 1234 --format profile -o running.json
        syscage dump 1234 --format profile --partial -o nearest.json
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable { case disasm, table, profile }

  @Argument(help: "The process id.")
  var pid: Int32

  @Option(help: "disasm, table or profile.")
  var format: Format = .disasm

  @Option(name: .shortAndLong, help: "Write the output here (default and -: standard output).")
  var output: String?

  @Flag(help: "With --format profile: write the profile even when it cannot decide exactly as the filters do (exit 1 still).")
  var partial = false

  func run() throws {
    let out = try output.map { try checkedOutput($0, inputs: []) }
    let missing = FilterDump.missingRequirements()
    if !missing.isEmpty {
      throw fail("dump needs " + missing.joined(separator: "; "), code: ExitStatus.unavailable)
    }
    let threads: [FilterDump.ThreadFilters]
    do {
      threads = try FilterDump.read(pid: pid)
    } catch {
      throw fail(error.description, code: error.description.hasPrefix("no process") ? ExitStatus.dataError : ExitStatus.unavailable)
    }
    // Threads with the same stack are shown once.
    var stacks: [(tids: [Int32], filters: [[BPFInstruction]])] = []
    var strict: Set<Int32> = []
    for t in threads {
      if t.filters.isEmpty && FilterDump.seccompMode(tid: t.tid) == 1 { strict.insert(t.tid) }
      if let i = stacks.firstIndex(where: { $0.filters == t.filters && strict.contains($0.tids[0]) == strict.contains(t.tid) }) {
        stacks[i].tids.append(t.tid)
      } else {
        stacks.append(([t.tid], t.filters))
      }
    }
    var text = ""
    var warnings: [String] = []
    for stack in stacks {
      let who = stacks.count == 1 ? "process \(pid)" : "threads \(stack.tids.map(String.init).joined(separator: ", "))"
      if stack.filters.isEmpty {
        text += strict.contains(stack.tids[0])
          ? "# \(who): strict mode (1): read, write, exit, sigreturn only\n" : "# \(who): no seccomp filter\n"
        continue
      }
      switch format {
      case .disasm:
        text += "# \(who): \(stack.filters.count) filter\(stack.filters.count == 1 ? "" : "s"), newest first\n"
        for (i, f) in stack.filters.enumerated() {
          text += "\n# filter \(i): \(f.count) instructions\n" + Disassembler.listing(f, annotate: true)
        }
      case .table:
        text += "# \(who): decisions of \(stack.filters.count) stacked filter\(stack.filters.count == 1 ? "" : "s") on every argument region\n"
        text += "# aN is argument N as the kernel keeps it; aN.lo and aN.hi are its 32-bit halves, ip the instruction pointer\n"
        for arch in FilterDump.arches(stack.filters) {
          text += "\n[\(arch)]\n"
          for row in FilterDump.rows(stack.filters, arch: arch) {
            text += row.name.padding(toLength: 24, withPad: " ", startingAt: 0)
              + String(row.number.rawValue).padding(toLength: 12, withPad: " ", startingAt: 0)
              + FilterDump.describe(row) + "\n"
          }
        }
      case .profile:
        let written = FilterDump.profile(of: stack.filters, arches: FilterDump.arches(stack.filters))
        text += written.profile.encode()
        warnings += written.notExpressed
        if let stub = written.enosysStub { printError("syscage: note: " + stub) }
        for u in written.unlistedABIs { printError("syscage: note: " + u) }
        if !written.droppedBitsTested.isEmpty {
          printError(
            "syscage: note: the filters also test bits the kernel drops of \(written.droppedBitsTested.joined(separator: ", ")); the profile compares each argument as the kernel reads it, and such calls are not compared"
          )
        }
        let pairs = Lint.run(written.profile, options: PolicyOptions(context: HostFacts.dockerDefault())).filter { $0.id == "same-argument-twice" }.count
        if pairs > 0 {
          printError(
            "syscage: note: \(pairs) rule\(pairs == 1 ? " puts" : "s put") two conditions on one argument (a range): syscage ANDs them as the filters do, runc ORs them (lint: same-argument-twice)"
          )
        }
        if stacks.count > 1 {
          warnings.append("threads differ: only \(who) is written (\(stacks.count) different stacks of filters)")
        }
      }
      if format == .profile { break }
    }
    for w in warnings { printError("syscage: " + w) }
    if format == .profile && !warnings.isEmpty && !partial {
      throw fail(
        "the profile cannot decide exactly as the filters do (\(warnings.count) difference\(warnings.count == 1 ? "" : "s") above); nothing written (--partial writes it anyway)",
        code: ExitStatus.negative)
    }
    try emit(Array(text.utf8), to: out)
    if format == .profile && !warnings.isEmpty {
      throw fail("the profile written does not decide exactly as the filters do (\(warnings.count) difference\(warnings.count == 1 ? "" : "s") above)", code: ExitStatus.negative)
    }
  }
}
