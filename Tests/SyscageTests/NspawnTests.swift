import Foundation
import Host
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// systemd-nspawn runs what `syscage convert --to nspawn` writes, as a settings file and on
/// the command line: the engine cases, and the fail-open of a systemd drop-in pasted there.
@Suite struct NspawnTests {
  static let reason = Comment(rawValue: Peer.nspawn.skipReason + " (as root, with busybox-static)")

  func syscage(_ args: [String]) -> ProcessResult { run(syscageExecutable, args) }

  /// `syscage convert PROFILE --to FORMAT`: the text written, after checking it succeeded.
  func convert(_ profile: String, to format: String = "nspawn") throws -> (text: String, stderr: String) {
    let r = syscage(["convert", profile, "--to", format])
    try #require(r.status == 0, "convert --to \(format): \(r.stderr)")
    return (r.stdout, r.stderr)
  }

  /// A profile file from text.
  func profile(_ json: String, in dir: URL, name: String = "profile.json") throws -> String {
    try writeFile(json, name, in: dir)
  }

  /// A static program printing `unshare: ok` when unshare(0) succeeds, `unshare: EPERM`
  /// when it is refused with EPERM: nspawn's own filter allows it, Docker's default refuses it.
  static let unshareProbe = """
    #include <errno.h>
    #include <stdio.h>
    #include <sys/syscall.h>
    #include <unistd.h>
    int main(void) {
      if (syscall(SYS_unshare, 0) == 0) { puts("unshare: ok"); return 0; }
      printf(errno == EPERM ? "unshare: EPERM\\n" : "unshare: errno %d\\n", errno);
      return 0;
    }
    """

  func machine() throws -> (Nspawn.Machine, URL) {
    try #require(Nspawn.ready, Self.reason)
    let dir = try Containers.temporaryDirectory("syscage-nspawn")
    return (try Nspawn.makeMachine(in: dir), dir)
  }

  @Test(.enabled(if: Peer.nspawn.shouldRun, reason)) func denyDirRefusesMkdirAsAFileAndOnTheCommandLine() throws {
    let (m, dir) = try machine()
    defer { try? FileManager.default.removeItem(at: dir) }
    let converted = try convert(try profile(EngineCases.denyDir, in: dir))
    #expect(Nspawn.filterValues(converted.text) == ["~mkdir mkdirat"], "\(converted.text)")
    #expect(converted.stderr.contains("/etc/systemd/nspawn/MACHINE.nspawn"))
    let script = ["/bin/sh", "-c", EngineCases.denyDirScript]

    try converted.text.write(to: m.settingsFile, atomically: true, encoding: .utf8)
    let file = Nspawn.run(m, arguments: ["--settings=trusted"], command: script)
    #expect(file.status == 0 && file.stdout == "hi\nMKDIR_FAILED\n", "\(file.stdout)\(file.stderr)")
    #expect(file.stderr.contains("Operation not permitted"))

    let arguments = NspawnConversion.commandLine(converted.text)
    let options = Nspawn.run(m, arguments: ["--settings=no"] + arguments, command: script)
    #expect(options.stdout == "hi\nMKDIR_FAILED\n", "\(options.stdout)\(options.stderr)")

    let none = Nspawn.run(m, arguments: ["--settings=no"], command: script)
    #expect(none.status == 0 && none.stdout == "hi\nMKDIR_OK\n", "\(none.stdout)\(none.stderr)")
  }

  @Test(.enabled(if: Peer.nspawn.shouldRun, reason)) func hostRecordedAllowListGivesTheSameOutput() throws {
    let (m, dir) = try machine()
    defer { try? FileManager.default.removeItem(at: dir) }
    let recorded = try EngineCases.recordAllowList(into: dir)
    let converted = try convert(recorded.path)
    try converted.text.write(to: m.settingsFile, atomically: true, encoding: .utf8)
    let script = ["/bin/sh", "-c", EngineCases.allowListScript]
    let with = Nspawn.run(m, arguments: ["--settings=trusted"], command: script)
    let without = Nspawn.run(m, arguments: ["--settings=no"], command: script)
    #expect(without.status == 0 && without.stdout.hasPrefix("hi\n"), "\(without.stderr)")
    #expect(with.status == 0 && with.stdout == without.stdout, "with the profile: \(with.stdout)\(with.stderr)")
  }

