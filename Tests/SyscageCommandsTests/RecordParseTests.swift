import ArgumentParser
import Foundation
import Profiles
import Recording
import Testing

@testable import SyscageCommands

/// `syscage record`: what its command line parses into, and each rule of its `validate()`.
@Suite struct RecordParseTests {
  let scratch: Scratch
  let out: String

  init() throws {
    scratch = try Scratch()
    out = scratch.file("out.json")
  }

  @Test func aProgramAndItsOptions() throws {
    let r = try parsed(["record", "-o", out, "--", "ls", "-l", "/"], as: RecordCommand.self)
    #expect(r.program == ["ls", "-l", "/"])
    #expect(r.output == out)
    #expect(r.format == .docker)
    #expect(r.defaultAction == .errnoEPERM)
    #expect(r.runs == 1 && !r.verify && !r.amend && r.pids.isEmpty)
    #expect(!r.count && !r.json && r.stops == nil && r.cpus == nil && r.backend == .ptrace)
    #expect(!r.args && r.baseline == nil && !r.noRuntimes && r.name == nil)
    // A profile alone: one stop per call; the format's runtime (docker: the OCI runtimes).
    #expect(!r.timing)
    #expect(r.runtime == RuntimeSelection(.oci))
  }

  @Test func everyOptionGroup() throws {
    let baseline = try scratch.existing("base.json")
    let r = try parsed(
      [
        "record", "-o", out, "--format", "spo", "--name", "app", "--default-action", "errno:ENOSYS", "--args", "--baseline", baseline,
        "--for", "podman", "--no-runtimes", "--runs", "3", "--verify", "--amend", "--json", "--stops", "one", "--cpus", "all", "--", "./app", "--selftest",
      ], as: RecordCommand.self)
    #expect(r.format == .spo && r.name == "app")
    #expect(r.defaultAction == DefaultActionArgument(action: .errno, errno: 38))
    #expect(r.args && r.baseline == baseline && r.noRuntimes)
    #expect(r.runtime == RuntimeSelection(.podman))
    #expect(r.runs == 3 && r.verify && r.amend)
    #expect(r.json && r.stops == .one && r.cpus == .all)
    #expect(r.program == ["./app", "--selftest"])
    #expect(!r.timing)
  }

  /// What the command hands the library: the plan of the recording and the output.
  @Test func theCommandLineBecomesAPlan() throws {
    let baseline = try scratch.existing("base.json")
    let r = try parsed(
      ["record", "-o", out, "--format", "oci", "--baseline", baseline, "--args", "--runs", "2", "--verify", "--amend", "--for", "runc", "--no-runtimes", "--", "./app", "x"],
      as: RecordCommand.self)
    let plan = r.plan
    #expect(plan.program == ["./app", "x"] && plan.pids.isEmpty && plan.runs == 2 && plan.verify && plan.amend)
    #expect(plan.baseline == baseline && plan.argumentRules && !plan.languageRuntimes)
    #expect(plan.runtime == RuntimeSelection(.runc) && plan.runtimeChosen && plan.verifiesAsAContainer)
    #expect(plan.writesProfile && !plan.table && !plan.timing && plan.cpus == .auto && plan.backend == .ptrace)
    #expect(plan.defaultAction == .errnoEPERM)
    let output = try #require(r.profileOutput)
    #expect(output.path == out && output.format == .oci && output.program == ["./app", "x"] && output.name == nil)

    let counted = try parsed(["record", "-c", "--cpus", "one", "--", "ls"], as: RecordCommand.self).plan
    #expect(counted.table && counted.timing && !counted.writesProfile && counted.cpus == .one && !counted.runtimeChosen)
    #expect(try parsed(["record", "-c", "--", "ls"], as: RecordCommand.self).profileOutput == nil)
    let attached = try parsed(["record", "--json", "-p", "9"], as: RecordCommand.self).plan
    #expect(attached.pids == [9] && attached.program.isEmpty && attached.timing && !attached.table)
  }

