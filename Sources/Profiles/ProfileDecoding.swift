import Seccomp
import Syscalls

/// The JSON schema a profile is written in.
public enum ProfileFormat: String, CaseIterable, Hashable, Sendable {
  /// moby's profile: the OCI fields plus `archMap`, and per entry `name`, `comment`,
  /// `includes` and `excludes`.
  case docker
  /// The OCI runtime-spec `linux.seccomp` object: `defaultAction`, `defaultErrnoRet`,
  /// `architectures`, `flags`, `listenerPath`, `listenerMetadata` and
  /// `syscalls[{names, action, errnoRet, args}]`.
  case oci
}

extension Profile {
  /// Reads and validates a profile.
  ///
  /// Every problem found is reported, with its JSON path (`syscalls[12].args[0].op`), its
  /// line, the offending value and what is accepted. Keys are matched as moby's Go
  /// decoder matches them (ASCII case, `ſ` for s and `K` for k, with a warning when
  /// spelled otherwise; `null` is absent); a key repeated in one object is an error, and
  /// unknown keys are ignored with a warning. Whatever Docker or runc would refuse is an
  /// error. With `strict`, every warning is an error.
  ///
  /// - Returns: the profile and the warnings.
  /// - Throws: an `InputError` holding every error (and the warnings) when there is any
  ///   error.
  public static func decode(
    _ bytes: [UInt8], file: String?, format: ProfileFormat = .docker, strict: Bool = false
  ) throws(InputError) -> (profile: Profile, warnings: [Diagnostic]) {
    let root: JSONValue
    do {
      root = try JSONValue.parse(bytes)
    } catch {
      throw InputError(
        Diagnostic(.error, file: file, line: error.line, "invalid JSON at column \(error.column): \(error.message)"))
    }
    return try decode(root: root, file: file, format: format, strict: strict)
  }

  /// Decodes a parsed document as `decode` does (also for a YAML document made into JSON values).
  static func decode(
    root: JSONValue, file: String?, format: ProfileFormat, strict: Bool
  ) throws(InputError) -> (profile: Profile, warnings: [Diagnostic]) {
    var decoder = ProfileDecoder(file: file, format: format, strict: strict)
    let profile = decoder.decodeProfile(root)
    let diagnostics = decoder.sortedDiagnostics()
    guard let profile, !diagnostics.contains(where: { $0.severity == .error }) else {
      throw InputError(diagnostics)
    }
    return (profile, diagnostics)
  }
}

// MARK: - The decoder

/// Linux capabilities by name, as moby compares `includes.caps` / `excludes.caps`.
private let knownCapabilities: [String] = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
  "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]

/// The architectures runc converts (libcontainer/seccomp's table); it refuses others.
private let runcArchitectures = [
  "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
  "SCMP_ARCH_LOONGARCH64",
]

/// The filter flags runc knows; it refuses a profile with any other.
private let runcFlags = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"]

private let actionList = ActionName.allCases.map(\.rawValue).joined(separator: ", ")
private let operatorList = ComparisonOperator.allCases.map(\.rawValue).joined(separator: ", ")

private enum Keys {
  static let top = [
    "defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags", "listenerPath",
    "listenerMetadata", "syscalls",
  ]
  static let topDockerOnly: Set<String> = ["archMap"]
  static let entry = ["names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes"]
  static let entryDockerOnly: Set<String> = ["name", "comment", "includes", "excludes"]
  static let arg = ["index", "value", "valueTwo", "op"]
  static let archMap = ["architecture", "subArchitectures"]
  static let filter = ["caps", "arches", "minKernel"]
}

/// A syscall name to check once the profile's ABIs are known.
private struct NameCheck {
  /// `syscalls[3].names` (with `index`) or `syscalls[3].name`.
  var base: String
  var index: Int?
  var path: String { index.map { "\(base)[\($0)]" } ?? base }
  var line: Int
  var name: String
  var includesArches: [String]?
}

private struct ProfileDecoder {
  let file: String?
  let format: ProfileFormat
  let strict: Bool
  var diagnostics: [Diagnostic] = []
  var nameChecks: [NameCheck] = []

  init(file: String?, format: ProfileFormat, strict: Bool) {
    self.file = file
    self.format = format
    self.strict = strict
  }

  // MARK: Reporting

  mutating func error(_ path: String, _ line: Int, _ message: String) {
    diagnostics.append(Diagnostic(.error, file: file, path: path, line: line > 0 ? line : nil, message))
  }