  @Test(.enabled(if: Peer.nspawn.shouldRun, reason)) func dockerDefaultRefusesKeyctlAndWhatNspawnAllows() throws {
    let (m, dir) = try machine()
    defer { try? FileManager.default.removeItem(at: dir) }
    try installUnshareProbe(in: m, dir: dir)
    let converted = try convert(EngineCases.dockerDefault.path)
    // What the file cannot say is said, and refused (fail closed).
    #expect(converted.stderr.contains("clone: argument rules cannot be expressed") && converted.stderr.contains("fail closed"))
    #expect(converted.text.contains("# - socket: argument rules cannot be expressed"))
    let arguments = NspawnConversion.commandLine(converted.text)

    let keyctl = Nspawn.run(m, arguments: arguments, command: [EngineCases.keyctlScript])
    #expect(keyctl.stdout == "keyctl: EPERM\n", "\(keyctl.stdout)\(keyctl.stderr)")
    // nspawn's own filter refuses keyctl too: unshare tells the profile's filter from nspawn's.
    let unshare = Nspawn.run(m, arguments: arguments, command: ["/bin/unshare-probe"])
    #expect(unshare.stdout == "unshare: EPERM\n", "\(unshare.stdout)\(unshare.stderr)")
    let unshareWithout = Nspawn.run(m, command: ["/bin/unshare-probe"])
    #expect(unshareWithout.stdout == "unshare: ok\n", "\(unshareWithout.stdout)\(unshareWithout.stderr)")
  }

  @Test(.enabled(if: Peer.nspawn.shouldRun, reason)) func aSystemdDropInFailsOpenInNspawnAndTheNspawnFileDoesNot() throws {
    let (m, dir) = try machine()
    defer { try? FileManager.default.removeItem(at: dir) }
    let deny = try profile(EngineCases.denyDir, in: dir)
    let dropIn = try convert(deny, to: "systemd")
    let pasted = Nspawn.filterValues(dropIn.text)
    #expect(pasted == ["~mkdir:EPERM mkdirat:EPERM"], "\(dropIn.text)")
    #expect(dropIn.text.contains("Not for systemd-nspawn"))
    let script = ["/bin/sh", "-c", EngineCases.denyDirScript]
    let open = Nspawn.run(m, arguments: pasted.map { "--system-call-filter=" + $0 }, command: script)
    #expect(open.stdout == "hi\nMKDIR_OK\n", "nspawn 252 ignores name:ERRNO: \(open.stdout)\(open.stderr)")
    // (nspawn mounts a fresh tmpfs on the container's /tmp: the directory made is gone.)

    let file = try convert(deny)
    let closed = Nspawn.run(m, arguments: NspawnConversion.commandLine(file.text), command: script)
    #expect(closed.stdout == "hi\nMKDIR_FAILED\n", "\(closed.stdout)\(closed.stderr)")
  }

  @Test(.enabled(if: Peer.nspawn.shouldRun, reason)) func anUntrustedFileThatAllowsCallsIsIgnoredAsTheHeaderSays() throws {
    let (m, dir) = try machine()
    defer { try? FileManager.default.removeItem(at: dir) }
    try installUnshareProbe(in: m, dir: dir)
    let converted = try convert(EngineCases.dockerDefault.path)
    #expect(converted.text.contains("untrusted") && converted.text.contains("--settings=trusted"))
    try converted.text.write(to: m.settingsFile, atomically: true, encoding: .utf8)
    // Next to the image and not trusted: nspawn drops every SystemCallFilter= line of the file.
    let untrusted = Nspawn.run(m, command: ["/bin/unshare-probe"])
    #expect(untrusted.stdout == "unshare: ok\n" && untrusted.stderr.contains("is not trusted"), "\(untrusted.stdout)\(untrusted.stderr)")
    let trusted = Nspawn.run(m, arguments: ["--settings=trusted"], command: ["/bin/unshare-probe"])
    #expect(trusted.stdout == "unshare: EPERM\n", "\(trusted.stdout)\(trusted.stderr)")
  }

