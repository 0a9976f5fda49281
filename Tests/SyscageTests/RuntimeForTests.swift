import Foundation
import Profiles
import Seccomp
import Testing
import TestSupport

/// `--for`: a profile syscage writes for a container runtime allows the calls that runtime
/// makes after loading the filter, unless `--for none`; `lint --for` and `convert` name the
/// runtime calls a profile refuses; `--bundle` takes its mode and capabilities from the
/// bundle. Proven by runc running the bundles.
@Suite(.serialized) struct RuntimeForTests {
  static var runcReady: Bool { Containers.runcReady }
  static let runcReason = Comment(rawValue: Containers.runcReason)

  func tempDir() throws -> URL { try Containers.temporaryDirectory("syscage-for") }

  func write(_ text: String, to dir: URL, _ name: String) throws -> String {
    let path = dir.appendingPathComponent(name).path
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  /// The names `path`'s ALLOW entries list (any arguments), and the comments of the entries.
  func allowed(_ path: String) throws -> (names: Set<String>, entries: [[String: Any]]) {
    let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    let entries = object["syscalls"] as? [[String: Any]] ?? []
    let names = entries.filter { $0["action"] as? String == "SCMP_ACT_ALLOW" }.flatMap { $0["names"] as? [String] ?? [] }
    return (Set(names), entries)
  }

  /// The linux.seccomp object of a bundle's config.json.
  func bundleSeccomp(_ bundle: URL) throws -> [String: Any] {
    let config = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: bundle.appendingPathComponent("config.json"))) as? [String: Any])
    let linux = try #require(config["linux"] as? [String: Any])
    return try #require(linux["seccomp"] as? [String: Any])
  }

  /// The runtime calls of runc (both modes), as the library lists them.
  static var runcCalls: [String] { RuntimeSelection(.runc).calls }

  // MARK: the vocabulary

  @Test func theTargetsMapToRuntimesAndFormatsToTargets() {
    #expect(RuntimeTarget.podman.runtimes == [.crun, .runc])
    for t in [RuntimeTarget.docker, .containerd, .kubernetes, .runc] { #expect(t.runtimes == [.runc]) }
    #expect(RuntimeTarget.none.runtimes.isEmpty && RuntimeSelection(.none).calls.isEmpty)
    #expect(RuntimeSelection(.bwrap).modes == [true])
    #expect(RuntimeSelection(.runc).modes == [false, true])
    #expect(RuntimeSelection(.runc, noNewPrivileges: false).calls == ContainerRuntime.runc.callsAfterFilter(noNewPrivileges: false))
    #expect(RuntimeTarget.oci.runtimes == [.crun, .runc])
    for format in ["docker", "oci", "k8s-pod", "spo"] { #expect(RuntimeTarget.defaultTarget(forFormat: format) == .oci) }
    #expect(RuntimeTarget.defaultTarget(forFormat: "lxc") == .lxc)
    #expect(RuntimeTarget.defaultTarget(forFormat: "nspawn") == .nspawn)
    #expect(RuntimeTarget.defaultTarget(forFormat: "systemd") == .none)
  }

  // MARK: convert --for, without a container

  static let handWritten = #"""
    {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
      {"names": ["read", "write", "exit_group", "execve", "rt_sigreturn"], "action": "SCMP_ACT_ALLOW"}]}
    """#

  /// A hand-written allow-list gets the runtime's calls in an entry of its own, with a
  /// comment naming the runtime and modes: for `--to docker` only when asked.
  @Test func convertForAddsTheRuntimesCallsInAnEntryOfTheirOwn() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = try write(Self.handWritten, to: dir, "hand.json")
    let plain = dir.appendingPathComponent("plain.json").path
    let normalised = run(syscageExecutable, ["convert", input, "--to", "docker", "-o", plain])
    #expect(normalised.status == 0, "\(normalised.stderr)")
    #expect(try allowed(plain).names == ["read", "write", "exit_group", "execve", "rt_sigreturn"], "--to docker added calls unasked")
    #expect(!normalised.stderr.contains("after loading"), "\(normalised.stderr)")

    let forPodman = dir.appendingPathComponent("podman.json").path
    let r = run(syscageExecutable, ["convert", input, "--to", "docker", "--for", "podman", "-o", forPodman])
    #expect(r.status == 0, "\(r.stderr)")
    let (names, entries) = try allowed(forPodman)
    // faccessat2 (439) is above every number the profile names: runc's ENOSYS stub answers
    // it, and Go falls back to faccessat.
    let expected = Set(RuntimeSelection(.podman).calls).subtracting(Lint.libcProbed)
    #expect(names.isSuperset(of: expected), "missing \(expected.subtracting(names).sorted())")
    let added = try #require(entries.last)
    let comment = added["comment"] as? String ?? ""
    #expect(comment.contains("podman") && comment.contains("noNewPrivileges") && comment.contains("--for none"), "\(comment)")
    #expect(Set(added["names"] as? [String] ?? []) == expected.subtracting(["read", "write", "exit_group", "execve", "rt_sigreturn"]))
    #expect(r.stderr.contains("podman (crun and runc) with noNewPrivileges true and false") && r.stderr.contains("--for none leaves them out"), "\(r.stderr)")
    #expect(r.stderr.split(separator: "\n").filter { $0.contains("also allowing") }.count == 1, "one line: \(r.stderr)")

    // --to oci adds runc's by default, and says so; --for none leaves them out.
    let oci = dir.appendingPathComponent("oci.json").path
    let byDefault = run(syscageExecutable, ["convert", input, "--to", "oci", "-o", oci])
    #expect(byDefault.status == 0, "\(byDefault.stderr)")
    #expect(try allowed(oci).names.isSuperset(of: Set(Self.runcCalls).subtracting(Lint.libcProbed)))
    #expect(byDefault.stderr.contains("the default for --to oci"), "\(byDefault.stderr)")
    let bare = dir.appendingPathComponent("bare.json").path
    let none = run(syscageExecutable, ["convert", input, "--to", "oci", "--for", "none", "-o", bare])
    #expect(none.status == 0, "\(none.stderr)")
    #expect(try allowed(bare).names == ["read", "write", "exit_group", "execve", "rt_sigreturn"])
  }

  /// lint --for on an allow-list lists the missing calls per mode, exit 1, in text and JSON.
  @Test func lintForNamesTheMissingCalls() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = try write(Self.handWritten, to: dir, "hand.json")
    let plain = run(syscageExecutable, ["lint", input, "--level", "error"])
    #expect(!plain.stdout.contains("runtime-call-refused"), "\(plain.stdout)")
    let r = run(syscageExecutable, ["lint", input, "--for", "runc", "--level", "error"])
    #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
    let missing = Set(Self.runcCalls).subtracting(["read", "write", "exit_group", "execve", "rt_sigreturn"]).subtracting(Lint.libcProbed)
    #expect(!missing.isEmpty)
    let flat = r.stdout.replacingOccurrences(of: "\n", with: " ")
    for name in missing { #expect(flat.contains(" \(name),") || flat.contains(" \(name) ") || flat.hasSuffix(" \(name)"), "\(name) not named: \(r.stdout)") }
    #expect(r.stdout.contains("[runtime-call-refused]") && r.stdout.contains("runc, noNewPrivileges"), "\(r.stdout)")

    let json = run(syscageExecutable, ["lint", input, "--for", "runc", "--no-new-privileges", "true", "--json"])
    #expect(json.status == 1)
    let objects = json.stdout.split(separator: "\n").compactMap {
      try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
    let finding = try #require(objects.first { $0["id"] as? String == "runtime-call-refused" })
    #expect(finding["level"] as? String == "error" && finding["path"] as? String == "defaultAction")
    let lists = try #require(finding["lists"] as? [[String: Any]])
    #expect(lists.map { $0["label"] as? String } == ["runc, noNewPrivileges true"])
    let trueMissing = Set(ContainerRuntime.runc.callsAfterFilter(noNewPrivileges: true))
      .subtracting(["read", "write", "exit_group", "execve", "rt_sigreturn"]).subtracting(Lint.libcProbed)
    #expect(Set(lists.first?["names"] as? [String] ?? []) == trueMissing)

    // A profile that allows them all has nothing to say; --no-new-privileges needs --for.
    let full = try write(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [\#(Self.runcCalls.map { "\"\($0)\"" }.joined(separator: ", ")), "exit_group"], "action": "SCMP_ACT_ALLOW"}]}"#,
      to: dir, "full.json")
    let clean = run(syscageExecutable, ["lint", full, "--for", "docker", "--level", "error"])
    #expect(!clean.stdout.contains("runtime-call-refused"), "\(clean.stdout)")
    #expect(run(syscageExecutable, ["lint", input, "--no-new-privileges", "true"]).status == 64)
  }

  /// A deny-list that kills execve (the call every runtime makes last, under the filter)
  /// is flagged by lint and convert, naming the call, the runtime and the modes.
  @Test func aDenyListKillingARuntimeCallIsFlagged() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = try write(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_KILL_PROCESS"}]}"#, to: dir, "deny.json")
    let makers = RuntimeSelection.describe(RuntimeSelection(.runc).makers(of: "execve"))
    #expect(makers.hasPrefix("runc (noNewPrivileges "), "\(makers)")
    let lint = run(syscageExecutable, ["lint", input, "--for", "kubernetes"])
    #expect(lint.status == 1)
    let line = try #require(lint.stdout.split(separator: "\n").first { $0.contains("[runtime-call-refused]") }, "\(lint.stdout)")
    #expect(line.contains("syscalls[0].names[0]: syscalls[0] kills execve") && line.contains(makers) && line.contains("killed"), "\(line)")
    let out = dir.appendingPathComponent("out.json").path
    let convert = run(syscageExecutable, ["convert", input, "--to", "docker", "--for", "runc", "-o", out])
    #expect(convert.status == 0, "\(convert.stderr)")
    #expect(convert.stderr.contains("warning: syscalls[0] kills execve") && convert.stderr.contains(makers), "\(convert.stderr)")
    #expect(try allowed(out).entries.count == 1, "nothing is added to a deny-list")
    let strict = run(syscageExecutable, ["convert", input, "--to", "oci", "--strict"])
    #expect(strict.status == 65 && strict.stderr.contains("deny.json refuses calls oci (crun and runc)"), "\(strict.stderr)")
  }

  // MARK: runc, end to end

  /// A profile recorded with plain `record -o` starts the recorded program in runc, in
  /// both modes, with the same output as the container without a profile.
  @Test(.enabled(if: runcReady || isCI, runcReason), arguments: [true, false])
  func aPlainRecordingStartsInRunc(noNewPrivileges: Bool) throws {
    try #require(Self.runcReady, Self.runcReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (profile, _) = try EngineCases.recordAllowList(into: dir)
    let (names, entries) = try allowed(profile)
    #expect(names.isSuperset(of: Self.runcCalls), "missing \(Set(Self.runcCalls).subtracting(names).sorted())")
    #expect(entries.contains { ($0["comment"] as? String ?? "").contains("(crun and runc) makes after loading") }, "\(entries)")

    let args = ["/bin/busybox", "sh", "-c", EngineCases.allowListScript]
    let unconfined = try Containers.makeBundle(in: dir.appendingPathComponent("none"), args: args, noNewPrivileges: noNewPrivileges)
    let expected = Containers.runc(unconfined)
    try #require(expected.status == 0, "\(expected.stderr)")
    let bundle = try Containers.makeBundle(in: dir.appendingPathComponent("p"), args: args, noNewPrivileges: noNewPrivileges)
    let converted = run(syscageExecutable, ["convert", profile, "--to", "oci", "--bundle", bundle.path])
    try #require(converted.status == 0, "\(converted.stderr)")
    #expect(converted.stderr.contains("noNewPrivileges \(noNewPrivileges) from the bundle"), "\(converted.stderr)")
    let contained = Containers.runc(bundle)
    #expect(contained.status == 0, "\(contained.stderr)")
    #expect(contained.stdout == expected.stdout)
    #expect(contained.stdout.hasPrefix("hi\n") && contained.stdout.hasSuffix("made\n"), "\(contained.stdout)")
  }

  /// The same recording with `--for none` (and converted with `--for none`) stops runc
  /// with its own error; `lint --for runc` names the calls missing.
  @Test(.enabled(if: runcReady || isCI, runcReason), arguments: [true, false])
  func forNoneFailsUnderRuncAndLintSaysWhy(noNewPrivileges: Bool) throws {
    try #require(Self.runcReady, Self.runcReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (profile, _) = try EngineCases.recordAllowList(into: dir, extra: ["--for", "none"])
    let (names, entries) = try allowed(profile)
    #expect(!entries.contains { ($0["comment"] as? String ?? "").contains("after loading") })
    let missing = Set(ContainerRuntime.runc.callsAfterFilter(noNewPrivileges: noNewPrivileges)).subtracting(names)
    try #require(!missing.isEmpty, "the program made every call runc makes; the control means nothing")

    let bundle = try Containers.makeBundle(
      in: dir, args: ["/bin/busybox", "sh", "-c", EngineCases.allowListScript], noNewPrivileges: noNewPrivileges)
    let converted = run(syscageExecutable, ["convert", profile, "--to", "oci", "--for", "none", "--bundle", bundle.path])
    try #require(converted.status == 0, "\(converted.stderr)")
    let r = Containers.runc(bundle)
    #expect(r.status != 0, "the container started without runc's calls: \(r.stdout)")
    #expect(r.stdout.isEmpty)
    // runc 1.1 says which of its steps failed, `ensure /proc/self/fd is on procfs:
    // operation not permitted` most often (`close log pipe fd 4: ...`, with noNewPrivileges
    // false `error closing exec fds: open /proc/self/fd: ...`); now and then its Go runtime
    // dies first, on the refused futex.
    #expect(
      r.stderr.contains(": operation not permitted")
        || r.stderr.contains("futexwakeup") && r.stderr.contains("fatal error"), "runc's error: \(r.stderr)")

    let lint = run(syscageExecutable, ["lint", profile, "--for", "runc", "--no-new-privileges", "\(noNewPrivileges)", "--json"])
    #expect(lint.status == 1, "\(lint.stderr)")
    let finding = try #require(
      lint.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        .first { $0["id"] as? String == "runtime-call-refused" }, "\(lint.stdout)")
    let listed = Set(((finding["lists"] as? [[String: Any]]) ?? []).flatMap { $0["names"] as? [String] ?? [] })
    // ENOSYS for faccessat2 (the recording's fallback entry) is runc's fallback too: not listed.
    #expect(listed == missing.subtracting(Lint.libcProbed))
    #expect(!listed.isEmpty)
  }

  /// deny-dir.json with chdir refused: flagged by lint and convert before runc runs it
  /// with noNewPrivileges false (where runc fails on chdir, as it says), refused by
  /// convert --strict; with noNewPrivileges true the container runs under it.
  @Test(.enabled(if: runcReady || isCI, runcReason), arguments: [true, false])
  func denyDirAndChdirIsFlaggedBeforeItRuns(noNewPrivileges: Bool) throws {
    try #require(Self.runcReady, Self.runcReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let profile = try write(EngineCases.denyDirAndChdir, to: dir, "deny-dir.json")
    let callsChdir = ContainerRuntime.runc.callsAfterFilter(noNewPrivileges: noNewPrivileges).contains("chdir")
    if !noNewPrivileges { #expect(callsChdir, "runc with noNewPrivileges false calls chdir under the filter") }
    let mode = "noNewPrivileges \(noNewPrivileges)"

    let lint = run(syscageExecutable, ["lint", profile, "--for", "runc", "--no-new-privileges", "\(noNewPrivileges)"])
    let flagged = lint.stdout.split(separator: "\n").filter { $0.contains("[runtime-call-refused]") }
    #expect(flagged.contains { $0.contains("refuses chdir") && $0.contains("runc (\(mode))") } == callsChdir, "\(lint.stdout)")
    if callsChdir { #expect(lint.status == 1) }

    let bundle = try Containers.makeBundle(in: dir, args: ["/bin/sh", "-c", EngineCases.denyDirScript], noNewPrivileges: noNewPrivileges)
    let config = try Data(contentsOf: bundle.appendingPathComponent("config.json"))
    if callsChdir {
      let strict = run(syscageExecutable, ["convert", profile, "--to", "oci", "--bundle", bundle.path, "--strict"])
      #expect(strict.status == 65, "\(strict.stderr)")
      #expect(strict.stderr.contains("error: ") && strict.stderr.contains("chdir"), "\(strict.stderr)")
      #expect(try Data(contentsOf: bundle.appendingPathComponent("config.json")) == config, "--strict wrote the bundle")
    }
    let converted = run(syscageExecutable, ["convert", profile, "--to", "oci", "--bundle", bundle.path])
    #expect(converted.status == 0, "\(converted.stderr)")
    let warning = converted.stderr.split(separator: "\n").first { $0.contains("warning:") && $0.contains("refuses chdir") }
    #expect((warning != nil) == callsChdir, "\(converted.stderr)")
    if let warning { #expect(warning.contains("runc (\(mode))"), "\(warning)") }

    let r = Containers.runc(bundle)
    if noNewPrivileges {
      #expect(r.status == 0, "\(r.stderr)")
      #expect(r.stdout == "hi\nMKDIR_FAILED\n", "\(r.stdout)")
    } else {
      #expect(r.status != 0 && r.stdout.isEmpty, "\(r.stdout)")
      #expect(r.stderr.contains("chdir to cwd"), "runc's error: \(r.stderr)")
    }
  }

  /// A bundle with CAP_SYS_ADMIN keeps Docker's default profile's mount, and the
  /// container mounts a tmpfs; expanded for Docker's default capabilities instead
  /// (--caps), the same container's mount is refused by the filter.
  @Test(.enabled(if: runcReady || isCI, runcReason))
  func aBundlesCapabilitiesExpandTheProfile() throws {
    try #require(Self.runcReady, Self.runcReason)
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let script = "/bin/busybox mount -t tmpfs none /tmp && echo mounted || echo MOUNT_FAILED"
    func bundle(_ name: String) throws -> URL {
      try Containers.makeBundle(in: dir.appendingPathComponent(name), args: ["/bin/sh", "-c", script], noNewPrivileges: true) { config in
        var process = config["process"] as? [String: Any] ?? [:]
        var caps = process["capabilities"] as? [String: Any] ?? [:]
        for set in ["bounding", "effective", "permitted"] {
          caps[set] = (caps[set] as? [String] ?? []) + ["CAP_SYS_ADMIN"]
        }
        process["capabilities"] = caps
        config["process"] = process
      }
    }
    let withCaps = try bundle("caps")
    let r = run(syscageExecutable, ["convert", EngineCases.dockerDefault.path, "--to", "oci", "--bundle", withCaps.path])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("capabilities from the bundle's process.capabilities.bounding") && r.stderr.contains("CAP_SYS_ADMIN"), "\(r.stderr)")
    let syscalls = try bundleSeccomp(withCaps)["syscalls"] as? [[String: Any]] ?? []
    #expect(syscalls.contains { ($0["names"] as? [String] ?? []).contains("mount") && $0["action"] as? String == "SCMP_ACT_ALLOW" })
    let mounted = Containers.runc(withCaps)
    #expect(mounted.status == 0 && mounted.stdout == "mounted\n", "\(mounted.stdout)\(mounted.stderr)")

    let docker = try bundle("docker-caps")
    let d = run(syscageExecutable, ["convert", EngineCases.dockerDefault.path, "--to", "oci", "--bundle", docker.path,
      "--caps", ExpansionContext.dockerDefaultCapabilities.joined(separator: ",")])
    #expect(d.status == 0, "\(d.stderr)")
    let refused = Containers.runc(docker)
    #expect(refused.stdout == "MOUNT_FAILED\n", "\(refused.stdout)\(refused.stderr)")
  }
}
