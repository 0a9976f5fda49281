import Yams

/// What a Kubernetes YAML input holds: a security-profiles-operator `SeccompProfile`
/// (its `spec` is the profile), or a Pod (or a Pod patch, or a workload with a pod
/// template) whose seccompProfile is `Localhost`, naming a file under the kubelet's
/// seccomp root.
public enum KubernetesInput: Sendable {
  case seccompProfile(Profile, warnings: [Diagnostic])
  case localhost(LocalhostReference)
}

/// A Pod's `seccompProfile: {type: Localhost, localhostProfile: ...}`.
public struct LocalhostReference: Hashable, Sendable {
  /// The path relative to the kubelet's seccomp root, e.g. `profiles/app.json`.
  public var localhostProfile: String
  /// Where it is: `spec.securityContext.seccompProfile.localhostProfile` or a container's.
  public var path: String
  /// Its 1-based line in the YAML file.
  public var line: Int
}

extension Profile {
  /// The group of security-profiles-operator's resources.
  public static let spoGroup = "security-profiles-operator.x-k8s.io"

  /// Whether `bytes` are to be read as YAML: something is there and it does not start
  /// (after white space) with `{` or `[`, as every JSON profile does.
  public static func looksLikeYAML(_ bytes: [UInt8]) -> Bool {
    var i = 0
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
    while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    return i < bytes.count && bytes[i] != UInt8(ascii: "{") && bytes[i] != UInt8(ascii: "[")
  }

  /// Reads Kubernetes YAML: a `SeccompProfile` (apiVersion
  /// `security-profiles-operator.x-k8s.io/...`), decoded as an OCI profile from its
  /// `spec` with every error's path under `spec`; or a document whose pod spec
  /// (`spec`, or `spec.template.spec` of a workload, `spec.jobTemplate.spec.template.spec`
  /// of a CronJob) uses a Localhost profile, at the Pod's level or a container's. A
  /// stream may hold other documents; exactly one profile must come out of it.
  ///
  /// - Throws: an `InputError` with the file, line and YAML path, and what was expected.
  public static func decodeKubernetesYAML(
    _ bytes: [UInt8], file: String?, strict: Bool = false
  ) throws(InputError) -> KubernetesInput {
    func error(_ line: Int?, _ path: String, _ message: String) -> InputError {
      InputError(Diagnostic(.error, file: file, path: path, line: line, message))
    }
    func error(_ line: Int?, _ message: String) -> InputError { error(line, "", message) }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw error(nil, "not UTF-8 text: expected a JSON profile or Kubernetes YAML")
    }
    if let depth = YAMLLimits.tooDeep(text) {
      throw error(depth.line, "nested deeper than \(YAMLLimits.maxDepth) levels")
    }
    var documents: [JSONValue] = []
    do {
      var budget = YAMLLimits.maxNodes
      let parser = try Parser(yaml: text)
      while let node = try parser.nextRoot() {
        documents.append(try YAMLLimits.json(node, budget: &budget))
      }
    } catch let e as InputError {
      throw InputError(e.diagnostics.map { var d = $0; d.file = file; return d })
    } catch let e as YamlError {
      let (line, message) = YAMLLimits.describe(e)
      throw error(line, "invalid YAML: \(message)")
    } catch {
      throw InputError(Diagnostic(.error, file: file, "invalid YAML: \(error)"))
    }

