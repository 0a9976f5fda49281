import Foundation
import Processes
import Profiles
import Seccomp
import Syscalls
import Testing

@testable import Recording

/// What `record` asks of the library, without running a program: the baseline's loading,
/// the output's name, header and rendering, what a verification and an amendment say, and
/// the plan's profile options.
@Suite struct RecordSessionTests {
  func temporaryFile(_ contents: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-session-\(UUID().uuidString).json").path
    try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  // MARK: the baseline

  @Test func aBaselineIsLoaded() throws {
    let path = try temporaryFile(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]}"#)
    defer { try? FileManager.default.removeItem(atPath: path) }
    var events: [RecordEvent] = []
    let profile = try RecordSession.loadBaseline(path) { events.append($0) }
    #expect(profile.syscalls?.first?.names == ["read", "write"])
    #expect(events.isEmpty)
  }

  @Test func aBaselineThatDisablesSeccompIsRefused() throws {
    let path = try temporaryFile(#"{"defaultActon": "SCMP_ACT_ERRNO"}"#)
    defer { try? FileManager.default.removeItem(atPath: path) }
    var events: [RecordEvent] = []
    #expect {
      _ = try RecordSession.loadBaseline(path) { events.append($0) }
    } throws: { error in
      guard let f = error as? RecordFailure else { return false }
      return f.kind == .badInput
        && f.message
          == "--baseline \(path): the profile disables seccomp: it has no defaultAction and no syscalls (misspelled? \"defaultActon\" is not a key: ignored): there are no decisions to keep"
    }
    // The misspelling's warning is said first, as a line of its own.
    #expect(events.count == 1)
    if case .line(let text) = events.first { #expect(text.contains("defaultActon")) } else { Issue.record("\(events)") }
  }

  @Test func aBaselineThatCannotBeReadIsADataError() throws {
    let path = try temporaryFile(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": 7}]}"#)
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect {
      _ = try RecordSession.loadBaseline(path) { _ in }
    } throws: { error in
      guard let f = error as? RecordFailure else { return false }
      return f.kind == .badInput && f.message == nil && !f.diagnostics.isEmpty && f.diagnostics.allSatisfy { $0.file == path }
    }
    #expect(throws: RecordFailure.self) { try RecordSession.loadBaseline(path + ".missing") { _ in } }
  }

  @Test func aBaselineThatAllowsIoUringIsWarnedAbout() throws {
    let path = try temporaryFile(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "io_uring_setup"], "action": "SCMP_ACT_ALLOW"}]}"#)
    defer { try? FileManager.default.removeItem(atPath: path) }
    var events: [RecordEvent] = []
    _ = try RecordSession.loadBaseline(path) { events.append($0) }
    guard case .warning(let text) = try #require(events.first) else { Issue.record("\(events)"); return }
    #expect(text.hasPrefix("\(path) allows io_uring_setup: "))
    #expect(text.hasSuffix("(lint: io-uring-allowed)"))
  }

  /// The program is found before the baseline is read: a missing program is 127 even
  /// with a baseline that cannot be read, and nothing runs.
  @Test func aMissingProgramIsNotFound() throws {
    let plan = RecordPlan(program: ["syscage-no-such-program-\(UUID().uuidString)"], baseline: "/nonexistent/base.json")
    var written = 0
    #expect {
      _ = try RecordSession.run(plan, report: { _ in }, write: { _ in written += 1 })
    } throws: { error in
      guard let f = error as? RecordFailure else { return false }
      return f.kind == .commandNotFound && f.message == "\(plan.program[0]): command not found"
    }
    #expect(written == 0)
  }

  // MARK: the output

  @Test func theKubernetesName() throws {
    #expect(RecordOutput.kubernetesName(name: "given", output: "/x/app.json", program: ["ls"]) == "given")
    #expect(RecordOutput.kubernetesName(name: nil, output: "/x/My_App.json", program: ["ls"]) == "my-app")
    #expect(RecordOutput.kubernetesName(name: nil, output: "/x/___", program: ["/usr/bin/nginx"]) == "nginx")
    #expect(RecordOutput.kubernetesName(name: nil, output: nil, program: ["./web.server"]) == "web.server")
    #expect(RecordOutput.kubernetesName(name: nil, output: "/x/___", program: ["_"]) == nil)
    #expect {
      _ = try RecordOutput(path: "/x/___", format: .k8sPod, program: ["_"]).kubernetesName()
    } throws: { error in
      (error as? RecordFailure).map { $0.kind == .usage && $0.message == "cannot make a Kubernetes name from '/x/___'; give --name" } ?? false
    }
  }

  @Test func theHeaderSaysWhatWasRecorded() {
    #expect(RecordOutput(path: "o.json", format: .docker, program: ["ls", "-l", "/"]).header == ["Recorded by syscage from: ls -l /."])
    #expect(RecordOutput(path: "o.json", format: .docker, program: [], pids: [12, 13]).header == ["Recorded by syscage from: processes 12, 13."])
  }

  static let recorded = Profile(
    defaultAction: .errno, architectures: [.x86_64], syscalls: [SyscallEntry(names: ["read", "write", "exit_group"], action: .allow)])

  @Test func theProfileIsRenderedInTheFormat() throws {
    let docker = try RecordOutput(path: "o.json", format: .docker, program: ["ls"]).render(Self.recorded)
    let text = String(decoding: docker.bytes, as: UTF8.self)
    #expect(text.contains("\"SCMP_ACT_ERRNO\"") && text.contains("\"read\""))
    let spo = try RecordOutput(path: "/x/web.yaml", format: .spo, program: ["ls"]).render(Self.recorded)
    let yaml = String(decoding: spo.bytes, as: UTF8.self)
    #expect(yaml.contains("kind: SeccompProfile") && yaml.contains("name: web"), "\(yaml)")
    let pod = try RecordOutput(path: "/x/k8s", format: .k8sPod, name: "app", program: ["./app", "--serve"]).render(Self.recorded)
    guard case .kubernetes(let conversion) = pod.content else { Issue.record("not a Pod: \(pod.content)"); return }
    #expect(conversion.name == "app")
    #expect(conversion.manifest.contains("./app"), "the Pod runs the program recorded")
  }

  // MARK: verification and amendment

  static func denial(_ name: String, _ arguments: [UInt64] = [1, 2]) -> Denial {
    Denial(thread: 7, arch: .x86_64, number: Arch.x86_64.number(of: name)!, name: name, arguments: arguments, action: .errno(1), errno: 1)
  }

  @Test func whatAVerificationSays() {
    let same = Verification(termination: .exited(0), denials: [], deniedCount: 0, pid: 1)
    #expect(same.lines(recorded: .exited(0)) == ["verify: the program ran the same under the profile (exited with 0), no call denied"])
    let denied = Verification(termination: .exited(0), denials: [Self.denial("mkdir")], deniedCount: 3, pid: 1)
    #expect(
      denied.lines(recorded: .exited(0)) == [
        "denied: \(Self.denial("mkdir").description)", "… and 2 more denied calls", "verify: 3 calls denied; the exit status is the same (exited with 0)",
      ])
    let differs = Verification(termination: .exited(1), denials: [Self.denial("mkdir")], deniedCount: 1, pid: 1)
    #expect(
      differs.lines(recorded: .exited(0)).last == "verify: DIFFERS: under the profile the program exited with 1 (recorded: exited with 0); 1 calls denied")
  }

  @Test func whatAnAmendmentSays() {
    let denials = [Self.denial("mkdir", [0x10, 0x1ff]), Self.denial("socket", [2, 1, 0])]
    let whole = Amendment(round: 2, denials: denials, argumentRules: false)
    #expect(
      whole.lines(denials: denials) == [
        "round 2: added mkdir (x86_64): denied in verification args 0x10, 0x1ff",
        "round 2: added socket (x86_64): denied in verification args 0x2, 0x1, 0x0",
      ])
    // With argument rules, socket's denied value gets a rule of its own.
    let rules = Amendment(round: 1, denials: denials, argumentRules: true)
    let lines = rules.lines(denials: denials)
    #expect(lines.first == "round 1: added mkdir (x86_64): denied in verification args 0x10, 0x1ff")
    #expect(lines.count == 2 && lines[1].hasPrefix("round 1: added an argument rule for socket (x86_64) 0x2"), "\(lines)")
  }

  // MARK: the plan

  @Test func thePlansProfileOptions() {
    var plan = RecordPlan(
      program: ["ls"], argumentRules: true, defaultAction: DefaultActionArgument(action: .errno, errno: 38), runtime: RuntimeSelection(.lxc),
      languageRuntimes: false)
    let options = plan.profileOptions(baseline: Self.recorded)
    #expect(options.defaultAction == .errno && options.defaultErrnoRet == 38)
    #expect(options.argumentRules && !options.languageRuntimes)
    #expect(options.containerRuntime == RuntimeSelection(.lxc))
    #expect(options.baseline?.syscalls?.first?.names == ["read", "write", "exit_group"])
    // Verification runs as a container only for a runtime chosen that runs without no_new_privs.
    #expect(!plan.verifiesAsAContainer)
    plan.runtimeChosen = true
    #expect(plan.verifiesAsAContainer == RuntimeSelection(.lxc).modes.contains(false))
    plan.runtime = RuntimeSelection(.none)
    #expect(!plan.verifiesAsAContainer)
    plan.runtime = RuntimeSelection(.runc)
    #expect(plan.verifiesAsAContainer)
    plan.runtime = RuntimeSelection(.runc, noNewPrivileges: true)
    #expect(!plan.verifiesAsAContainer)
  }

  @Test func aShortProfileFits() {
    #expect(RecordSession.tooLongWarning(Self.recorded, what: "the recorded profile") == nil)
    #expect(RecordSession.tooLongWarning(Profile(), what: "x") == nil)
  }
}
