import ArgumentParser
import Foundation
import Inspection
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
      for every syscall of each ABI, combined by the kernel's precedence; calls whose \
      decision depends on arguments are marked), profile (a Docker profile deciding the \
      same for every argument-free decision; what it cannot express is listed on stderr).

      Examples:
        syscage dump 1234
        syscage dump $(pidof nginx) --format table
        syscage dump 1234 --format profile -o running.json
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable { case disasm, table, profile }

  @Argument(help: "The process id.")
  var pid: Int32

  @Option(help: "disasm, table or profile.")
  var format: Format = .disasm

  @Option(name: .shortAndLong, help: "Write the output here (atomically).")
  var output: String?

  func run() throws {
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
    for t in threads {
      if let i = stacks.firstIndex(where: { $0.filters == t.filters }) { stacks[i].tids.append(t.tid) } else {
        stacks.append(([t.tid], t.filters))
      }
    }
    var text = ""
    var warnings: [String] = []
    for stack in stacks {
      let who = stacks.count == 1 ? "process \(pid)" : "threads \(stack.tids.map(String.init).joined(separator: ", "))"
      if stack.filters.isEmpty {
        text += "# \(who): no seccomp filter\n"
        continue
      }
      switch format {
      case .disasm:
        text += "# \(who): \(stack.filters.count) filter\(stack.filters.count == 1 ? "" : "s"), newest first\n"
        for (i, f) in stack.filters.enumerated() {
          text += "\n# filter \(i): \(f.count) instructions\n" + Disassembler.listing(f, annotate: true)
        }
      case .table:
        text += "# \(who): decisions of \(stack.filters.count) stacked filter\(stack.filters.count == 1 ? "" : "s")\n"
        for arch in arches(stack.filters) {
          text += "\n[\(arch)]\n"
          for (name, number) in SyscallTable.entries(in: arch.abi) {
            text += name.padding(toLength: 24, withPad: " ", startingAt: 0) + String(number.rawValue).padding(toLength: 12, withPad: " ", startingAt: 0)
            if let d = FilterDump.constantDecision(stack.filters, arch: arch.auditArch, nr: number.word) {
              text += d.description + "\n"
            } else {
              let zero = FilterDump.decide(stack.filters, SeccompData(nr: number.word, arch: arch.auditArch), endianness: arch.endianness)
              text += "depends on arguments (with zero arguments: \(zero))\n"
            }
          }
        }
      case .profile:
        let (profile, notes) = profileOf(stack.filters)
        text += profile.encode()
        warnings += notes
        if stacks.count > 1 { warnings.append("threads differ: only \(who) is written") }
      }
      if format == .profile { break }
    }
    for w in warnings { printError("syscage: " + w) }
    if let output {
      try writeOutput(Array(text.utf8), to: output, inputs: [])
    } else {
      print(text, terminator: "")
    }
  }

  /// The ABIs a stack of filters tells apart: this machine's family, and any arch a filter compares against.
  func arches(_ filters: [[BPFInstruction]]) -> [Arch] {
    var result = Arch.native.family
    let constants = Set(filters.flatMap { $0.filter { $0.code == BPF.jmp | BPF.jeq | BPF.k }.map(\.k) })
    for a in Arch.all where constants.contains(a.auditArch.rawValue) && !result.contains(a) && a.abi != .x32 {
      result.append(a)
    }
    return result.filter { a in
      // Keep an ABI when some call of it gets past the filters.
      SyscallTable.entries(in: a.abi).contains { FilterDump.decide(filters, SeccompData(nr: $0.number.word, arch: a.auditArch), endianness: a.endianness).permits }
    }
  }

  /// A Docker profile deciding as the filters do on argument-free decisions.
  func profileOf(_ filters: [[BPFInstruction]]) -> (Profile, [String]) {
    let abis = arches(filters)
    var notes: [String] = []
    var decisions: [Arch: [String: SeccompAction]] = [:]
    var counts: [SeccompAction: Int] = [:]
    for arch in abis {
      for (name, number) in SyscallTable.entries(in: arch.abi) {
        if let d = FilterDump.constantDecision(filters, arch: arch.auditArch, nr: number.word) {
          decisions[arch, default: [:]][name] = d
          counts[d, default: 0] += 1
        } else {
          notes.append("\(name) on \(arch): the decision depends on arguments, which this profile does not express (it gets the default action)")
        }
      }
    }
    let defaultAction = counts.max { $0.value < $1.value }?.key ?? .errno(1)
    var byAction: [SeccompAction: Set<String>] = [:]
    for (arch, names) in decisions {
      for (name, action) in names where action != defaultAction {
        byAction[action, default: []].insert(name)
        if abis.contains(where: { other in other != arch && decisions[other]?[name].map { $0 != action } == true }) {
          notes.append("\(name) is decided differently per ABI; the profile uses one rule for all")
        }
      }
    }
    let entries = byAction.sorted { $0.key.returnValue < $1.key.returnValue }.map { action, names in
      let (n, e) = action.profileAction
      return SyscallEntry(names: names.sorted(), action: n, errnoRet: e)
    }
    let (dn, de) = defaultAction.profileAction
    let profile = Profile(defaultAction: dn, defaultErrnoRet: de, architectures: abis, syscalls: entries)
    return (profile, Array(Set(notes)).sorted())
  }
}
