import Foundation
import Processes
import Recording
import Syscalls
import Testing
import TestSupport

/// `Recorder.record` and `Recorder.attach` called in the test process, which has a child of
/// its own the whole time: the tracer's thread waits only for its own children and
/// tracees, so that child is neither reaped nor signalled, and the recording is what
/// `strace -f` sees.
@Suite struct InProcessRecorderTests {
  let helper = RecordCommandTests()

  /// A child of the test process, started before the recording: `sleep 30`.
  struct OtherChild {
    let process: Process
    var pid: Int32 { process.processIdentifier }

    init() throws {
      process = Process()
      process.executableURL = URL(fileURLWithPath: "/bin/sleep")
      process.arguments = ["30"]
      process.standardInput = FileHandle.nullDevice
      process.standardOutput = FileHandle.nullDevice
      process.standardError = FileHandle.nullDevice
      try startUnblocked(process)
    }

    /// Still running (sleeping, not stopped, not a zombie), no signal pending.
    func checkUntouched(_ context: String) {
      let stat = processStat(pid)
      #expect(stat?.state == "S", "\(context): the other child's state is \(String(describing: stat?.state))")
      let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
      for field in ["SigPnd", "ShdPnd"] {
        let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        #expect(line.hasSuffix("0000000000000000"), "\(context): \(line)")
      }
    }

    /// Kills it and checks that its owner (Foundation) reaps it: no one else did.
    func end() {
      kill(pid, SIGTERM)
      process.waitUntilExit()
      #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGTERM)
    }
  }

  func names(_ run: RecordedRun) -> Set<String> {
    Set(run.entries.filter { $0.arch == .x86_64 && $0.isKnown }.map(\.name))
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func recordsInProcessBesideAnotherChild() throws {
    try #require(Peer.root.isAvailable, "recording traces with ptrace and loads a seccomp filter")
    let dir = try helper.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let other = try OtherChild()
    defer { if other.process.isRunning { other.end() } }
    let command = ["/bin/sh", "-c", "echo recorded > /dev/null; ls / > /dev/null; exit 3"]
    let seen = Peer.strace.isAvailable || isCI ? helper.straceNames(command, in: dir) : nil
    for (label, timing, oneStop, cpus) in [
      ("one stop", false, true, CPUPlacement.auto), ("two stops with timing", true, false, .one),
      ("two stops", false, false, .all),
    ] {
      let started = Date()
      let recorded = try Recorder.record(
        executable: command[0], arguments: command, timing: timing, oneStop: oneStop, cpus: cpus)
      #expect(Date().timeIntervalSince(started) < 20, "\(label): the recording waited for the other child")
      #expect(recorded.termination == .exited(3), "\(label)")
      #expect(recorded.oneStop == oneStop, "\(label)")
      #expect(recorded.tracees >= 2, "\(label): sh and ls were traced: \(recorded.tracees)")
      let calls = names(recorded)
      for call in ["execve", "write", "wait4", "exit_group"] {
        #expect(calls.contains(call), "\(label): \(call) is not in \(calls.sorted())")
      }
      let execve = recorded.entries.first { $0.arch == .x86_64 && $0.name == "execve" }
      #expect(execve?.statistics.calls == 2, "\(label): sh's and ls's execve, not the launcher's calls")
      if timing {
        #expect(recorded.entries.contains { $0.statistics.nanoseconds > 0 }, "\(label): no time")
        #expect(recorded.entries.contains { $0.statistics.errors > 0 }, "\(label): no error")
      }
      if let seen {
        #expect(seen.contains("execve"), "strace's log was not understood")
        let missing = seen.subtracting(calls)
        #expect(missing.isEmpty, "\(label): strace saw \(missing.sorted()) that the recording lacks")
      }
      other.checkUntouched(label)
    }
    other.end()
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func attachesInProcessBesideAnotherChild() throws {
    try #require(Peer.root.isAvailable, "attaching needs CAP_SYS_PTRACE")
    let dir = try helper.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let other = try OtherChild()
    defer { if other.process.isRunning { other.end() } }
    let go = dir.appendingPathComponent("go").path
    let pidFile = dir.appendingPathComponent("pid").path
    // The target waits for the file `go`, then writes, runs ls and exits with 5. It is a
    // child of `parent` (a child of this process), which waits for it and exits with its
    // status: the tracer, in this process, must leave reaping it to its parent.
    let target = "while [ ! -e \(go) ]; do sleep 0.05; done; echo attached > /dev/null; ls / > /dev/null; exit 5"
    let parent = spawnUnblocked("/bin/sh", ["-c", "/bin/sh -c '\(target)' & echo $! > \(pidFile); wait $!"])
    try #require(parent > 0)
    defer { if processStat(parent) != nil { kill(parent, SIGKILL); _ = waitExit(parent, within: 5) } }
    let pid = try #require(readPid(pidFile), "the target did not start")
    defer { if isAlive(pid) { kill(pid, SIGKILL) } }
    nonisolated(unsafe) var recorded: Result<RecordedRun, Recorder.AttachFailure>? = nil
    let tracer = Thread { recorded = Result { () throws(Recorder.AttachFailure) in try Recorder.attach(pids: [pid]) } }
    tracer.start()
    // Released once the tracer holds the target (its TracerPid is the tracing thread's tid).
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline, (helper.tracerPid(pid) ?? 0) == 0 { usleep(10_000) }
    #expect((helper.tracerPid(pid) ?? 0) != 0, "the target was not attached")
    _ = FileManager.default.createFile(atPath: go, contents: nil)
    while Date() < deadline.addingTimeInterval(10), recorded == nil { usleep(10_000) }
    let run = try #require(try recorded?.get(), "the attached recording did not end")
    #expect(!run.detached)
    #expect(run.termination == .exited(5))
    #expect(run.pid == pid)
    let calls = names(run)
    for call in ["write", "wait4", "execve", "exit_group"] {
      #expect(calls.contains(call), "\(call) is not in \(calls.sorted())")
    }
    #expect(calls.contains("vfork") || calls.contains("clone"), "no fork in \(calls.sorted())")
    // The tracer took the exit report; the target's own parent still reaps it.
    #expect(waitExit(parent, within: 5) == 5)
    other.checkUntouched("attach")
    other.end()
  }

  @Test func attachingToNoProcessFailsWithESRCH() throws {
    let free = try RecordFeaturesTests().freePid()
    #expect(throws: Recorder.AttachFailure.self) { try Recorder.attach(pids: [free]) }
    do {
      _ = try Recorder.attach(pids: [free])
    } catch {
      #expect(error.errno == .noSuchProcess)
      #expect(error.pid == free)
      #expect(error.description == "no process \(free)")
    }
  }
}

extension RecordCommandTests {
  /// TracerPid of /proc/PID/status (nil when it cannot be read).
  func tracerPid(_ pid: Int32) -> Int32? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("TracerPid:") })
    else { return nil }
    return Int32(line.dropFirst(10).trimmingCharacters(in: .whitespaces))
  }
}
