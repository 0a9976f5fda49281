import ArgumentParser
import Foundation
import Profiles
import Seccomp
import Syscalls
import Testing

@testable import SyscageCommands

/// The commands that read profiles (compile, check, convert, lint, diff, merge, install)
/// and the options they share (`PolicyArguments`): what they parse into and each rule of
/// their `validate()`.
@Suite struct ProfileCommandsParseTests {
  // MARK: PolicyArguments

  @Test func thePolicyOptions() throws {
    let c = try parsed(
      [
        "compile", "p.json", "--arch", "x86_64", "--arch", "x86", "--caps", "CAP_SYS_ADMIN, CAP_NET_ADMIN", "--kernel", "5.10", "--no-enosys-stub",
        "--bad-arch", "errno:ENOSYS", "--strict", "--seccomp-root", "/var/lib/kubelet/seccomp",
      ], as: CompileCommand.self)
    let p = c.policyArguments
    #expect(p.arches == [.x86_64, .x86] && p.native == .x86_64)
    #expect(p.noEnosysStub && p.strict && p.seccompRoot == "/var/lib/kubelet/seccomp")
    #expect(p.badArch == DefaultActionArgument(action: .errno, errno: 38))
    let context = try p.context()
    #expect(context.capabilities == ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"])
    #expect(context.kernel == KernelVersion(release: "5.10"))
    let options = try p.options()
    #expect(!options.enosysStub && options.arches == [.x86_64, .x86])
    #expect(options.badArchAction == DefaultActionArgument(action: .errno, errno: 38).seccompAction)
  }

  @Test func thePolicyDefaults() throws {
    let p = try parsed(["compile", "p.json"], as: CompileCommand.self).policyArguments
    #expect(p.arches.isEmpty && p.native == .native)
    let options = try p.options()
    #expect(options.arches == nil && options.enosysStub && options.badArchAction == .killProcess)
    #expect(options.context.capabilities == Set(ExpansionContext.dockerDefaultCapabilities))
  }

  @Test func theSeccompRootIsAbsolute() {
    for command in [["compile", "p.json"], ["lint", "p.json"], ["convert", "p.json", "--to", "oci"], ["diff", "a", "b"]] {
      #expect(refusal(command + ["--seccomp-root", "seccomp"]) == Refusal("--seccomp-root wants an absolute path, not 'seccomp'"), "\(command)")
    }
  }

  @Test func anArchOrAKernelOutsideTheirGrammar() throws {
    let arch = try #require(refusal(["compile", "p.json", "--arch", "vax"]))
    #expect(arch.status == 64 && arch.message.contains("'vax'"), "\(arch)")
    let kernel = try parsed(["compile", "p.json", "--kernel", "five"], as: CompileCommand.self)
    #expect { try kernel.policyArguments.context() } throws: { Syscage.message(for: $0) == "--kernel wants X.Y, not 'five'" }
  }

  // MARK: compile

  @Test func compile() throws {
    let c = try parsed(["compile", "-", "--format", "c", "--stats", "-o", "out.c"], as: CompileCommand.self)
    #expect(c.profile == "-" && c.format == .c && c.stats && c.output == "out.c")
    #expect(try parsed(["compile", "p.json"], as: CompileCommand.self).format == nil)
    let r = try #require(refusal(["compile", "p.json", "--format", "elf"]))
    #expect(r.status == 64 && r.message.contains("'elf'"), "\(r)")
    #expect(refusal(["compile"])?.status == 64)
  }

  // MARK: check

  @Test func check() throws {
    // A negative number goes after --, as a word starting with - is an option before it.
    let c = try parsed(["check", "p.json", "--arch", "x86", "--json", "socket", "0x10", "1", "--", "-1"], as: CheckCommand.self)
    #expect(c.profile == "p.json" && c.syscall == "socket" && c.args == ["0x10", "1", "-1"])
    #expect(c.json && c.policyArguments.native == .x86)
    #expect(c.args.compactMap(parseArgument) == [0x10, 1, UInt64.max])
    #expect(c.parseSyscallNumber("0x40000000") == SyscallNumber(0x4000_0000))
    #expect(c.parseSyscallNumber("4294967295") == SyscallNumber(-1))
    #expect(c.parseSyscallNumber("-2147483648") == SyscallNumber(Int32.min))
    #expect(c.parseSyscallNumber("openat") == nil)
  }