    var found: [(line: Int, input: KubernetesInput)] = []
    var podsWithout: [String] = []
    for doc in documents {
      guard case .object = doc.kind else { continue }
      let apiVersion = doc["apiVersion"].flatMap(\.stringValue) ?? ""
      let kind = doc["kind"].flatMap(\.stringValue)
      if kind == "SeccompProfile" && apiVersion.hasPrefix(spoGroup + "/") {
        found.append((doc.line, try seccompProfileSpec(doc, file: file, strict: strict)))
        continue
      }
      guard let (specPath, podSpec) = podSpec(of: doc, kind: kind) else { continue }
      let refs = try localhostReferences(podSpec, at: specPath, file: file)
      if refs.isEmpty {
        podsWithout.append("\(kind ?? "a patch") at line \(doc.line)")
        continue
      }
      let distinct = Set(refs.map(\.localhostProfile))
      guard distinct.count == 1, let first = refs.first else {
        throw error(
          doc.line, specPath,
          "the containers use \(distinct.count) Localhost profiles (\(distinct.sorted().joined(separator: ", "))); give one of the files")
      }
      found.append((doc.line, .localhost(first)))
    }
    guard found.count <= 1 else {
      throw error(
        found[1].line,
        "\(found.count) documents hold a seccomp profile (lines \(found.map { String($0.line) }.joined(separator: ", "))); expected one")
    }
    guard let only = found.first else {
      if !podsWithout.isEmpty {
        throw error(
          nil,
          "no Localhost seccompProfile in \(podsWithout.joined(separator: ", ")): expected spec.securityContext.seccompProfile (or a container's) with type Localhost and localhostProfile")
      }
      throw error(
        documents.first?.line,
        "expected a JSON profile, a SeccompProfile (apiVersion \(spoGroup)/v1beta1) or a Pod whose seccompProfile is Localhost")
    }
    return only.input
  }

  /// A SeccompProfile's spec as a profile; `baseProfileName` (resolved only by the
  /// operator) is an error, `state: Disabled` a warning.
  static func seccompProfileSpec(_ doc: JSONValue, file: String?, strict: Bool) throws(InputError) -> KubernetesInput {
    guard let spec = doc["spec"], case .object(let members) = spec.kind else {
      throw InputError(
        Diagnostic(.error, file: file, path: "spec", line: doc["spec"]?.line ?? doc.line, "expected a mapping (the profile)"))
    }
    var extra: [Diagnostic] = []
    var kept: [JSONValue.Member] = []
    for m in members {
      switch m.key {
      case "baseProfileName":
        if let base = m.value.stringValue, base.isEmpty { continue }
        throw InputError(
          Diagnostic(
            .error, file: file, path: "spec.baseProfileName", line: m.line,
            "another SeccompProfile is unioned into this one, which only the operator resolves in a cluster; expected a self-contained profile"))
      case "state":
        if m.value.stringValue == "Disabled" {
          extra.append(
            Diagnostic(
              .warning, file: file, path: "spec.state", line: m.line, "Disabled: the operator does not install this profile"))
        }
      case "syscalls": kept.append(JSONValue.Member(key: m.key, line: m.line, value: withArgumentValues(m.value)))
      default: kept.append(m)
      }
    }
    func underSpec(_ d: Diagnostic) -> Diagnostic {
      var d = d
      d.path = d.path.isEmpty ? "spec" : "spec." + d.path
      return d
    }
    do throws(InputError) {
      let decoded = try Profile.decode(
        root: JSONValue(.object(kept), line: spec.line), file: file, format: .oci, strict: strict)
      if strict, let w = extra.first { throw InputError([Diagnostic(.error, file: w.file, path: w.path, line: w.line, w.message)]) }
      return .seccompProfile(decoded.profile, warnings: decoded.warnings.map(underSpec) + extra)
    } catch {
      throw InputError(error.diagnostics.map(underSpec))
    }
  }

  /// The syscalls with `value: 0` in every argument rule that leaves it out: the operator
  /// drops a zero value (omitempty), and an absent one means 0 to it.
  static func withArgumentValues(_ syscalls: JSONValue) -> JSONValue {
    guard case .array(let entries) = syscalls.kind else { return syscalls }
    var out = syscalls
    out.kind = .array(
      entries.map { entry in
        guard case .object(var members) = entry.kind, let i = members.lastIndex(where: { $0.key == "args" }),
          case .array(let args) = members[i].value.kind
        else { return entry }
        members[i].value.kind = .array(
          args.map { arg in
            guard case .object(let am) = arg.kind, arg["value"] == nil else { return arg }
            var arg = arg
            arg.kind = .object(am + [JSONValue.Member(key: "value", line: arg.line, value: JSONValue(.number("0"), line: arg.line))])
            return arg
          })
        var entry = entry
        entry.kind = .object(members)
        return entry
      })
    return out
  }

  /// The pod spec of a Pod, a patch (no kind), a workload's template or a CronJob's.
  static func podSpec(of doc: JSONValue, kind: String?) -> (String, JSONValue)? {
    switch kind {
    case nil, "Pod": return doc["spec"].map { ("spec", $0) }
    case "CronJob": return doc["spec"]?["jobTemplate"]?["spec"]?["template"]?["spec"].map { ("spec.jobTemplate.spec.template.spec", $0) }
    default: return doc["spec"]?["template"]?["spec"].map { ("spec.template.spec", $0) }
    }
  }

  /// The Localhost profiles the pod's containers run under: a container's own
  /// seccompProfile wins over the Pod's.
  static func localhostReferences(_ podSpec: JSONValue, at base: String, file: String?) throws(InputError) -> [LocalhostReference] {
    func reference(_ sp: JSONValue?, at path: String) throws(InputError) -> LocalhostReference?? {
      guard let sp, case .object = sp.kind else { return .none }
      guard sp["type"]?.stringValue == "Localhost" else { return .some(nil) }
      guard let ref = sp["localhostProfile"], let value = ref.stringValue, !value.isEmpty else {
        throw InputError(
          Diagnostic(.error, file: file, path: path + ".localhostProfile", line: sp.line, "type Localhost wants localhostProfile, a path under the kubelet's seccomp root"))
      }
      let parts = value.split(separator: "/", omittingEmptySubsequences: false)
      if value.hasPrefix("/") || parts.contains("..") {
        throw InputError(
          Diagnostic(
            .error, file: file, path: path + ".localhostProfile", line: ref.line,
            "'\(value)': expected a relative path without '..' (Kubernetes refuses others)"))
      }
      return .some(LocalhostReference(localhostProfile: value, path: path + ".localhostProfile", line: ref.line))
    }
    let podLevel = try reference(podSpec["securityContext"]?["seccompProfile"], at: base + ".securityContext.seccompProfile")
    var refs: [LocalhostReference] = []
    var containers = 0
    for list in ["initContainers", "containers", "ephemeralContainers"] {
      guard case .array(let items)? = podSpec[list]?.kind else { continue }
      for (i, c) in items.enumerated() {
        containers += 1
        switch try reference(c["securityContext"]?["seccompProfile"], at: "\(base).\(list)[\(i)].securityContext.seccompProfile") {
        case .some(let own): if let own { refs.append(own) }
        case .none: if case .some(let pod?) = podLevel { refs.append(pod) }
        }
      }
    }
    if containers == 0, case .some(let pod?) = podLevel { refs.append(pod) }
    return refs
  }
}

