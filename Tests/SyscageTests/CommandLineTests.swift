import BPF
import Foundation
import Profiles
import Seccomp
import Syscalls
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
    (["syscalls", "--arch", "c000003e", "read"], "0\n"),  // arch= as audit records print it
    (["syscalls", "--arch", "0xc000003e", "read"], "0\n"),
    (["syscalls", "--arch", "40000003", "socketcall"], "102\n"),
    (["syscalls", "--arch", "c00000b7", "openat"], "56\n"),
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

  @Test func syscallsTakesEveryAuditArchValue() {
    for arch in Arch.all {
      let spelled = [String(arch.auditArch.rawValue, radix: 16), "0x" + String(arch.auditArch.rawValue, radix: 16)]
      for s in spelled {
        let r = syscage("syscalls", "--arch", s, "exit")
        // x32 shares x86_64's audit value: a call with bit 30 set is x32, so the value means x86_64.
        let expected = arch == .x32 ? Arch.x86_64 : arch
        #expect(r.status == 0 && r.stdout == "\(expected.number(of: "exit")!.rawValue)\n", "\(arch) as \(s): \(r.stdout)\(r.stderr)")
      }
    }
  }

  @Test func syscallsPrintsNameThenNumberForTheFullListToo() {
    let all = syscage("syscalls")
    #expect(all.status == 0)
    #expect(all.stdout.hasPrefix("read\t0\nwrite\t1\n"), "\(all.stdout.prefix(40))")
    let query = syscage("syscalls", "read", "write")
    #expect(all.stdout.hasPrefix(query.stdout))
  }

  // MARK: mistyped words

  /// A mistyped option before `--` must not become the program: 64, the nearest option,
  /// and the program never runs.
  @Test(arguments: ["record", "run", "watch"])
  func aMistypedOptionIsAUsageErrorNotTheProgram(command: String) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let marker = dir.appendingPathComponent("MARKER").path
    let head = command == "record" ? ["record", "-o", dir.appendingPathComponent("x.json").path] : [command, "--profile", Self.docker]
    let program = ["sh", "-c", "echo ran > '\(marker)'"]
    let typo = command == "record" ? ("--verfy", "--verify") : ("--strct", "--strict")
    for words in [head + [typo.0, "--"] + program, head + [typo.0] + program] {
      let r = run(syscageExecutable, words)
      #expect(r.status == 64, "\(words): \(r.stderr)")
      #expect(r.stderr.contains("unknown option '\(typo.0)'") && r.stderr.contains("did you mean '\(typo.1)'"), "\(r.stderr)")
      #expect(r.stderr.contains("Usage: syscage \(command)"), "\(r.stderr)")
      #expect(!FileManager.default.fileExists(atPath: marker), "the program ran")
    }
    // --verfy is no option of run or watch either.
    let other = run(syscageExecutable, head + ["--verfy", "--"] + program)
    #expect(other.status == 64 && other.stderr.contains("'--verfy'"), "\(other.stderr)")
    #expect(!FileManager.default.fileExists(atPath: marker))
    // After --, and after the program's name, words starting with - are the program's.
    if command == "run" {
      let short = syscage("run", "--profile", Self.docker, "-x", "/bin/echo")
      #expect(short.status == 64 && short.stderr.contains("unknown option '-x'; a program whose name starts with - goes after --"), "\(short.stderr)")
      let passed = syscage("run", "--profile", Self.docker, "--", "/bin/echo", "--verfy")
      #expect(passed.status == 0 && passed.stdout == "--verfy\n", "\(passed.stderr)")
      let after = syscage("run", "--profile", Self.docker, "/bin/echo", "-x", "--strct")
      #expect(after.status == 0 && after.stdout == "-x --strct\n", "\(after.stderr)")
    }
  }

  @Test func anUnknownCommandNamesTheNearest() {
    let r = syscage("recrd", "-o", "x.json", "--", "true")
    #expect(r.status == 64)
    #expect(r.stderr.contains("unknown command 'recrd'") && r.stderr.contains("did you mean 'record'"), "\(r.stderr)")
    let far = syscage("frobnicate")
    #expect(far.status == 64 && far.stderr.contains("the commands are") && far.stderr.contains("record"), "\(far.stderr)")
    #expect(syscage("help", "record").stdout.contains("USAGE: syscage record"))
  }

  @Test func runWithoutAProgramPrintsRunsUsage() {
    for words in [["run"], ["run", "--profile", Self.docker], ["run", "--profile", Self.docker, "--"], ["watch", "--profile", Self.docker]] {
      let r = run(syscageExecutable, words)
      #expect(r.status == 64, "\(words)")
      #expect(r.stderr.contains("Usage: syscage \(words[0]) --profile"), "\(words): \(r.stderr)")
      #expect(!r.stderr.contains("Usage: syscage <subcommand>"), "\(words): \(r.stderr)")
    }
  }

  // MARK: help texts

  static let commands = [
    "syscalls", "compile", "check", "run", "convert", "status", "probe", "audit", "lint", "import", "record", "dump",
    "watch", "diff", "merge", "install",
  ]

  /// Every command's real --help: each option's default said once, and the discussion's
  /// lines broken only where the text no longer fits (paragraph breaks and indented
  /// example blocks aside).
  @Test(arguments: commands)
  func helpTextsWrapWholeParagraphsAndSayEachDefaultOnce(command: String) throws {
    let r = syscage(command, "--help")
    #expect(r.status == 0)
    let width = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init) ?? 80
    let lines = r.stdout.components(separatedBy: "\n")
    let usage = try #require(lines.firstIndex { $0.hasPrefix("USAGE:") })
    let overviewEnd = try #require(lines.firstIndex(of: ""))
    let discussion = Array(lines[(overviewEnd + 1)..<usage])
    for (a, b) in zip(discussion, discussion.dropFirst()) where !a.isEmpty && !b.isEmpty {
      let aIndented = a.hasPrefix(" "), bIndented = b.hasPrefix(" ")
      #expect(!(aIndented && !bIndented), "\(command): an indented line runs on unindented: \(a) / \(b)")
      if !aIndented && !bIndented {
        let next = b.split(separator: " ").first.map(String.init) ?? b
        #expect(a.count + 1 + next.count >= width, "\(command): the line ends mid-sentence: \(a) / \(b)")
      }
    }
    // Options: one block per option, "(default:" or "default:" at most once in each.
    let options = r.stdout.components(separatedBy: "\nOPTIONS:\n").last ?? ""
    for block in options.components(separatedBy: "\n  -") {
      let flat = block.split(whereSeparator: \.isWhitespace).joined(separator: " ")
      #expect(flat.components(separatedBy: "default:").count <= 2, "\(command): \(flat)")
    }
  }
}
