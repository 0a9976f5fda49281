import Foundation
import Seccomp
import Testing
import TestSupport

/// The command line as a user meets it: output, exit status, error messages.
@Suite struct CommandLineTests {
  static let docker = packageRoot.appendingPathComponent("Data/docker-default.json").path

  func syscage(_ args: String..., stdin: String? = nil) -> ProcessResult {
    run(syscageExecutable, args, stdin: stdin)
  }

  @Test(arguments: [
    (["syscalls", "openat"], "257\n"),
    (["syscalls", "--arch", "aarch64", "openat"], "56\n"),
    (["syscalls", "257"], "openat\n"),
    (["syscalls", "--arch", "x32", "read"], "1073741824\n"),
    (["syscalls", "--arch", "mips64", "read"], "5000\n"),
    (["syscalls", "--arch", "SCMP_ARCH_X86", "socket"], "359\n"),
    (["syscalls", "--arch", "x86", "0x66"], "socketcall\n"),
    (["syscalls", "read", "write"], "read\t0\nwrite\t1\n"),
  ])
  func syscallsResolves(args: [String], expected: String) {
    let r = run(syscageExecutable, args)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout == expected)
  }

  @Test func syscallsExplainsWhatItCannotResolve() {
    let unknown = syscage("syscalls", "opnat")
    #expect(unknown.status == 65)
    #expect(unknown.stderr.contains("unknown syscall 'opnat'") && unknown.stderr.contains("openat"))
    let absent = syscage("syscalls", "socketcall")
    #expect(absent.status == 65)
    #expect(absent.stderr.contains("does not exist on x86_64") && absent.stderr.contains("x86"))
    let badArch = syscage("syscalls", "--arch", "vax", "read")
    #expect(badArch.status == 64)
    let badGroup = syscage("syscalls", "--group", "@nope")
    #expect(badGroup.status == 65)
  }

  @Test func syscallsListsGroupsAndJSON() throws {
    let mount = syscage("syscalls", "--group", "@mount")
    #expect(mount.status == 0)
    #expect(mount.stdout.contains("mount\t165\n"))
    let json = syscage("syscalls", "--json", "read")
    let decoded = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
    #expect(decoded?.first?["number"] as? Int == 0)
    #expect(decoded?.first?["arch"] as? String == "x86_64")
  }

  @Test func compileWritesRawBPFAtomically() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("docker.bpf").path
    let r = syscage("compile", Self.docker, "-o", out, "--stats")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("instructions") && r.stderr.contains("cacheable"))
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
    let program = try #require([BPFInstruction](rawBytes: bytes))
    try Interpreter.validate(program)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["docker.bpf"])  // no temporary left
    let disasm = syscage("compile", Self.docker, "--format", "disasm")
    #expect(disasm.stdout.hasPrefix(" line  OP   JT   JF   K"))
    let c = syscage("compile", Self.docker, "--format", "c")
    #expect(c.stdout.contains("struct sock_filter filter[]"))
  }

  @Test func compileRefusesBadInput() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let bad = dir.appendingPathComponent("bad.json").path
    try Data(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]}"#.utf8).write(to: URL(fileURLWithPath: bad))
    let r = syscage("compile", bad, "-o", dir.appendingPathComponent("x.bpf").path)
    #expect(r.status == 65)
    #expect(r.stderr.contains("bad.json") && r.stderr.contains("syscalls[0].args[0].op") && r.stderr.contains("SCMP_CMP_MASKED_EQ"))
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.bpf").path))
    let missing = syscage("compile", dir.appendingPathComponent("none.json").path, "-o", "/dev/null")
    #expect(missing.status == 65 && missing.stderr.contains("none.json"))
    let copy = dir.appendingPathComponent("p.json").path
    try FileManager.default.copyItem(atPath: Self.docker, toPath: copy)
    let overwrite = syscage("compile", copy, "-o", copy)
    #expect(overwrite.status == 64)
    #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == Data(contentsOf: URL(fileURLWithPath: Self.docker)))
  }

  @Test func checkNamesTheDecisionAndTheRule() {
    let allowed = syscage("check", Self.docker, "personality", "0xffffffff")
    #expect(allowed.status == 0)
    #expect(allowed.stdout.contains("ALLOW") && allowed.stdout.contains("syscalls["))
    let vsock = syscage("check", Self.docker, "socket", "0x100000028", "1", "0")
    #expect(vsock.status == 1)
    #expect(vsock.stdout.contains("ERRNO(1)"))
    let clone3 = syscage("check", Self.docker, "clone3")
    #expect(clone3.status == 1 && clone3.stdout.contains("ERRNO(38)"))
    let mount = syscage("check", Self.docker, "mount", "--caps", "CAP_SYS_ADMIN")
    #expect(mount.status == 0)
    let ia32 = syscage("check", Self.docker, "--arch", "x86", "socketcall", "1")
    #expect(ia32.stdout.contains("on x86"))
    let unknown = syscage("check", Self.docker, "frobnicate")
    #expect(unknown.status == 65)
    let tooMany = syscage("check", Self.docker, "read", "1", "2", "3", "4", "5", "6", "7")
    #expect(tooMany.status == 64)
  }
}
