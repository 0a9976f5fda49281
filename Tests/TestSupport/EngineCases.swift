import Foundation

/// The cases every container engine's test runs, the same for each engine: a deny-list
/// (the tutorials' profile that refuses making directories), an allow-list recorded on the
/// host from a busybox-static shell, and Docker's default profile.
public enum EngineCases {
  /// The tutorials' directory deny-list: everything allowed, mkdir and mkdirat get EPERM.
  public static let denyDir = """
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    """
  /// The same with chdir refused too (the tutorials' deny-dir.json as it goes wrong): runc
  /// changes into the container's cwd under the filter when noNewPrivileges is false.
  public static let denyDirAndChdir = """
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat", "chdir"], "action": "SCMP_ACT_ERRNO"}]}
    """
  /// The shell line run under `denyDir`: prints `hi`, then MKDIR_OK or MKDIR_FAILED.
  public static let denyDirScript = "echo hi; mkdir /tmp/x && echo MKDIR_OK || echo MKDIR_FAILED"

  /// The shell line recorded on the host and run in the container: its output must be the
  /// same with the recorded profile as without one.
  /// It makes and removes a fresh directory under /tmp, so it leaves nothing behind.
  public static let allowListScript = "echo hi; ls / | wc -l; d=$(mktemp -d) && rmdir $d && mkdir $d && echo made && rmdir $d"

  /// The shell line run under Docker's default profile: the probe prints `keyctl: EPERM`
  /// there, something else (ENOKEY, an id) without a filter.
  public static let keyctlScript = "/bin/keyctl-probe"

  /// Docker's default profile (Data/docker-default.json).
  public static var dockerDefault: URL { packageRoot.appendingPathComponent("Data/docker-default.json") }

  /// A static program for the rootfs: calls keyctl(KEYCTL_GET_KEYRING_ID, session keyring,
  /// create=0) and prints `keyctl: EPERM` when that fails with EPERM, `keyctl: errno N`
  /// for another error, `keyctl: ok` when it succeeds.
  public static let keyctlProbe = """
    #include <errno.h>
    #include <stdio.h>
    #include <sys/syscall.h>
    #include <unistd.h>
    int main(void) {
      long r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* KEY_SPEC_SESSION_KEYRING */, 0);
      if (r >= 0) { puts("keyctl: ok"); return 0; }
      if (errno == EPERM) { puts("keyctl: EPERM"); return 0; }
      printf("keyctl: errno %d\\n", errno);
      return 0;
    }
    """

  /// The busybox applets linked into every rootfs.
  public static let applets = [
    "sh", "echo", "mkdir", "rmdir", "ls", "cat", "true", "grep", "wc", "sleep", "head", "env", "id", "ps", "sed", "tr",
  ]

  /// A busybox-static root filesystem in `dir`/NAME: /bin/busybox and its applets, /proc,
  /// /dev, /sys, /tmp (mode 1777), /etc/passwd and /etc/group for root, and
  /// /bin/keyctl-probe (built static with /usr/bin/cc). Returns its path.
  public static func makeRootfs(in dir: URL, name: String = "rootfs") throws -> URL {
    guard let busybox = Containers.busybox else {
      throw Containers.SetupError(description: "busybox-static is not installed (apt-get install busybox-static)")
    }
    let fm = FileManager.default
    let rootfs = dir.appendingPathComponent(name)
    let bin = rootfs.appendingPathComponent("bin")
    try fm.createDirectory(at: bin, withIntermediateDirectories: true)
    for d in ["proc", "dev", "sys", "tmp", "etc", "root", "run", "var", "sbin", "usr/bin", "usr/sbin"] {
      try fm.createDirectory(at: rootfs.appendingPathComponent(d), withIntermediateDirectories: true)
    }
    try fm.setAttributes([.posixPermissions: 0o1777], ofItemAtPath: rootfs.appendingPathComponent("tmp").path)
    try fm.copyItem(atPath: busybox, toPath: bin.appendingPathComponent("busybox").path)
    for tool in applets {
      try fm.createSymbolicLink(atPath: bin.appendingPathComponent(tool).path, withDestinationPath: "busybox")
    }
    try Data("root:x:0:0:root:/root:/bin/sh\n".utf8).write(to: rootfs.appendingPathComponent("etc/passwd"))
    try Data("root:x:0:\n".utf8).write(to: rootfs.appendingPathComponent("etc/group"))
    let probe = try compileC(keyctlProbe, named: "keyctl-probe", in: dir, flags: ["-O1", "-static"])
    try fm.copyItem(atPath: probe, toPath: bin.appendingPathComponent("keyctl-probe").path)
    return rootfs
  }

  /// Records `allowListScript` on the host with `syscage record -o PATH` and `extra`
  /// options (none: the default a user gets) run by the host's busybox-static; returns
  /// the profile's path and the recorded run's stdout.
  public static func recordAllowList(into dir: URL, name: String = "recorded.json", extra: [String] = []) throws -> (
    path: String, stdout: String
  ) {
    guard let busybox = Containers.busybox else {
      throw Containers.SetupError(description: "busybox-static is not installed (apt-get install busybox-static)")
    }
    let path = dir.appendingPathComponent(name).path
    let r = run(syscageExecutable, ["record", "-o", path] + extra + ["--", busybox, "sh", "-c", allowListScript])
    guard r.status == 0 else {
      throw Containers.SetupError(description: "syscage record failed (\(r.status)): \(r.stderr)")
    }
    return (path, r.stdout)
  }
}
