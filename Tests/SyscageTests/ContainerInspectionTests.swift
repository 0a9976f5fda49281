import Foundation
import Host
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// `syscage probe` and `syscage status` run inside real containers the tests start: runc
/// (a busybox bundle with the host's libraries bind-mounted read-only, under a profile
/// syscage converted) and bubblewrap (loading raw BPF syscage compiled).
@Suite(.serialized) struct ContainerInspectionTests {
  /// Calls the deny-list takes from Docker's default and what it does with them.
  static let denied: [(names: [String], action: String, errno: Int?)] = [
    (["mkdir", "mkdirat"], "SCMP_ACT_ERRNO", 13),  // EACCES
    (["rmdir"], "SCMP_ACT_KILL_PROCESS", nil),
    (["getpgid"], "SCMP_ACT_ERRNO", 38),  // ENOSYS
  ]

  /// Docker's default profile with the deny-list's calls moved out of its allow-list into
  /// rules of their own (so libseccomp under runc sees each call once).
  static func profile(in dir: URL) throws -> String {
    let docker = packageRoot.appendingPathComponent("Data/docker-default.json")
    var profile = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: docker)) as? [String: Any])
    let names = Set(denied.flatMap(\.names))
    var rules = (profile["syscalls"] as? [[String: Any]] ?? []).compactMap { rule -> [String: Any]? in
      var rule = rule
      let kept = (rule["names"] as? [String] ?? []).filter { !names.contains($0) }
      if kept.isEmpty { return nil }
      rule["names"] = kept
      return rule
    }
    for (names, action, errno) in denied {
      var rule: [String: Any] = ["names": names, "action": action]
      if let errno { rule["errnoRet"] = errno }
      rules.append(rule)
    }
    profile["syscalls"] = rules
    let path = dir.appendingPathComponent("profile.json").path
    try JSONSerialization.data(withJSONObject: profile, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: path))
    return path
  }

  /// What each x86_64 call made with zero arguments gets under the profile, expanded as
  /// `convert` and `compile` expand it (Docker's default capabilities, this kernel).
  /// `dropping` names are left out of the profile first (see `unknownToLibseccomp`).
  static func expected(_ path: String, dropping unknown: Set<String> = []) throws -> [String: SeccompAction] {
    var loaded = try Profile.load(path: path)
    if !unknown.isEmpty {
      loaded.profile.syscalls = loaded.profile.syscalls?.compactMap { rule in
        var rule = rule
        rule.names = rule.names.filter { !unknown.contains($0) }
        return rule.names.isEmpty ? nil : rule
      }
    }
    let context = ExpansionContext(native: .x86_64, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: .running)
    let policy = Policy(profile: loaded.profile, options: PolicyOptions(context: context, enosysStub: true))
    var result: [String: SeccompAction] = [:]
    for (name, number) in SyscallTable.entries(in: Arch.x86_64.abi) {
      result[name] = policy.decide(arch: .x86_64, number: number).action
    }
    return result
  }

  /// The names of `names` that the libseccomp runc is linked against cannot resolve on
  /// x86_64. runc drops those rules, and its ENOSYS stub then starts above the highest
  /// number libseccomp did resolve: calls the profile allows by a name newer than the
  /// library get ENOSYS under runc (Debian 12's runc with libseccomp 2.5.4: statmount,
  /// listmount, lsm_*, mseal, *xattrat). nil when runc's libseccomp cannot be asked
  /// (statically linked, no python3).
  static func unknownToLibseccomp(_ names: [String]) -> Set<String>? {
    let ldd = run("/usr/bin/ldd", [Containers.runcPath])
    guard let library = ldd.stdout.split(separator: "\n").first(where: { $0.contains("libseccomp") })?
      .split(separator: " ").first(where: { $0.hasPrefix("/") })
    else { return nil }
    let script = """
      import ctypes, sys
      lib = ctypes.CDLL(sys.argv[1])
      lib.seccomp_syscall_resolve_name_arch.restype = ctypes.c_int
      lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
      for name in sys.stdin.read().split():
          if lib.seccomp_syscall_resolve_name_arch(0xc000003e, name.encode()) < 0:
              print(name)
      """
    let r = run("/usr/bin/python3", ["-c", script, String(library)], stdin: names.joined(separator: "\n"))
    guard r.status == 0 else { return nil }
    return Set(r.stdout.split(separator: "\n").map(String.init))
  }

  /// One line of `syscage probe --all --json`.
  struct ProbeLine {
    var syscall: String
    var blocked: Bool
    var outcome: String
  }

  static func probeLines(_ stdout: String) -> [ProbeLine] {
    stdout.split(separator: "\n").compactMap { line in
      guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let syscall = o["syscall"] as? String, let blocked = o["blocked"] as? Bool, let outcome = o["outcome"] as? String
      else { return nil }
      return ProbeLine(syscall: syscall, blocked: blocked, outcome: outcome)
    }
  }

  /// The probe's outcome for an action, as `syscage probe` words it.
  static func outcome(for action: SeccompAction) -> String? {
    switch action.kind {
    case .allow, .log: "allowed"
    case .errno: "denied: errno \(action.data) "
    case .killProcess: "killed (process, signal 31)"
    case .killThread: "killed (thread)"
    case .trap: "trapped (SIGSYS, data \(action.data))"
    default: nil
    }
  }

  /// Checks the probe's answers against the profile: every call it probed, blocked
  /// exactly when the profile blocks it, with the profile's errno or action.
  static func checkProbe(_ stdout: String, against expected: [String: SeccompAction], where place: String) {
    let lines = probeLines(stdout)
    #expect(lines.count > 300, "\(place): probe printed \(lines.count) lines")
    var mismatches: [String] = []
    for line in lines {
      guard let action = expected[line.syscall], let want = outcome(for: action) else {
        mismatches.append("\(line.syscall): not in the table")
        continue
      }
      if line.blocked == action.permits || !(line.outcome + " ").hasPrefix(want) {
        mismatches.append("\(line.syscall): probe says \(line.outcome), the profile \(action)")
      }
    }
    #expect(mismatches.isEmpty, "\(place): \(mismatches.joined(separator: "; "))")
    let byName = Dictionary(lines.map { ($0.syscall, $0) }, uniquingKeysWith: { a, _ in a })
    #expect(byName["mkdir"]?.outcome.hasPrefix("denied: errno 13") == true, "\(place)")
    #expect(byName["getpgid"]?.outcome.hasPrefix("denied: errno 38") == true, "\(place)")
    #expect(byName["rmdir"]?.outcome == "killed (process, signal 31)", "\(place)")
    #expect(byName["reboot"]?.outcome.hasPrefix("denied: errno 1 ") == true, "\(place)")  // Docker's default errno
    #expect(byName["getpid"]?.blocked == false, "\(place)")
  }

  /// `syscage status --json PID` inside: the process's seccomp mode, filters and no_new_privs.
  static func status(_ stdout: String) -> [String: Any]? {
    for line in stdout.split(separator: "\n") {
      if let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let processes = o["processes"] as? [[String: Any]], let first = processes.first
      {
        return first
      }
    }
    return nil
  }

  /// How many filters the test process itself runs under (its containers inherit them).
  static var ownFilters: Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("Seccomp_filters:") }
    return line.flatMap { Int($0.dropFirst("Seccomp_filters:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
  }

  // MARK: - runc

  /// Bind mounts (read-only) that let the dynamically linked syscage executable run in a
  /// busybox rootfs: the executable itself at /syscage, and every top-level directory its
  /// libraries and loader live in (symbolic links such as /lib -> usr/lib kept as links).
  static func hostLibraries(rootfs: URL) throws -> [[String: Any]] {
    let ldd = run("/usr/bin/ldd", [syscageExecutable])
    try #require(ldd.status == 0, "ldd: \(ldd.stderr)")
    var tops: Set<String> = ["/usr"]
    for word in ldd.stdout.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) where word.hasPrefix("/") {
      if let top = word.split(separator: "/").first { tops.insert("/" + top) }
    }
    var mounts: [[String: Any]] = [
      ["destination": "/syscage", "type": "bind", "source": syscageExecutable, "options": ["rbind", "ro"]]
    ]
    let fm = FileManager.default
    for top in tops.sorted() {
      if let link = try? fm.destinationOfSymbolicLink(atPath: top) {
        try fm.createSymbolicLink(atPath: rootfs.appendingPathComponent(top).path, withDestinationPath: link)
        let target = URL(fileURLWithPath: link, relativeTo: URL(fileURLWithPath: "/")).standardizedFileURL.path
        let targetTop = "/" + (target.split(separator: "/").first.map(String.init) ?? "")
        if !tops.contains(targetTop) {
          mounts.append(["destination": target, "type": "bind", "source": target, "options": ["rbind", "ro"]])
        }
      } else if top != "/bin" {
        mounts.append(["destination": top, "type": "bind", "source": top, "options": ["rbind", "ro"]])
      }
    }
    return mounts
  }

  /// A runc bundle whose process runs `script` with /bin/sh, under the profile converted
  /// by `syscage convert --to oci --bundle`.
  static func runcBundle(in dir: URL, profile: String, noNewPrivileges: Bool, script: String) throws -> URL {
    var mounts: [[String: Any]] = []
    let rootfs = dir.appendingPathComponent("bundle/rootfs")
    try FileManager.default.createDirectory(at: rootfs, withIntermediateDirectories: true)
    mounts = try hostLibraries(rootfs: rootfs)
    let bundle = try Containers.makeBundle(in: dir, args: ["/bin/sh", "-c", script], noNewPrivileges: noNewPrivileges) { config in
      config["mounts"] = (config["mounts"] as? [[String: Any]] ?? []) + mounts
    }
    // Docker's default capabilities, not the bundle's: the filter allows chroot, which the
    // container's capabilities do not.
    let caps = ExpansionContext.dockerDefaultCapabilities.joined(separator: ",")
    let converted = run(syscageExecutable, ["convert", profile, "--to", "oci", "--bundle", bundle.path, "--caps", caps])
    try #require(converted.status == 0, "\(converted.stderr)")
    return bundle
  }

  static var runcReady: Bool { Containers.runcReady }
  static let runcReason = Comment(rawValue: Containers.runcReason)

  @Test(.enabled(if: runcReady || isCI, runcReason), arguments: [true, false])
  func probeAndStatusInsideRunc(noNewPrivileges: Bool) throws {
    try #require(Self.runcReady, Self.runcReason)
    let dir = try Containers.temporaryDirectory("syscage-ci")
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = try Self.profile(in: dir)
    let named = try Profile.load(path: profile).profile.syscalls?.flatMap(\.names) ?? []
    let unknown = try #require(Self.unknownToLibseccomp(named), "cannot ask runc's libseccomp which names it knows (needs python3 and a dynamically linked runc)")
    let expected = try Self.expected(profile, dropping: unknown)
    // pid 1 is the shell: status names it; probe's children inherit its filter.
    let script = """
      /syscage status --json 1 >/tmp/status.json || echo "status failed: $?" >&2
      /syscage probe --all --json >/tmp/probe.json || echo "probe failed: $?" >&2
      /bin/busybox chroot / /bin/true 2>&1 || true
      echo ===status; cat /tmp/status.json; echo ===probe; cat /tmp/probe.json
      """
    let bundle = try Self.runcBundle(in: dir, profile: profile, noNewPrivileges: noNewPrivileges, script: script)
    let r = Containers.runc(bundle, timeout: 120)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(!r.stderr.contains("failed"), "\(r.stderr)")
    let parts = r.stdout.components(separatedBy: "===probe")
    try #require(parts.count == 2, "\(r.stdout)\n\(r.stderr)")

    Self.checkProbe(parts[1], against: expected, where: "runc, noNewPrivileges \(noNewPrivileges)")

    // chroot: the filter allows it (expanded with Docker's default capabilities, which
    // have CAP_SYS_CHROOT), runc's default spec does not grant CAP_SYS_CHROOT: the call
    // fails with EPERM, and probe does not take that for a seccomp denial.
    #expect(expected["chroot"] == .allow)
    #expect(parts[0].contains("Operation not permitted"), "\(parts[0])")
    let chroot = Self.probeLines(parts[1]).first { $0.syscall == "chroot" }
    #expect(chroot?.blocked == false && chroot?.outcome == "allowed", "\(String(describing: chroot))")

    let status = try #require(Self.status(parts[0]), "\(parts[0])")
    #expect(status["pid"] as? Int == 1)
    #expect(status["seccomp"] as? Int == 2)
    #expect(status["filters"] as? Int == Self.ownFilters + 1, "runc loads one filter: \(status)")
    #expect(status["no_new_privs"] as? Bool == noNewPrivileges, "\(status)")
  }

  // MARK: - bubblewrap

  static var bwrapReady: Bool { Containers.bwrapReady }

  @Test(.enabled(if: bwrapReady || isCI, Comment(rawValue: Peer.bwrap.skipReason)))
  func probeAndStatusInsideBubblewrap() throws {
    try #require(Self.bwrapReady, Comment(rawValue: Peer.bwrap.skipReason))
    let dir = try Containers.temporaryDirectory("syscage-ci")
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = try Self.profile(in: dir)
    let expected = try Self.expected(profile)
    let bpf = dir.appendingPathComponent("profile.bpf").path
    let compiled = run(syscageExecutable, ["compile", profile, "-o", bpf])
    try #require(compiled.status == 0, "\(compiled.stderr)")
    // The container gets a private /tmp: bind the build directory back in (the checkout
    // may be under /tmp).
    let executable = URL(fileURLWithPath: syscageExecutable).resolvingSymlinksInPath()
    let buildDir = executable.deletingLastPathComponent().path
    let exe = Containers.shellQuote(executable.path)
    let script = """
      \(exe) status --json $$ || echo "status failed: $?" >&2
      echo ===probe
      \(exe) probe --all --json || echo "probe failed: $?" >&2
      """
    let r = Containers.bwrap(
      ["/bin/sh", "-c", script], bwrapArguments: ["--ro-bind", buildDir, buildDir, "--seccomp", "3"],
      shellSuffix: "3< \(Containers.shellQuote(bpf))")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(!r.stderr.contains("failed"), "\(r.stderr)")
    let parts = r.stdout.components(separatedBy: "===probe")
    try #require(parts.count == 2, "\(r.stdout)\n\(r.stderr)")

    Self.checkProbe(parts[1], against: expected, where: "bwrap")

    let status = try #require(Self.status(parts[0]), "\(parts[0])")
    #expect(status["seccomp"] as? Int == 2)
    #expect(status["filters"] as? Int == Self.ownFilters + 1, "bwrap loads one filter: \(status)")
    #expect(status["no_new_privs"] as? Bool == true, "bwrap sets no_new_privs: \(status)")
  }
}
