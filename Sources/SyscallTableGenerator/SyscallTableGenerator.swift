import Foundation

/// Builds `Sources/Syscalls/GeneratedSyscallTable.swift` from the files in `Data/`.
///
/// Inputs: `syscalls.csv` (libseccomp's table: a name and, per ABI, a number or
/// `PNR` and a kernel-version column), `syscall-signatures.x86_64.tsv` (argument
/// declarations), `systemd-syscall-groups.json`, and `docker-default.json` (for the
/// group of calls Docker's default profile refuses).
public enum SyscallTableGenerator {
  /// A problem with an input file, naming the file and line.
  public struct InputError: Error, CustomStringConvertible {
    public let description: String
  }

  /// The ABI columns in the order the CSV lists them.
  public static let abis = [
    "x86", "x86_64", "x32", "arm", "aarch64", "loongarch64", "m68k", "mips", "mips64",
    "mips64n32", "parisc", "parisc64", "ppc", "ppc64", "riscv64", "s390", "s390x", "sh",
  ]

  /// Reads the inputs from `dataDirectory` and returns the Swift source.
  public static func generate(dataDirectory: URL) throws -> String {
    func read(_ name: String) throws -> String {
      try String(contentsOf: dataDirectory.appendingPathComponent(name), encoding: .utf8)
    }
    let table = try parseTable(read("syscalls.csv"))
    let signatures = try parseSignatures(read("syscall-signatures.x86_64.tsv"))
    var groups = try parseGroups(read("systemd-syscall-groups.json"))
    let refused = try dockerRefused(read("docker-default.json"), allNames: table.names)
    groups.append(("@docker-default-refused", refused))
    groups.sort { $0.0 < $1.0 }
    return render(table: table, signatures: signatures, groups: groups)
  }

  struct Table {
    var version: String
    var names: [String]
    var numbers: [[Int32]]  // [abi][row]
  }

  static func parseTable(_ text: String) throws -> Table {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard let header = lines.first, header.hasPrefix("#") else {
      throw InputError(description: "syscalls.csv:1: expected a '#syscall (version),...' header")
    }
    lines.removeFirst()
    let headerCells = header.split(separator: ",").map(String.init)
    let expected = abis.flatMap { [$0, $0 + "_kver"] }
    guard Array(headerCells.dropFirst()) == expected else {
      throw InputError(description: "syscalls.csv:1: columns are not name + 18 ABIs with _kver")
    }
    let version = headerCells[0].replacingOccurrences(of: "#syscall ", with: "")
    var rows: [(String, [Int32])] = []
    for (i, line) in lines.enumerated() where !line.isEmpty && !line.hasPrefix("#") {
      let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
      guard cells.count == 1 + 2 * abis.count else {
        throw InputError(description: "syscalls.csv:\(i + 2): expected \(1 + 2 * abis.count) cells, found \(cells.count)")
      }
      var nums: [Int32] = []
      for a in 0..<abis.count {
        let cell = cells[1 + 2 * a]
        if cell == "PNR" {
          nums.append(-1)
        } else if let n = Int32(cell), n >= 0 {
          nums.append(n)
        } else {
          throw InputError(description: "syscalls.csv:\(i + 2): '\(cell)' for \(abis[a]) is neither a number nor PNR")
        }
      }
      rows.append((cells[0], nums))
    }
    rows.sort { $0.0 < $1.0 }
    return Table(
      version: version, names: rows.map(\.0),
      numbers: (0..<abis.count).map { a in rows.map { $0.1[a] } })
  }

  static func parseSignatures(_ text: String) throws -> [(String, [String])] {
    var result: [(String, [String])] = []
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      let cells = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      result.append((cells[0], Array(cells.dropFirst()).filter { !$0.isEmpty }))
    }
    return result.sorted { $0.0 < $1.0 }
  }

  static func parseGroups(_ text: String) throws -> [(String, [String])] {
    guard let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
      throw InputError(description: "systemd-syscall-groups.json: expected an object")
    }
    return try obj.keys.filter { $0.hasPrefix("@") }.sorted().map { key in
      guard let members = obj[key] as? [String] else {
        throw InputError(description: "systemd-syscall-groups.json: \(key) is not a list of names")
      }
      return (key, members)
    }
  }

  /// Every known syscall that no unconditional-capability ALLOW entry of Docker's
  /// default profile names (cap-gated entries and the ENOSYS clone3 entry refuse).
  static func dockerRefused(_ text: String, allNames: [String]) throws -> [String] {
    guard let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
      let syscalls = obj["syscalls"] as? [[String: Any]]
    else { throw InputError(description: "docker-default.json: expected an object with syscalls") }
    var allowed = Set<String>()
    for entry in syscalls where (entry["action"] as? String) == "SCMP_ACT_ALLOW" {
      let includes = entry["includes"] as? [String: Any]
      if let caps = includes?["caps"] as? [String], !caps.isEmpty { continue }
      for n in (entry["names"] as? [String]) ?? [] { allowed.insert(n) }
    }
    return allNames.filter { !allowed.contains($0) }
  }

  static func render(table: Table, signatures: [(String, [String])], groups: [(String, [String])]) -> String {
    var out = """
      // Generated by `swift run generate-syscall-tables` from Data/syscalls.csv,
      // Data/syscall-signatures.x86_64.tsv, Data/systemd-syscall-groups.json and
      // Data/docker-default.json. Do not edit; regenerate.

      enum GeneratedSyscallTable {
        static let version = \(quote(table.version))

        static let names: [String] = [

      """
    out += wrap(table.names.map(quote), indent: "    ")
    out += "  ]\n\n  static func numbers(_ abi: SyscallABI) -> [Int32] {\n    switch abi {\n"
    for abi in abis { out += "    case .\(abi): \(abi)\n" }
    out += "    }\n  }\n"
    for (a, abi) in abis.enumerated() {
      out += "\n  static let \(abi): [Int32] = [\n"
      out += wrap(table.numbers[a].map { String($0) }, indent: "    ")
      out += "  ]\n"
    }
    out += "\n  /// x86_64 argument declarations (tracefs), by syscall.\n"
    out += "  static let signatures: [String: [String]] = [\n"
    for (name, args) in signatures {
      out += "    \(quote(name)): [\(args.map(quote).joined(separator: ", "))],\n"
    }
    out += "  ]\n\n  static let groups: [(name: String, members: [String])] = [\n"
    for (name, members) in groups {
      out += "    (\(quote(name)), [\n" + wrap(members.map(quote), indent: "      ") + "    ]),\n"
    }
    out += "  ]\n}\n"
    return out
  }

  static func quote(_ s: String) -> String {
    "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
  }

  static func wrap(_ items: [String], indent: String, width: Int = 100) -> String {
    var out = ""
    var line = indent
    for item in items {
      if line.count + item.count + 2 > width && line != indent {
        out += line.replacingOccurrences(of: " +$", with: "", options: .regularExpression) + "\n"
        line = indent
      }
      line += item + ", "
    }
    if line != indent { out += line.replacingOccurrences(of: " +$", with: "", options: .regularExpression) + "\n" }
    return out
  }
}
