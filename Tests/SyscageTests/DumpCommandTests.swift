import BPF
import Foundation
import Host
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// `syscage dump` reads back, from the kernel, the filter `syscage run` installed.
@Suite(.serialized) struct DumpCommandTests {
  static let reason = Comment(rawValue: "needs root (CAP_SYS_ADMIN) to read filters with PTRACE_SECCOMP_GET_FILTER; required under CI=true")

  /// Starts `syscage run --profile P -- sh -c 'sleep 30 & echo $!; wait'` and returns it with
  /// the pid of the sleep: under the filter, and not traced (`run` watches the shell's
  /// threads only, and a thread can have one tracer).
  func startFiltered(_ profile: String) throws -> (Process, Int32) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: syscageExecutable)
    p.arguments = ["run", "--single-filter", "--profile", profile, "--", "sh", "-c", "sleep 30 & echo $!; wait"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try startUnblocked(p)
    var line = Data()
    while !line.contains(10) {
      let chunk = out.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      line.append(chunk)
    }
    let pid = try #require(Int32(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
    return (p, pid)
  }

  @Test(.enabled(if: Peer.root.shouldRun, reason))
  func dumpReadsTheCompiledFilterBack() throws {
    try #require(Peer.root.isAvailable, Self.reason)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-dump-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("p.json").path
    try Data(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}, {"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}"#.utf8)
      .write(to: URL(fileURLWithPath: profile))
    let (process, pid) = try startFiltered(profile)
    defer { kill(pid, SIGKILL); process.waitUntilExit() }

    // The listing read from the kernel is the program `compile` makes.
    let dumped = run(syscageExecutable, ["dump", String(pid)])
    #expect(dumped.status == 0, "\(dumped.stderr)")
    let compiled = run(syscageExecutable, ["compile", profile, "--format", "disasm"])
    let listing = compiled.stdout.split(separator: "\n").filter { $0.hasPrefix(" 0") }
    let dumpedListing = dumped.stdout.split(separator: "\n").filter { $0.hasPrefix(" 0") }
    #expect(!listing.isEmpty && dumpedListing == listing)
    #expect(dumped.stdout.contains("1 filter"))

    let table = run(syscageExecutable, ["dump", String(pid), "--format", "table"])
    #expect(table.stdout.split(separator: "\n").contains { $0.hasPrefix("mkdir ") && $0.hasSuffix("ERRNO(13)") })
    #expect(table.stdout.split(separator: "\n").contains { $0.hasPrefix("read ") && $0.hasSuffix("ALLOW") })
    #expect(table.stdout.split(separator: "\n").contains { $0.hasPrefix("personality ") && $0.hasSuffix("a0 == 8 → KILL_PROCESS; otherwise → ALLOW") })

    let asProfile = run(syscageExecutable, ["dump", String(pid), "--format", "profile"])
    #expect(asProfile.status == 0 && asProfile.stdout.contains("\"mkdir\"") && asProfile.stderr.isEmpty, "\(asProfile.stderr)")

    // The process keeps running after the dump.
    #expect(kill(pid, 0) == 0)

    // A caller under seccomp cannot read filters: said, exit 69.
    let nested = run(syscageExecutable, ["run", "--profile", profile, "--", syscageExecutable, "dump", String(pid)])
    #expect(nested.status == 69 && nested.stderr.contains("not itself under seccomp"), "\(nested.stderr)")
    // Without CAP_SYS_ADMIN: said, exit 69.
    if FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
      let noAdmin = run("/usr/bin/setpriv", ["--bounding-set", "-sys_admin", "--", syscageExecutable, "dump", String(pid)])
      #expect(noAdmin.status == 69 && noAdmin.stderr.contains("CAP_SYS_ADMIN"), "\(noAdmin.stderr)")
    }
  }

  /// A profile with argument rules of every kind: EQ/NE, MASKED_EQ on a 16-bit mode,
  /// GT on a 64-bit value, several rules for one name.
  static let argumentProfile = #"""
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
      {"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
      {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97, "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_NE"}, {"index": 0, "value": 2, "op": "SCMP_CMP_NE"}]},
      {"names": ["mmap"], "action": "SCMP_ACT_ERRNO", "errnoRet": 12, "args": [{"index": 1, "value": 4294967296, "op": "SCMP_CMP_GT"}]},
      {"names": ["fchmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": [{"index": 1, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}]},
      {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
      {"names": ["kill"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_LT"}]}
    ]}
    """#

  func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-dump-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  /// Compares the decisions of a written profile, compiled, with the filter it was written
  /// from, region by region on the witnesses of both: every syscall of every ABI.
  func compareProfile(_ written: String, with original: String) throws -> Int {
    let load = { (path: String) throws -> Policy in
      let p = try Profile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))), file: path).profile
      return Policy(profile: p, options: PolicyOptions(context: HostFacts.dockerDefault()))
    }
    let a = try load(original), b = try load(written)
    let pa = try Compiler.compile(a), pb = try Compiler.compile(b)
    var witnesses = 0
    for ap in a.arches {
      let arch = ap.arch
      for (name, n) in SyscallTable.entries(in: arch.abi) {
        let da = try SymbolicFilter.decisions([pa], arch: arch.auditArch, nr: n.word, endianness: arch.endianness)
        let db = try SymbolicFilter.decisions([pb], arch: arch.auditArch, nr: n.word, endianness: arch.endianness)
        for r in da.regions + db.regions {
          witnesses += 1
          let x = Interpreter.run(pa, on: r.witness, endianness: arch.endianness).action
          let y = Interpreter.run(pb, on: r.witness, endianness: arch.endianness).action
          #expect(x == y, "\(arch) \(name) \(r.witness.args): \(x) vs \(y)")
        }
      }
    }
    return witnesses
  }

  @Test(.enabled(if: Peer.root.shouldRun, reason))
  func tableShowsArgumentRegionsAndProfileRoundTrips() throws {
    try #require(Peer.root.isAvailable, Self.reason)
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("p.json").path
    try Data(Self.argumentProfile.utf8).write(to: URL(fileURLWithPath: profile))
    let (process, pid) = try startFiltered(profile)
    defer { kill(pid, SIGKILL); process.waitUntilExit() }

    let table = run(syscageExecutable, ["dump", String(pid), "--format", "table"])
    #expect(table.status == 0, "\(table.stderr)")
    let lines = table.stdout.split(separator: "\n").map(String.init)
    func line(_ name: String) -> String { lines.first { $0.hasPrefix(name + " ") } ?? "" }
    #expect(line("socket").hasSuffix("a0 in [1, 2] → ALLOW; otherwise → ERRNO(97)"), "\(line("socket"))")
    #expect(line("mmap").hasSuffix("a1 >= 0x100000001 → ERRNO(12); otherwise → ALLOW"), "\(line("mmap"))")
    #expect(line("fchmod").hasSuffix("a1 & 0x800 == 0x800 → ERRNO(1); otherwise → ALLOW") || line("fchmod").hasSuffix("a1 & 0x800 == 0x0 → ALLOW; otherwise → ERRNO(1)"), "\(line("fchmod"))")
    #expect(line("kill").contains("a0 == 1") && line("kill").contains("ERRNO(1)") && line("kill").contains("LOG"), "\(line("kill"))")
    #expect(line("personality").hasSuffix("a0 == 8 → KILL_PROCESS; otherwise → ALLOW"))
    #expect(line("getpid").hasSuffix("ALLOW") && line("mkdir").hasSuffix("ERRNO(13)"))

    // The written profile decides the same: exit 0, nothing listed, and compiled it
    // agrees with the original on the witnesses of both.
    let written = dir.appendingPathComponent("q.json").path
    let asProfile = run(syscageExecutable, ["dump", String(pid), "--format", "profile", "-o", written])
    #expect(asProfile.status == 0 && asProfile.stderr.isEmpty, "\(asProfile.stderr)")
    // socket's a0 in [1, 2] is not written as a GE and an LE on one argument (runc ORs
    // them): the ERRNO rules name a0 == 0 and a0 >= 3, the default allows the rest.
    let text = try String(contentsOfFile: written, encoding: .utf8)
    #expect(text.contains("SCMP_CMP_MASKED_EQ") && text.contains("4294967297"))
    let writtenProfile = try Profile.decode(Array(text.utf8), file: written).profile
    #expect(Lint.run(writtenProfile, options: PolicyOptions(context: HostFacts.dockerDefault())).filter { $0.id == "same-argument-twice" }.isEmpty)
    #expect(try compareProfile(written, with: profile) > 400)
    // And syscage's own diff agrees.
    let diff = run(syscageExecutable, ["diff", profile, written])
    #expect(diff.status == 0, "\(diff.stdout)")
  }

  /// A filter on the instruction pointer and on the high half of an `int` argument,
  /// installed by python through ctypes: the table states both, the profile lists them.
  @Test(.enabled(if: Peer.root.shouldRun, reason))
  func whatAProfileCannotExpressIsListed() throws {
    try #require(Peer.root.isAvailable, Self.reason)
    try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs /usr/bin/python3")
    #if !arch(x86_64)
      return
    #endif
    // 0: ld arch; 1: x86_64? else allow; 2: ld nr; 3: mkdir? 4: ld ip.hi; 5: == 0xdead → ERRNO(5)
    // 7: socket? 8: ld a0.hi; 9: == 0 → allow, else ERRNO(97); 11: allow.
    let script = #"""
      import ctypes, os, struct
      prog = [(0x20,0,0,4),(0x15,0,9,0xc000003e),(0x20,0,0,0),(0x15,0,3,83),(0x20,0,0,12),
              (0x15,0,5,0xdead),(0x06,0,0,0x50005),(0x15,0,3,41),(0x20,0,0,20),(0x15,1,0,0),
              (0x06,0,0,0x50061),(0x06,0,0,0x7fff0000)]
      raw = b"".join(struct.pack("HBBI", *i) for i in prog)
      buf = ctypes.create_string_buffer(raw)
      class Fprog(ctypes.Structure):
          _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
      fp = Fprog(len(prog), ctypes.addressof(buf))
      libc = ctypes.CDLL(None, use_errno=True)
      assert libc.prctl(38, 1, 0, 0, 0) == 0
      assert libc.prctl(22, 2, ctypes.byref(fp)) == 0, ctypes.get_errno()
      print(os.getpid(), flush=True)
      os.execv("/bin/sleep", ["sleep", "30"])
      """#
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    p.arguments = ["-c", script]
    let out = Pipe()
    p.standardOutput = out
    try startUnblocked(p)
    defer { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
    var data = Data()
    while !data.contains(10) {
      let chunk = out.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      data.append(chunk)
    }
    let pid = try #require(Int32(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
    #expect(pid == p.processIdentifier)

    let table = run(syscageExecutable, ["dump", String(pid), "--format", "table"])
    let lines = table.stdout.split(separator: "\n").map(String.init)
    func line(_ name: String) -> String { lines.first { $0.hasPrefix(name + " ") } ?? "" }
    #expect(line("mkdir").contains("ip.hi == 57005 → ERRNO(5)") && line("mkdir").contains("depends on the instruction pointer"), "\(line("mkdir"))")
    #expect(line("socket").hasSuffix("a0 <= 0xffffffff → ALLOW; otherwise → ERRNO(97)"), "\(line("socket"))")

    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let written = dir.appendingPathComponent("q.json").path
    // Not exact: each region named, nothing written, exit 1.
    let refused = run(syscageExecutable, ["dump", String(pid), "--format", "profile", "-o", written])
    #expect(refused.status == 1, "\(refused.stderr)")
    #expect(refused.stderr.contains("mkdir on x86_64") && refused.stderr.contains("ip.hi == 57005"), "\(refused.stderr)")
    #expect(refused.stderr.contains("cannot read the instruction pointer"), "\(refused.stderr)")
    #expect(refused.stderr.contains("nothing written"), "\(refused.stderr)")
    #expect(!FileManager.default.fileExists(atPath: written))
    // socket's a0.hi is bits an `int` drops: named in a note, not a difference.
    #expect(refused.stderr.contains("bits the kernel drops of socket a0 on x86_64"), "\(refused.stderr)")
    #expect(!refused.stderr.contains("socket on x86_64"), "\(refused.stderr)")
    // With --partial it is written, still exit 1.
    let asProfile = run(syscageExecutable, ["dump", String(pid), "--format", "profile", "--partial", "-o", written])
    #expect(asProfile.status == 1, "\(asProfile.stderr)")
    #expect(asProfile.stderr.contains("does not decide exactly"), "\(asProfile.stderr)")
    // What it could express it did: the profile still denies mkdir (fail closed), allows the rest.
    let text = try String(contentsOfFile: written, encoding: .utf8)
    #expect(text.contains("\"mkdir\"") && text.contains("\"SCMP_ACT_ALLOW\""))
  }

  @Test(.enabled(if: Peer.root.shouldRun, reason))
  func unfilteredAndMissingProcesses() throws {
    try #require(Peer.root.isAvailable, Self.reason)
    let sleeper = Process()
    sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
    sleeper.arguments = ["30"]
    try startUnblocked(sleeper)
    defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
    let r = run(syscageExecutable, ["dump", String(sleeper.processIdentifier)])
    #expect(r.status == 0 && r.stdout.contains("no seccomp filter"))
    let gone = run(syscageExecutable, ["dump", "999999999"])
    #expect(gone.status == 65)
  }
}