  @Test func theFormatChoosesTheRuntime() throws {
    for (format, runtime) in [("lxc", RuntimeTarget.lxc), ("nspawn", .nspawn), ("systemd", .none), ("k8s-pod", .oci), ("oci", .oci)] {
      let output = format == "k8s-pod" ? scratch.file("k8s") : out
      let r = try parsed(["record", "-o", output, "--format", format, "--", "ls"], as: RecordCommand.self)
      #expect(r.runtime == RuntimeSelection(runtime), "\(format)")
    }
    let r = try parsed(["record", "-o", out, "--format", "lxc", "--for", "none", "--", "ls"], as: RecordCommand.self)
    #expect(r.runtime.isNone)
  }

  @Test func statisticsAloneWriteNoProfile() throws {
    for flag in ["-c", "--json"] {
      let r = try parsed(["record", flag, "--", "ls"], as: RecordCommand.self)
      #expect(r.output == nil)
      // -c and --json time the calls: two stops.
      #expect(r.timing, "\(flag)")
    }
    let one = try parsed(["record", "-c", "--stops", "one", "--", "ls"], as: RecordCommand.self)
    #expect(!one.timing)
    let two = try parsed(["record", "-o", out, "--stops", "two", "--", "ls"], as: RecordCommand.self)
    #expect(two.timing)
  }

  @Test func attaching() throws {
    let r = try parsed(["record", "-o", out, "-p", "1", "--pid", "2"], as: RecordCommand.self)
    #expect(r.pids == [1, 2])
    #expect(r.program.isEmpty)
  }

  @Test func theEBPFBackend() throws {
    let r = try parsed(["record", "-o", out, "--backend", "ebpf", "--runs", "2", "--", "ls"], as: RecordCommand.self)
    #expect(r.backend == .ebpf && r.runs == 2)
  }

  @Test func runsAndAmend() {
    #expect(refusal(["record", "-o", out, "--runs", "0", "--", "ls"]) == Refusal("--runs wants a number of runs, 1 or more, not 0"))
    #expect(refusal(["record", "-o", out, "--amend", "--", "ls"]) == Refusal("--amend adds what verification denies; give --verify too"))
  }

  @Test func attachingRefusesWhatNeedsAProgram() throws {
    let baseline = try scratch.existing("base.json")
    let cases: [([String], String)] = [
      (["--runs", "2"], "--runs starts the program N times; with -p there is no program to start"),
      (["--", "ls"], "give a program after -- or -p PID, not both"),
      (["--verify"], "--verify runs the program again; with -p there is no program to start"),
      (["--baseline", baseline], "--baseline needs a filter in the program, which only a program syscage starts can get; leave out -p"),
      (["--stops", "one"], "--stops one needs a filter in the program, which only a program syscage starts can get; attaching stops twice per call"),
      (["--cpus", "one"], "--cpus places a program syscage starts; attached processes stay where they run"),
    ]
    for (extra, message) in cases {
      #expect(refusal(["record", "-o", out, "-p", "42"] + extra) == Refusal(message), "\(extra)")
    }
    #expect(refusal(["record", "-o", out, "-p", "0"]) == Refusal("-p wants a process id, not 0"))
    #expect(refusal(["record", "-o", out, "-p", "5", "--pid=-3"]) == Refusal("-p wants a process id, not -3"))
  }

  @Test func aProgramOrAPid() {
    #expect(refusal(["record", "-o", out]) == Refusal("name a program to record after --, or attach with -p PID"))
    #expect(refusal(["record", "-o", out, "--"]) == Refusal("name a program to record after --, or attach with -p PID"))
  }

  @Test func theEBPFBackendRefusesWhatItCannotDo() throws {
    let baseline = try scratch.existing("base.json")
    let cases: [([String], String)] = [
      (["-p", "42"], "--backend ebpf starts the program; it does not attach (leave out -p)"),
      (["-c", "--", "ls"], "--backend ebpf counts calls in the kernel; it has no stops, errors or times (leave out -c and --stops)"),
      (["--stops", "two", "--", "ls"], "--backend ebpf counts calls in the kernel; it has no stops, errors or times (leave out -c and --stops)"),
      (["--args", "--", "ls"], "--args reads arguments at each call's stop; --backend ebpf has none for native calls"),
      (["--baseline", baseline, "--", "ls"], "--baseline and --backend ebpf are two ways of not stopping; choose one"),
    ]
    for (extra, message) in cases {
      #expect(refusal(["record", "-o", out, "--backend", "ebpf"] + extra) == Refusal(message), "\(extra)")
    }
  }