  mutating func warn(_ path: String, _ line: Int, _ message: String) {
    diagnostics.append(
      Diagnostic(strict ? .error : .warning, file: file, path: path, line: line > 0 ? line : nil, message))
  }

  /// Diagnostics in file order (by line, then as found).
  func sortedDiagnostics() -> [Diagnostic] {
    diagnostics.enumerated()
      .sorted { ($0.element.line ?? 0, $0.offset) < ($1.element.line ?? 0, $1.offset) }
      .map(\.element)
  }

  mutating func typeError(_ v: JSONValue, at path: String, expected: String) {
    error(path, v.line, "expected \(expected), found \(describe(v))")
  }

  // MARK: Typed readers

  /// An object's members by known key, read the way Go's encoding/json reads a struct:
  /// a key is the field it folds to (ASCII case, `ſ` as s and `K` as k; see `goFoldMatches`),
  /// `null` means absent. A key spelled otherwise than the field is a warning; two keys
  /// read as one field are an error (Go would merge their values); unknown keys, and
  /// Docker-only keys in OCI, are warnings.
  mutating func fields(
    _ v: JSONValue, at path: String, known: [String], dockerOnly: Set<String> = [],
    expected: String = "an object"
  ) -> [String: JSONValue]? {
    guard case .object(let members) = v.kind else {
      typeError(v, at: path, expected: expected)
      return nil
    }
    var result: [String: JSONValue] = [:]
    var first: [String: (key: String, line: Int)] = [:]
    for m in members {
      let keyPath = join(path, m.key)
      guard let match = known.first(where: { sameBytes($0, m.key) }) ?? known.first(where: { goFoldMatches(m.key, $0) }) else {
        var message = "unknown key \(quote(m.key)) is ignored"
        if let near = nearest(m.key, in: known) { message += "; did you mean \(quote(near))?" }
        message += " (keys here: \(known.filter { format == .docker || !dockerOnly.contains($0) }.joined(separator: ", ")))"
        warn(keyPath, m.line, message)
        continue
      }
      if format == .oci, dockerOnly.contains(match) {
        warn(keyPath, m.line, "\(quote(m.key)) is a Docker profile field, not part of the OCI runtime-spec; runtimes ignore it")
        continue
      }
      if let earlier = first[match] {
        let also = earlier.key == m.key ? "" : " (spelled \(quote(earlier.key)) there)"
        error(
          keyPath, m.line,
          "duplicate key \(join(path, match)): also set at \(join(path, earlier.key)) on line \(earlier.line)\(also); "
            + "Docker and runc read both into one value (a later object's fields merge into the earlier one's), so write it once")
      } else {
        first[match] = (m.key, m.line)
      }
      if !sameBytes(match, m.key) {
        warn(
          keyPath, m.line,
          "key \(quote(m.key)) is read as \(quote(match)) by Docker and runc (Go's encoding/json matches keys ignoring case, "
            + "with \u{17F} as s and \u{212A} as k); spell it \(quote(match))")
      }
      if case .null = m.value.kind {
        result[match] = nil
      } else {
        result[match] = m.value
      }
    }
    return result
  }

  mutating func string(_ v: JSONValue, at path: String) -> String? {
    guard case .string(let s) = v.kind else {
      typeError(v, at: path, expected: "a string")
      return nil
    }
    return s
  }

  mutating func array(_ v: JSONValue, at path: String, expected: String) -> [JSONValue]? {
    guard case .array(let items) = v.kind else {
      typeError(v, at: path, expected: expected)
      return nil
    }
    return items
  }

  /// An array of strings; elements of the wrong type are reported and left out.
  mutating func strings(_ v: JSONValue, at path: String, expected: String) -> [(String, JSONValue, String)]? {
    guard let items = array(v, at: path, expected: expected) else { return nil }
    var result: [(String, JSONValue, String)] = []
    for (i, item) in items.enumerated() {
      let p = "\(path)[\(i)]"
      if let s = string(item, at: p) { result.append((s, item, p)) }
    }
    return result
  }

