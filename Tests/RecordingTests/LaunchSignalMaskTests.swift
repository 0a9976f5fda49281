import Foundation
import Testing
import TestSupport

/// While `record` (and `run`) trace a program, only the launching thread can take the
/// signals syscage forwards: a terminal's Ctrl-C is then handled while the forwarding
/// handler is installed, never later by a waiting thread after it is gone (which killed
/// syscage with SIGINT before the profile was written when that thread ran late).
@Suite struct LaunchSignalMaskTests {
  static func blockedMask(_ pid: pid_t, _ tid: String) -> UInt64? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/status", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") })
    else { return nil }
    return UInt64(line.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16)
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)), arguments: ["record", "run"])
  func onlyTheLaunchingThreadTakesForwardedSignals(_ command: String) throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
    let dir = try Containers.temporaryDirectory("syscage-signalmask")
    defer { try? FileManager.default.removeItem(at: dir) }
    let marker = dir.appendingPathComponent("started").path
    let script = "echo $$ > \(marker); exec sleep 3"
    let arguments =
      command == "record"
      ? ["record", "-o", dir.appendingPathComponent("p.json").path, "--", "/bin/sh", "-c", script]
      : ["run", "--profile", packageRoot.appendingPathComponent("Data/docker-default.json").path, "--", "/bin/sh", "-c", script]
    let pid = spawnSyscage(arguments)
    defer {
      kill(pid, SIGKILL)
      var status: Int32 = 0
      waitpid(pid, &status, 0)
    }
    let program = try #require(readPid(marker), "the program did not start")
    defer { kill(program, SIGKILL) }
    let tids = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
    let forwarded: [Int32] = [SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2]
    let bits = forwarded.reduce(UInt64(0)) { $0 | 1 << UInt64($1 - 1) }
    let masks = tids.compactMap { Self.blockedMask(pid, $0) }
    #expect(masks.count == tids.count && tids.count >= 2, "threads \(tids)")
    // One thread (the launcher's) takes them all; every other thread blocks them all.
    #expect(masks.filter { $0 & bits == 0 }.count == 1, "SigBlk per thread: \(masks.map { String($0, radix: 16) })")
    #expect(masks.filter { $0 & bits == bits }.count == masks.count - 1, "SigBlk per thread: \(masks.map { String($0, radix: 16) })")
  }
}
