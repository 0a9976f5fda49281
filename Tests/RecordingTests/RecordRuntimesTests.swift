import Foundation
import Recording
import Syscalls
import Testing
import TestSupport

/// Language runtimes whose calls depend on timing (Go, CPython's multiprocessing): record
/// detects them and allows those calls, so a profile recorded once holds on the next
/// runs even with `--default-action kill-process`; and `record --runs N`.
@Suite struct RecordRuntimesTests {
  static let go: String? = ["/usr/bin/go", "/usr/lib/go/bin/go"].first { FileManager.default.isExecutableFile(atPath: $0) }
  static let goReason = "needs Go (apt-get install golang-go) or run under CI=true"
  static let python = "/usr/bin/python3"
  static let pythonReason = "needs /usr/bin/python3 or run under CI=true"
  static var hasPython: Bool { FileManager.default.isExecutableFile(atPath: python) }

  func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-runtimes-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  /// `go build` of `source` into `dir`/`name`, GOCACHE in `dir`, no modules.
  func buildGo(_ source: String, named name: String, in dir: URL) throws -> String {
    let go = try #require(Self.go, "\(Self.goReason)")
    let src = dir.appendingPathComponent("\(name).go").path
    try Data(source.utf8).write(to: URL(fileURLWithPath: src))
    let exe = dir.appendingPathComponent(name).path
    let gocache = dir.appendingPathComponent("gocache").path
    let r = run("/usr/bin/env", ["GOCACHE=\(gocache)", "GO111MODULE=off", "GOFLAGS=", go, "build", "-o", exe, src], timeout: 600)
    try #require(r.status == 0, "go build: \(r.stderr)")
    return exe
  }

  /// Compiles C `source` with /usr/bin/cc.
  func compile(_ source: String, named name: String, in dir: URL) throws -> String {
    try compileC(source, named: name, in: dir)
  }

