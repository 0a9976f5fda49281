import ArgumentParser
import Foundation
import Inspection
import Seccomp
import Syscalls

struct AuditCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "audit",
    abstract: "Read the kernel's seccomp records and name them.",
    discussion: """
      Reads type=1326 / type=SECCOMP records from files (dmesg, /var/log/syslog, \
      kern.log, audit.log, journalctl output), standard input, or /dev/kmsg (--kmsg), \
      live with --follow. Each record gets its syscall's name and ABI (syscall=35 on \
      arch=c000003e is nanosleep on x86_64) and its action decoded from code=0x...; a \
      summary groups them by exe, comm or pid with counts.

      Without auditd, the kernel prints audit records through a rate limit (about 10 \
      per 5 seconds): /dev/kmsg misses the rest. With auditd running, read audit.log.

      Examples:
        dmesg | syscage audit
        syscage audit /var/log/audit/audit.log --group-by comm
        syscage audit --kmsg --follow --json
      """)

  @Argument(help: "Log files (- or none: standard input).")
  var files: [String] = []

  @Flag(help: "Read the kernel's log buffer, /dev/kmsg.")
  var kmsg = false

  @Flag(help: "Keep reading as records arrive (Ctrl-C to stop).")
  var follow = false

  @Flag(help: "Print one JSON object per record.")
  var json = false

  @Option(help: "Group the summary by exe, comm or pid.")
  var groupBy: String = "exe"

  @Flag(help: "Treat malformed seccomp records as errors.")
  var strict = false

  func validate() throws {
    if kmsg && !files.isEmpty { throw ValidationError("give files or --kmsg, not both") }
    if AuditLog.Grouping(rawValue: groupBy) == nil { throw ValidationError("--group-by wants exe, comm or pid") }
  }

  func run() throws {
    let grouping = AuditLog.Grouping(rawValue: groupBy)!
    if kmsg {
      printError("syscage: reading /dev/kmsg: without auditd the kernel rate-limits audit records (about 10 per 5 seconds); the rest never reach it")
    }
    var log = AuditLog(strict: strict)
    var emitted = 0
    func emitNew() {
      while emitted < log.records.count {
        let r = log.records[emitted]
        emitted += 1
        if json { print(jsonLine(object(r))) } else if follow { print(r.description) }
        if follow { FileHandle.standardOutput.synchronizeFile() }
      }
    }
    let sources = kmsg ? ["/dev/kmsg"] : (files.isEmpty ? ["-"] : files)
    var readers: [LineReader] = []
    for path in sources {
      do {
        readers.append(try LineReader(path: path, kmsg: path == "/dev/kmsg"))
      } catch {
        throw fail(error)
      }
    }
    repeat {
      var any = false
      for reader in readers {
        while let (line, number) = reader.nextLine() {
          any = true
          _ = log.read(line: line, number: number, file: reader.displayName)
          emitNew()
        }
      }
      if follow && !any { usleep(200_000) }
    } while follow
    for d in log.diagnostics { printError(d.description) }
    if log.diagnostics.contains(where: { $0.severity == .error }) { throw ExitCode(ExitStatus.dataError) }
    if !json { printSummary(log.uniqued(), grouping) }
  }

  func object(_ r: SeccompAuditRecord) -> [String: Any] {
    var o: [String: Any] = [:]
    if let v = r.pid { o["pid"] = v }
    if let v = r.comm { o["comm"] = v }
    if let v = r.exe { o["exe"] = v }
    if let v = r.arch { o["arch"] = v.name }
    if let v = r.number { o["number"] = Int(v) }
    if let v = r.syscall { o["syscall"] = v }
    if let v = r.action { o["action"] = v.description }
    if let v = r.timestamp { o["time"] = v }
    if let v = r.uid { o["uid"] = Int(v) }
    if let f = r.file { o["file"] = f }
    o["line"] = r.line
    return o
  }

  func printSummary(_ log: AuditLog, _ grouping: AuditLog.Grouping) {
    if log.records.isEmpty {
      print("no seccomp records")
      return
    }
    for (key, records) in log.grouped(by: grouping) {
      print("\(grouping.rawValue) \(key): \(records.count) record\(records.count == 1 ? "" : "s")")
      var counts: [String: Int] = [:]
      for r in records {
        let name = "\(r.syscall ?? r.number.map { "syscall \($0)" } ?? "?") (\(r.number.map(String.init) ?? "?"), \(r.arch?.name ?? "?")) \(r.action?.description ?? "?")"
        counts[name, default: 0] += 1
      }
      for (name, n) in counts.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
        print("  \(String(n).padding(toLength: 6, withPad: " ", startingAt: 0)) \(name)")
      }
    }
  }
}

/// Lines from a file, standard input or /dev/kmsg, read as they grow.
final class LineReader {
  let fd: Int32
  let displayName: String
  let isKmsg: Bool
  var buffer: [UInt8] = []
  var lineNumber = 0

  init(path: String, kmsg: Bool) throws(InputError) {
    displayName = path == "-" ? "<stdin>" : path
    isKmsg = kmsg
    if path == "-" {
      fd = 0
    } else {
      fd = open(path, O_RDONLY | O_CLOEXEC | (kmsg ? O_NONBLOCK : 0))
      if fd < 0 {
        let reason = String(cString: strerror(errno))
        throw InputError(Diagnostic(.error, file: path, "cannot open: \(reason)" + (kmsg && errno == EACCES ? " (reading /dev/kmsg needs root or CAP_SYSLOG)" : "")))
      }
    }
  }

  deinit { if fd > 0 { close(fd) } }

  /// The next complete line, or nil when none is available now.
  func nextLine() -> (String, Int)? {
    while true {
      if let nl = buffer.firstIndex(of: 10) {
        let line = String(decoding: buffer[..<nl], as: UTF8.self)
        buffer.removeSubrange(...nl)
        lineNumber += 1
        return (line, lineNumber)
      }
      var chunk = [UInt8](repeating: 0, count: 8192)
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n > 0 {
        buffer.append(contentsOf: chunk[0..<n])
        // A /dev/kmsg read returns one record without a trailing newline guarantee.
        if isKmsg && buffer.last != 10 { buffer.append(10) }
        continue
      }
      if n < 0 && errno == EINTR { continue }
      if n < 0 && errno == EPIPE && isKmsg { continue }  // records overwritten before we read them
      return nil
    }
  }
}
