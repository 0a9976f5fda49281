import Foundation
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// `convert --to oci-artifact`'s layout, built as bytes, and the SHA-256 it names blobs by.
@Suite struct OCIArtifactTests {
  /// `sha256sum` of `bytes`.
  static func sha256sum(_ bytes: [UInt8]) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-sha-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("in")
    try Data(bytes).write(to: file)
    let r = run("/usr/bin/sha256sum", [file.path])
    return String(r.stdout.prefix(64))
  }

  @Test func sha256AgreesWithSha256sum() throws {
    var rng = SplitMix64(seed: 256)
    var inputs: [[UInt8]] = [[], Array("abc".utf8), Array("{}".utf8)]
    // Lengths around the 64-byte block and its 56-byte padding boundary, and a large one.
    for n in [1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 70_000] {
      inputs.append((0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }
    for bytes in inputs {
      #expect(SHA256.hex(bytes) == (try Self.sha256sum(bytes)), "\(bytes.count) bytes")
    }
    #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
  }

  @Test func layoutNamesEveryBlobByItsDigest() throws {
    let profile = Profile(defaultAction: .errno, architectures: [.x86_64], syscalls: [SyscallEntry(names: ["read", "write"], action: .allow)])
    let json = Array(profile.encode(format: .oci).utf8)
    let layout = OCIArtifactLayout(json: json, profile: profile)
    #expect(layout.warnings.isEmpty)
    #expect(Set(layout.files.map(\.path)).isSuperset(of: ["index.json", "oci-layout"]))
    for f in layout.files where f.path.hasPrefix("blobs/sha256/") {
      #expect(f.path == "blobs/sha256/" + SHA256.hex(f.bytes))
    }
    func object(_ path: String) throws -> [String: Any] {
      let f = try #require(layout.files.first { $0.path == path })
      return try #require(try JSONSerialization.jsonObject(with: Data(f.bytes)) as? [String: Any])
    }
    let index = try object("index.json")
    let entry = try #require((index["manifests"] as? [[String: Any]])?.first)
    let digest = try #require(entry["digest"] as? String)
    #expect(digest == layout.manifestDigest)
    #expect(entry["artifactType"] as? String == "application/vnd.cncf.seccomp-profile.config.v1+json")
    let manifest = try object("blobs/sha256/" + digest.dropFirst(7))
    #expect(entry["size"] as? Int == layout.files.first { $0.path.hasSuffix(digest.dropFirst(7)) }?.bytes.count)
    #expect(manifest["mediaType"] as? String == "application/vnd.oci.image.manifest.v1+json")
    let config = try #require(manifest["config"] as? [String: Any])
    #expect(config["mediaType"] as? String == OCIArtifactLayout.mediaType && config["size"] as? Int == 2)
    let layers = try #require(manifest["layers"] as? [[String: Any]])
    #expect(layers.count == 1)
    #expect(layers[0]["mediaType"] as? String == "application/json" && layers[0]["size"] as? Int == json.count)
    #expect(layers[0]["digest"] as? String == "sha256:" + SHA256.hex(json))
    #expect((layers[0]["annotations"] as? [String: String])?["org.opencontainers.image.title"] == "profile.json")
    #expect(try object("oci-layout")["imageLayoutVersion"] as? String == "1.0.0")
  }

  @Test func warnsAtTheRuntimesLimits() {
    let many = (0..<129).map { i in SyscallEntry(names: ["read"], action: .allow, args: [ArgumentCondition(index: 0, value: UInt64(i), op: .equal)]) }
    var p = Profile(defaultAction: .errno, syscalls: many)
    #expect(OCIArtifactLayout(json: [], profile: p).warnings.contains { $0.contains("129 syscall entries") })
    p.syscalls = Array(many.prefix(128))
    #expect(OCIArtifactLayout(json: [], profile: p).warnings.isEmpty)
    #expect(OCIArtifactLayout(json: [UInt8](repeating: 32, count: (1 << 20) + 1), profile: p).warnings.contains { $0.contains("1 MiB") })
    #expect(OCIArtifactLayout(json: [UInt8](repeating: 32, count: 1 << 20), profile: p).warnings.isEmpty)
    p.syscalls = [SyscallEntry(names: ["getppid"], action: .notify)]
    p.listenerPath = "/run/agent.sock"
    let w = OCIArtifactLayout(json: [], profile: p).warnings
    #expect(w.contains { $0.contains("syscalls[0]") && $0.contains("SCMP_ACT_NOTIFY") })
    #expect(w.contains { $0.contains("listenerPath") })
  }
}