  /// The profile's entries (Docker JSON).
  func entries(_ path: String) throws -> [[String: Any]] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    return object["syscalls"] as? [[String: Any]] ?? []
  }

  /// The `--json` statistics object of a recording's stderr.
  func statistics(_ stderr: String) -> [String: Any]? {
    guard let line = stderr.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else { return nil }
    return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
  }

  /// Records `argv` `recordings` times with --default-action kill-process, replays each
  /// profile `replays` times with `syscage run`, and expects every replay to exit 0 with
  /// `expected` on stdout.
  func recordAndReplay(_ argv: [String], expected: String, recordings: Int = 3, replays: Int = 5, in dir: URL) throws {
    for r in 0..<recordings {
      let profile = dir.appendingPathComponent("p\(r).json").path
      let rec = run(syscageExecutable, ["record", "-o", profile, "--default-action", "kill-process", "--"] + argv)
      try #require(rec.status == 0, "record: \(rec.stderr)")
      #expect(rec.stdout == expected)
      for i in 0..<replays {
        let o = run(syscageExecutable, ["run", "--profile", profile, "--"] + argv, timeout: 60)
        #expect(o.status == 0 && o.stdout == expected, "recording \(r) replay \(i): status \(o.status): \(o.stderr)")
      }
    }
  }

  /// A test program's source from Tests/Programs (record-stability runs the same files).
  static func program(_ name: String) -> String {
    (try? String(contentsOf: packageRoot.appendingPathComponent("Tests/Programs/\(name)"), encoding: .utf8)) ?? ""
  }

  static let goHello = program("hello.go")

  static let goHTTP = program("http.go")

  static let pythonPool = program("pool.py")

  // MARK: Detection

  @Test(.enabled(if: go != nil || isCI, Comment(rawValue: goReason)))
  func detectsGoFromTheBinary() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let hello = try buildGo(Self.goHello, named: "hello", in: dir)
    #expect(LanguageRuntime.detect(executable: hello) == [.go])
    // A stripped Go binary keeps .go.buildinfo and the build-id note.
    let stripped = dir.appendingPathComponent("stripped").path
    let strip = run("/usr/bin/strip", ["-o", stripped, hello])
    if strip.status == 0 { #expect(LanguageRuntime.detect(executable: stripped) == [.go]) }
    #expect(LanguageRuntime.detect(executable: "/bin/true").isEmpty)
    #expect(LanguageRuntime.detect(executable: "/etc/passwd").isEmpty)
    #expect(LanguageRuntime.detect(executable: dir.appendingPathComponent("missing").path).isEmpty)
    #expect(LanguageRuntime.arch(of: hello) == .x86_64)
  }

  /// DT_NEEDED and the dynamic symbols, read from ELF files cc links here: a program that
  /// needs a libjli.so (the JVM's launcher library), one that needs libnode.so, and one
  /// that exports Py_BytesMain (as Debian's python3, which has libpython built in).
  @Test func detectsRuntimesFromDynamicSection() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    func build(_ args: [String]) throws {
      let r = run("/usr/bin/cc", args)
      try #require(r.status == 0, "needs a C compiler (/usr/bin/cc): \(r.stderr)")
    }
    let lib = dir.appendingPathComponent("lib.c").path
    try Data("int runtime_hook(void) { return 1; }\n".utf8).write(to: URL(fileURLWithPath: lib))
    let main = dir.appendingPathComponent("main.c").path
    try Data("int runtime_hook(void);\nint main(void) { return runtime_hook() - 1; }\n".utf8).write(to: URL(fileURLWithPath: main))
    var found: [String: Set<LanguageRuntime>] = [:]
    for name in ["jli", "node"] {
      let so = dir.appendingPathComponent("lib\(name).so").path
      try build(["-shared", "-fPIC", "-o", so, lib])
      let exe = dir.appendingPathComponent("uses-\(name)").path
      try build(["-o", exe, main, "-L", dir.path, "-l\(name)"])
      found[name] = LanguageRuntime.detect(executable: exe)
    }
    #expect(found["jli"] == [.jvm])
    #expect(found["node"] == [.node])
    let py = dir.appendingPathComponent("py.c").path
    try Data("int Py_BytesMain(int c, char **v) { return 0; }\nint main(int c, char **v) { return Py_BytesMain(c, v); }\n".utf8)
      .write(to: URL(fileURLWithPath: py))
    let embedded = dir.appendingPathComponent("embedded").path
    try build(["-rdynamic", "-o", embedded, py])
    #expect(LanguageRuntime.detect(executable: embedded) == [.cpython])
    let plain = dir.appendingPathComponent("plain").path
    try build(["-o", plain, main, lib])
    #expect(LanguageRuntime.detect(executable: plain).isEmpty)
  }

  @Test(.enabled(if: hasPython || isCI, Comment(rawValue: pythonReason)))
  func detectsCPython() throws {
    let real = try FileManager.default.destinationOfSymbolicLink(atPath: Self.python)
    let path = real.hasPrefix("/") ? real : "/usr/bin/" + real
    #expect(LanguageRuntime.detect(executable: path).contains(.cpython))
  }

  // MARK: Profiles that hold

  @Test(.enabled(if: go != nil || isCI, Comment(rawValue: goReason)))
  func goHelloWorldProfileHolds() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let hello = try buildGo(Self.goHello, named: "hello", in: dir)
    let profile = dir.appendingPathComponent("once.json").path
    let rec = run(syscageExecutable, ["record", "-o", profile, "--default-action", "kill-process", "--", hello])
    try #require(rec.status == 0, "\(rec.stderr)")
    let entries = try entries(profile)
    let allowed = Set(entries.filter { $0["action"] as? String == "SCMP_ACT_ALLOW" }.flatMap { $0["names"] as? [String] ?? [] })
    #expect(allowed.isSuperset(of: ["tgkill", "getpid", "sched_yield", "nanosleep", "madvise"]))
    let goEntry = entries.first { (($0["comment"] as? String) ?? "").hasPrefix("Go runtime:") }
    // The Go entry holds the occasional calls this recording did not make (all of them
    // in one recording is rare, and then they are in the first entry).
    let first = Set(entries.first?["names"] as? [String] ?? [])
    #expect(goEntry != nil || first.isSuperset(of: LanguageRuntime.go.occasionalCalls), "no Go runtime entry: \(entries)")
    #expect(goEntry == nil || rec.stderr.contains("go runtime detected"))
    try recordAndReplay([hello], expected: "hello, world\n", in: dir)
  }

  @Test(.enabled(if: go != nil || isCI, Comment(rawValue: goReason)))
  func goHTTPServerProfileHolds() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let server = try buildGo(Self.goHTTP, named: "server", in: dir)
    try recordAndReplay([server], expected: "ok\n", in: dir)
  }

  @Test(.enabled(if: hasPython || isCI, Comment(rawValue: pythonReason)))
  func pythonPoolProfileHolds() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let script = dir.appendingPathComponent("pool.py").path
    try Data(Self.pythonPool.utf8).write(to: URL(fileURLWithPath: script))
    let profile = dir.appendingPathComponent("once.json").path
    let rec = run(syscageExecutable, ["record", "-o", profile, "--", Self.python, script])
    try #require(rec.status == 0, "\(rec.stderr)")
    // kill is allowed: in the CPython entry, or with the calls of the run when this
    // recording happened to make it.
    let all = try entries(profile)
    let kill = all.firstIndex { ($0["names"] as? [String] ?? []).contains("kill") }
    #expect(kill != nil, "\(all)")
    if let kill, kill > 0 {
      let comment = (all[kill]["comment"] as? String) ?? ""
      #expect(comment.hasPrefix("CPython multiprocessing"), "\(all[kill])")
    }
    try recordAndReplay([Self.python, script], expected: "328350\n", in: dir)
  }

  /// A Python program that starts no process gets no `kill`: the CPython entry needs a wait.
  @Test(.enabled(if: hasPython || isCI, Comment(rawValue: pythonReason)))
  func pythonWithoutChildrenGetsNoKill() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = dir.appendingPathComponent("p.json").path
    let rec = run(syscageExecutable, ["record", "-o", profile, "--", Self.python, "-c", "print(1)"])
    try #require(rec.status == 0, "\(rec.stderr)")
    #expect(!(try entries(profile)).contains { ($0["names"] as? [String] ?? []).contains("kill") })
  }

  @Test(.enabled(if: go != nil || isCI, Comment(rawValue: goReason)))
  func noRuntimesLeavesThemOut() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let hello = try buildGo(Self.goHello, named: "hello", in: dir)
    let profile = dir.appendingPathComponent("p.json").path
    let rec = run(syscageExecutable, ["record", "-o", profile, "--no-runtimes", "--", hello])
    try #require(rec.status == 0, "\(rec.stderr)")
    #expect(!(try entries(profile)).contains { (($0["comment"] as? String) ?? "").hasPrefix("Go runtime") })
  }

  // MARK: --runs

  /// Each run bumps a counter file; odd runs call getppid: 2 of 3 runs make it.
  static let alternating = """
    #include <stdio.h>
    #include <unistd.h>
    int main(int argc, char **argv) {
      int n = 0;
      FILE *f = fopen(argv[1], "r");
      if (f) { if (fscanf(f, "%d", &n) != 1) n = 0; fclose(f); }
      n++;
      f = fopen(argv[1], "w");
      fprintf(f, "%d\\n", n);
      fclose(f);
      if (n % 2 == 1) getppid();
      return 0;
    }
    """

  @Test func runsGiveTheUnionAndCounts() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let exe = try compile(Self.alternating, named: "alternating", in: dir)
    let counter = dir.appendingPathComponent("counter").path
    let profile = dir.appendingPathComponent("p.json").path
    // --for none: getppid is among runc's calls, which a profile for runc allows in every run.
    let r = run(syscageExecutable, ["record", "-o", profile, "--runs", "3", "-c", "--json", "--for", "none", "--", exe, counter])
    try #require(r.status == 0, "\(r.stderr)")
    #expect((try? String(contentsOfFile: counter, encoding: .utf8)) == "3\n")
    let entries = try entries(profile)
    let marked = entries.first { ($0["names"] as? [String] ?? []).contains("getppid") }
    #expect(marked?["comment"] as? String == "seen in 2 of 3 recorded runs", "\(entries)")
    #expect(marked?["names"] as? [String] == ["getppid"])
    let stats = try #require(statistics(r.stderr))
    #expect(stats["runs"] as? Int == 3)
    let calls = (stats["arches"] as? [String: [String: Any]])?["x86_64"]
    #expect((calls?["getppid"] as? [String: Any])?["runs"] as? Int == 2)
    #expect((calls?["getppid"] as? [String: Any])?["calls"] as? Int == 2)
    #expect((calls?["execve"] as? [String: Any])?["runs"] as? Int == 3)
    #expect((stats["occasional"] as? [String: Int])?["getppid"] == 2)
    // The -c table has a runs column.
    let row = r.stderr.split(separator: "\n").first { $0.hasSuffix(" getppid") }
    #expect(row?.contains(" 2/3 ") == true, "\(r.stderr)")
    #expect(r.stderr.contains("calls seen in some runs only: getppid 2/3"))
  }

  @Test func runsUsageErrors() {
    #expect(run(syscageExecutable, ["record", "-o", "/tmp/x.json", "--runs", "0", "--", "/bin/true"]).status == 64)
    #expect(run(syscageExecutable, ["record", "-o", "/tmp/x.json", "--runs", "2", "-p", "1"]).status == 64)
    #expect(run(syscageExecutable, ["record", "-o", "/tmp/x.json", "--amend", "--", "/bin/true"]).status == 64)
  }
}
