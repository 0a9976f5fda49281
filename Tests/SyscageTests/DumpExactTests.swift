import BPF
import Foundation
import Host
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// `syscage dump --format profile` of filters other programs load (libseccomp, bwrap's
/// stacks) and of a process in strict mode, checked region by region against the live
/// filters.
@Suite(.serialized) struct DumpExactTests {
  static let reason = Comment(rawValue: "needs root (CAP_SYS_ADMIN) and python3-seccomp (apt-get install python3-seccomp); required under CI=true")
  static var ready: Bool { Peer.root.isAvailable && Peer.libseccomp.isAvailable }
  static var shouldRun: Bool { ready || isCI }

  /// libseccomp's tutorial policy: write allowed to fd 1 for at most 512 bytes, EBADF on
  /// any other fd, KILL otherwise; plus what python needs to wait on a pipe.
  static let tutorial = #"""
    import errno, os, sys, seccomp
    f = seccomp.SyscallFilter(defaction=seccomp.KILL)
    f.add_rule(seccomp.ALLOW, "write", seccomp.Arg(0, seccomp.EQ, 1), seccomp.Arg(2, seccomp.LE, 512))
    f.add_rule(seccomp.ERRNO(errno.EBADF), "write", seccomp.Arg(0, seccomp.NE, 1))
    for name in ["read", "rt_sigreturn", "rt_sigaction", "exit", "exit_group"]:
        f.add_rule(seccomp.ALLOW, name)
    f.export_bpf(open(sys.argv[1], "wb"))
    print(os.getpid(), flush=True)
    f.load()
    os.read(0, 1)
    """#

  /// Starts `executable` with `arguments`, its stdin a pipe the test holds (so it can
  /// block reading it), and returns it with the first line it prints.
  func start(_ executable: String, _ arguments: [String]) throws -> (Process, Pipe, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let out = Pipe(), input = Pipe()
    p.standardOutput = out
    p.standardInput = input
    try startUnblocked(p)
    var line = Data()
    while !line.contains(10) {
      let chunk = out.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      line.append(chunk)
    }
    return (p, input, String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
  }

  func program(_ path: String) throws -> [BPFInstruction] {
    try #require([BPFInstruction](rawBytes: Array(try Data(contentsOf: URL(fileURLWithPath: path)))), "\(path) is not BPF")
  }

  /// The listing lines of `syscage dump PID` (disasm), per filter, newest first.
  func dumpedListings(_ pid: Int32) -> [[Substring]] {
    let r = run(syscageExecutable, ["dump", String(pid)])
    return r.stdout.components(separatedBy: "# filter ").dropFirst().map { $0.split(separator: "\n").filter(Self.isListingLine) }
  }

  /// Compares the written profile, compiled by syscage (with runc's ENOSYS stub, as runc
  /// and `syscage run` load it), with `filters` on every syscall of `arch`'s table,
  /// region by region, each argument as the kernel reads it. Returns the regions compared.
  func expectSameDecisions(_ profilePath: String, _ filters: [[BPFInstruction]], arch: Arch) throws -> Int {
    let loaded = try Profile.load(path: profilePath)
    let compiled = try Compiler.compile(Policy(profile: loaded.profile, options: PolicyOptions(context: HostFacts.dockerDefault())))
    var regions = 0
    for (name, number) in SyscallTable.entries(in: arch.abi) {
      let widths = { (i: Int) in arch.argumentType(of: name, index: i).mask }
      let kept = RegionRules.keptSpace(widths: widths, endianness: arch.endianness)
      let live = try SymbolicFilter.decisions(filters, arch: arch.auditArch, nr: number.word, endianness: arch.endianness, within: kept)
      regions += live.regions.count
      let diffs = try SymbolicFilter.differences(filters, [compiled], arch: arch.auditArch, nr: number.word, endianness: arch.endianness, within: kept)
      #expect(diffs.isEmpty, "\(name): \(diffs.map { "\($0.region.describe()) \($0.first) vs \($0.second)" })")
      // Each live region's witness, run by the interpreter on the compiled profile.
      for r in live.regions {
        #expect(Interpreter.run(compiled, on: r.witness, endianness: arch.endianness).action == r.action, "\(name) \(r.witness.args)")
      }
    }
    return regions
  }

  @Test(.enabled(if: shouldRun, reason))
  func libseccompTutorialComesBackExact() throws {
    try #require(Self.ready, Self.reason)
    #if !arch(x86_64)
      return
    #endif
    let dir = try Containers.temporaryDirectory("syscage-dump")
    defer { try? FileManager.default.removeItem(at: dir) }
    let script = dir.appendingPathComponent("tutorial.py").path
    try Data(Self.tutorial.utf8).write(to: URL(fileURLWithPath: script))
    let exported = dir.appendingPathComponent("tutorial.bpf").path
    let (p, input, line) = try start("/usr/bin/python3", [script, exported])
    defer { kill(p.processIdentifier, SIGKILL); p.waitUntilExit(); _ = input }
    let pid = try #require(Int32(line), "python printed \(line)")
    let filter = try program(exported)
    // The live filter is the program libseccomp exported.
    let listings = dumpedListings(pid)
    #expect(listings.count == 1 && listings.first == Disassembler.listing(filter, annotate: true).split(separator: "\n").filter(Self.isListingLine))

    let written = dir.appendingPathComponent("profile.json").path
    let dumped = run(syscageExecutable, ["dump", String(pid), "--format", "profile", "-o", written])
    #expect(dumped.status == 0, "\(dumped.stderr)")
    // Notes, not differences: libseccomp compares the `unsigned int` fd as 64 bits, and
    // the filter has no ENOSYS stub.
    #expect(dumped.stderr.contains("bits the kernel drops of write a0 on x86_64"), "\(dumped.stderr)")
    #expect(dumped.stderr.contains("numbers above"), "\(dumped.stderr)")
    // libseccomp kills the thread on an ABI it was not given; a profile kills the process.
    #expect(dumped.stderr.contains("x86 calls get KILL_THREAD from the filters"), "\(dumped.stderr)")
    #expect(try expectSameDecisions(written, [filter], arch: .x86_64) > SyscallTable.entries(in: Arch.x86_64.abi).count)

    // The calls of the issue, on the profile as syscage compiles it.
    let profile = try Profile.load(path: written).profile
    let compiled = try Compiler.compile(Policy(profile: profile, options: PolicyOptions(context: HostFacts.dockerDefault())))
    func write(_ fd: UInt64, _ count: UInt64) -> SeccompAction {
      let data = SeccompData(nr: 1, arch: Arch.x86_64.auditArch, args: [fd, 0x1000, count, 0, 0, 0])
      return Interpreter.run(compiled, on: data, endianness: .little).action
    }
    #expect(write(1, 12) == .allow)
    #expect(write(1, 512) == .allow)
    #expect(write(2, 12) == .errno(9))
    #expect(write(2, 5000) == .errno(9))
    #expect(write(1, 513) == .killThread)
    #expect(write(1, 1 << 32) == .killThread)
    // No rule puts two conditions on one argument (runc would OR them).
    #expect(Lint.run(profile, options: PolicyOptions(context: HostFacts.dockerDefault())).filter { $0.id == "same-argument-twice" }.isEmpty)
  }

  /// bwrap stacks the filters it is given (--add-seccomp-fd): Docker's default compiled
  /// by syscage, and a libseccomp filter with argument rules above it.
  @Test(.enabled(if: (shouldRun && Containers.bwrapReady) || isCI, reason))
  func bwrapStackComesBackExact() throws {
    try #require(Self.ready && Containers.bwrapReady, Self.reason)
    #if !arch(x86_64)
      return
    #endif
    let dir = try Containers.temporaryDirectory("syscage-dump")
    defer { try? FileManager.default.removeItem(at: dir) }
    let docker = dir.appendingPathComponent("docker.bpf").path
    let compiled = run(syscageExecutable, ["compile", packageRoot.appendingPathComponent("Data/docker-default.json").path, "-o", docker])
    try #require(compiled.status == 0, "\(compiled.stderr)")
    let lib = dir.appendingPathComponent("lib.bpf").path
    let export = run("/usr/bin/python3", ["-c", #"""
      import errno, sys, seccomp
      f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
      f.add_arch(seccomp.Arch.X86)
      f.add_rule(seccomp.ERRNO(errno.EACCES), "mkdir")
      f.add_rule(seccomp.ERRNO(errno.EPERM), "kill", seccomp.Arg(0, seccomp.EQ, 1))
      f.add_rule(seccomp.ERRNO(errno.EINVAL), "write", seccomp.Arg(2, seccomp.GT, 1 << 20))
      f.add_rule(seccomp.TRAP, "ptrace")
      f.export_bpf(open(sys.argv[1], "wb"))
      """#, lib])
    try #require(export.status == 0, "\(export.stderr)")
    let script = "exec /usr/bin/bwrap --ro-bind / / --dev /dev --proc /proc --add-seccomp-fd 3 --add-seccomp-fd 4 -- /bin/sh -c 'echo $$; exec /bin/sleep 300' 3<\(Containers.shellQuote(docker)) 4<\(Containers.shellQuote(lib))"
    let (p, input, line) = try start("/bin/sh", ["-c", script])
    defer { if let pid = Int32(line) { kill(pid, SIGKILL) }; kill(p.processIdentifier, SIGKILL); p.waitUntilExit(); _ = input }
    let pid = try #require(Int32(line), "bwrap printed \(line)")
    // Wait for the exec of sleep (the shell prints before it).
    for _ in 0..<200 where (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) != "sleep\n" { usleep(10_000) }
    // The live stack is the two programs, newest first (bwrap installs them in its own order).
    let programs = [try program(lib), try program(docker)]
    let listings = dumpedListings(pid)
    let listing = { (p: [BPFInstruction]) in Disassembler.listing(p, annotate: true).split(separator: "\n").filter(Self.isListingLine) }
    let stack = try #require(
      [programs, programs.reversed()].first { $0.map(listing) == listings }, "the dumped filters are not the two programs")

    let written = dir.appendingPathComponent("profile.json").path
    let dumped = run(syscageExecutable, ["dump", String(pid), "--format", "profile", "-o", written])
    #expect(dumped.status == 0, "\(dumped.stderr)")
    for arch in [Arch.x86_64, .x86] {
      #expect(try expectSameDecisions(written, stack, arch: arch) > SyscallTable.entries(in: arch.abi).count)
    }
  }

  struct ListingError: Error { var line: String }

  /// A line of a listing that holds an instruction (` 0012: 0x15 ...`).
  static func isListingLine(_ line: Substring) -> Bool {
    line.first == " " && line.dropFirst().prefix { $0 != ":" }.allSatisfy(\.isNumber) && line.contains(": 0x")
  }

  /// The filters of `syscage dump PID`, parsed back from its listing (newest first).
  func dumpedPrograms(_ pid: Int32) throws -> [[BPFInstruction]] {
    try dumpedListings(pid).map { lines in
      try lines.map { line in
        let f = line.split(separator: " ")
        guard f.count >= 5, let code = UInt16(f[1].dropFirst(2), radix: 16), let jt = UInt8(f[2].dropFirst(2), radix: 16),
          let jf = UInt8(f[3].dropFirst(2), radix: 16), let k = UInt32(f[4].dropFirst(2), radix: 16)
        else { throw ListingError(line: String(line)) }
        return BPFInstruction(code: code, jt: jt, jf: jf, k: k)
      }
    }
  }

  /// Docker's default as runc (with its libseccomp 2.5.4 and ENOSYS stub) loads it: the
  /// profile decides as the live filter on x86_64 and x86; what differs is on x32 only,
  /// where runc's libseccomp resolves a name otherwise than on x86_64 (a profile names a
  /// syscall for every ABI at once), and it is listed.
  @Test(.enabled(if: Containers.runcReady || isCI, Comment(rawValue: Containers.runcReason)))
  func dockerDefaultAsRuncLoadsIt() throws {
    try #require(Containers.runcReady, Comment(rawValue: Containers.runcReason))
    #if !arch(x86_64)
      return
    #endif
    let dir = try Containers.temporaryDirectory("syscage-dump")
    defer { try? FileManager.default.removeItem(at: dir) }
    let bundle = try Containers.makeBundle(in: dir, args: ["/bin/sleep", "300"], noNewPrivileges: true)
    let converted = run(syscageExecutable, ["convert", packageRoot.appendingPathComponent("Data/docker-default.json").path, "--to", "oci", "--bundle", bundle.path])
    try #require(converted.status == 0, "\(converted.stderr)")
    let id = "syscage-dump-\(UUID().uuidString.prefix(8))"
    let pidFile = dir.appendingPathComponent("pid").path
    defer { _ = run(Containers.runcPath, ["delete", "--force", id]) }
    let started = run("/bin/sh", ["-c", "exec \(Containers.runcPath) run -d --pid-file \(pidFile) --bundle \(Containers.shellQuote(bundle.path)) \(id) </dev/null >/dev/null 2>&1"])
    try #require(started.status == 0, "runc run -d failed: \(started.stderr)")
    let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
    let stack = try dumpedPrograms(pid)
    try #require(stack.count == 1, "runc loads one filter")

    let written = dir.appendingPathComponent("profile.json").path
    let refused = run(syscageExecutable, ["dump", String(pid), "--format", "profile", "-o", written])
    let differences = refused.stderr.split(separator: "\n").filter { !$0.hasPrefix("syscage: note:") && $0.contains(" on ") }
    #expect(differences.allSatisfy { $0.contains(" on x32:") }, "\(refused.stderr)")
    if differences.isEmpty {
      #expect(refused.status == 0, "\(refused.stderr)")
    } else {
      #expect(refused.status == 1 && !FileManager.default.fileExists(atPath: written), "\(refused.stderr)")
      let partial = run(syscageExecutable, ["dump", String(pid), "--format", "profile", "--partial", "-o", written])
      #expect(partial.status == 1, "\(partial.stderr)")
    }
    // The stub is runc's: noted, and nr -1 named.
    #expect(refused.stderr.contains("carry runc's ENOSYS stub"), "\(refused.stderr)")
    for arch in [Arch.x86_64, .x86] {
      #expect(try expectSameDecisions(written, stack, arch: arch) > SyscallTable.entries(in: arch.abi).count)
    }
    // No rule puts two conditions on one argument, and no socket rule denies under a
    // condition (on x86 it would deny every socketcall(SYS_SOCKET)).
    let profile = try Profile.load(path: written).profile
    #expect(Lint.run(profile, options: PolicyOptions(context: HostFacts.dockerDefault())).filter { $0.id == "same-argument-twice" }.isEmpty)
    #expect(!(profile.syscalls ?? []).contains { $0.names.contains("socket") && $0.args != nil && $0.action != .allow })
  }

  /// A process in strict mode has no filter: dump says strict mode, not "no filter".
  /// Two stacked filters that give the same action with different data: the kernel takes
  /// the newest filter's (it runs them newest first and keeps the first of equals), and
  /// so must the dump, which lists the newest as filter 0.
  @Test(.enabled(if: shouldRun, reason))
  func theNewestFiltersDataWinsAmongEqualActions() throws {
    let script = #"""
      import errno, os, seccomp
      for code, name in [(1, "mkdir"), (2, "mkdir")]:
          f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
          f.add_rule(seccomp.ERRNO(code), name)
          if code == 2:
              f.add_rule(seccomp.ERRNO(3), "rmdir")
          f.load()
      try:
          os.mkdir("/nonexistent-syscage-dir")
          live = 0
      except OSError as e:
          live = e.errno
      print(os.getpid(), live, flush=True)
      os.read(0, 1)
      """#
    let (p, input, line) = try start("/usr/bin/python3", ["-c", script])
    defer {
      input.fileHandleForWriting.closeFile()
      p.waitUntilExit()
    }
    let words = line.split(separator: " ")
    let pid = try #require(words.first.flatMap { Int32($0) }, "python printed \(line)")
    #expect(words.last == "2", "the kernel gave mkdir errno \(line)")
    let listings = dumpedListings(pid)
    #expect(listings.count == 2)
    // Filter 0 is the newest: the one that also refuses rmdir.
    #expect(listings.first?.contains { $0.contains("ERRNO(3)") } == true, "\(listings)")
    let table = run(syscageExecutable, ["dump", String(pid), "--format", "table"])
    let mkdir = table.stdout.split(separator: "\n").first { $0.contains("mkdir") && !$0.contains("mkdirat") }
    #expect(mkdir?.contains("ERRNO(2)") == true, "\(table.stdout)")
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: "needs root (ptrace) and gcc; required under CI=true")))
  func strictModeIsNamed() throws {
    try #require(Peer.root.isAvailable, "needs root")
    try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/gcc"), "needs gcc (apt-get install gcc)")
    let dir = try Containers.temporaryDirectory("syscage-dump")
    defer { try? FileManager.default.removeItem(at: dir) }
    let source = dir.appendingPathComponent("strict.c").path
    try Data(#"""
      #include <linux/seccomp.h>
      #include <stdio.h>
      #include <sys/prctl.h>
      #include <sys/syscall.h>
      #include <unistd.h>
      int main(void) {
        printf("%d\n", getpid());
        fflush(stdout);
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) return 1;
        char c;
        read(0, &c, 1);
        syscall(SYS_exit, 0);
      }
      """#.utf8).write(to: URL(fileURLWithPath: source))
    let binary = dir.appendingPathComponent("strict").path
    let cc = run("/usr/bin/gcc", ["-O1", "-o", binary, source])
    try #require(cc.status == 0, "\(cc.stderr)")
    let (p, input, line) = try start(binary, [])
    defer { kill(p.processIdentifier, SIGKILL); p.waitUntilExit(); _ = input }
    let pid = try #require(Int32(line))
    for _ in 0..<200 where !((try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? "").contains("Seccomp:\t1") { usleep(10_000) }
    let r = run(syscageExecutable, ["dump", String(pid)])
    #expect(r.status == 0 && r.stdout.contains("strict mode (1): read, write, exit, sigreturn only"), "\(r.stdout)\(r.stderr)")
    #expect(!r.stdout.contains("no seccomp filter"))
    let table = run(syscageExecutable, ["dump", String(pid), "--format", "table"])
    #expect(table.stdout.contains("strict mode (1)"), "\(table.stdout)")
    // The process still runs, still in strict mode.
    #expect(kill(pid, 0) == 0)
  }
}