  @Test func checkTakesAtMostSixNumbers() {
    #expect(refusal(["check", "p.json", "read", "1", "2", "3", "4", "5", "6", "7"]) == Refusal("a syscall has at most six arguments"))
    #expect(refusal(["check", "p.json", "read", "1", "2", "3", "4", "5", "6"]) == nil)
    #expect(refusal(["check", "p.json", "read", "0x1", "two"]) == Refusal("'two' is not a number"))
    #expect(refusal(["check", "p.json", "read", "0o17", "1_000", "--", "-5"]) == nil)
  }

  @Test func checkSyscallNumbersAre32Bits() {
    let outOfRange = { (n: String) in
      Refusal("'\(n)' is out of range: the kernel's syscall number is 32 bits (\(Int32.min) to \(UInt32.max), or 0x0 to 0xffffffff)")
    }
    for n in ["4294967296", "0x100000000", "-2147483649"] {
      #expect(refusal(["check", "p.json", "--", n]) == outOfRange(n), "\(n)")
    }
    for n in ["4294967295", "0xffffffff", "-1", "0", "257"] { #expect(refusal(["check", "p.json", "--", n]) == nil, "\(n)") }
  }

  // MARK: convert

  @Test func convert() throws {
    let c = try parsed(
      ["convert", "p.json", "--to", "k8s-pod", "-o", "k8s", "--name", "app", "--patch", "--image", "busybox", "--for", "crun"], as: ConvertCommand.self)
    #expect(c.profile == "p.json" && c.target == .k8sPod && c.target.format == .k8sPod && c.output == "k8s")
    #expect(c.name == "app" && c.patch && c.image == "busybox" && c.runtimeChoice == .crun)
    let b = try parsed(["convert", "p.json", "--to", "oci", "--bundle", "dir"], as: ConvertCommand.self)
    #expect(b.bundle == "dir" && b.target.format == .oci)
    let l = try parsed(["convert", "p.json", "--to", "lxc", "--lxc-version", "1"], as: ConvertCommand.self)
    #expect(l.lxcVersion == 1 && l.target.format == .lxc)
    let d = try parsed(["convert", "p.json", "--to", "docker", "--expand"], as: ConvertCommand.self)
    #expect(d.expand && d.target.format == .docker)
    for (target, format) in [("spo", OutputFormat.spo), ("systemd", .systemd), ("nspawn", .nspawn)] {
      #expect(try parsed(["convert", "p.json", "--to", target], as: ConvertCommand.self).target.format == format)
    }
    #expect(refusal(["convert", "p.json"])?.status == 64)
  }

  @Test func convertOptionsBelongToTheirTargets() {
    let cases: [([String], String)] = [
      (["--to", "docker", "--bundle", "d"], "--bundle applies to --to oci only"),
      (["--to", "oci", "--bundle", "d", "-o", "x"], "--bundle writes into the bundle's config.json; leave out -o"),
      (["--to", "oci", "--patch"], "--patch applies to --to k8s-pod only"),
      (["--to", "spo", "--image", "busybox"], "--image applies to --to k8s-pod only"),
      (["--to", "oci", "--name", "app"], "--name applies to --to k8s-pod and --to spo only"),
      (["--to", "docker", "--lxc-version", "2"], "--lxc-version applies to --to lxc only"),
      (["--to", "lxc", "--lxc-version", "3"], "--lxc-version is 1 or 2, not 3"),
      (["--to", "oci", "--expand"], "--expand applies to --to docker only; the other formats are always expanded"),
      (["--to", "oci", "--no-enosys-stub"], "--no-enosys-stub and --bad-arch belong to compile; convert writes profiles, not filters"),
      (["--to", "oci", "--bad-arch", "errno"], "--no-enosys-stub and --bad-arch belong to compile; convert writes profiles, not filters"),
      (
        ["--to", "spo", "--name", "Bad_Name"],
        "--name 'Bad_Name' is not a Kubernetes name; use lower-case letters, digits, '-' and '.' (at most 253), starting and ending with a letter or digit"
      ),
    ]
    for (extra, message) in cases {
      #expect(refusal(["convert", "p.json"] + extra) == Refusal(message), "\(extra)")
    }
    #expect(refusal(["convert", "p.json", "--to", "spo", "--name", "app"]) == nil)
    #expect(refusal(["convert", "p.json", "--to", "k8s-pod", "--patch", "--image", "x"]) == nil)
  }

  // MARK: lint

  @Test func lint() throws {
    let l = try parsed(
      ["lint", "p.json", "--level", "ERROR", "--against", "docker-default", "--json", "--for", "runc", "--no-new-privileges", "false"],
      as: LintCommand.self)
    #expect(l.profile == "p.json" && l.level == .error && l.against == "docker-default" && l.json)
    #expect(l.runtimeChoice == .runc && l.noNewPrivileges == false)
    #expect(try parsed(["lint", "p.json"], as: LintCommand.self).level == .warning)
    let level = try #require(refusal(["lint", "p.json", "--level", "fatal"]))
    #expect(level.status == 64 && level.message.contains("'fatal'"), "\(level)")
  }

  @Test func lintsModeNeedsARuntime() {
    #expect(
      refusal(["lint", "p.json", "--no-new-privileges", "true"]) == Refusal("--no-new-privileges is the mode of the --for runtime; give --for too"))
    #expect(refusal(["lint", "p.json", "--for", "crun"]) == nil)
  }

