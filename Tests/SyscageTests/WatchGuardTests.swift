import Foundation
import TestSupport
import Testing

/// `syscage watch` dies (kill -9 and other ways): nothing of the program's tree outlives it
/// (README, "If syscage itself dies"). The program's parent is a guard process, the tree's
/// subreaper, that kills the tree when syscage is gone.
@Suite(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)), .serialized)
struct WatchGuardTests {
  init() throws {
    try #require(Peer.root.isAvailable, Comment(rawValue: Peer.root.skipReason))
  }

  static let modes = ["alert", "deny", "kill"]

  /// Whether `pid`'s parent becomes `parent` within 10 s (its own parent exits first).
  func reparented(_ pid: pid_t, to parent: pid_t) -> Bool {
    for _ in 0..<1000 {
      if processStat(pid)?.ppid == parent { return true }
      usleep(10000)
    }
    return false
  }

  func comm(_ pid: pid_t) -> String? {
    (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines)
  }

  /// A program that starts a background child and a daemon (a new session, its parent
  /// gone: reparented), writes the three pids, then waits.
  static func treeScript(_ dir: URL) -> String {
    let d = dir.path
    return """
      sleep 300 >/dev/null 2>&1 & echo $! > \(d)/bg.tmp && mv \(d)/bg.tmp \(d)/bg
      setsid -f sh -c 'sleep 300 >/dev/null 2>&1 & echo $! > \(d)/daemon.tmp && mv \(d)/daemon.tmp \(d)/daemon' </dev/null >/dev/null 2>&1
      echo $$ > \(d)/program.tmp && mv \(d)/program.tmp \(d)/program
      wait
      """
  }

  struct Tree {
    var program: pid_t
    var background: pid_t
    var daemon: pid_t
    var all: [pid_t] { [program, background, daemon] }
  }

  /// The pids `treeScript` wrote in `dir`; when they are not there, `watch` is killed and
  /// reaped before the error is thrown.
  func readTree(_ dir: URL, of watch: pid_t) throws -> Tree {
    do {
      let program = try #require(readPid(dir.appendingPathComponent("program").path), "the program did not start")
      let background = try #require(readPid(dir.appendingPathComponent("bg").path))
      let daemon = try #require(readPid(dir.appendingPathComponent("daemon").path))
      return Tree(program: program, background: background, daemon: daemon)
    } catch {
      kill(watch, SIGKILL)
      _ = waitExit(watch)
      throw error
    }
  }

  @Test func everyProcessOfTheTreeDiesWithAKilledWatchInEveryMode() throws {
    for mode in Self.modes {
      let dir = try Containers.temporaryDirectory("syscage-guard")
      defer { try? FileManager.default.removeItem(at: dir) }
      let p = try writeFile(WatchCommandTests.profileText, "p.json", in: dir)
      let watch = spawnSyscage(["watch", "--profile", p, "--on-violation", mode, "--", "sh", "-c", Self.treeScript(dir)], newProcessGroup: true)
      try #require(watch > 0)
      let tree = try readTree(dir, of: watch)
      defer { for pid in tree.all { kill(pid, SIGKILL) } }
      // The daemon really left: another session, reparented to the subreaper of the tree,
      // which is the program's parent, a child of syscage.
      let guardPid = try #require(processStat(tree.program)?.ppid)
      #expect(processStat(guardPid)?.ppid == watch, "\(mode)")
      #expect(comm(guardPid) == "syscage-guard", "\(mode)")
      #expect(getsid(tree.daemon) != getsid(tree.program), "\(mode)")
      #expect(reparented(tree.daemon, to: guardPid), "\(mode): the daemon's parent is \(processStat(tree.daemon)?.ppid ?? 0)")
      kill(watch, SIGKILL)
      #expect(waitExit(watch) == 128 + SIGKILL)
      for (name, pid) in [("program", tree.program), ("background child", tree.background), ("daemon", tree.daemon)] {
        #expect(ends(pid), "\(mode): the \(name) \(pid) outlived its watch")
      }
      #expect(ends(guardPid), "\(mode): the guard \(guardPid) outlived its work")
    }
  }

  @Test func aProcessStartedAfterTheProgramExitedDiesWithTheWatch() throws {
    for mode in Self.modes {
      let dir = try Containers.temporaryDirectory("syscage-guard")
      defer { try? FileManager.default.removeItem(at: dir) }
      let p = try writeFile(WatchCommandTests.profileText, "p.json", in: dir)
      let d = dir.path
      // The program exits at once; its background shell starts a sleep once told to.
      let script = """
        sh -c 'echo $$ > \(d)/sub.tmp && mv \(d)/sub.tmp \(d)/sub; while [ ! -e \(d)/go ]; do sleep 0.05; done; \
        sleep 300 >/dev/null 2>&1 & echo $! > \(d)/late.tmp && mv \(d)/late.tmp \(d)/late; wait' >/dev/null 2>&1 &
        echo $$ > \(d)/program.tmp && mv \(d)/program.tmp \(d)/program
        exit 0
        """
      let watch = spawnSyscage(["watch", "--profile", p, "--on-violation", mode, "--", "sh", "-c", script], newProcessGroup: true)
      try #require(watch > 0)
      guard let program = readPid(dir.appendingPathComponent("program").path),
        let sub = readPid(dir.appendingPathComponent("sub").path)
      else {
        kill(watch, SIGKILL)
        _ = waitExit(watch)
        Issue.record("\(mode): the program did not start")
        continue
      }
      defer { kill(sub, SIGKILL) }
      #expect(ends(program), "\(mode): the program did not exit")
      #expect(isAlive(watch), "\(mode): the watch ended while a descendant runs")
      try Data().write(to: URL(fileURLWithPath: dir.appendingPathComponent("go").path))
      let late = try #require(readPid(dir.appendingPathComponent("late").path), "\(mode)")
      defer { kill(late, SIGKILL) }
      #expect(isAlive(late))
      kill(watch, SIGKILL)
      #expect(waitExit(watch) == 128 + SIGKILL)
      #expect(ends(sub), "\(mode): the shell that outlived the program outlived its watch")
      #expect(ends(late), "\(mode): the process started after the program's end outlived its watch")
    }
  }

