import Foundation

/// podman as the tests run it: rootful, runc as the runtime, no network, images imported
/// locally from a root filesystem directory (no registry).
public enum Podman {
  /// The podman executable.
  public static let path = "/usr/bin/podman"
  /// Whether podman containers can be run here (podman, runc, busybox-static, root).
  public static var ready: Bool { Peer.podman.isAvailable && Containers.runcReady }
  /// Why a podman test cannot run.
  public static let reason =
    "needs podman, runc, busybox-static and root (apt-get install podman runc busybox-static); required under CI=true"

  /// Imports `rootfs` as a local image under a fresh name (`localhost/syscage-test-XXXXXXXX:latest`)
  /// with `tar -C ROOTFS -c . | podman import - NAME`; returns the name.
  public static func importImage(_ rootfs: URL) throws -> String {
    let name = "localhost/syscage-test-\(UUID().uuidString.prefix(8).lowercased()):latest"
    let line = "/bin/tar -C \(Containers.shellQuote(rootfs.path)) -c . | \(path) import --quiet - \(Containers.shellQuote(name))"
    let r = TestSupport.run("/bin/sh", ["-c", line])
    guard r.status == 0 else {
      throw Containers.SetupError(description: "podman import failed (\(r.status)): \(r.stderr)")
    }
    return name
  }

  /// Removes the image `name`.
  public static func removeImage(_ name: String) {
    _ = TestSupport.run(path, ["rmi", "--force", name])
  }

  /// The arguments of `podman run --rm` of `image` running `command` under the Docker JSON
  /// profile at `seccompProfile` (`--security-opt seccomp=FILE`), or with no filter at all
  /// when nil (`seccomp=unconfined`). runc is the runtime (crun refuses this machine's
  /// hybrid cgroups), the network is none, and the rlimits stay under the hard limits
  /// (rootful podman asks for nofile 1048576, which needs CAP_SYS_RESOURCE).
  public static func runArguments(
    image: String, name: String, command: [String], seccompProfile: String?, runtime: String = "runc"
  ) -> [String] {
    [
      "run", "--rm", "--name", name, "--runtime", runtime, "--network", "none",
      "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
      "--security-opt", "seccomp=\(seccompProfile ?? "unconfined")",
      image,
    ] + command
  }

  /// Runs `command` in a new container of `image` (a fresh name; see `runArguments`).
  public static func run(image: String, command: [String], seccompProfile: String?, timeout: Double = 120) -> ProcessResult {
    let name = "syscage-test-\(UUID().uuidString.prefix(8).lowercased())"
    let r = TestSupport.run(path, runArguments(image: image, name: name, command: command, seccompProfile: seccompProfile),
      timeout: timeout)
    if r.status != 0 { _ = TestSupport.run(path, ["rm", "--force", name]) }
    return r
  }

  /// The hybrid cgroup layout's cgroup2 mount, which crun refuses while it is there.
  static let unifiedCgroup = "/sys/fs/cgroup/unified"

  /// Like `run`, with crun as the runtime. On a hybrid cgroup layout (this machine's)
  /// podman runs in a private mount namespace with the cgroup2 mount taken away, which
  /// crun then takes for a plain v1 layout; the host's mounts do not change.
  public static func runWithCrun(image: String, command: [String], seccompProfile: String?, timeout: Double = 120) -> ProcessResult {
    let name = "syscage-test-\(UUID().uuidString.prefix(8).lowercased())"
    let podman = ([path] + runArguments(image: image, name: name, command: command, seccompProfile: seccompProfile, runtime: "crun"))
      .map(Containers.shellQuote).joined(separator: " ")
    let hybrid = TestSupport.run("/usr/bin/mountpoint", ["-q", unifiedCgroup]).status == 0
    let r = hybrid
      ? TestSupport.run("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", "umount \(unifiedCgroup) && exec \(podman)"], timeout: timeout)
      : TestSupport.run("/bin/sh", ["-c", "exec \(podman)"], timeout: timeout)
    if r.status != 0 { _ = TestSupport.run(path, ["rm", "--force", name]) }
    return r
  }
}
