import ArgumentParser
import Enforcement
import Foundation
import Syscalls
import Testing

@testable import SyscageCommands

/// The commands that run or read processes and the kernel (run, watch, status, probe,
/// audit, dump, syscalls): what they parse into and each rule of their `validate()`.
@Suite struct ProgramCommandsParseTests {
  // MARK: run

  @Test func run() throws {
    let r = try parsed(
      [
        "run", "--profile", "p.json", "--log-denials", "--allow-new-privs", "--no-enosys-stub", "--strict", "--no-loader-warning", "--single-filter",
        "--trace-kills", "--unconfined", "--", "ls", "-l",
      ], as: RunCommand.self)
    #expect(r.profile == "p.json")
    #expect(r.logDenials && r.allowNewPrivs && r.noEnosysStub && r.strict && r.noLoaderWarning && r.singleFilter && r.traceKills && r.unconfined)
    #expect(try wrappedCommand(r.command) == ["ls", "-l"])
  }

  @Test func runsProgramKeepsItsOwnOptions() throws {
    // After the program's name, a word is the program's, whatever it looks like.
    let r = try parsed(["run", "--profile", "p.json", "--", "sh", "--strict", "-c", "true"], as: RunCommand.self)
    #expect(!r.strict)
    #expect(try wrappedCommand(r.command) == ["sh", "--strict", "-c", "true"])
    let bare = try parsed(["run", "--profile", "p.json", "ls", "--strict"], as: RunCommand.self)
    #expect(try wrappedCommand(bare.command) == ["ls", "--strict"])
  }

  @Test func runNeedsAProgramAndKnownOptions() {
    #expect(refusal(["run", "--profile", "p.json"]) == Refusal("name a program after --"))
    #expect(refusal(["run", "--profile", "p.json", "--"]) == Refusal("name a program after --"))
    #expect(refusal(["run", "--profile", "p.json", "--log-denial", "--", "ls"]) == Refusal("unknown option '--log-denial'; did you mean '--log-denials'?"))
    #expect(refusal(["run", "--", "ls"])?.status == 64)  // --profile is required
  }

  // MARK: watch

  @Test func watch() throws {
    let w = try parsed(
      [
        "watch", "--profile", "p.json", "--on-violation", "deny", "--alerts", "a.jsonl", "--learn", "l.json", "--allow-new-privs", "--strict",
        "--unconfined", "--", "./app", "-x",
      ], as: WatchCommand.self)
    #expect(w.profile == "p.json" && w.onViolation == .deny && w.alerts == "a.jsonl" && w.learn == "l.json")
    #expect(w.allowNewPrivs && w.strict && w.unconfined)
    #expect(try wrappedCommand(w.command) == ["./app", "-x"])
    #expect(try parsed(["watch", "--profile", "p.json", "--", "ls"], as: WatchCommand.self).onViolation == .alert)
    #expect(try parsed(["watch", "--profile", "p.json", "--on-violation", "kill", "--", "ls"], as: WatchCommand.self).onViolation == .kill)
  }

  @Test func watchNeedsAProgramAndKnownOptions() throws {
    #expect(refusal(["watch", "--profile", "p.json"]) == Refusal("name a program after --"))
    #expect(refusal(["watch", "--profile", "p.json", "--lern", "x", "--", "ls"]) == Refusal("unknown option '--lern'; did you mean '--learn'?"))
    let mode = try #require(refusal(["watch", "--profile", "p.json", "--on-violation", "panic", "--", "ls"]))
    #expect(mode.status == 64 && mode.message.contains("'panic'"), "\(mode)")
  }

  // MARK: status

  @Test func status() throws {
    let s = try parsed(["status", "1", "42", "--json"], as: StatusCommand.self)
    #expect(s.pids == [1, 42] && s.json && !s.all && !s.kernel)
    let k = try parsed(["status", "--all", "--kernel"], as: StatusCommand.self)
    #expect(k.pids.isEmpty && k.all && k.kernel)
    #expect(refusal(["status", "init"])?.status == 64)
  }

  // MARK: probe

  @Test func probe() throws {
    let p = try parsed(["probe", "--arch", "x32", "--all", "--json"], as: ProbeCommand.self)
    #expect(p.arch == .x32 && p.all && p.json)
    #expect(try parsed(["probe"], as: ProbeCommand.self).arch == .x86_64)
    #expect(try parsed(["probe", "--arch", "i386"], as: ProbeCommand.self).arch == .x86)
  }

