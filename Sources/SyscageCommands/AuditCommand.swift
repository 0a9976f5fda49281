import ArgumentParser
import Foundation
import Inspection
import OutputFiles
import Profiles
import Seccomp
import Syscalls

struct AuditCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "audit",
    abstract: "Read the kernel's seccomp records and name them.",
    discussion: """
      Reads type=1326 / type=SECCOMP records from files (dmesg, /var/log/syslog, \
      kern.log, audit.log, journalctl output), standard input, /dev/kmsg (--kmsg), or \
      the kernel's audit netlink multicast group (--netlink), live with --follow. Each \
      record gets its syscall's name and ABI (syscall=35 on arch=c000003e is nanosleep \
      on x86_64) and its action decoded from code=0x...; a summary groups them by exe, \
      comm or pid with counts. With --follow, Ctrl-C (or SIGTERM, or --timeout) stops \
      reading and prints the summary.

      The kernel logs the action without its data: an ERRNO record does not say which \
      errno the call got.

      Without auditd, the kernel prints audit records through printk's rate limit \
      (about 10 per 5 seconds): /dev/kmsg misses the rest. With auditd running, read \
      audit.log. Or use --netlink: the kernel multicasts every record to the audit \
      group (AUDIT_NLGRP_READLOG) whether or not auditd runs, without printk's limit \
      (measured on Linux 6.18 without auditd: 200 of 200 records over netlink, 10 on \
      /dev/kmsg). Only the audit subsystem's own limits apply (auditctl -r, off by \
      default; the backlog, auditctl -b), and a reader that falls behind loses records, \
      which syscage reports. --netlink needs CAP_AUDIT_READ (root) in the initial user \
      and network namespaces (exit 69 without it), and sees only records made after it \
      started: it has no end, so it needs --follow (until stopped) or --timeout SECONDS \
      (read for that long, then print the summary).

      Examples:
        dmesg | syscage audit
        syscage audit /var/log/audit/audit.log --group-by comm
        syscage audit --kmsg --follow --json
        syscage audit --netlink --follow --json
        syscage audit --netlink --timeout 30 --group-by comm
      """)

  @Argument(help: "Log files (- or none: standard input).")
  var files: [String] = []

  @Flag(help: "Read the kernel's log buffer, /dev/kmsg.")
  var kmsg = false

  @Flag(help: "Read the kernel's audit netlink multicast group (needs CAP_AUDIT_READ, and --follow or --timeout).")
  var netlink = false

  @Flag(help: "Keep reading as records arrive (Ctrl-C to stop).")
  var follow = false

  @Option(help: ArgumentHelp("Stop reading after this many seconds (with --follow or --netlink).", valueName: "seconds"))
  var timeout: Double?

  @Flag(help: "Print one JSON object per record.")
  var json = false

  @Option(help: "Group the summary by exe, comm or pid.")
  var groupBy: String = "exe"

  @Flag(help: "Treat malformed seccomp records as errors.")
  var strict = false

  func validate() throws {
    if [kmsg, netlink, !files.isEmpty].filter({ $0 }).count > 1 {
      throw ValidationError("give files, --kmsg or --netlink, one of them")
    }
    if netlink && !follow && timeout == nil {
      throw ValidationError(
        "--netlink has no end (the kernel sends records as they happen): add --follow to read until stopped, or --timeout SECONDS")
    }
    if let timeout {
      if !(timeout > 0) { throw ValidationError("--timeout wants a number of seconds above 0") }
      if !follow && !netlink { throw ValidationError("--timeout applies to --follow or --netlink") }
    }
    if AuditLog.Grouping(rawValue: groupBy) == nil { throw ValidationError("--group-by wants exe, comm or pid") }
  }

  func run() throws {
    let grouping = AuditLog.Grouping(rawValue: groupBy)!
    if kmsg {
      printError("syscage: reading /dev/kmsg: without auditd the kernel rate-limits audit records (about 10 per 5 seconds); the rest never reach it (--netlink gets them all)")
    }
    let live = follow || netlink
    if live { StopSignals.install() }
    let deadline = timeout.map { Date().addingTimeInterval($0) }
    func stopping() -> Bool {
      StopSignals.requested || deadline.map { Date() >= $0 } == true
    }
    var log = AuditLog(strict: strict)
    var emitted = 0
    // Lines to print, written in large blocks (at once when live).
    var pending: [UInt8] = []
    func flush() {
      fflush(nil)  // what print() holds goes first (every stream: stdout itself is not concurrency-safe to name)
      // A reader that went away (EPIPE) ends nothing: the summary still goes to stderr.
      try? OutputFile.standardOutput.write(pending)
      pending.removeAll(keepingCapacity: true)
    }
    func emitNew() {
      while emitted < log.records.count {
        let r = log.records[emitted]
        emitted += 1
        if json {
          r.writeJSON(to: &pending)
          pending.append(10)
        } else if follow {
          pending.append(contentsOf: r.description.utf8)
          pending.append(10)
        }
        if live || pending.count >= 1 << 16 { flush() }
      }
    }
    if netlink {
      try readNetlink(stopping: stopping) { line, number in
        log.read(line: line, number: number, file: AuditNetlink.source)
        emitNew()
      }
    } else {
      let sources = kmsg ? ["/dev/kmsg"] : (files.isEmpty ? ["-"] : files)
      var readers: [LogLineReader] = []
      for path in sources {
        do {
          readers.append(try LogLineReader(path: path, kmsg: path == "/dev/kmsg"))
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
        if follow && !any && !stopping() { usleep(200_000) }
      } while follow && !stopping()
    }
    flush()
    for d in log.diagnostics { printError(d.description) }
    if log.diagnostics.contains(where: { $0.severity == .error }) { throw ExitCode(ExitStatus.dataError) }
    if !json { printSummary(log.uniqued(), grouping) }
  }

  /// Reads seccomp records from the audit multicast group until stopped, handing each
  /// (as the log line the parser reads, and the message's ordinal) to `take`.
  func readNetlink(stopping: () -> Bool, take: (String, Int) -> Void) throws {
    let listener: AuditNetlink.Listener
    do {
      listener = try AuditNetlink.Listener()
    } catch {
      throw fail(error.description, code: ExitStatus.unavailable)
    }
    if AuditNetlink.inInitialNetworkNamespace() == false {
      printError("syscage: warning: this process is not in the initial network namespace, and the kernel multicasts audit records there only: none will arrive")
    }
    printError("syscage: listening to the kernel's audit multicast group (netlink); records made from now on")
    var number = 0
    var overruns = 0
    var gaps = AuditNetlink.SerialGaps()
    while !stopping() {
      let received: AuditNetlink.Received
      do {
        received = try listener.receive(timeoutMilliseconds: 200)
      } catch {
        throw fail(error.description, code: ExitStatus.unavailable)
      }
      switch received {
      case .nothing:
        continue
      case .overrun:
        overruns += 1
        printError("syscage: warning: the kernel dropped audit records because syscage fell behind (the socket's receive buffer overflowed)")
      case .messages(let messages):
        for message in messages {
          number += 1
          gaps.note(message)
          guard let line = AuditNetlink.logLine(for: message) else { continue }
          take(line, number)
        }
      }
    }
    if gaps.missing > 0 {
      printError("syscage: warning: at least \(gaps.missing) audit event\(gaps.missing == 1 ? "" : "s") did not arrive (gaps in the serial numbers)" + (overruns > 0 ? ": syscage fell behind" : ""))
    }
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
        let name = "\(r.syscall ?? r.number.map { "syscall \($0)" } ?? "?") (\(r.number.map(String.init) ?? "?"), \(r.arch?.name ?? "?")) \(r.actionName)"
        counts[name, default: 0] += 1
      }
      for (name, n) in counts.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
        print("  \(String(n).padding(toLength: 6, withPad: " ", startingAt: 0)) \(name)")
      }
    }
  }
}
