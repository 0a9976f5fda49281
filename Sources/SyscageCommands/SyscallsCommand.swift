import ArgumentParser
import Foundation
import Syscalls

struct SyscallsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "syscalls",
    abstract: "Resolve syscall names and numbers, and list groups.",
    discussion: """
      With names, prints their numbers; with numbers, their names; with neither, \
      every syscall of the arch. Numbers are what the kernel sees: x32 with bit 30 \
      (0x40000000) set, MIPS with its ABI base (4000, 5000, 6000) added.

      Examples:
        syscage syscalls openat                 257
        syscage syscalls --arch aarch64 openat  56
        syscage syscalls 257                    openat
        syscage syscalls --arch x32 read        1073741824
        syscage syscalls --group @mount
        syscage syscalls --groups
      """)

  @Option(help: "The ABI to resolve in: a name (x86_64, x86, x32, aarch64, arm, mips64, ...) or an audit arch value (c000003e, as audit records print it).")
  var arch: Arch = .native

  @Option(help: "List the members of a group (systemd's @mount, @system-service, ...; @docker-default-refused).")
  var group: String?

  @Flag(help: "List the group names.")
  var groups = false

  @Flag(help: "Print JSON.")
  var json = false

  @Argument(help: "Syscall names or numbers (decimal or 0x hex).")
  var queries: [String] = []

  func run() throws {
    if groups {
      emit(SyscallGroups.names.map { ["group": $0, "members": SyscallGroups.members(of: $0) ?? []] },
           text: SyscallGroups.names)
      return
    }
    if let group {
      let name = group.hasPrefix("@") ? group : "@" + group
      guard let members = SyscallGroups.expand(name) else {
        throw fail("unknown group '\(group)'; known: \(SyscallGroups.names.joined(separator: " "))",
                   code: ExitStatus.dataError)
      }
      let rows = members.map { ($0, arch.number(of: $0)) }
      emit(rows.map { ["name": $0.0, "number": $0.1.map { Int($0.rawValue) as Any } ?? NSNull()] },
           text: rows.map { "\($0.0)\t\($0.1.map { String($0.rawValue) } ?? "-")" })
      return
    }
    if queries.isEmpty {
      let all = SyscallTable.entries(in: arch.abi)
      emit(all.map { ["name": $0.name, "number": Int($0.number.rawValue)] },
           text: all.map { "\($0.name)\t\($0.number)" })
      return
    }
    var results: [(query: String, name: String, number: SyscallNumber)] = []
    var errors: [String] = []
    for q in queries {
      if let n = parseNumber(q) {
        let names = SyscallTable.names(of: n, in: arch.abi)
        if let first = names.first {
          results.append((q, first, n))
        } else {
          errors.append("no syscall has number \(q) on \(arch)")
        }
      } else if let n = arch.number(of: q) {
        results.append((q, q, n))
      } else if SyscallTable.isKnown(q) {
        let elsewhere = Arch.all.filter { $0.number(of: q) != nil }.map(\.name)
        errors.append("'\(q)' does not exist on \(arch) (it does on \(elsewhere.joined(separator: ", ")))")
      } else {
        let near = SyscallTable.suggestions(for: q)
        errors.append("unknown syscall '\(q)'" + (near.isEmpty ? "" : "; did you mean \(near.joined(separator: ", "))?"))
      }
    }
    let byName = queries.count == 1 && parseNumber(queries[0]) == nil
    let byNumber = queries.count == 1 && !byName
    emit(results.map { ["query": $0.query, "name": $0.name, "number": Int($0.number.rawValue), "arch": arch.name] },
         text: results.map {
           byName ? String($0.number.rawValue) : byNumber ? $0.name : "\($0.name)\t\($0.number.rawValue)"
         })
    if !errors.isEmpty {
      for e in errors { printError("syscage: " + e) }
      throw ExitCode(ExitStatus.dataError)
    }
  }

  func emit(_ objects: [[String: Any]], text: [String]) {
    if json {
      print(jsonLine(objects))
    } else {
      for line in text { print(line) }
    }
  }

  func parseNumber(_ s: String) -> SyscallNumber? {
    if s.hasPrefix("0x") || s.hasPrefix("0X") { return UInt32(s.dropFirst(2), radix: 16).map { SyscallNumber(Int32(bitPattern: $0)) } }
    if let v = Int32(s) { return SyscallNumber(v) }
    return nil
  }
}
