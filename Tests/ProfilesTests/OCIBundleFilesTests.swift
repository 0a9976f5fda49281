import Foundation
import Host
import Testing

/// Finding and reading an OCI bundle's config.json (Host): what `convert --bundle` reads.
@Suite struct OCIBundleFilesTests {
  @Test func aBundleIsADirectoryWithConfigJSON() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-bundle-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let config = dir + "/config.json"
    #expect(throws: OCIBundleFiles.Problem.noConfig(path: config)) { try OCIBundleFiles(bundle: dir) }
    #expect(throws: OCIBundleFiles.Problem.notADirectory(bundle: dir + "/nope")) { try OCIBundleFiles(bundle: dir + "/nope") }
    #expect(throws: OCIBundleFiles.Problem.unreadable(path: config)) { try OCIBundleFiles.readConfig(of: dir) }
    try Data(#"{"ociVersion": "1.0.2"}"#.utf8).write(to: URL(fileURLWithPath: config))
    #expect(throws: OCIBundleFiles.Problem.notADirectory(bundle: config)) { try OCIBundleFiles(bundle: config) }
    let bundle = try OCIBundleFiles(bundle: dir)
    #expect(bundle.configPath == config && OCIBundleFiles.configPath(of: dir) == config)
    #expect(try bundle.readConfig() == Array(#"{"ociVersion": "1.0.2"}"#.utf8))
  }
}