/// Bounds on what a YAML input may make the reader do, and its conversion to JSON values.
enum YAMLLimits {
  static let maxDepth = 256
  /// Scalars and collections after aliases are expanded.
  static let maxNodes = 1_000_000

  /// The line where flow nesting or block indentation goes past `maxDepth`, if it does.
  static func tooDeep(_ text: String) -> (line: Int, Void)? {
    var depth = 0
    var line = 1
    var column = 0
    var leading = true
    for c in text.utf8 {
      switch c {
      case UInt8(ascii: "\n"):
        line += 1
        column = 0
        leading = true
        continue
      case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
      case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
      default: break
      }
      if leading && c == UInt8(ascii: " ") { column += 1 } else { leading = false }
      if depth > maxDepth || column > 2 * maxDepth { return (line, ()) }
    }
    return nil
  }

  /// A Yams node as a JSON value with its line: plain scalars resolved as YAML 1.1
  /// (integers in any base become decimal numbers; floats keep their text), others strings.
  static func json(_ node: Node, budget: inout Int) throws -> JSONValue {
    budget -= 1
    if budget < 0 { throw InputError(Diagnostic(.error, line: node.mark?.line, "more than \(maxNodes) values (aliases expanded)")) }
    let line = node.mark?.line ?? 0
    switch node {
    case .scalar(let s):
      let tag = node.tag.rawValue
      if s.style != .plain { return JSONValue(.string(s.string), line: line) }
      switch tag {
      case Tag.Name.null.rawValue: return JSONValue(.null, line: line)
      case Tag.Name.bool.rawValue: return JSONValue(.bool(node.bool ?? false), line: line)
      case Tag.Name.int.rawValue: return JSONValue(.number(decimal(s.string)), line: line)
      case Tag.Name.float.rawValue: return JSONValue(.number(s.string), line: line)
      default: return JSONValue(.string(s.string), line: line)
      }
    case .sequence(let seq):
      var items: [JSONValue] = []
      for item in seq { items.append(try json(item, budget: &budget)) }
      return JSONValue(.array(items), line: line)
    case .mapping(let map):
      var members: [JSONValue.Member] = []
      for (key, value) in map {
        guard let k = key.scalar?.string else {
          throw InputError(Diagnostic(.error, line: key.mark?.line, "a mapping key that is not a scalar"))
        }
        members.append(JSONValue.Member(key: k, line: key.mark?.line ?? line, value: try json(value, budget: &budget)))
      }
      return JSONValue(.object(members), line: line)
    case .alias:
      throw InputError(Diagnostic(.error, line: line, "an alias Yams did not resolve"))
    }
  }

  /// A YAML 1.1 integer's text (`0x1F`, `0o17`, `017`, `0b101`, `1_000`, `+5`, `-3`) in
  /// decimal, or the text itself when it does not fit 64 bits (the decoder then says so).
  static func decimal(_ text: String) -> String {
    var t = String(text.filter { $0 != "_" })
    var negative = false
    if t.hasPrefix("+") { t.removeFirst() } else if t.hasPrefix("-") { negative = true; t.removeFirst() }
    let value: UInt64?
    if t.hasPrefix("0x") { value = UInt64(t.dropFirst(2), radix: 16) }
    else if t.hasPrefix("0o") { value = UInt64(t.dropFirst(2), radix: 8) }
    else if t.hasPrefix("0b") { value = UInt64(t.dropFirst(2), radix: 2) }
    else if t.count > 1 && t.hasPrefix("0") { value = UInt64(t.dropFirst(), radix: 8) }
    else { value = UInt64(t) }
    guard let value else { return text }
    return (negative && value != 0 ? "-" : "") + String(value)
  }

  /// The line and message of a Yams error.
  static func describe(_ e: YamlError) -> (Int?, String) {
    switch e {
    case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
      .composer(let context, let problem, let mark, _):
      return (mark.line, problem + (context.map { " (\($0.text))" } ?? "") + " at column \(mark.column)")
    case .duplicatedKeysInMapping(let duplicates, let context):
      return (context.mark.line, "the mapping that starts here repeats the key \(duplicates.joined(separator: ", "))")
    default:
      return (nil, "\(e)")
    }
  }
}

extension JSONValue {
  /// The string, if the value is one.
  var stringValue: String? {
    if case .string(let s) = kind { return s }
    return nil
  }
}
