import Foundation
import Testing
import TestSupport

/// A profile with no defaultAction and no syscalls disables seccomp (moby loads no filter
/// for it). Commands that wrap a program refuse it unless `--unconfined`; compile and
/// convert to a filter format refuse it alike (65); convert --to docker writes it back.
@Suite struct DisabledProfileTests {
  func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-disabled-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  /// `{}` and a profile whose keys are misspelled.
  func profiles(in dir: URL) throws -> (empty: String, misspelled: String) {
    let empty = dir.appendingPathComponent("empty.json").path
    try Data("{}".utf8).write(to: URL(fileURLWithPath: empty))
    let misspelled = dir.appendingPathComponent("typo.json").path
    try Data(#"{"defualtAction": "SCMP_ACT_ERRNO", "syscals": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#.utf8)
      .write(to: URL(fileURLWithPath: misspelled))
    return (empty, misspelled)
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func wrappingCommandsRefuseItUnlessUnconfined() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (empty, misspelled) = try profiles(in: dir)
    for command in ["run", "watch"] {
      let refused = run(syscageExecutable, [command, "--profile", misspelled, "--", "/bin/echo", "ran"])
      #expect(refused.status == 125, "\(command): \(refused.stderr)")
      #expect(refused.stdout.isEmpty, "\(command) ran the program")
      #expect(refused.stderr.contains("disables seccomp") && refused.stderr.contains("--unconfined"), "\(refused.stderr)")
      #expect(refused.stderr.contains(#"misspelled? "defualtAction", "syscals""#), "\(refused.stderr)")
      let plain = run(syscageExecutable, [command, "--profile", empty, "--", "/bin/echo", "ran"])
      #expect(plain.status == 125 && !plain.stderr.contains("misspelled"), "\(command): \(plain.stderr)")
      let allowed = run(syscageExecutable, [command, "--unconfined", "--profile", empty, "--", "/bin/echo", "ran"])
      #expect(allowed.status == 0 && allowed.stdout == "ran\n", "\(command): \(allowed.stderr)")
      #expect(allowed.stderr.contains("warning") && allowed.stderr.contains("disables seccomp"), "\(allowed.stderr)")
    }
    let record = run(syscageExecutable, ["record", "--baseline", empty, "-o", dir.appendingPathComponent("r.json").path, "--", "/bin/true"])
    #expect(record.status == 65 && record.stderr.contains("disables seccomp"), "\(record.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("r.json").path))
  }

  @Test func compileAndConvertAgree() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (empty, misspelled) = try profiles(in: dir)
    for path in [empty, misspelled] {
      let bpf = dir.appendingPathComponent("out.bpf").path
      let compile = run(syscageExecutable, ["compile", path, "-o", bpf])
      let convert = run(syscageExecutable, ["convert", path, "--to", "oci", "-o", dir.appendingPathComponent("out.json").path])
      #expect(compile.status == 65 && convert.status == 65, "\(compile.stderr) \(convert.stderr)")
      let message = { (r: ProcessResult) in r.stderr.split(separator: "\n").last { $0.contains("disables seccomp") }.map(String.init) }
      #expect(message(compile) != nil && message(compile) == message(convert), "\(compile.stderr) / \(convert.stderr)")
      #expect(!FileManager.default.fileExists(atPath: bpf), "compile wrote an allow-all filter")
      let docker = run(syscageExecutable, ["convert", path, "--to", "docker", "-o", "-"])
      #expect(docker.status == 0 && docker.stderr.contains("warning") && docker.stderr.contains("written back unchanged"), "\(docker.stderr)")
    }
  }
}