  /// An unsigned integer written in digits that fits in `bits` bits.
  mutating func unsigned(_ v: JSONValue, at path: String, bits: Int) -> UInt64? {
    let max: UInt64 = bits >= 64 ? .max : (1 << UInt64(bits)) - 1
    guard case .number(let lexeme) = v.kind else {
      typeError(v, at: path, expected: "an unsigned integer (0...\(max))")
      return nil
    }
    let shown = abbreviate(lexeme)
    if lexeme.hasPrefix("-") {
      error(path, v.line, "\(shown) is negative; expected an unsigned integer (0...\(max))")
      return nil
    }
    if lexeme.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
      error(path, v.line, "\(shown) is not written as an integer; expected digits only, without fraction or exponent (0...\(max))")
      return nil
    }
    guard let value = UInt64(lexeme), value <= max else {
      error(path, v.line, "\(shown) does not fit in \(bits) bits; expected an unsigned integer (0...\(max))")
      return nil
    }
    return value
  }

  mutating func action(_ v: JSONValue, at path: String) -> ActionName? {
    guard let s = string(v, at: path) else { return nil }
    guard let a = ActionName(rawValue: s), sameBytes(a.rawValue, s) else {
      error(
        path, v.line,
        "\(quote(s)) is not a seccomp action; expected one of \(actionList)")
      return nil
    }
    return a
  }

  /// Something runc refuses when it converts the profile: an error in Docker profiles
  /// (the value is left out: false), a warning in OCI ones, which other runtimes may take (kept: true).
  mutating func keptAfterRuncRefusal(_ message: String, _ path: String, _ line: Int) -> Bool {
    if format == .docker {
      error(path, line, message)
      return false
    }
    warn(path, line, message)
    return true
  }

  /// An architecture by its SCMP_ARCH_* name. With `runcMustKnow`, one runc has no
  /// name for (it refuses the profile when converting it) is an error in Docker
  /// profiles and a warning in OCI ones (other runtimes may take it).
  mutating func arch(_ s: String, _ v: JSONValue, at path: String, runcMustKnow: Bool = false) -> Arch? {
    if let a = Arch(profileName: s), sameBytes(a.profileName, s) {
      if runcMustKnow, !runcArchitectures.contains(s) {
        let known = runcArchitectures.joined(separator: ", ")
        if !keptAfterRuncRefusal("runc has no architecture \(quote(s)) and refuses the profile (it knows \(known))", path, v.line) {
          return nil
        }
      }
      return a
    }
    var message = "\(quote(s)) is not an architecture"
    if let near = Arch(named: s) { message += "; did you mean \(quote(near.profileName))?" }
    message += " (expected one of \(Arch.all.map(\.profileName).joined(separator: ", ")))"
    error(path, v.line, message)
    return nil
  }

  mutating func errnoRet(_ v: JSONValue?, at path: String, action: ActionName?) -> UInt32? {
    guard let v, let n = unsigned(v, at: path, bits: 32) else { return nil }
    if let action, !action.takesErrno {
      warn(
        path, v.line,
        "errnoRet \(n) has no effect with \(action.rawValue); only SCMP_ACT_ERRNO and SCMP_ACT_TRACE use it")
    }
    return UInt32(n)
  }

  // MARK: The profile

  mutating func decodeProfile(_ root: JSONValue) -> Profile? {
    guard
      let top = fields(
        root, at: "", known: Keys.top, dockerOnly: Keys.topDockerOnly, expected: "an object (the seccomp profile)")
    else { return nil }
    var p = Profile()

    var defaultActionGiven = false
    if let v = top["defaultAction"] {
      if case .string("") = v.kind {
        // Go reads "" as unset.
      } else {
        defaultActionGiven = true
        p.defaultAction = action(v, at: "defaultAction")
      }
    }
    p.defaultErrnoRet = errnoRet(top["defaultErrnoRet"], at: "defaultErrnoRet", action: p.defaultAction)

    if let v = top["architectures"], let names = strings(v, at: "architectures", expected: "an array of SCMP_ARCH_* names") {
      p.architectures = names.compactMap { arch($0.0, $0.1, at: $0.2, runcMustKnow: true) }
    }
    if let v = top["archMap"] {
      if let items = array(v, at: "archMap", expected: "an array of {architecture, subArchitectures} objects") {
        if !items.isEmpty, let a = top["architectures"], case .array(let arches) = a.kind, !arches.isEmpty {
          error("archMap", v.line, "architectures and archMap are both set; moby rejects a profile with both, so use one")
        }
        p.archMap = items.enumerated().compactMap { decodeArchMapEntry($0.element, at: "archMap[\($0.offset)]") }
      }
    }
    if let v = top["flags"], let names = strings(v, at: "flags", expected: "an array of SECCOMP_FILTER_FLAG_* names") {
      p.flags = names.compactMap { (s, item, path) in
        if let flag = FilterFlag(rawValue: s), sameBytes(flag.rawValue, s) {
          if !runcFlags.contains(s) {
            let known = runcFlags.joined(separator: ", ")
            if !keptAfterRuncRefusal("runc does not know the flag \(quote(s)) and refuses the profile (it knows \(known))", path, item.line) {
              return nil
            }
          }
          return flag
        }
        error(
          path, item.line,
          "\(quote(s)) is not a seccomp filter flag; expected one of \(FilterFlag.allCases.map(\.rawValue).joined(separator: ", "))")
        return nil
      }
    }
    if let v = top["listenerPath"] { p.listenerPath = string(v, at: "listenerPath") }
    if let v = top["listenerMetadata"], let s = string(v, at: "listenerMetadata") {
      p.listenerMetadata = s
      // (A listenerPath of the wrong type is reported already.)
      let pathMissing = top["listenerPath"] == nil || p.listenerPath == ""
      if !s.isEmpty, pathMissing {
        error(
          "listenerMetadata", v.line,
          "listenerMetadata \(quote(s)) is set without listenerPath; the runtime-spec forbids it (set listenerPath or drop listenerMetadata)")
      }
    }

    var syscallCount = 0
    if let v = top["syscalls"], let items = array(v, at: "syscalls", expected: "an array of syscall entries") {
      syscallCount = items.count
      p.syscalls = items.enumerated().compactMap { decodeEntry($0.element, at: "syscalls[\($0.offset)]") }
    }
    if !defaultActionGiven, syscallCount > 0 {
      error(
        "defaultAction", root.line,
        "defaultAction is required when syscalls are given (only a profile with neither means \"no seccomp\"); "
          + "expected one of \(actionList)")
    }
    checkSyscallNames(p)
    return p
  }

  mutating func decodeArchMapEntry(_ v: JSONValue, at path: String) -> ArchMapEntry? {
    guard let f = fields(v, at: path, known: Keys.archMap) else { return nil }
    var subs: [Arch]?
    if let sv = f["subArchitectures"],
      let names = strings(sv, at: join(path, "subArchitectures"), expected: "an array of SCMP_ARCH_* names or null")
    {
      subs = names.compactMap { arch($0.0, $0.1, at: $0.2, runcMustKnow: true) }
    }
    guard let av = f["architecture"] else {
      error(path, v.line, "architecture is required; expected a SCMP_ARCH_* name")
      return nil
    }
    let archPath = join(path, "architecture")
    guard let s = string(av, at: archPath), let a = arch(s, av, at: archPath) else { return nil }
    return ArchMapEntry(architecture: a, subArchitectures: subs)
  }

  // MARK: Entries

  mutating func decodeEntry(_ v: JSONValue, at path: String) -> SyscallEntry? {
    guard let f = fields(v, at: path, known: Keys.entry, dockerOnly: Keys.entryDockerOnly) else { return nil }
    var complete = true
    var names: [String] = []
    var namePaths: [(path: String, index: Int?, line: Int)] = []
    var usesNameField = false
    var nameField = f["name"], namesField = f["names"]
    if let n = nameField, let ns = namesField {
      // moby refuses the two only when both say something: an empty one gives way.
      if case .string("") = n.kind {
        warn(join(path, "name"), n.line, "an empty name beside names is ignored, as moby ignores it; remove it")
        nameField = nil
      } else if case .array(let items) = ns.kind, items.isEmpty {
        warn(join(path, "names"), ns.line, "an empty names beside name is ignored, as moby ignores it; remove it")
        namesField = nil
      }
    }
    switch (nameField, namesField) {
    case (nil, nil):
      let hint = format == .oci ? "" : " or \"name\": \"syscall\""
      error(path, v.line, "no syscall names: expected \"names\": [\"syscall\", ...]\(hint)")
      complete = false
    case (let n?, _?):
      error(join(path, "name"), n.line, "name and names are both set; moby rejects this, so list every syscall in names")
      complete = false
    case (let n?, nil):
      let p = join(path, "name")
      usesNameField = true
      if let s = string(n, at: p) {
        if s.isEmpty {
          error(p, n.line, "the syscall name is empty")
          complete = false
        } else {
          names = [s]
          namePaths = [(p, nil, n.line)]
        }
      } else {
        complete = false
      }
    case (nil, let ns?):
      let p = join(path, "names")
      if let items = array(ns, at: p, expected: "an array of syscall names") {
        if items.isEmpty {
          error(p, ns.line, "names is empty; expected at least one syscall name")
          complete = false
        }
        for (i, item) in items.enumerated() {
          guard case .string(let s) = item.kind, !s.isEmpty else {
            if case .string = item.kind {
              error("\(p)[\(i)]", item.line, "the syscall name is empty")
            } else {
              typeError(item, at: "\(p)[\(i)]", expected: "a string")
            }
            complete = false
            continue
          }
          names.append(s)
          namePaths.append((p, i, item.line))
        }
      } else {
        complete = false
      }
    }

    var action: ActionName?
    if let av = f["action"] {
      action = self.action(av, at: join(path, "action"))
    } else {
      error(
        path, v.line,
        "action is required; expected one of \(actionList)")
    }
    let errno = errnoRet(f["errnoRet"], at: join(path, "errnoRet"), action: action)

    var args: [ArgumentCondition]?
    if let av = f["args"], let items = array(av, at: join(path, "args"), expected: "an array of argument conditions") {
      var decoded: [ArgumentCondition] = []
      for (i, item) in items.enumerated() {
        if let c = decodeArg(item, at: join(path, "args") + "[\(i)]") { decoded.append(c) } else { complete = false }
      }
      args = decoded
    }
    var comment: String?
    if let cv = f["comment"] { comment = string(cv, at: join(path, "comment")) }
    let includes = f["includes"].flatMap { decodeFilter($0, at: join(path, "includes")) }
    let excludes = f["excludes"].flatMap { decodeFilter($0, at: join(path, "excludes")) }

    for (name, at) in zip(names, namePaths) {
      nameChecks.append(NameCheck(base: at.path, index: at.index, line: at.line, name: name, includesArches: includes?.arches))
    }
    guard complete, let action else { return nil }
    return SyscallEntry(
      names: names, usesNameField: usesNameField, action: action, errnoRet: errno, args: args,
      comment: comment, includes: includes, excludes: excludes)
  }

  mutating func decodeArg(_ v: JSONValue, at path: String) -> ArgumentCondition? {
    guard let f = fields(v, at: path, known: Keys.arg) else { return nil }
    var index: Int?
    if let iv = f["index"] {
      let p = join(path, "index")
      if let n = unsigned(iv, at: p, bits: 64) {
        if n <= 5 {
          index = Int(n)
        } else {
          error(p, iv.line, "index \(n) is out of range; expected 0...5 (a syscall has six arguments)")
        }
      }
    } else {
      error(path, v.line, "index is required; expected the argument's position, 0...5")
    }
    var value: UInt64?
    if let vv = f["value"] {
      value = unsigned(vv, at: join(path, "value"), bits: 64)
    } else {
      error(path, v.line, "value is required; expected an unsigned integer (0...\(UInt64.max))")
    }
    var valueTwo: UInt64?
    var valueTwoOK = true
    if let vv = f["valueTwo"] {
      valueTwo = unsigned(vv, at: join(path, "valueTwo"), bits: 64)
      valueTwoOK = valueTwo != nil
    }
    var op: ComparisonOperator?
    if let ov = f["op"] {
      let p = join(path, "op")
      if let s = string(ov, at: p) {
        op = ComparisonOperator(rawValue: s).flatMap { sameBytes($0.rawValue, s) ? $0 : nil }
        if op == nil {
          error(
            p, ov.line,
            "\(quote(s)) is not a comparison operator; expected one of \(operatorList)")
        }
      }
    } else {
      error(
        path, v.line,
        "op is required; expected one of \(operatorList)")
    }
    guard let index, let value, let op, valueTwoOK else { return nil }
    return ArgumentCondition(index: index, value: value, valueTwo: valueTwo, op: op)
  }

  mutating func decodeFilter(_ v: JSONValue, at path: String) -> EntryFilter? {
    guard let f = fields(v, at: path, known: Keys.filter) else { return nil }
    var filter = EntryFilter()
    if let cv = f["caps"], let caps = strings(cv, at: join(path, "caps"), expected: "an array of capability names") {
      for (cap, item, p) in caps {
        if knownCapabilities.contains(where: { sameBytes($0, cap) }) { continue }
        if knownCapabilities.contains(cap) {
          // Swift's == would match (canonical equivalence, e.g. U+212A for K); moby compares bytes.
          error(p, item.line, "\(quote(cap)) is not written in ASCII and never matches in Docker, which compares capability names byte by byte; write it in ASCII")
          continue
        }
        let upper = cap.uppercased()
        let normal = upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
        if knownCapabilities.contains(normal) {
          warn(
            p, item.line,
            "\(quote(cap)) never matches in Docker, which compares capability names as written (upper case, with the CAP_ prefix); write \(quote(normal))")
        } else {
          var message = "\(quote(cap)) is not a Linux capability"
          if let near = nearest(cap, in: knownCapabilities) { message += "; did you mean \(quote(near))?" }
          warn(p, item.line, message)
        }
      }
      filter.caps = caps.map(\.0)
    }
    if let av = f["arches"], let arches = strings(av, at: join(path, "arches"), expected: "an array of architecture names") {
      let accepted = Arch.all.compactMap(\.dockerName)
      for (name, item, p) in arches where !accepted.contains(where: { sameBytes($0, name) }) {
        if accepted.contains(name) {
          error(p, item.line, "\(quote(name)) is not written in ASCII and never matches in Docker, which compares arch names byte by byte; write it in ASCII")
          continue
        }
        var message = "\(quote(name)) is not an architecture moby compares against, so it never matches"
        if let near = Arch(named: name)?.dockerName { message += "; did you mean \(quote(near))?" }
        message += " (expected one of \(accepted.joined(separator: ", ")))"
        warn(p, item.line, message)
      }
      filter.arches = arches.map(\.0)
    }
    if let kv = f["minKernel"] {
      let p = join(path, "minKernel")
      if let s = string(kv, at: p) {
        if s.isEmpty {
          // moby reads "" as version 0.0, which every kernel satisfies.
          filter.minKernel = KernelVersion(major: 0, minor: 0)
          if path.hasSuffix("excludes") {
            warn(
              p, kv.line,
              "an empty minKernel is version 0.0 to moby, which every kernel satisfies, so this entry never applies; remove the entry or the minKernel")
          }
        } else if let k = parseMinKernel(s) {
          filter.minKernel = k
        } else {
          error(p, kv.line, "\(quote(s)) is not a kernel version; expected \"X.Y\" with X and Y in 0...255, not \"0.0\" (e.g. \"4.8\")")
        }
      }
    }
    return filter
  }

  // MARK: Syscall names

  /// Warns about names that exist on none of the ABIs an entry can be applied to.
  mutating func checkSyscallNames(_ p: Profile) {
    guard !nameChecks.isEmpty else { return }
    var targetsCache: [[String]: [Arch]] = [:]
    var suggestionCache: [String: [String]] = [:]
    for check in nameChecks {
      let key = check.includesArches ?? []
      let targets = targetsCache[key] ?? targetABIs(p, includesArches: key)
      targetsCache[key] = targets
      if targets.isEmpty || Profile.makesRule(check.name, on: targets) { continue }

      let on = targets.map(\.name).joined(separator: ", ")
      var suggestions: [String] = []
      if let cached = suggestionCache[check.name] {
        suggestions = cached
      } else if suggestionCache.count < 64, check.name.utf8.count <= 64 {
        suggestions = SyscallTable.suggestions(for: check.name, limit: 12)
          .filter { s in s != check.name && targets.contains(where: { $0.number(of: s) != nil }) }
          .prefix(3).map { $0 }
        suggestionCache[check.name] = suggestions
      }
      let hint = suggestions.isEmpty ? "" : "; did you mean \(suggestions.map(quote).joined(separator: ", "))?"
      if SyscallTable.isKnown(check.name) {
        let elsewhere = Arch.all.filter { $0.number(of: check.name) != nil }.map(\.name)
        let listed = elsewhere.count > 6 ? elsewhere.prefix(6).joined(separator: ", ") + ", ..." : elsewhere.joined(separator: ", ")
        warn(check.path, check.line, "\(quote(check.name)) is not a syscall on \(on) (only on \(listed))\(hint)")
      } else {
        warn(check.path, check.line, "\(quote(check.name)) is not a syscall on any architecture\(hint)")
      }
    }
  }

  /// The ABIs an entry's names can end up in: the profile's architectures, else every
  /// arch of its archMap, else the native family. With `includes.arches`, the union over
  /// the hosts it names of what moby would use there (that host's archMap family or the
  /// profile's architectures, plus the host itself, which runc always adds).
  func targetABIs(_ p: Profile, includesArches: [String]) -> [Arch] {
    func family(of host: Arch) -> [Arch] {
      if let a = p.architectures, !a.isEmpty { return a }
      if let m = p.archMap, !m.isEmpty {
        guard let e = m.first(where: { $0.architecture == host }) else { return [] }
        return [e.architecture] + (e.subArchitectures ?? [])
      }
      return host.family
    }
    var result: [Arch] = []
    func add(_ arches: [Arch]) {
      for a in arches where !result.contains(a) { result.append(a) }
    }
    if includesArches.isEmpty {
      if let a = p.architectures, !a.isEmpty {
        add(a)
      } else if let m = p.archMap, !m.isEmpty {
        for e in m { add([e.architecture] + (e.subArchitectures ?? [])) }
      } else {
        add(Arch.native.family)
      }
    } else {
      for host in Arch.all where host.dockerName.map(includesArches.contains) ?? false {
        add([host] + family(of: host))
      }
    }
    return result
  }
}

