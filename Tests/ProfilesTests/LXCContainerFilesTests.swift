import Foundation
import Host
import Testing

/// Where `install --lxc` finds a container's configuration and puts its policy (Host).
@Suite struct LXCContainerFilesTests {
  @Test func theContainersFiles() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-lxcpath-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let place = LXCContainerFiles(lxcpath: root, container: "web")
    #expect(place.configPath == root + "/web/config" && place.policyPath == root + "/web/syscage.seccomp")
    #expect(LXCContainerFiles(container: "web").configPath == "/var/lib/lxc/web/config")
    #expect(throws: LXCContainerFiles.Problem.noConfig(path: place.configPath)) { try place.readConfig() }
    try FileManager.default.createDirectory(atPath: root + "/web", withIntermediateDirectories: true)
    try Data([0x6c, 0x78, 0x63, 0xff, 0xfe]).write(to: URL(fileURLWithPath: place.configPath))
    #expect(throws: LXCContainerFiles.Problem.notText(path: place.configPath)) { try place.readConfig() }
    try Data("lxc.uts.name = web\n".utf8).write(to: URL(fileURLWithPath: place.configPath))
    #expect(try place.readConfig() == "lxc.uts.name = web\n")
  }

  @Test func aContainerName() {
    for good in ["web", "a.b", "x-1"] { #expect(LXCContainerFiles.isValidName(good), "\(good)") }
    for bad in ["", ".", "..", "a/b", "a\0b"] { #expect(!LXCContainerFiles.isValidName(bad), "\(bad)") }
  }
}
