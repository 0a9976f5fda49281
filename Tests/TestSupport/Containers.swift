import Foundation

/// Containers the tests start: runc with a busybox-static OCI bundle, and bubblewrap.
public enum Containers {
  /// The host's busybox-static, copied into bundles.
  public static let busybox: String? = ["/bin/busybox", "/usr/bin/busybox"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }

  /// The runc executable.
  public static let runcPath: String = ["/usr/sbin/runc", "/usr/bin/runc"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  } ?? "/usr/sbin/runc"

  /// Whether runc bundles can be made and run here.
  public static var runcReady: Bool { Peer.runc.isAvailable && Peer.root.isAvailable && busybox != nil }
  /// Why a runc test cannot run.
  public static let runcReason =
    "needs runc, busybox-static and root (apt-get install runc busybox-static); required under CI=true"

  /// Whether bubblewrap containers can be started here.
  public static var bwrapReady: Bool { Peer.bwrap.isAvailable && Peer.root.isAvailable }

  /// A setup step of a container failed.
  public struct SetupError: Error, CustomStringConvertible {
    public var description: String
  }

  /// A fresh directory under the temporary directory.
  public static func temporaryDirectory(_ prefix: String = "syscage-ct") throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  /// An OCI bundle in `dir`/bundle with a busybox-static rootfs (its applets in /bin as
  /// symbolic links, plus `extraFiles` copied to the given rootfs paths), its process
  /// running `args`. `configure` may change the config.json object before it is written.
  public static func makeBundle(
    in dir: URL, args: [String], noNewPrivileges: Bool, extraFiles: [String: String] = [:],
    configure: (inout [String: Any]) -> Void = { _ in }
  ) throws -> URL {
    guard let busybox else { throw SetupError(description: "busybox-static is not installed") }
    let bundle = dir.appendingPathComponent("bundle")
    let rootfs = bundle.appendingPathComponent("rootfs")
    let bin = rootfs.appendingPathComponent("bin")
    let fm = FileManager.default
    try fm.createDirectory(at: bin, withIntermediateDirectories: true)
    for d in ["proc", "dev", "sys", "tmp"] {
      try fm.createDirectory(at: rootfs.appendingPathComponent(d), withIntermediateDirectories: true)
    }
    try fm.copyItem(atPath: busybox, toPath: bin.appendingPathComponent("busybox").path)
    for tool in ["sh", "echo", "mkdir", "rmdir", "ls", "cat", "true", "grep", "wc", "sleep", "head"] {
      try fm.createSymbolicLink(atPath: bin.appendingPathComponent(tool).path, withDestinationPath: "busybox")
    }
    for (source, target) in extraFiles {
      let destination = rootfs.appendingPathComponent(target)
      try fm.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
      try fm.copyItem(atPath: source, toPath: destination.path)
    }
    let spec = run(runcPath, ["spec", "--bundle", bundle.path])
    guard spec.status == 0 else { throw SetupError(description: "runc spec failed: \(spec.stderr)") }
    let configURL = bundle.appendingPathComponent("config.json")
    guard var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any],
      var process = config["process"] as? [String: Any]
    else { throw SetupError(description: "runc spec wrote an unexpected config.json") }
    process["args"] = args
    process["terminal"] = false
    process["noNewPrivileges"] = noNewPrivileges
    config["process"] = process
    config["root"] = ["path": "rootfs", "readonly": false]
    configure(&config)
    try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(to: configURL)
    return bundle
  }

  /// Runs the bundle with `runc run` under a fresh container id and deletes the container after.
  public static func runc(_ bundle: URL, timeout: Double = 60) -> ProcessResult {
    let id = "syscage-test-\(UUID().uuidString.prefix(8))"
    defer { _ = run(runcPath, ["delete", "--force", id]) }
    return run(runcPath, ["run", "--bundle", bundle.path, id], timeout: timeout)
  }

  /// Runs `command` in a bubblewrap container (read-only host root, private /tmp, /dev
  /// and /proc), started by /bin/sh; `bwrapArguments` go before the command (e.g.
  /// `--seccomp 3`) and `shellSuffix` after the whole command line (e.g. `3< FILE`).
  public static func bwrap(
    _ command: [String], bwrapArguments: [String] = [], shellSuffix: String = ""
  ) -> ProcessResult {
    let quoted = (["/usr/bin/bwrap", "--ro-bind", "/", "/", "--tmpfs", "/tmp", "--dev", "/dev", "--proc", "/proc"]
      + bwrapArguments + command).map(shellQuote).joined(separator: " ")
    return run("/bin/sh", ["-c", "exec \(quoted) \(shellSuffix)"])
  }

  /// `s` quoted for /bin/sh.
  public static func shellQuote(_ s: String) -> String {
    "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }
}
