import ArgumentParser
import Foundation
import Profiles
import Syscalls
import Testing

@testable import SyscageCommands

/// `syscage import`: its sources, selections and each rule of its `validate()`.
@Suite struct ImportParseTests {
  @Test func straceFilesAndTheirOptions() throws {
    let i = try parsed(
      ["import", "--strace", "a.trace", "b.trace", "--pid", "3", "--pid", "4", "--arch", "x86", "-o", "out.json", "--format", "oci", "--strict", "--json"],
      as: ImportCommand.self)
    #expect(i.straceFiles == ["a.trace", "b.trace"])
    #expect(i.auditFiles.isEmpty && i.lxcFile == nil && i.namesFile == nil)
    #expect(i.pid == [3, 4] && i.arch == .x86)
    #expect(i.output == "out.json" && i.format == .oci && i.format.outputFormat == .oci)
    #expect(i.strict && i.json)
    #expect(i.defaultAction.given == nil && i.defaultAction.value == .errnoEPERM)
  }

  @Test func auditRecordsAndTheirSelections() throws {
    let i = try parsed(["import", "--audit", "-", "--comm", "app", "--exe", "/usr/bin/app", "--default-action", "kill-process"], as: ImportCommand.self)
    #expect(i.auditFiles == ["-"] && i.comm == ["app"] && i.exe == ["/usr/bin/app"])
    #expect(i.defaultAction.value == DefaultActionArgument(action: .killProcess))
    #expect(i.format == .docker && i.format.outputFormat == .docker)
  }

  @Test func anLXCPolicyAndANameList() throws {
    let l = try parsed(["import", "--lxc", "common.seccomp", "--arch", "aarch64"], as: ImportCommand.self)
    #expect(l.lxcFile == "common.seccomp" && l.arch == .aarch64)
    let n = try parsed(["import", "--names", "-", "--default-action", "errno:EACCES"], as: ImportCommand.self)
    #expect(n.namesFile == "-" && n.defaultAction.value == DefaultActionArgument(action: .errno, errno: 13))
  }

  @Test func exactlyOneSource() {
    let message = Refusal("give --strace FILE..., --audit FILE..., --lxc FILE or --names FILE (one of them)")
    #expect(refusal(["import"]) == message)
    #expect(refusal(["import", "--strace", "a", "--audit", "b"]) == message)
    #expect(refusal(["import", "--lxc", "a", "--names", "b"]) == message)
    #expect(refusal(["import", "--strace", "a", "--names", "b"]) == message)
  }

  @Test func selectionsBelongToLogs() {
    for source in [["--lxc", "p"], ["--names", "n"]] {
      for selection in [["--comm", "app"], ["--exe", "app"], ["--pid", "3"]] {
        #expect(refusal(["import"] + source + selection) == Refusal("--comm, --exe and --pid select records of --strace and --audit"), "\(source) \(selection)")
      }
    }
    for selection in [["--comm", "app"], ["--exe", "app"]] {
      #expect(
        refusal(["import", "--strace", "t"] + selection) == Refusal("--comm and --exe select audit records; strace logs carry only pids (--pid)"),
        "\(selection)")
    }
    #expect(refusal(["import", "--strace", "t", "--pid", "3"]) == nil)
  }

  @Test func anLXCPolicySaysItsOwnDefault() {
    #expect(refusal(["import", "--lxc", "p", "--default-action", "errno"]) == Refusal("--default-action: an LXC policy says its own default action"))
    #expect(refusal(["import", "--names", "n", "--default-action", "errno"]) == nil)
  }

  @Test func auditRecordsNameTheirABI() {
    #expect(refusal(["import", "--audit", "a.log", "--arch", "x86_64"]) == Refusal("--arch applies to --strace; audit records name their ABI"))
  }

  @Test func standardInputIsReadOnce() {
    #expect(refusal(["import", "--strace", "-", "-"]) == Refusal("standard input (-) can be read once"))
    #expect(refusal(["import", "--audit", "-", "a.log", "-"]) == Refusal("standard input (-) can be read once"))
    #expect(refusal(["import", "--strace", "-", "a.trace"]) == nil)
  }

  @Test func theFormatIsDockerOrOCI() throws {
    let r = try #require(refusal(["import", "--strace", "t", "--format", "spo"]))
    #expect(r.status == 64 && r.message.contains("'spo'"), "\(r)")
  }
}