  @Test func probeProbesTheX86ABIs() {
    for arch in ["aarch64", "s390x", "arm"] {
      #expect(refusal(["probe", "--arch", arch]) == Refusal("probe works on x86_64 hosts for x86_64, x86 and x32 calls"), "\(arch)")
    }
  }

  // MARK: audit

  @Test func audit() throws {
    let a = try parsed(["audit", "a.log", "b.log", "--json", "--group-by", "comm", "--strict"], as: AuditCommand.self)
    #expect(a.files == ["a.log", "b.log"] && a.json && a.groupBy == "comm" && a.strict && !a.kmsg && !a.netlink)
    let k = try parsed(["audit", "--kmsg", "--follow", "--timeout", "1.5"], as: AuditCommand.self)
    #expect(k.kmsg && k.follow && k.timeout == 1.5)
    let n = try parsed(["audit", "--netlink", "--timeout", "30"], as: AuditCommand.self)
    #expect(n.netlink && !n.follow && n.timeout == 30)
    #expect(try parsed(["audit"], as: AuditCommand.self).groupBy == "exe")
  }

  @Test func auditReadsOneSource() {
    let one = Refusal("give files, --kmsg or --netlink, one of them")
    #expect(refusal(["audit", "a.log", "--kmsg"]) == one)
    #expect(refusal(["audit", "--kmsg", "--netlink", "--follow"]) == one)
    #expect(refusal(["audit", "a.log", "--netlink", "--follow"]) == one)
  }

  @Test func auditsNetlinkNeedsAnEnd() {
    #expect(
      refusal(["audit", "--netlink"])
        == Refusal("--netlink has no end (the kernel sends records as they happen): add --follow to read until stopped, or --timeout SECONDS"))
    #expect(refusal(["audit", "--netlink", "--follow"]) == nil)
  }

  @Test func auditsTimeout() {
    for value in ["0", "-1", "nan"] {
      #expect(refusal(["audit", "--follow", "--timeout=\(value)"]) == Refusal("--timeout wants a number of seconds above 0"), "\(value)")
    }
    #expect(refusal(["audit", "a.log", "--timeout", "5"]) == Refusal("--timeout applies to --follow or --netlink"))
  }

  @Test func auditsGrouping() {
    #expect(refusal(["audit", "--group-by", "uid"]) == Refusal("--group-by wants exe, comm or pid"))
    for g in ["exe", "comm", "pid"] { #expect(refusal(["audit", "--group-by", g]) == nil, "\(g)") }
  }

  // MARK: dump

  @Test func dump() throws {
    let d = try parsed(["dump", "1234", "--format", "profile", "-o", "running.json", "--partial"], as: DumpCommand.self)
    #expect(d.pid == 1234 && d.format == .profile && d.output == "running.json" && d.partial)
    #expect(try parsed(["dump", "1"], as: DumpCommand.self).format == .disasm)
    #expect(refusal(["dump", "nginx"])?.status == 64)
    #expect(refusal(["dump"])?.status == 64)
  }

  // MARK: syscalls

  @Test func syscalls() throws {
    let s = try parsed(["syscalls", "--arch", "aarch64", "openat", "257", "--json"], as: SyscallsCommand.self)
    #expect(s.arch == .aarch64 && s.queries == ["openat", "257"] && s.json)
    // An audit arch value, as audit records print it.
    #expect(try parsed(["syscalls", "--arch", "c000003e"], as: SyscallsCommand.self).arch == .x86_64)
    #expect(try parsed(["syscalls", "--arch", "0x40000003"], as: SyscallsCommand.self).arch == .x86)
    let g = try parsed(["syscalls", "--group", "@mount"], as: SyscallsCommand.self)
    #expect(g.group == "@mount" && !g.groups)
    #expect(try parsed(["syscalls", "--groups"], as: SyscallsCommand.self).groups)
    #expect(refusal(["syscalls", "--arch", "pdp11"])?.status == 64)
    #expect(s.parseNumber("0x101") == SyscallNumber(257) && s.parseNumber("openat") == nil)
  }
}
