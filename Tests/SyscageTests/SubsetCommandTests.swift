import Foundation
import Testing
import TestSupport

/// `syscage diff --subset` and `convert --to oci-artifact` as a user meets them.
@Suite struct SubsetCommandTests {
  static let docker = packageRoot.appendingPathComponent("Data/docker-default.json").path

  func syscage(_ args: [String]) -> ProcessResult { run(syscageExecutable, args + ["--kernel", "6.18"]) }

  func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-subset-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  @Test(.enabled(if: Containers.busybox != nil, "busybox-static is not installed"))
  func aRecordedAllowListIsASubsetOfDockersDefaultUntilItAllowsSocket() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    // With --args: clone's namespace flags are recorded as rules (Docker's default refuses new namespaces).
    let (recorded, _) = try EngineCases.recordAllowList(into: dir, extra: ["--args"])
    let r = syscage(["diff", "--subset", Self.docker, recorded])
    #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    #expect(r.stdout.hasPrefix("proved: "), "\(r.stdout)")
    // The same recording with socket allowed unconditionally: AF_VSOCK (and AF_ALG) get through.
    let data = try Data(contentsOf: URL(fileURLWithPath: recorded))
    var profile = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    var entries = try #require(profile["syscalls"] as? [[String: Any]])
    entries.append(["names": ["socket"], "action": "SCMP_ACT_ALLOW"])
    profile["syscalls"] = entries
    let withSocket = dir.appendingPathComponent("with-socket.json").path
    try JSONSerialization.data(withJSONObject: profile).write(to: URL(fileURLWithPath: withSocket))
    let n = syscage(["diff", "--subset", Self.docker, withSocket])
    #expect(n.status == 1, "\(n.stdout)\(n.stderr)")
    #expect(n.stdout.hasPrefix("not a subset: x86_64: socket("), "\(n.stdout)")
    #expect(n.stdout.contains("socket(AF_VSOCK): \(withSocket) gives ALLOW, \(Self.docker) gives ERRNO(1)"), "\(n.stdout)")
    #expect(n.stdout.contains("call: nr 41"))
    let j = syscage(["diff", "--subset", Self.docker, withSocket, "--json"])
    #expect(j.status == 1)
    let obj = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
    #expect(obj["proved"] as? Bool == false && (obj["differingRegions"] as? Int ?? 0) >= 2)
    let ce = try #require(obj["counterexample"] as? [String: Any])
    #expect(ce["arch"] as? String == "x86_64" && ce["syscall"] as? String == "socket" && ce["candidate"] as? String == "ALLOW")
    #expect((ce["args"] as? [Int])?.count == 6)
    #expect((obj["sameSyscall"] as? [[String: Any]])?.contains { $0["call"] as? String == "socket(AF_VSOCK)" } == true, "\(j.stdout)")
    // The other way round: Docker's default is not within the recording.
    #expect(syscage(["diff", "--subset", recorded, Self.docker]).status == 1)
    #expect(syscage(["diff", "--subset", Self.docker, Self.docker, "--json"]).stdout.contains(#""proved":true"#))
  }

  @Test func subsetRefusesContradictoryOptions() {
    #expect(syscage(["diff", "--subset", Self.docker, Self.docker, "--no-enosys-stub"]).status == 64)
  }

  /// skopeo, a real consumer of OCI layouts, reads the artifact, checks every digest while
  /// copying it, and hands back the profile `convert --to oci` writes.
  @Test(.enabled(if: Peer.skopeo.shouldRun, Comment(rawValue: Peer.skopeo.skipReason)))
  func skopeoReadsAndCopiesTheArtifact() throws {
    try #require(Peer.skopeo.isAvailable, Comment(rawValue: Peer.skopeo.skipReason))
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("artifact").path
    let r = syscage(["convert", Self.docker, "--to", "oci-artifact", "-o", out])
    try #require(r.status == 0, "\(r.stderr)")
    let raw = run("/usr/bin/skopeo", ["inspect", "--raw", "oci:\(out):latest"])
    try #require(raw.status == 0, "\(raw.stderr)")
    let manifest = try #require(try JSONSerialization.jsonObject(with: Data(raw.stdout.utf8)) as? [String: Any])
    #expect(manifest["artifactType"] as? String == "application/vnd.cncf.seccomp-profile.config.v1+json")
    #expect((manifest["config"] as? [String: Any])?["mediaType"] as? String == "application/vnd.cncf.seccomp-profile.config.v1+json")
    let layers = try #require(manifest["layers"] as? [[String: Any]])
    try #require(layers.count == 1)
    let layerDigest = try #require((layers[0]["digest"] as? String)?.dropFirst(7))

    let copy = dir.appendingPathComponent("copy").path
    let c = run("/usr/bin/skopeo", ["copy", "oci:\(out):latest", "dir:\(copy)"])
    #expect(c.status == 0, "\(c.stderr)")
    let profile = try String(contentsOfFile: copy + "/" + layerDigest, encoding: .utf8)
    #expect(profile == syscage(["convert", Self.docker, "--to", "oci"]).stdout)

    // A blob changed after the fact is caught by the consumer.
    let blob = out + "/blobs/sha256/" + layerDigest
    try Data((profile + " ").utf8).write(to: URL(fileURLWithPath: blob))
    let bad = run("/usr/bin/skopeo", ["copy", "oci:\(out):latest", "dir:" + dir.appendingPathComponent("bad").path])
    #expect(bad.status != 0, "skopeo copied a layout whose layer does not match its digest")
  }

  @Test func ociArtifactWritesALayoutIntoANewOrEmptyDirectoryOnly() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("artifact").path
    let r = syscage(["convert", Self.docker, "--to", "oci-artifact", "-o", out])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("application/vnd.cncf.seccomp-profile.config.v1+json"))
    let index = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/index.json"))) as? [String: Any])
    let digest = try #require(((index["manifests"] as? [[String: Any]])?.first?["digest"] as? String)?.dropFirst(7))
    let blobs = try FileManager.default.contentsOfDirectory(atPath: out + "/blobs/sha256")
    #expect(blobs.count == 3 && blobs.contains(String(digest)))
    // Every blob is named by its sha256sum.
    for b in blobs {
      let sum = run("/usr/bin/sha256sum", [out + "/blobs/sha256/" + b]).stdout.prefix(64)
      #expect(String(sum) == b)
    }
    // The layer is the OCI profile convert --to oci writes.
    let oci = syscage(["convert", Self.docker, "--to", "oci"]).stdout
    #expect(blobs.contains(where: { (try? String(contentsOfFile: out + "/blobs/sha256/" + $0, encoding: .utf8)) == oci }))
    // An existing layout (or anything else) is never replaced.
    let before = try Data(contentsOf: URL(fileURLWithPath: out + "/index.json"))
    let again = syscage(["convert", Self.docker, "--to", "oci-artifact", "-o", out])
    #expect(again.status == 73, "\(again.stderr)")
    #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/index.json")) == before)
    #expect(syscage(["convert", Self.docker, "--to", "oci-artifact"]).status == 64)
    // Docker's default has more than 128 entries? It has fewer; a profile with 129 is warned about.
    let many = (0..<129).map { #"{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": \#($0), "op": "SCMP_CMP_EQ"}]}"# }
    let big = dir.appendingPathComponent("many.json").path
    try Data(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [\#(many.joined(separator: ","))]}"#.utf8).write(to: URL(fileURLWithPath: big))
    let w = syscage(["convert", big, "--to", "oci-artifact", "-o", dir.appendingPathComponent("many").path, "--for", "none"])
    #expect(w.status == 0 && w.stderr.contains("129 syscall entries"), "\(w.stderr)")
  }
}
