import Foundation
import Profiles
import Seccomp
import Testing
import TestSupport

/// Every command's output file: device nodes, FIFOs and links are written into, never
/// replaced; regular files are replaced atomically with their mode; outputs are checked
/// before any work; no directory is created but k8s-pod's; a recording is never lost.
@Suite struct OutputSafetyTests {
  static let docker = packageRoot.appendingPathComponent("Data/docker-default.json").path
  static let rootReason = Comment(rawValue: Peer.root.skipReason)
  static let straceLog = """
    execve("/bin/true", ["true"], 0x7ffd /* 10 vars */) = 0
    brk(NULL)                               = 0x55d0c000
    openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
    close(3)                                = 0
    exit_group(0)                           = ?
    +++ exited with 0 +++

    """
  static let watchProfile = #"""
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    """#

  func syscage(_ args: String..., stdin: String? = nil) -> ProcessResult {
    run(syscageExecutable, args, stdin: stdin)
  }

  func syscage(_ args: [String]) -> ProcessResult {
    run(syscageExecutable, args)
  }

  func temporaryDirectory() throws -> URL { try Containers.temporaryDirectory("syscage-outputs") }

  func write(_ text: String, _ name: String, in dir: URL) throws -> String { try writeFile(text, name, in: dir) }

  func lstatOf(_ path: String) -> stat? {
    var st = stat()
    return lstat(path, &st) == 0 ? st : nil
  }

  func contents(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
  }

  /// The umask syscage inherits (read, not set: other tests run in this process).
  var umask: mode_t {
    let status = contents("/proc/self/status") ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("Umask:") } ?? "Umask: 0022"
    return mode_t(line.split(separator: "\t").last.flatMap { UInt32($0.trimmingCharacters(in: .whitespaces), radix: 8) } ?? 0o22)
  }

  // MARK: - Device nodes, FIFOs, links, modes

  /// A private /dev/null (mknod c 1 3) given to every command's output stays that device.
  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func aCharacterDeviceStaysADevice() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let node = dir.appendingPathComponent("null").path
    try #require(mknod(node, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0, "mknod: \(String(cString: strerror(errno)))")
    let rdev = try #require(lstatOf(node)).st_rdev
    let log = try write(Self.straceLog, "true.trace", in: dir)
    let profile = try write(Self.watchProfile, "watch.json", in: dir)
    let sleeper = Process()
    sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
    sleeper.arguments = ["30"]
    try startUnblocked(sleeper)
    defer {
      sleeper.terminate()
      sleeper.waitUntilExit()
    }
    let commands: [[String]] = [
      ["record", "-o", node, "-c", "--", "/bin/true"],
      ["record", "-o", node, "--format", "systemd", "--", "/bin/true"],
      ["compile", Self.docker, "-o", node],
      ["convert", Self.docker, "--to", "oci", "-o", node],
      ["merge", Self.docker, "-o", node],
      ["import", "--strace", log, "-o", node],
      ["dump", String(sleeper.processIdentifier), "-o", node],
      ["watch", "--profile", profile, "--learn", node, "--alerts", node, "--", "mkdir", dir.appendingPathComponent("made").path],
    ]
    for args in commands {
      let r = syscage(args)
      #expect(r.status == 0, "\(args.joined(separator: " ")): \(r.stderr)")
      let st = try #require(lstatOf(node), "\(args[0]) removed the node")
      #expect((st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == rdev, "\(args.joined(separator: " ")) replaced the device node")
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }.isEmpty, "no temporary file left")
  }

  /// Reads a FIFO to its end in another process (cat) while syscage writes into it.
  func readingFIFO(_ fifo: String, into file: String, while body: () -> ProcessResult) throws -> ProcessResult {
    try #require(FileManager.default.createFile(atPath: file, contents: nil))
    let reader = Process()
    reader.executableURL = URL(fileURLWithPath: "/bin/cat")
    reader.arguments = [fifo]
    reader.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
    try startUnblocked(reader)
    let r = body()
    if let st = lstatOf(fifo), (st.st_mode & S_IFMT) == S_IFIFO {
      // Releases a reader still waiting for a writer when syscage failed before opening the FIFO.
      let fd = open(fifo, O_WRONLY | O_NONBLOCK)
      if fd >= 0 { close(fd) }
    } else {
      reader.terminate()  // the FIFO was replaced: its reader waits on a node nobody can open
    }
    reader.waitUntilExit()
    return r
  }

  @Test func aFIFOIsWrittenIntoAndReadByItsReader() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let fifo = dir.appendingPathComponent("pipe").path
    try #require(mkfifo(fifo, 0o600) == 0)
    let read = dir.appendingPathComponent("read.json").path
    let merged = try readingFIFO(fifo, into: read) { syscage("merge", Self.docker, "-o", fifo) }
    #expect(merged.status == 0, "\(merged.stderr)")
    let expected = syscage("merge", Self.docker).stdout
    #expect(!expected.isEmpty && contents(read) == expected)
    #expect((try #require(lstatOf(fifo)).st_mode & S_IFMT) == S_IFIFO)
  }

  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func aRecordingGoesIntoAFIFO() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let fifo = dir.appendingPathComponent("pipe").path
    try #require(mkfifo(fifo, 0o600) == 0)
    let read = dir.appendingPathComponent("read.json").path
    let r = try readingFIFO(fifo, into: read) { syscage("record", "-o", fifo, "--", "/bin/true") }
    #expect(r.status == 0, "\(r.stderr)")
    let profile = try Profile.decode(Array(try #require(contents(read)).utf8), file: nil).profile
    #expect(profile.syscalls?.first?.names.contains("execve") == true)
    #expect((try #require(lstatOf(fifo)).st_mode & S_IFMT) == S_IFIFO)
  }

  @Test func aLinkStaysALinkAndItsTargetKeepsItsMode() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let real = try write("old\n", "real.txt", in: dir)
    try #require(chmod(real, 0o640) == 0)
    let link = dir.appendingPathComponent("link.txt").path
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real.txt")
    let r = syscage("compile", Self.docker, "--format", "disasm", "-o", link)
    #expect(r.status == 0, "\(r.stderr)")
    #expect((try #require(lstatOf(link)).st_mode & S_IFMT) == S_IFLNK)
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "real.txt")
    let st = try #require(lstatOf(real))
    #expect((st.st_mode & S_IFMT) == S_IFREG && (st.st_mode & 0o7777) == 0o640)
    #expect(contents(real) == syscage("compile", Self.docker, "--format", "disasm").stdout)

    // A link whose target does not exist yet: the target is created, the link kept.
    let dangling = dir.appendingPathComponent("dangling.json").path
    try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: "made.json")
    #expect(syscage("merge", Self.docker, "-o", dangling).status == 0)
    #expect((try #require(lstatOf(dangling)).st_mode & S_IFMT) == S_IFLNK)
    let made = try #require(lstatOf(dir.appendingPathComponent("made.json").path))
    #expect((made.st_mode & 0o7777) == 0o666 & ~umask)
  }

  @Test func anExistingFileKeepsItsModeAndANewOneGetsTheUmasksDefault() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = try write(Self.straceLog, "true.trace", in: dir)
    for (i, args) in [
      ["compile", Self.docker], ["convert", Self.docker, "--to", "systemd"], ["merge", Self.docker], ["import", "--strace", log],
    ].enumerated() {
      let existing = try write("old\n", "existing\(i)", in: dir)
      try #require(chmod(existing, 0o604) == 0)
      let r = syscage(args + ["-o", existing])
      #expect(r.status == 0, "\(args[0]): \(r.stderr)")
      let st = try #require(lstatOf(existing))
      #expect((st.st_mode & 0o7777) == 0o604, "\(args[0]) changed the mode to \(String(st.st_mode & 0o7777, radix: 8))")
      #expect(contents(existing) != "old\n")
      let new = dir.appendingPathComponent("new\(i)").path
      #expect(syscage(args + ["-o", new]).status == 0)
      #expect((try #require(lstatOf(new)).st_mode & 0o7777) == 0o666 & ~umask)
    }
  }

  // MARK: - Standard output

  @Test func dashIsStandardOutput() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = try write(Self.straceLog, "true.trace", in: dir)
    for args in [
      ["compile", Self.docker, "--format", "c"], ["convert", Self.docker, "--to", "oci"], ["merge", Self.docker],
      ["import", "--strace", log],
    ] {
      let plain = syscage(args)
      // Run from the directory: a file named - would appear there.
      let dash = run("/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", dir.path, syscageExecutable] + args + ["-o", "-"])
      #expect(dash.status == 0 && !dash.stdout.isEmpty && dash.stdout == plain.stdout, "\(args[0]): \(dash.stderr)")
      #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("-").path))
    }
  }

  /// Standard output is the program's: `record -o -` and `watch --learn -` are usage errors before anything runs.
  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func dashIsAUsageErrorForTheCommandsThatWrapAProgram() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let marker = dir.appendingPathComponent("MARKER").path
    let profile = try write(Self.watchProfile, "watch.json", in: dir)
    for args in [
      ["record", "-o", "-", "--"], ["watch", "--profile", profile, "--learn", "-", "--"],
      ["watch", "--profile", profile, "--alerts", "-", "--"],
    ] {
      let r = syscage(args + ["/bin/sh", "-c", "echo ran > \(marker)"])
      #expect(r.status == 64, "\(args.joined(separator: " ")): \(r.stderr)")
      #expect(!FileManager.default.fileExists(atPath: marker), "\(args[0]) ran the program")
    }
  }

  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func recordWithoutAnOutputPrintsTheTableOrAsksForOne() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let table = run("/bin/sh", ["-c", "cd \"$0\" && \"$1\" record -c -- /bin/true", dir.path, syscageExecutable])
    #expect(table.status == 0, "\(table.stderr)")
    #expect(table.stderr.contains("% time") && table.stderr.contains("execve"))
    let json = syscage("record", "--json", "--", "/bin/true")
    #expect(json.status == 0 && json.stderr.contains("\"profile\":null"), "\(json.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "no profile written")
    let marker = dir.appendingPathComponent("MARKER").path
    let none = syscage("record", "--", "/bin/sh", "-c", "echo ran > \(marker)")
    #expect(none.status == 64 && none.stderr.contains("give -o"), "\(none.stderr)")
    #expect(!FileManager.default.fileExists(atPath: marker))
    // -o being optional, --help is still help (not a program named --help).
    let help = syscage("record", "--help")
    #expect(help.status == 0 && help.stdout.contains("USAGE: syscage record"), "\(help.stderr)")
  }

  // MARK: - Checked before any work; never lost after it

  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func anOutputThatCannotBeCreatedStopsTheProgramFromStarting() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let marker = dir.appendingPathComponent("MARKER").path
    let missing = dir.appendingPathComponent("no/such/dir/x.json").path
    let profile = try write(Self.watchProfile, "watch.json", in: dir)
    for args in [
      ["record", "-o", missing, "--"], ["record", "-o", missing, "--format", "k8s-pod", "--"],
      ["watch", "--profile", profile, "--learn", missing, "--"], ["watch", "--profile", profile, "--alerts", missing, "--"],
    ] {
      let r = syscage(args + ["/bin/sh", "-c", "echo ran > \(marker)"])
      #expect(r.status == 73, "\(args.joined(separator: " ")): \(r.stderr)")
      #expect(r.stderr.contains("does not exist"), "\(r.stderr)")
      #expect(!FileManager.default.fileExists(atPath: marker), "\(args.joined(separator: " ")) ran the program")
    }
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("no").path))
  }

  /// The output is on a full tmpfs (mounted in a private mount namespace): the check before
  /// the run passes, the write after it fails with ENOSPC, and the recording is in $TMPDIR.
  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func aWriteThatFailsAfterTheRunIsSavedInTheTemporaryDirectory() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let full = dir.appendingPathComponent("full").path
    let fallback = dir.appendingPathComponent("tmp").path
    try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: false)
    try FileManager.default.createDirectory(atPath: fallback, withIntermediateDirectories: false)
    let profile = try write(Self.watchProfile, "watch.json", in: dir)
    let cases: [(args: String, prefix: String)] = [
      ("record -o \"$1/p.json\" -- /bin/true", "syscage-recording-"),
      ("watch --profile \"$2\" --learn \"$1/learnt.json\" -- mkdir \"$1/../made\"", "syscage-learnt-profile-"),
    ]
    for c in cases {
      let script = """
        mount -t tmpfs -o size=4k syscage-test "$1" || exit 99
        head -c 4096 /dev/zero > "$1/fill" 2>/dev/null
        "$0" \(c.args)
        """
      let r = run("/usr/bin/env", ["TMPDIR=\(fallback)", "unshare", "-m", "/bin/sh", "-c", script, syscageExecutable, full, profile])
      try #require(r.status != 99, "cannot mount a tmpfs: \(r.stderr)")
      #expect(r.status == 125, "\(c.args): \(r.stderr)")
      #expect(r.stderr.contains("No space left on device"), "\(r.stderr)")
      let saved = try FileManager.default.contentsOfDirectory(atPath: fallback).filter { $0.hasPrefix(c.prefix) }
      let name = try #require(saved.first, "nothing saved in \(fallback): \(r.stderr)")
      #expect(r.stderr.contains("saved in \(fallback)/\(name)"), "\(r.stderr)")
      let text = try #require(contents(fallback + "/" + name))
      let recorded = try Profile.decode(Array(text.utf8), file: nil).profile
      #expect(recorded.syscalls?.contains { $0.names.contains(c.prefix.contains("record") ? "execve" : "mkdir") } == true)
      #expect(try FileManager.default.contentsOfDirectory(atPath: full).isEmpty, "the mount was private")
    }
  }

  @Test func noCommandCreatesADirectory() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = try write(Self.straceLog, "true.trace", in: dir)
    let missing = dir.appendingPathComponent("missing").path
    for args in [
      ["compile", Self.docker], ["convert", Self.docker, "--to", "oci"], ["merge", Self.docker], ["import", "--strace", log],
    ] {
      let r = syscage(args + ["-o", missing + "/dir/out"])
      #expect(r.status == 73, "\(args[0]): \(r.stderr)")
      #expect(r.stderr.contains("\(missing)/dir does not exist"), "\(r.stderr)")
    }
    let pod = syscage("convert", Self.docker, "--to", "k8s-pod", "-o", missing + "/k8s")
    #expect(pod.status == 73, "\(pod.stderr)")
    #expect(!FileManager.default.fileExists(atPath: missing))
  }

  @Test func aKubernetesDirectoryIsCreatedWhenItsParentExists() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("k8s").path
    let r = syscage("convert", Self.docker, "--to", "k8s-pod", "--name", "web", "-o", out)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(contents(out + "/pod.yaml")?.contains("localhostProfile: profiles/web.json") == true)
    let json = try #require(contents(out + "/profiles/web.json"))
    _ = try Profile.decode(Array(json.utf8), file: nil, format: .oci)
    // Again into the existing directory: replaced, nothing else made.
    #expect(syscage("convert", Self.docker, "--to", "k8s-pod", "--name", "web", "-o", out).status == 0)
    #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["pod.yaml", "profiles"])
  }

  @Test func anInputNamedAsTheOutputIsRefused() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = try write(try #require(contents(Self.docker)), "in.json", in: dir)
    let link = dir.appendingPathComponent("link.json").path
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "in.json")
    let before = contents(input)
    for (source, output) in [(input, link), (link, input)] {
      for args in [["compile", source], ["convert", source, "--to", "docker"], ["merge", Self.docker, source]] {
        let r = syscage(args + ["-o", output])
        #expect(r.status == 64 && r.stderr.contains("refusing to overwrite the input"), "\(args.joined(separator: " ")) -o \(output): \(r.stderr)")
      }
    }
    // ./x against x, from the directory.
    let relative = run("/bin/sh", ["-c", "cd \"$0\" && \"$1\" compile in.json -o ./in.json", dir.path, syscageExecutable])
    #expect(relative.status == 64, "\(relative.stderr)")
    let strace = try write(Self.straceLog, "t.trace", in: dir)
    let straceLink = dir.appendingPathComponent("t-link.trace").path
    try FileManager.default.createSymbolicLink(atPath: straceLink, withDestinationPath: strace)
    #expect(syscage("import", "--strace", strace, "-o", straceLink).status == 64)
    #expect(contents(input) == before && contents(strace) == Self.straceLog)
    #expect((try #require(lstatOf(link)).st_mode & S_IFMT) == S_IFLNK)
  }

  /// `record --baseline P -o LINK-TO-P` is refused before the program runs.
  @Test(.enabled(if: Peer.root.shouldRun, rootReason))
  func recordRefusesItsBaselineThroughALink() throws {
    try #require(Peer.root.isAvailable, Self.rootReason)
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let baseline = dir.appendingPathComponent("base.json").path
    try #require(syscage("record", "-o", baseline, "--", "/bin/true").status == 0)
    let before = contents(baseline)
    let link = dir.appendingPathComponent("link.json").path
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: baseline)
    let marker = dir.appendingPathComponent("MARKER").path
    let r = syscage("record", "--baseline", baseline, "-o", link, "--", "/bin/sh", "-c", "echo ran > \(marker)")
    #expect(r.status == 64 && r.stderr.contains("refusing to overwrite the input"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: marker) && contents(baseline) == before)
  }
}
