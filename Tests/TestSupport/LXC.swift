import Foundation

/// LXC containers for the engine tests: a busybox-static rootfs run with `lxc-execute`
/// from a configuration file, under a private lxcpath with a unique container name.
public enum LXC {
  public static let executePath = "/usr/bin/lxc-execute"
  public static let destroyPath = "/usr/bin/lxc-destroy"

  /// Whether LXC containers can be started here (LXC, root, busybox-static).
  public static var ready: Bool { Peer.lxc.isAvailable && Peer.root.isAvailable && Containers.busybox != nil }
  /// Why an LXC test cannot run.
  public static let reason = "needs LXC, busybox-static and root (apt-get install lxc busybox-static); required under CI=true"

  /// One container: its lxcpath (a fresh directory), its unique name and its configuration
  /// (the rootfs made by `EngineCases.makeRootfs`, no network, AppArmor unconfined).
  public struct Container: Sendable {
    public let directory: URL
    public let lxcpath: URL
    public let name: String
    public let config: URL
    public let rootfs: URL

    /// Runs `/bin/sh -c script` in the container with `lxc-execute`, under the LXC
    /// seccomp policy at `profile` (none: no filter), and returns what it printed.
    public func execute(_ script: String, profile: String? = nil, timeout: Double = 20) -> ProcessResult {
      var args = ["-P", lxcpath.path, "-n", name, "-f", config.path]
      if let profile { args += ["-s", "lxc.seccomp.profile=\(profile)"] }
      return run(LXC.executePath, args + ["--", "/bin/sh", "-c", script], timeout: timeout)
    }

    /// Destroys the container (if LXC left one in the lxcpath) and removes its directory.
    public func destroy() {
      if FileManager.default.fileExists(atPath: lxcpath.appendingPathComponent(name).path) {
        _ = run(LXC.destroyPath, ["-P", lxcpath.path, "-n", name])
      }
      try? FileManager.default.removeItem(at: directory)
    }
  }

  /// A container in a fresh temporary directory; call `destroy()` after.
  public static func makeContainer() throws -> Container {
    let dir = try Containers.temporaryDirectory("syscage-lxc")
    let lxcpath = dir.appendingPathComponent("lxcpath")
    try FileManager.default.createDirectory(at: lxcpath, withIntermediateDirectories: true)
    let rootfs = try EngineCases.makeRootfs(in: dir)
    let config = dir.appendingPathComponent("config")
    let text = """
      lxc.rootfs.path = dir:\(rootfs.path)
      lxc.net.0.type = empty
      lxc.apparmor.profile = unconfined
      lxc.mount.auto = proc:rw

      """
    try Data(text.utf8).write(to: config)
    let name = "syscage-\(UUID().uuidString.prefix(8).lowercased())"
    return Container(directory: dir, lxcpath: lxcpath, name: name, config: config, rootfs: rootfs)
  }
}
