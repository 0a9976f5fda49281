import Foundation
import Recording
import Testing
import TestSupport

/// `record --verify` runs the program again under the first run's conditions: the same
/// standard input, a standard output of the same kind, and a note when the first run
/// changed files; `--amend` folds what verification denied into the profile.
@Suite struct VerifyReplayTests {
  func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-verify-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  func compile(_ source: String, named name: String, in dir: URL) throws -> String {
    try compileC(source, named: name, in: dir)
  }

  func sh(_ script: String, stdin: String? = nil) -> ProcessResult { run("/bin/sh", ["-c", script], stdin: stdin) }

  func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

  /// Each run copies its stdin to a file of its own (DIR/in.PID).
  func copies(in dir: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("in.") }.sorted().map {
      try String(contentsOfFile: dir.appendingPathComponent($0).path, encoding: .utf8)
    }
  }

  /// A verification that cannot run (here the program removed itself) is syscage's own
  /// failure (125), not the program's status; the profile is still written.
  @Test func aVerificationThatCannotRunIsNotASuccess() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let script = try writeFile("#!/bin/sh\nrm -f \"$0\"\necho ran\n", "self.sh", in: dir)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
    let profile = dir.appendingPathComponent("p.json").path
    let r = run(syscageExecutable, ["record", "-o", profile, "--verify", "--", script])
    #expect(r.stdout == "ran\n")
    #expect(r.status == 125, "\(r.stderr)")
    #expect(r.stderr.contains("cannot run") && r.stderr.contains("not verified"), "\(r.stderr)")
    #expect(FileManager.default.fileExists(atPath: profile))
  }

  @Test func pipedStdinIsReplayed() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("p.json").path
    let r = run(
      syscageExecutable, ["record", "-o", profile, "--verify", "--", "/bin/sh", "-c", "cat > \(quote(dir.path))/in.$$"],
      stdin: "select 1;")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(try copies(in: dir) == ["select 1;", "select 1;"], "\(r.stderr)")
    #expect(r.stderr.contains("verify: the program ran the same"), "\(r.stderr)")
  }

  @Test func fileStdinIsReadAgainFromItsOffset() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = dir.appendingPathComponent("input").path
    try Data("skip\nrest of it\n".utf8).write(to: URL(fileURLWithPath: input))
    let profile = dir.appendingPathComponent("p.json").path
    // The shell reads the first line itself: the recording starts at offset 5.
    let r = sh(
      "{ read -r line; \(quote(syscageExecutable)) record -o \(quote(profile)) --verify -- /bin/sh -c 'cat > \(dir.path)/in.$$'; } < \(quote(input))"
    )
    #expect(r.status == 0, "\(r.stderr)")
    #expect(try copies(in: dir) == ["rest of it\n", "rest of it\n"], "\(r.stderr)")
  }

  @Test func runsReplayStdinToo() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("p.json").path
    let r = run(
      syscageExecutable, ["record", "-o", profile, "--runs", "3", "--", "/bin/sh", "-c", "cat > \(quote(dir.path))/in.$$"],
      stdin: "abc")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(try copies(in: dir) == ["abc", "abc", "abc"], "\(r.stderr)")
  }

  /// Calls getppid when stdout is a regular file, umask when it is a pipe, getpgrp when
  /// it is a terminal, sched_yield when it is another character device (/dev/null): GNU
  /// grep's splice-on-/dev/null in miniature.
  static let stdoutKind = """
    #include <sched.h>
    #include <sys/stat.h>
    #include <unistd.h>
    int main(void) {
      struct stat st;
      if (fstat(1, &st) != 0) return 3;
      if (S_ISREG(st.st_mode)) getppid();
      else if (S_ISFIFO(st.st_mode)) umask(022);
      else if (isatty(1)) getpgrp();
      else if (S_ISCHR(st.st_mode)) sched_yield();
      return write(1, "x\\n", 2) == 2 ? 0 : 4;
    }
    """

  @Test func stdoutKeepsItsKind() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let exe = try compile(Self.stdoutKind, named: "kind", in: dir)
    let profile = dir.appendingPathComponent("p.json").path
    let out = dir.appendingPathComponent("out").path
    // To a file: the verification run writes to a (temporary) file too.
    let toFile = sh("\(quote(syscageExecutable)) record -o \(quote(profile)) --verify --json -- \(quote(exe)) > \(quote(out))")
    #expect(toFile.status == 0, "\(toFile.stderr)")
    #expect(!toFile.stderr.contains("denied:"), "\(toFile.stderr)")
    #expect(toFile.stderr.contains("\"stdout\":\"file\""), "\(toFile.stderr)")
    #expect((try? String(contentsOfFile: out, encoding: .utf8)) == "x\n")
    // To a pipe.
    let toPipe = run(syscageExecutable, ["record", "-o", profile, "--verify", "--", exe])
    #expect(toPipe.status == 0 && toPipe.stdout == "x\n", "\(toPipe.stderr)")
    #expect(!toPipe.stderr.contains("denied:"), "\(toPipe.stderr)")
    // To /dev/null.
    let toNull = sh("\(quote(syscageExecutable)) record -o \(quote(profile)) --verify -- \(quote(exe)) > /dev/null")
    #expect(toNull.status == 0, "\(toNull.stderr)")
    #expect(!toNull.stderr.contains("denied:"), "\(toNull.stderr)")
    // To a terminal (script(1) gives the recording one): the verification run gets a
    // pseudo-terminal.
    if FileManager.default.isExecutableFile(atPath: "/usr/bin/script") {
      let log = dir.appendingPathComponent("log").path
      let command = "\(quote(syscageExecutable)) record -o \(quote(profile)) --verify -- \(quote(exe)) 2> \(quote(log))"
      let toTerminal = run("/usr/bin/script", ["-qec", command, "/dev/null"])
      let stderr = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
      #expect(toTerminal.status == 0, "\(stderr)")
      #expect(stderr.contains("standard input is a terminal"), "\(stderr)")
      #expect(!stderr.contains("denied:"), "\(stderr)")
      #expect(stderr.contains("verify: the program ran the same"), "\(stderr)")
    } else {
      #expect(!isCI, "needs script(1) (bsdutils) for the terminal case")
    }
  }

  /// The first run creates a marker file; a run that finds it calls sysinfo, so only the
  /// verification run makes that call.
  static let secondRun = """
    #include <fcntl.h>
    #include <sys/sysinfo.h>
    #include <unistd.h>
    int main(int argc, char **argv) {
      if (access(argv[1], F_OK) == 0) {
        struct sysinfo si;
        return sysinfo(&si) == 0 ? 0 : 5;
      }
      int fd = open(argv[1], O_WRONLY | O_CREAT, 0600);
      return fd >= 0 ? 0 : 6;
    }
    """

  @Test func amendAddsWhatVerificationDenied() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let exe = try compile(Self.secondRun, named: "second", in: dir)
    let marker = dir.appendingPathComponent("marker").path
    let profile = dir.appendingPathComponent("p.json").path
    let r = run(syscageExecutable, ["record", "-o", profile, "--verify", "--amend", "--json", "--", exe, marker])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("the first run changed files or opened them for writing (\(marker))"), "\(r.stderr)")
    #expect(r.stderr.contains("denied: sysinfo"), "\(r.stderr)")
    #expect(r.stderr.contains("amend: round 1: added sysinfo (x86_64): denied in verification"), "\(r.stderr)")
    #expect(r.stderr.contains("verify: the program ran the same under the profile"), "\(r.stderr)")
    let data = try Data(contentsOf: URL(fileURLWithPath: profile))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let entries = object["syscalls"] as? [[String: Any]] ?? []
    let added = entries.first { ($0["names"] as? [String] ?? []).contains("sysinfo") }
    #expect(added?["action"] as? String == "SCMP_ACT_ALLOW")
    let comment: String = (added?["comment"] as? String) ?? ""
    #expect(comment.hasPrefix("denied in verification round 1"), "\(entries)")
    // The amended profile lets the program run (the marker exists now).
    let replay = run(syscageExecutable, ["run", "--profile", profile, "--", exe, marker])
    #expect(replay.status == 0, "\(replay.stderr)")

    // Without --amend the denial stays.
    try FileManager.default.removeItem(atPath: marker)
    let plain = run(syscageExecutable, ["record", "-o", profile, "--verify", "--", exe, marker])
    #expect(plain.stderr.contains("denied: sysinfo"), "\(plain.stderr)")
    #expect(!plain.stderr.contains("amend:"))
  }
}