// MARK: - Helpers

/// moby's minKernel rule: exactly "X.Y", each part a decimal 0...255, and not "0.0".
private func parseMinKernel(_ s: String) -> KernelVersion? {
  let parts = s.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
  guard parts.count == 2 else { return nil }
  var numbers: [Int] = []
  for part in parts {
    guard !part.isEmpty, part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    let digits = part.drop(while: { $0 == "0" })
    guard digits.count <= 3, let n = Int(digits.isEmpty ? "0" : digits), n <= 255 else { return nil }
    numbers.append(n)
  }
  guard numbers != [0, 0] else { return nil }
  return KernelVersion(major: numbers[0], minor: numbers[1])
}

private func join(_ path: String, _ key: String) -> String {
  let plain = !key.isEmpty && key.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x5F }
  if !plain { return path + "[" + quote(key) + "]" }
  return path.isEmpty ? key : path + "." + key
}

/// A string as JSON text, shortened when long.
private func quote(_ s: String) -> String {
  var out: [UInt8] = []
  JSONValue.writeString(s.count > 80 ? String(s.prefix(60)) + "…" : s, to: &out)
  return String(decoding: out, as: UTF8.self)
}

private func abbreviate(_ lexeme: String) -> String {
  lexeme.count > 40 ? "\(lexeme.prefix(24))… (\(lexeme.count) characters)" : lexeme
}

