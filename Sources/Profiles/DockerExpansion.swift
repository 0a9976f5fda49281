import Seccomp
import Syscalls

extension ExpansionContext {
  /// Docker's default bounding set for a container (moby `DefaultCapabilities()`).
  public static let dockerDefaultCapabilities = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
  ]

  /// Docker's default container: its capability set, on `native` with `kernel`
  /// (`HostFacts.dockerDefault()` is this host's).
  public static func dockerDefault(native: Arch, kernel: KernelVersion) -> ExpansionContext {
    ExpansionContext(native: native, capabilities: dockerDefaultCapabilities, kernel: kernel)
  }
}

extension Profile {
  /// Whether a syscalls entry applies on this host, by moby's rules: excludes first
  /// (any listed arch, any listed cap, or a kernel at least minKernel skips it), then
  /// includes (the arch must be listed, every cap present, the kernel at least minKernel).
  public static func entryApplies(_ entry: SyscallEntry, in context: ExpansionContext) -> Bool {
    let arch = context.native.dockerName ?? context.native.name
    if let ex = entry.excludes {
      if let arches = ex.arches, arches.contains(arch) { return false }
      if let caps = ex.caps, caps.contains(where: { context.capabilities.contains(ExpansionContext.normalize($0)) }) {
        return false
      }
      if let min = ex.minKernel, context.kernel >= min { return false }
    }
    if let inc = entry.includes {
      if let arches = inc.arches, !arches.isEmpty, !arches.contains(arch) { return false }
      if let caps = inc.caps, !caps.allSatisfy({ context.capabilities.contains(ExpansionContext.normalize($0)) }) {
        return false
      }
      if let min = inc.minKernel, context.kernel < min { return false }
    }
    return true
  }

  /// The ABIs the filter covers, as moby and runc pick them: `architectures`, or the
  /// first archMap entry for the native arch with its subArchitectures; the native
  /// arch is always included (libseccomp adds it), first.
  public func filterArches(native: Arch) -> [Arch] {
    var listed: [Arch] = []
    if let architectures {
      listed = architectures
    } else if let entry = archMap?.first(where: { $0.architecture == native }) {
      listed = [entry.architecture] + (entry.subArchitectures ?? [])
    }
    var result = [native]
    for a in listed where !result.contains(a) { result.append(a) }
    return result
  }

  /// The profile as moby hands it to runc: entries that apply in `context` only,
  /// `architectures` resolved, archMap, includes and excludes gone, `name` folded into `names`.
  public func expanded(for context: ExpansionContext) -> Profile {
    var p = self
    p.archMap = nil
    p.architectures = filterArches(native: context.native)
    p.syscalls = syscalls?.filter { Profile.entryApplies($0, in: context) }.map { e in
      var e = e
      e.includes = nil
      e.excludes = nil
      e.usesNameField = false
      return e
    }
    return p
  }
}

extension Profile {
  /// The warnings that matter on this host: those about entries that apply here
  /// (an entry for arm says nothing to an x86_64 run).
  public func relevant(_ warnings: [Diagnostic], in context: ExpansionContext) -> [Diagnostic] {
    warnings.filter { d in
      guard d.path.hasPrefix("syscalls["), let close = d.path.firstIndex(of: "]"),
        let i = Int(d.path[d.path.index(d.path.startIndex, offsetBy: 9)..<close]),
        let entries = syscalls, i < entries.count
      else { return true }
      return Profile.entryApplies(entries[i], in: context)
    }
  }
}

extension Profile {
  /// Docker's default profile (moby/profiles `seccomp/default.json`), embedded in the binary.
  public static var dockerDefault: Profile {
    // The embedded text is Data/docker-default.json, which the tests decode without errors.
    (try? Profile.decode(Array(EmbeddedProfiles.dockerDefaultJSON.utf8), file: "docker-default.json"))?.profile ?? Profile()
  }

  /// The embedded Docker default profile's JSON text.
  public static var dockerDefaultJSON: String { EmbeddedProfiles.dockerDefaultJSON }
}
