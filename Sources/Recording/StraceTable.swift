import Foundation
import Syscalls

/// The table `strace -c` prints, for a recording.
///
/// Columns `% time`, `seconds`, `usecs/call`, `calls`, `errors`, `syscall`, with strace's
/// widths (`%6.2f %11.6f %11lu %9u %9.u %s`: an errors count of 0 is blank), a dashes line
/// under the header and above the `total` row. Rows are sorted as strace's default
/// `-S time` sorts them: by time, most first, then by syscall number. One table per ABI;
/// for an ABI other than the first one, strace's `System call usage summary for 32 bit
/// mode:` (or `x32 mode:`) line comes first. Unlike strace, `exit` and `exit_group` are
/// rows (they are counted at entry), and the time is the latency between entry and exit
/// stops (strace's `-w`), not system CPU time.
public struct StraceTable: Sendable {
  public var recording: RecordedRun
  /// For several runs: per ABI and call, how many runs made it, and the number of runs;
  /// the table then has a `runs` column ("3/5") before `syscall`.
  public var runs: (counts: [Arch: [String: Int]], total: Int)?

  public init(_ recording: RecordedRun) { self.recording = recording }

  /// Rows of one ABI, in strace's order.
  public static func sorted(_ entries: [RecordedRun.Entry]) -> [RecordedRun.Entry] {
    entries.sorted {
      $0.statistics.nanoseconds != $1.statistics.nanoseconds
        ? $0.statistics.nanoseconds > $1.statistics.nanoseconds : $0.number < $1.number
    }
  }

  /// The whole text, ending in a newline ("" when nothing was recorded).
  public var text: String {
    var out = ""
    for (i, arch) in recording.arches.enumerated() {
      if i > 0 || arch != Arch.native {
        out += "System call usage summary for \(arch == .x32 ? "x32" : arch.wordBits == 32 ? "32 bit" : "64 bit") mode:\n"
      }
      out += StraceTable.table(recording.entries.filter { $0.arch == arch }, runs: runs.map { ($0.counts[arch] ?? [:], $0.total) })
    }
    return out
  }

  /// One table: header, rows, total (with `runs`, a `runs` column: runs that made the call / runs).
  public static func table(_ entries: [RecordedRun.Entry], runs: (counts: [String: Int], total: Int)? = nil) -> String {
    let rows = sorted(entries)
    let width = max(16, rows.map(\.name.count).max() ?? 0)
    let total = rows.reduce(SyscallStatistics()) { $0 + $1.statistics }
    let runsColumn = runs == nil ? "" : "------- "
    let dashes = "------ ----------- ----------- --------- --------- " + runsColumn + String(repeating: "-", count: width)
    var out = pad("% time", 6, left: true) + " " + pad("seconds", 11) + " " + pad("usecs/call", 11) + " "
      + pad("calls", 9) + " " + pad("errors", 9) + (runs == nil ? "" : " " + pad("runs", 7)) + " syscall\n"
    out += dashes + "\n"
    for row in rows {
      let share = total.nanoseconds > 0 ? 100 * Double(row.statistics.nanoseconds) / Double(total.nanoseconds) : 0
      let mark = runs.map { r in "\(r.counts[row.name] ?? 0)/\(r.total)" }
      out += line(percent: share, row.statistics, name: row.name, runs: mark)
    }
    out += dashes + "\n"
    out += line(percent: 100, total, name: "total", runs: runs == nil ? nil : "")
    return out
  }

  static func line(percent: Double, _ s: SyscallStatistics, name: String, runs: String? = nil) -> String {
    let usecs = s.calls > 0 ? s.nanoseconds / 1000 / UInt64(s.calls) : 0
    return String(format: "%6.2f %11.6f ", percent, s.seconds) + pad(String(usecs), 11) + " " + pad(String(s.calls), 9)
      + " " + pad(s.errors == 0 ? "" : String(s.errors), 9) + (runs.map { " " + pad($0, 7) } ?? "") + " " + name + "\n"
  }

  static func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return left ? s + fill : fill + s
  }

  /// The `calls` column of a table's text, per row name (the `total` row included):
  /// for tests and for reading tables back.
  public static func callsColumn(_ text: String) -> [(name: String, calls: Int)] {
    text.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: " ")
      guard fields.count >= 5, Double(fields[0]) != nil, let name = fields.last else { return nil }
      return (String(name), Int(fields[3]) ?? 0)
    }
  }
}
