import Foundation
import Profiles
import Seccomp
import TestSupport
import Testing

/// `syscage install`: a Localhost profile under a kubelet's seccomp root, and the
/// containers tools' default profile, proven with podman.
@Suite struct InstallCommandTests {
  func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-install-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  static let docker = packageRoot.appendingPathComponent("Data/docker-default.json").path

  @Test func kubeletInstallWritesWhatConvertWritesAndPrintsTheSnippet() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let root = dir.appendingPathComponent("seccomp").path
    let r = run(syscageExecutable, ["install", Self.docker, "--kubelet", "--root", root, "--name", "app", "--kernel", "6.18"])
    #expect(r.status == 0, "\(r.stderr)")
    let installed = root + "/profiles/app.json"
    #expect(r.stderr.contains("installed \(installed) (read back: the same bytes)"), "\(r.stderr)")
    #expect(
      r.stdout == "securityContext:\n  seccompProfile:\n    type: Localhost\n    localhostProfile: profiles/app.json\n", "\(r.stdout)")
    // The same file convert --to k8s-pod -o DIR writes.
    let k8s = dir.appendingPathComponent("k8s").path
    #expect(run(syscageExecutable, ["convert", Self.docker, "--to", "k8s-pod", "--name", "app", "--kernel", "6.18", "-o", k8s]).status == 0)
    #expect(FileManager.default.contents(atPath: installed) == FileManager.default.contents(atPath: k8s + "/profiles/app.json"))
    // A Pod pasting the snippet, read through the root, decides as the original.
    let pod = try writeFile(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  containers:\n  - name: app\n    image: busybox\n"
        + r.stdout.split(separator: "\n").map { "    \($0)\n" }.joined(), "pod.yaml", in: dir)
    for call in ["mount", "mkdir", "keyctl"] {
      let viaPod = run(syscageExecutable, ["check", pod, "--seccomp-root", root, "--kernel", "6.18", call])
      let direct = run(syscageExecutable, ["check", Self.docker, "--kernel", "6.18", call])
      #expect(viaPod.status == direct.status && viaPod.stdout == direct.stdout, "\(call): \(viaPod.stdout)\(viaPod.stderr)")
      #expect(viaPod.stderr.contains("Localhost profiles/app.json: read \(installed)"))
    }
    // Installing again replaces the file in place; the name comes from the input file.
    let again = run(syscageExecutable, ["install", Self.docker, "--kubelet", "--root", root + "/"])
    #expect(again.status == 0, "\(again.stderr)")
    #expect(FileManager.default.fileExists(atPath: root + "/profiles/docker-default.json"))
  }

  @Test func installRefusesWhatIsNotARegularFileAndBadInput() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let root = dir.appendingPathComponent("seccomp").path
    try FileManager.default.createDirectory(atPath: root + "/profiles", withIntermediateDirectories: true)
    #expect(mkfifo(root + "/profiles/app.json", 0o644) == 0)
    let fifo = run(syscageExecutable, ["install", Self.docker, "--kubelet", "--root", root, "--name", "app"])
    #expect(fifo.status == 73, "\(fifo.stderr)")
    #expect(fifo.stderr.contains("not a regular file"), "\(fifo.stderr)")
    // A link stays a link; its target gets the profile.
    let target = dir.appendingPathComponent("real.json").path
    try FileManager.default.createSymbolicLink(atPath: root + "/profiles/web.json", withDestinationPath: target)
    #expect(run(syscageExecutable, ["install", Self.docker, "--kubelet", "--root", root, "--name", "web"]).status == 0)
    #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/profiles/web.json")) == target)
    #expect(try Profile.decode(Array(Data(contentsOf: URL(fileURLWithPath: target))), file: target, format: .oci).profile.defaultAction == .errno)
    // Bad input: 65, nothing written; a missing root's parent: 73; usage: 64.
    let bad = try writeFile(#"{"defaultAction": "SCMP_ACT_NOPE"}"#, "bad.json", in: dir)
    #expect(run(syscageExecutable, ["install", bad, "--kubelet", "--root", root]).status == 65)
    #expect(!FileManager.default.fileExists(atPath: root + "/profiles/bad.json"))
    let noParent = run(syscageExecutable, ["install", Self.docker, "--kubelet", "--root", dir.path + "/no/such/root"])
    #expect(noParent.status == 73 && noParent.stderr.contains("--root names its seccomp root"), "\(noParent.stderr)")
    #expect(run(syscageExecutable, ["install", Self.docker]).status == 64)
    #expect(run(syscageExecutable, ["install", Self.docker, "--kubelet", "--containers"]).status == 64)
    #expect(run(syscageExecutable, ["install", Self.docker, "--containers", "--name", "x"]).status == 64)
    #expect(run(syscageExecutable, ["install", Self.docker, "--kubelet", "--root", "relative"]).status == 64)
  }

  /// podman run with no --security-opt takes the profile installed by --containers. The
  /// install happens in a private mount namespace over a copy of /etc/containers, so the
  /// machine's own state (and other podman users) never see it.
  @Test(
    .enabled(if: Peer.podman.shouldRun, Comment(rawValue: Peer.podman.skipReason)),
    .enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func containersInstallIsPodmansDefault() throws {
    try #require(Peer.podman.isAvailable, "needs podman")
    try #require(Peer.root.isAvailable, "needs root (a mount namespace, rootful podman)")
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let realExisted = FileManager.default.fileExists(atPath: "/etc/containers/seccomp.json")
    let rootfs = try EngineCases.makeRootfs(in: dir)
    let image = "localhost/syscage-install-\(UUID().uuidString.prefix(8).lowercased())"
    let imported = run("/bin/sh", ["-c", "tar -C \"$1\" -c . | podman import -q - \"$2\"", "sh", rootfs.path, image])
    try #require(imported.status == 0, "podman import: \(imported.stderr)")
    defer { _ = run("/usr/bin/podman", ["rmi", "-f", image]) }
    let profile = try writeFile(EngineCases.denyDir, "deny-dir.json", in: dir)
    let etc = dir.appendingPathComponent("etc-containers").path
    let podman = "podman run --rm --runtime runc --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
    let script = """
      set -e
      mkdir -p "$ETC" && cp -a /etc/containers/. "$ETC/" && rm -f "$ETC/seccomp.json"
      mount --bind "$ETC" /etc/containers
      echo "BEFORE: $(\(podman) "$IMAGE" sh -c "$CASE" 2>&1 | tr '\\n' ' ')"
      "$SYSCAGE" install "$PROFILE" --containers
      echo "AFTER: $(\(podman) "$IMAGE" sh -c "$CASE" 2>&1 | tr '\\n' ' ')"
      echo "INSTALLED: $(cmp -s "$ETC/seccomp.json" /etc/containers/seccomp.json && echo same)"
      """
    let r = run(
      "/usr/bin/env",
      [
        "ETC=\(etc)", "IMAGE=\(image)", "CASE=\(EngineCases.denyDirScript)", "SYSCAGE=\(syscageExecutable)", "PROFILE=\(profile)",
        "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script,
      ], timeout: 120)
    #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    let lines = r.stdout.split(separator: "\n").map(String.init)
    // The package's default lets mkdir through; the installed deny-dir profile refuses it.
    #expect(lines.contains { $0.hasPrefix("BEFORE:") && $0.contains("hi") && $0.contains("MKDIR_OK") }, "\(r.stdout)\(r.stderr)")
    #expect(lines.contains { $0.hasPrefix("AFTER:") && $0.contains("hi") && $0.contains("MKDIR_FAILED") }, "\(r.stdout)\(r.stderr)")
    #expect(lines.contains("INSTALLED: same"), "\(r.stdout)")
    #expect(r.stderr.contains("installed /etc/containers/seccomp.json (read back: the same bytes)"), "\(r.stderr)")
    // The machine's /etc/containers is as it was.
    #expect(FileManager.default.fileExists(atPath: "/etc/containers/seccomp.json") == realExisted)
  }
}
