import Foundation
import Host
import Profiles
import Seccomp
import Testing
import TestSupport

/// Every profile syscage writes compiles within the kernel's limit of 4096 instructions
/// on each ABI it lists: `record --args` collapses argument rules that cannot fit.
@Suite struct InstructionLimitTests {
  func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-limit-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  /// A program making `ioctl(-1, 0x10000 + i * stride, 0)` for i in 0..<argv[1].
  func ioctlProgram(in dir: URL) throws -> String? {
    let src = dir.appendingPathComponent("ioctls.c").path
    try Data(
      """
      #include <stdlib.h>
      #include <sys/ioctl.h>
      int main(int argc, char **argv) {
        long n = atol(argv[1]), stride = argc > 2 ? atol(argv[2]) : 1;
        for (long i = 0; i < n; i++) ioctl(-1, 0x10000 + i * stride, 0);
        return 0;
      }
      """.utf8
    ).write(to: URL(fileURLWithPath: src))
    let exe = dir.appendingPathComponent("ioctls").path
    let r = run("/usr/bin/cc", ["-O0", "-o", exe, src])
    guard r.status == 0 else {
      #expect(!isCI, "needs a C compiler (/usr/bin/cc): \(r.stderr)")
      return nil
    }
    return exe
  }

  /// Runs syscage under python3 and returns its result and the largest resident set of
  /// it and its children (getrusage RUSAGE_CHILDREN), in kB.
  func measured(_ args: [String]) -> (ProcessResult, Int) {
    let script = "import resource, subprocess, sys\nr = subprocess.run(sys.argv[1:])\nprint(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\nsys.exit(r.returncode)"
    let r = run("/usr/bin/python3", ["-c", script, syscageExecutable] + args, timeout: 300)
    return (r, Int(r.stdout.split(separator: "\n").last ?? "") ?? -1)
  }

  @Test(
    .enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)),
    arguments: [(10_000, 1), (100_000, 1), (2_040, 3)])
  func manyIoctlRequestsStillFit(count: Int, stride: Int) throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let exe = try ioctlProgram(in: dir) else { return }
    let out = dir.appendingPathComponent("p.json").path
    let (r, maxRSS) = measured(["record", "--args", "-o", out, "--", exe, String(count), String(stride)])
    print("record --args, \(count) distinct ioctl requests: max RSS \(maxRSS) kB")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("syscage: note: ioctl:") && r.stderr.contains("allowed whatever its arguments"), "\(r.stderr)")
    #expect(!r.stderr.contains("too long"), "\(r.stderr)")
    let profile = try Profile.load(path: out).profile
    let size = ProgramSize(profile: profile, kernel: .running)
    #expect(!size.lengths.isEmpty)
    #expect(size.fits, "\(size)")
    #expect(profile.syscalls?.contains { $0.names.contains("ioctl") && ($0.args ?? []).isEmpty && $0.action == .allow } == true)
    #expect(profile.syscalls?.contains { $0.names.contains("ioctl") && !($0.args ?? []).isEmpty } == false)
    #expect(maxRSS > 0 && maxRSS < 100_000, "max RSS \(maxRSS) kB")
    // The kernel loads it: the program runs under it.
    let again = run(syscageExecutable, ["run", "--profile", out, "--", exe, "10"])
    #expect(again.status == 0, "\(again.stderr)")
  }

  /// A few argument rules that fit stay rules.
  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func rulesThatFitStay() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    guard let exe = try ioctlProgram(in: dir) else { return }
    let out = dir.appendingPathComponent("p.json").path
    let r = run(syscageExecutable, ["record", "--args", "-o", out, "--", exe, "5", "2"])
    #expect(r.status == 0, "\(r.stderr)")
    let profile = try Profile.load(path: out).profile
    #expect(profile.syscalls?.filter { $0.names == ["ioctl"] && !($0.args ?? []).isEmpty }.count == 5)
    #expect(ProgramSize(profile: profile, kernel: .running).fits)
  }

  /// convert says when the profile it writes cannot be loaded, and still writes it.
  @Test func convertWarnsAboutTooLongFilters() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let rules = (0..<3000).map { i in
      #"{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": \#(0x10000 + 3 * i), "op": "SCMP_CMP_EQ"}]}"#
    }
    let path = dir.appendingPathComponent("long.json").path
    try Data(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [\#(rules.joined(separator: ","))]}"#.utf8)
      .write(to: URL(fileURLWithPath: path))
    #expect(!ProgramSize(profile: try Profile.load(path: path).profile, kernel: .running).fits)
    let out = dir.appendingPathComponent("out.json").path
    let convert = run(syscageExecutable, ["convert", path, "--to", "oci", "-o", out])
    #expect(convert.status == 0 && convert.stderr.contains("too long for the kernel to load"), "\(convert.stderr)")
    #expect(FileManager.default.fileExists(atPath: out))
  }
}
