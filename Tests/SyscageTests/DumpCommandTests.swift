import Foundation
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
    p.arguments = ["run", "--profile", profile, "--", "sh", "-c", "sleep 30 & echo $!; wait"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
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
    #expect(table.stdout.split(separator: "\n").contains { $0.hasPrefix("personality ") && $0.contains("depends on arguments") })

    let asProfile = run(syscageExecutable, ["dump", String(pid), "--format", "profile"])
    #expect(asProfile.stdout.contains("\"mkdir\"") && asProfile.stderr.contains("personality"))

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

  @Test(.enabled(if: Peer.root.shouldRun, reason))
  func unfilteredAndMissingProcesses() throws {
    try #require(Peer.root.isAvailable, Self.reason)
    let sleeper = Process()
    sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
    sleeper.arguments = ["30"]
    try sleeper.run()
    defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
    let r = run(syscageExecutable, ["dump", String(sleeper.processIdentifier)])
    #expect(r.status == 0 && r.stdout.contains("no seccomp filter"))
    let gone = run(syscageExecutable, ["dump", "999999999"])
    #expect(gone.status == 65)
  }
}