  @Test func helpBeforeTheProgramIsHelp() throws {
    for word in ["--help", "-h"] {
      let r = try #require(refusal(["record", word]))
      #expect(r.status == 0, "\(word)")
      #expect(r.message.contains("Record the syscalls a program makes"), "\(word)")
    }
  }

  @Test func theProfileNeedsAFile() throws {
    #expect(
      refusal(["record", "--", "ls"])
        == Refusal("give -o FILE for the profile (-c or --json alone print the statistics and write no profile)"))
    #expect(refusal(["record", "-o", "-", "--", "ls"]) == Refusal("-o -: standard output is the program's; name a file for the profile"))
    let baseline = try scratch.existing("base.json")
    #expect(
      refusal(["record", "-o", baseline, "--baseline", baseline, "--", "ls"])
        == Refusal("-o names the --baseline file; write the new profile to another file (syscage never overwrites an input)"))
    // The same file by another spelling.
    #expect(
      refusal(["record", "-o", scratch.path + "/./base.json", "--baseline", baseline, "--", "ls"])
        == Refusal("-o names the --baseline file; write the new profile to another file (syscage never overwrites an input)"))
  }

  @Test func aBaselineStopsOnNewCallsOnly() throws {
    let baseline = try scratch.existing("base.json")
    for extra in [["-c"], ["--stops", "two"]] {
      #expect(
        refusal(["record", "-o", out, "--baseline", baseline] + extra + ["--", "ls"])
          == Refusal("--baseline stops only on new calls; -c and --stops two stop on every call (leave them out)"), "\(extra)")
    }
    let r = try parsed(["record", "-o", out, "--baseline", baseline, "--json", "--", "ls"], as: RecordCommand.self)
    // Against a baseline, --json does not make two stops.
    #expect(!r.timing)
  }

  @Test func theNameIsAKubernetesNameForSPOAndPods() {
    #expect(refusal(["record", "-o", out, "--name", "app", "--", "ls"]) == Refusal("--name applies to --format spo and k8s-pod only"))
    #expect(
      refusal(["record", "-o", out, "--format", "spo", "--name", "App_1", "--", "ls"])
        == Refusal("--name 'App_1' is not a Kubernetes name; use lower-case letters, digits, '-' and '.'"))
  }

  @Test func theOutputIsExaminedBeforeTheProgramStarts() throws {
    // A directory that does not exist: 73 (the message is printed on stderr).
    let missing = scratch.file("no-such-dir/out.json")
    #expect(refusal(["record", "-o", missing, "--", "ls"])?.status == 73)
    // k8s-pod writes a directory: an existing file is a usage error.
    let file = try scratch.existing("pod")
    #expect(refusal(["record", "-o", file, "--format", "k8s-pod", "--", "ls"])?.status == 64)
    #expect(refusal(["record", "-o", scratch.file("no-such-dir/k8s"), "--format", "k8s-pod", "--", "ls"])?.status == 73)
    // A Kubernetes name from neither -o nor the program: 64.
    #expect(refusal(["record", "-o", scratch.file("___"), "--format", "k8s-pod", "--", "_"])?.status == 64)
    #expect(refusal(["record", "-o", scratch.file("___"), "--format", "k8s-pod", "--name", "app", "--", "_"]) == nil)
  }

  @Test func aMistypedOptionIsNotTheProgram() {
    #expect(refusal(["record", "-o", out, "--verfy", "--", "ls"]) == Refusal("unknown option '--verfy'; did you mean '--verify'?"))
    #expect(refusal(["record", "-o", out, "--bogus-flag", "ls"]) == Refusal("unknown option '--bogus-flag'; a program whose name starts with - goes after --"))
  }

  @Test func optionValuesOutsideTheirChoices() throws {
    for (option, value) in [("--stops", "three"), ("--backend", "bpf"), ("--cpus", "some"), ("--format", "xml"), ("--for", "kvm")] {
      let r = try #require(refusal(["record", "-o", out, option, value, "--", "ls"]), "\(option) \(value)")
      #expect(r.status == 64, "\(option) \(value)")
      #expect(r.message.contains("'\(value)'"), "\(option) \(value): \(r.message)")
    }
  }
}