  // MARK: diff and merge

  @Test func diff() throws {
    let d = try parsed(["diff", "a.json", "b.json", "--json", "--arch", "x86_64"], as: DiffCommand.self)
    #expect(d.first == "a.json" && d.second == "b.json" && d.json && d.policyArguments.arches == [.x86_64])
    #expect(refusal(["diff", "a.json"])?.status == 64)
  }

  @Test func merge() throws {
    let m = try parsed(["merge", "a.json", "b.json", "--intersect", "-o", "both.json"], as: MergeCommand.self)
    #expect(m.profiles == ["a.json", "b.json"] && m.intersect && m.output == "both.json")
    #expect(try parsed(["merge", "a.json"], as: MergeCommand.self).profiles == ["a.json"])
    // argument-parser asks for the first profile before merge's own rule could.
    #expect(refusal(["merge"]) == Refusal("Missing expected argument '<profiles> ...'"))
  }

  // MARK: install

  @Test func install() throws {
    let k = try parsed(["install", "p.json", "--kubelet", "--root", "/var/lib/kubelet/seccomp", "--name", "app"], as: InstallCommand.self)
    #expect(k.kubelet && k.root == "/var/lib/kubelet/seccomp" && k.name == "app")
    let c = try parsed(["install", "p.json", "--containers"], as: InstallCommand.self)
    #expect(c.containers && !c.kubelet && c.lxc == nil)
    let l = try parsed(["install", "p.json", "--lxc", "web", "-P", "/srv/lxc"], as: InstallCommand.self)
    #expect(l.lxc == "web" && l.lxcpath == "/srv/lxc")
    #expect(try parsed(["install", "p.json", "--lxc", "web", "--lxcpath", "/x"], as: InstallCommand.self).lxcpath == "/x")
  }

  @Test func installHasOneDestination() {
    let one = Refusal("give one of --kubelet, --containers and --lxc")
    #expect(refusal(["install", "p.json"]) == one)
    #expect(refusal(["install", "p.json", "--kubelet", "--containers"]) == one)
    #expect(refusal(["install", "p.json", "--containers", "--lxc", "web"]) == one)
  }

  @Test func installOptionsBelongToTheirDestination() {
    let cases: [([String], String)] = [
      (["--containers", "--root", "/r"], "--root and --name apply to --kubelet only"),
      (["--lxc", "web", "--name", "app"], "--root and --name apply to --kubelet only"),
      (["--kubelet", "-P", "/srv/lxc"], "--lxcpath applies to --lxc only"),
      (["--lxc", "a/b"], "--lxc 'a/b' is not a container name (no '/', not empty, not . or ..)"),
      (["--lxc", ".."], "--lxc '..' is not a container name (no '/', not empty, not . or ..)"),
      (["--lxc", ""], "--lxc '' is not a container name (no '/', not empty, not . or ..)"),
      (["--kubelet", "--root", "seccomp"], "--root wants an absolute path, not 'seccomp'"),
      (
        ["--kubelet", "--name=-app"],
        "--name '-app' is not a Kubernetes name; use lower-case letters, digits, '-' and '.' (at most 253), starting and ending with a letter or digit"
      ),
      (["--kubelet", "--no-enosys-stub"], "--no-enosys-stub and --bad-arch belong to compile; install writes profiles, not filters"),
      (["--containers", "--bad-arch", "kill"], "--no-enosys-stub and --bad-arch belong to compile; install writes profiles, not filters"),
    ]
    for (extra, message) in cases {
      #expect(refusal(["install", "p.json"] + extra) == Refusal(message), "\(extra)")
    }
  }
}
