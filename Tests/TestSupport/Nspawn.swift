import Foundation

/// systemd-nspawn containers the tests start. There is no systemd PID 1 here, so nspawn
/// runs with `--register=no --keep-unit`: it then makes `payload` and `supervisor` cgroups
/// under its own cgroup, so each run gets a cgroup of its own (removed after the run).
/// `--console=pipe` keeps the command's stdout and stderr apart (no pseudo-terminal).
public enum Nspawn {
  /// The systemd-nspawn executable.
  public static let path = "/usr/bin/systemd-nspawn"

  /// Whether nspawn containers can be started here.
  public static var ready: Bool { Peer.nspawn.isAvailable && Peer.root.isAvailable && Containers.busybox != nil }

  /// A container directory: the rootfs at `dir`/`name`, and its settings file's place next to it.
  public struct Machine: Sendable {
    /// The machine name (`--machine`), unique per machine.
    public var name: String
    /// The directory given with `-D`.
    public var rootfs: URL
    /// Where nspawn looks for `name.nspawn` next to the directory (an untrusted place).
    public var settingsFile: URL
  }

  /// A fresh machine in `dir`: a rootfs from `EngineCases.makeRootfs` named after a unique machine name.
  public static func makeMachine(in dir: URL) throws -> Machine {
    let name = "syscage-\(UUID().uuidString.prefix(8).lowercased())"
    let rootfs = try EngineCases.makeRootfs(in: dir, name: name)
    return Machine(name: name, rootfs: rootfs, settingsFile: dir.appendingPathComponent("\(name).nspawn"))
  }

  /// Runs `command` in `machine` (`systemd-nspawn -q --register=no --keep-unit
  /// --console=pipe -M NAME -D ROOTFS ARGUMENTS... COMMAND...`), in a cgroup of its own
  /// that is removed after.
  /// nspawn's own messages go to stderr with the command's.
  public static func run(_ machine: Machine, arguments: [String] = [], command: [String], timeout: Double = 60) -> ProcessResult {
    let cgroups = cgroupDirectories(named: machine.name)
    defer { removeCgroups(cgroups) }
    var moves = ""
    for dir in cgroups {
      do {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
      } catch {
        return ProcessResult(status: 125, stdout: "", stderr: "cannot create the cgroup \(dir): \(error)")
      }
      moves += "echo $$ > \(Containers.shellQuote(dir + "/cgroup.procs")) && "
    }
    let nspawn = [path, "-q", "--register=no", "--keep-unit", "--console=pipe", "-M", machine.name, "-D", machine.rootfs.path] + arguments + command
    return TestSupport.run("/bin/sh", ["-c", moves + "exec " + nspawn.map(Containers.shellQuote).joined(separator: " ")], timeout: timeout)
  }

  /// A cgroup directory per mounted hierarchy nspawn uses: the unified one and, on a
  /// hybrid layout, the named `systemd` one.
  public static func cgroupDirectories(named name: String) -> [String] {
    let fm = FileManager.default
    if fm.fileExists(atPath: "/sys/fs/cgroup/unified/cgroup.procs") {
      var out = ["/sys/fs/cgroup/unified/\(name)"]
      if fm.fileExists(atPath: "/sys/fs/cgroup/systemd/cgroup.procs") { out.append("/sys/fs/cgroup/systemd/\(name)") }
      return out
    }
    return ["/sys/fs/cgroup/\(name)"]
  }

  /// Removes cgroup directories and every directory under them, deepest first (the
  /// `payload` and `supervisor` cgroups nspawn leaves, empty once it has ended).
  public static func removeCgroups(_ dirs: [String]) {
    for dir in dirs {
      guard let walker = FileManager.default.enumerator(atPath: dir) else { continue }
      var subdirectories: [String] = []
      while let entry = walker.nextObject() as? String {
        var isDirectory: ObjCBool = false
        let full = dir + "/" + entry
        if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), isDirectory.boolValue {
          subdirectories.append(full)
        }
      }
      for d in subdirectories.sorted(by: { $0.count > $1.count }) + [dir] {
        // A cgroup empties a moment after its last process is reaped.
        for _ in 0..<50 {
          if rmdir(d) == 0 || errno == ENOENT { break }
          usleep(20_000)
        }
      }
    }
  }

  /// The `SystemCallFilter=` values of a settings file or drop-in (`~` kept), in order.
  public static func filterValues(_ text: String) -> [String] {
    text.split(separator: "\n").compactMap { line in
      line.hasPrefix("SystemCallFilter=") ? String(line.dropFirst("SystemCallFilter=".count)) : nil
    }
  }
}
