import Processes
import Recording
import Testing
@testable import SyscageCommands

/// The command line alone turns record's failures into exit statuses.
@Suite struct RecordExitStatusTests {
  @Test func eachKindOfFailureHasItsStatus() {
    #expect(RecordCommand.exitStatus(.usage) == 64)
    #expect(RecordCommand.exitStatus(.badInput) == 65)
    #expect(RecordCommand.exitStatus(.commandNotFound) == 127)
    #expect(RecordCommand.exitStatus(.failed) == 125)
    #expect(RecordCommand.exitStatus(.launch(Launcher.Failure(step: .exec, errno: .noSuchFileOrDirectory))) == 127)
    #expect(RecordCommand.exitStatus(.launch(Launcher.Failure(step: .exec, errno: .permissionDenied))) == 126)
    #expect(RecordCommand.exitStatus(.launch(Launcher.Failure(step: .filter, errno: .invalidArgument))) == 125)
  }
}
