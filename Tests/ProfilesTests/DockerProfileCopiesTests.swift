import Foundation
import Profiles
import Testing
import TestSupport

/// Docker's default profile has one source, `Data/docker-default.json`: the test fixture
/// is a link to it and the embedded copy is generated from it.
@Suite struct DockerProfileCopiesTests {
  static let data = packageRoot.appendingPathComponent("Data/docker-default.json")

  @Test func theFixtureIsTheDataFile() throws {
    let fixture = packageRoot.appendingPathComponent("Tests/ProfilesTests/Fixtures/docker-default.json")
    #expect(fixture.resolvingSymlinksInPath().path == Self.data.resolvingSymlinksInPath().path)
    #expect(try Data(contentsOf: fixture) == Data(contentsOf: Self.data))
  }

  @Test func theEmbeddedCopyIsTheDataFile() throws {
    let bytes = [UInt8](try Data(contentsOf: Self.data))
    #expect(Array(Profile.dockerDefaultJSON.utf8) == bytes)
  }
}