/// How a value is named in "expected X, found Y".
private func describe(_ v: JSONValue) -> String {
  switch v.kind {
  case .null: "null"
  case .bool(let b): "the boolean \(b)"
  case .number(let n): "the number \(abbreviate(n))"
  case .string(let s): "the string \(quote(s))"
  case .array(let a): a.isEmpty ? "an empty array" : "an array"
  case .object: "an object"
  }
}

/// Byte equality: Go compares strings by their bytes, Swift's `==` by canonical
/// equivalence ("\u{212A}" == "K").
private func sameBytes(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

/// Whether Go's encoding/json reads the JSON key `key` as the struct field named `field`
/// (an ASCII name): rune by rune, an ASCII rune equal to the field's byte but for ASCII
/// case, U+017F LATIN SMALL LETTER LONG S for s or S, or U+212A KELVIN SIGN for k or K;
/// nothing else. This is Unicode simple case folding restricted to the runes that fold
/// to ASCII letters, as Go 1.19's `equalFoldRight` and later `foldName` both decide.
public func goFoldMatches(_ key: String, _ field: String) -> Bool {
  var runes = key.unicodeScalars.makeIterator()
  for f in field.utf8 {
    guard let r = runes.next() else { return false }
    let lower = f | 0x20
    let isLetter = lower >= 0x61 && lower <= 0x7A
    if r.value < 0x80 {
      let k = UInt8(r.value)
      if k == f { continue }
      guard isLetter, k | 0x20 == lower else { return false }
    } else if r.value == 0x17F {
      guard lower == 0x73 else { return false }  // s
    } else if r.value == 0x212A {
      guard lower == 0x6B else { return false }  // k
    } else {
      return false
    }
  }
  return runes.next() == nil
}

/// The candidate within a small edit distance of `word`, for "did you mean".
private func nearest(_ word: String, in candidates: [String]) -> String? {
  nearestWords(to: word, in: candidates, maxDistance: max(1, word.utf8.count / 4)).first
}