  /// The filters nspawn stacks in the container, read back with `syscage dump`, allow no
  /// x86_64 call that Docker's default profile refuses.
  @Test(.enabled(if: Peer.nspawn.shouldRun, reason)) func theContainersFiltersAreNeverLooserThanTheProfile() throws {
    let (m, dir) = try machine()
    defer { try? FileManager.default.removeItem(at: dir) }
    let converted = try convert(EngineCases.dockerDefault.path)
    let arguments = NspawnConversion.commandLine(converted.text)
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
      _ = Nspawn.run(m, arguments: arguments, command: ["/bin/sleep", "60"], timeout: 90)
      done.signal()
    }
    // The container's init, once it runs sleep (its filters are loaded before the execve).
    var pid: Int32? = nil
    for _ in 0..<300 where pid == nil {
      for cg in Nspawn.cgroupDirectories(named: m.name) {
        let procs = (try? String(contentsOfFile: cg + "/payload/cgroup.procs", encoding: .utf8)) ?? ""
        for p in procs.split(separator: "\n").compactMap({ Int32($0) }) {
          let cmdline = (try? String(contentsOfFile: "/proc/\(p)/cmdline", encoding: .utf8)) ?? ""
          if cmdline.hasPrefix("/bin/sleep\u{0}60") { pid = p }
        }
      }
      if pid == nil { usleep(50_000) }
    }
    defer {
      if let pid { kill(pid, SIGKILL) }
      done.wait()
    }
    let container = try #require(pid, "the container's sleep did not start")
    let out = dir.appendingPathComponent("dumped.json").path
    let dump = syscage(["dump", String(container), "--format", "profile", "--partial", "-o", out])
    try #require(FileManager.default.fileExists(atPath: out), "dump: \(dump.stderr)")
    // Only x86_64 is compared: keep that ABI (the dump lists every ABI, some runc refuses).
    var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
    json["architectures"] = ["SCMP_ARCH_X86_64"]
    let x86_64 = try writeFile(String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self), "x86_64.json", in: dir)
    let dumped = Policy(profile: try Profile.load(path: x86_64).profile, options: PolicyOptions(context: HostFacts.dockerDefault()))
    let profile = Policy(profile: try Profile.load(path: EngineCases.dockerDefault.path).profile, options: PolicyOptions(context: HostFacts.dockerDefault()))
    var looser: [String] = []
    var checked = 0
    for (name, nr) in SyscallTable.entries(in: .x86_64) {
      let inContainer = dumped.decide(arch: .x86_64, number: nr).action
      let inProfile = profile.decide(arch: .x86_64, number: nr).action
      checked += 1
      if inContainer.permits && !inProfile.permits { looser.append(name) }
    }
    #expect(checked > 300 && looser.isEmpty, "nspawn allows what the profile refuses: \(looser)")
    #expect(!dumped.decide(arch: .x86_64, number: try #require(Arch.x86_64.number(of: "clone"))).action.permits, "clone fails closed")
  }

  func installUnshareProbe(in m: Nspawn.Machine, dir: URL) throws {
    let probe = try compileC(Self.unshareProbe, named: "unshare-probe", in: dir, flags: ["-O1", "-static"])
    try FileManager.default.copyItem(atPath: probe, toPath: m.rootfs.appendingPathComponent("bin/unshare-probe").path)
  }
}

extension NspawnConversion {
  /// A settings file's `SystemCallFilter=` values as systemd-nspawn options.
  static func commandLine(_ text: String) -> [String] {
    Nspawn.filterValues(text).map { "--system-call-filter=" + $0 }
  }
}

/// `convert --to nspawn` and `record --format nspawn` as a user meets them (no nspawn needed).
@Suite struct NspawnCommandTests {
  func syscage(_ args: [String], stdin: String? = nil) -> ProcessResult { run(syscageExecutable, args, stdin: stdin) }

  @Test func convertSaysWhereTheFileGoesAndStrictRefusesWhatItCannotSay() throws {
    let exact = #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#
    let r = syscage(["convert", "-", "--to", "nspawn", "--arch", "x86_64", "--strict"], stdin: exact)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.hasSuffix("[Exec]\nSystemCallFilter=~mkdir mkdirat\n"))
    #expect(r.stderr.contains("syscage: for systemd-nspawn: /etc/systemd/nspawn/MACHINE.nspawn") && r.stderr.contains("--system-call-filter=VALUE"))

    let kill = exact.replacingOccurrences(of: "SCMP_ACT_ERRNO", with: "SCMP_ACT_KILL_PROCESS")
    let strict = syscage(["convert", "-", "--to", "nspawn", "--arch", "x86_64", "--strict"], stdin: kill)
    #expect(strict.status == 65 && strict.stdout.isEmpty, "\(strict.status)")
    #expect(strict.stderr.contains("syscage: error: SCMP_ACT_KILL_PROCESS: nspawn cannot kill; refused with EPERM"), "\(strict.stderr)")
    #expect(strict.stderr.contains("--strict: the nspawn form cannot say exactly"))

    let disabled = syscage(["convert", "-", "--to", "nspawn"], stdin: "{}")
    #expect(disabled.status == 65)
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func recordWritesASettingsFile() throws {
    let dir = try Containers.temporaryDirectory("syscage-record-nspawn")
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("true.nspawn").path
    let r = syscage(["record", "-o", out, "--format", "nspawn", "--", "/bin/true"])
    #expect(r.status == 0, "\(r.stderr)")
    let text = try String(contentsOfFile: out, encoding: .utf8)
    #expect(text.hasPrefix("# Recorded by syscage from: /bin/true.") && text.contains("\n[Exec]\nSystemCallFilter="))
    let allowed = Nspawn.filterValues(text).filter { !$0.hasPrefix("~") }.flatMap { $0.split(separator: " ") }
    #expect(allowed.contains("execve") && allowed.contains("exit_group"), "\(allowed)")
  }
}