  @Test func aKillOfTheProgramsProcessGroupDoesNotSpareTheDaemon() throws {
    // `kill -9 0` in the program kills its group: syscage, the program, the background child.
    // The guard is in a group of its own; it kills the daemon, in another session.
    let dir = try Containers.temporaryDirectory("syscage-guard")
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try writeFile(WatchCommandTests.profileText, "p.json", in: dir)
    let marker = dir.appendingPathComponent("killed-group").path
    let script = Self.treeScript(dir).replacingOccurrences(of: "\nwait", with: "\nwhile [ ! -e \(marker) ]; do sleep 0.05; done; kill -9 0")
    let watch = spawnSyscage(["watch", "--profile", p, "--on-violation", "deny", "--", "sh", "-c", script], newProcessGroup: true)
    try #require(watch > 0)
    let tree = try readTree(dir, of: watch)
    defer { for pid in tree.all { kill(pid, SIGKILL) } }
    try Data().write(to: URL(fileURLWithPath: marker))
    #expect(waitExit(watch) == 128 + SIGKILL)
    for pid in tree.all { #expect(ends(pid), "\(pid) outlived the kill of its watch's group") }
  }

  @Test func aKilledGuardTakesTheTreeWithIt() throws {
    for mode in Self.modes {
      let dir = try Containers.temporaryDirectory("syscage-guard")
      defer { try? FileManager.default.removeItem(at: dir) }
      let p = try writeFile(WatchCommandTests.profileText, "p.json", in: dir)
      let err = dir.appendingPathComponent("stderr").path
      let watch = spawnSyscage(["watch", "--profile", p, "--on-violation", mode, "--", "sh", "-c", Self.treeScript(dir)], stderr: err, newProcessGroup: true)
      try #require(watch > 0)
      let tree = try readTree(dir, of: watch)
      defer { for pid in tree.all { kill(pid, SIGKILL) } }
      let guardPid = try #require(processStat(tree.program)?.ppid)
      try #require(guardPid != watch, "\(mode): the program's parent is syscage itself")
      kill(guardPid, SIGKILL)
      // The program dies with its parent; syscage kills the rest, which came to it, and ends.
      #expect(waitExit(watch) == 128 + SIGKILL, "\(mode)")
      for pid in tree.all { #expect(ends(pid), "\(mode): \(pid) outlived the guard") }
      let text = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
      #expect(text.contains("the guard process (the program's parent) was killed; the program's tree was killed with it"), "\(mode): \(text)")
    }
  }

  @Test func aSecondSignalKillsWhatOutlivedTheProgramInDenyAndKillMode() throws {
    for mode in ["deny", "kill"] {
      let dir = try Containers.temporaryDirectory("syscage-guard")
      defer { try? FileManager.default.removeItem(at: dir) }
      let p = try writeFile(WatchCommandTests.profileText, "p.json", in: dir)
      let bg = dir.appendingPathComponent("bg").path
      let err = dir.appendingPathComponent("stderr").path
      // It ignores SIGTERM: the first signal does not end it, the second kills it.
      let watch = spawnSyscage(
        ["watch", "--profile", p, "--on-violation", mode, "--", "sh", "-c", "(trap '' TERM; exec sleep 30) & echo $! > \(bg); exit 0"],
        stderr: err, newProcessGroup: true)
      try #require(watch > 0)
      let stubborn = try #require(readPid(bg))
      defer { kill(stubborn, SIGKILL) }
      usleep(300_000)
      #expect(kill(watch, SIGTERM) == 0)
      usleep(300_000)
      #expect(isAlive(watch), "\(mode): one signal stopped the watch")
      #expect(isAlive(stubborn), "\(mode)")
      #expect(kill(watch, SIGTERM) == 0)
      #expect(waitExit(watch) == 0, "\(mode)")
      #expect(ends(stubborn, within: 2), "\(mode): the process the watch stopped watching runs on")
      let text = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
      #expect(text.contains("killed 1 process still under the filter (signalled twice; --on-violation \(mode) leaves none unwatched)"), "\(mode): \(text)")
      #expect(!text.contains("stopped watching"), "\(mode): \(text)")
    }
  }
}
