import Seccomp
import Syscalls

extension Profile {
  /// The profile as JSON text in Docker's key order and layout (tab-indented, like
  /// moby's `default.json`), ending with a newline. Absent fields are left out; an
  /// `archMap` entry without sub-architectures is written `null`, as moby writes it.
  ///
  /// `.oci` writes a runtime-spec `linux.seccomp` object: `archMap` and each entry's
  /// `comment`, `includes` and `excludes` are dropped and `name` becomes `names`, so
  /// expand Docker's conditions first.
  public func encode(format: ProfileFormat = .docker) -> String {
    json(format: format).prettyPrinted() + "\n"
  }

  /// The profile as a JSON value, as `encode` writes it.
  public func json(format: ProfileFormat = .docker) -> JSONValue {
    var members: [JSONValue.Member] = []
    func add(_ key: String, _ value: JSONValue?) {
      if let value { members.append(JSONValue.Member(key: key, value: value)) }
    }
    add("defaultAction", defaultAction.map { .string($0.rawValue) })
    add("defaultErrnoRet", defaultErrnoRet.map { .number(String($0)) })
    add("architectures", architectures.map { .array($0.map { .string($0.profileName) }) })
    if format == .docker {
      add("archMap", archMap.map { .array($0.map(\.json)) })
    }
    add("flags", flags.map { .array($0.map { .string($0.rawValue) }) })
    add("listenerPath", listenerPath.map { .string($0) })
    add("listenerMetadata", listenerMetadata.map { .string($0) })
    add("syscalls", syscalls.map { .array($0.map { $0.json(format: format) }) })
    return .object(members)
  }
}

extension JSONValue {
  static func string(_ s: String) -> JSONValue { JSONValue(.string(s)) }
  static func number(_ lexeme: String) -> JSONValue { JSONValue(.number(lexeme)) }
  static func array(_ items: [JSONValue]) -> JSONValue { JSONValue(.array(items)) }
  static func object(_ members: [Member]) -> JSONValue { JSONValue(.object(members)) }
  static var null: JSONValue { JSONValue(.null) }
}

extension ArchMapEntry {
  var json: JSONValue {
    .object([
      JSONValue.Member(key: "architecture", value: .string(architecture.profileName)),
      JSONValue.Member(
        key: "subArchitectures", value: subArchitectures.map { .array($0.map { .string($0.profileName) }) } ?? .null),
    ])
  }
}

extension SyscallEntry {
  func json(format: ProfileFormat) -> JSONValue {
    var members: [JSONValue.Member] = []
    func add(_ key: String, _ value: JSONValue?) {
      if let value { members.append(JSONValue.Member(key: key, value: value)) }
    }
    if format == .docker, usesNameField, names.count == 1 {
      add("name", .string(names[0]))
    } else {
      add("names", .array(names.map { .string($0) }))
    }
    add("action", .string(action.rawValue))
    add("errnoRet", errnoRet.map { .number(String($0)) })
    add("args", args.map { .array($0.map(\.json)) })
    if format == .docker {
      add("comment", comment.map { .string($0) })
      add("includes", includes?.json)
      add("excludes", excludes?.json)
    }
    return .object(members)
  }
}

extension ArgumentCondition {
  var json: JSONValue {
    var members = [
      JSONValue.Member(key: "index", value: .number(String(index))),
      JSONValue.Member(key: "value", value: .number(String(value))),
    ]
    if let valueTwo { members.append(JSONValue.Member(key: "valueTwo", value: .number(String(valueTwo)))) }
    members.append(JSONValue.Member(key: "op", value: .string(op.rawValue)))
    return .object(members)
  }
}

extension EntryFilter {
  var json: JSONValue {
    var members: [JSONValue.Member] = []
    if let caps { members.append(JSONValue.Member(key: "caps", value: .array(caps.map { .string($0) }))) }
    if let arches { members.append(JSONValue.Member(key: "arches", value: .array(arches.map { .string($0) }))) }
    if let minKernel {
      // moby writes version 0.0 (read from "") as "".
      let text = minKernel == KernelVersion(major: 0, minor: 0) ? "" : minKernel.description
      members.append(JSONValue.Member(key: "minKernel", value: .string(text)))
    }
    return .object(members)
  }
}
