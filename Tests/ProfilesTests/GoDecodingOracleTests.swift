import Foundation
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// Profiles for the Go oracle: the committed corpus, moby's fixtures, hand-written
/// cases, byte mutations and structural mutations (keys recased, folded with ſ and K,
/// repeated; values made null, retyped, wrapped), all seeded.
enum GoOracleInputs {
  struct Input {
    var label: String
    var bytes: [UInt8]
  }

  static let handWritten: [(String, String)] = [
    ("long-s-syscalls", #"{"defaultAction": "SCMP_ACT_ERRNO", "ſyscalls": [{"names": ["mount", "ptrace"], "action": "SCMP_ACT_ALLOW"}]}"#),
    ("kelvin-minkernel", #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "4.8"}, "excludes": {"MinKernel": "5.1"}}]}"#),
    ("upper-keys", #"{"DEFAULTACTION": "SCMP_ACT_ERRNO", "Syscalls": [{"NAMES": ["read"], "Action": "SCMP_ACT_ALLOW", "ARGS": [{"INDEX": 0, "VALUE": 1, "OP": "SCMP_CMP_EQ"}]}]}"#),
    ("lookalike-not-folded", #"{"defaultAction": "SCMP_ACT_ERRNO", "ѕyscalls": [{"names": ["mount"], "action": "SCMP_ACT_ALLOW"}]}"#),
    ("duplicate-args", #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 131072, "valueTwo": 131072, "op": "SCMP_CMP_MASKED_EQ"}], "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_EQ"}]}]}"#),
    ("duplicate-folded-syscalls", #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}], "Syscalls": [{"names": ["write"]}]}"#),
    ("empty-name-beside-names", #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "", "names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#),
    ("empty-names-beside-name", #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "names": [], "action": "SCMP_ACT_ALLOW"}]}"#),
    ("name-and-names", #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW"}]}"#),
    ("empty-architectures-and-archmap", #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": [], "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": null}]}"#),
    ("architectures-and-archmap", #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": null}]}"#),
    ("empty-minkernel-excludes", #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": ""}}]}"#),
    ("runc-unknown-flag", #"{"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"], "syscalls": []}"#),
    ("runc-unknown-arch", #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_PARISC"]}"#),
    ("runc-unknown-subarch", #"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_SH"]}]}"#),
    ("string-for-number", #"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": "1"}"#),
    ("float-errno", #"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1.0}"#),
    ("negative-value", #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}"#),
    ("names-string", #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": "read", "action": "SCMP_ACT_ALLOW"}]}"#),
    ("null-entry", #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [null]}"#),
    ("null-cap", #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": [null]}}]}"#),
    ("unknown-op", #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}]}"#),
    ("kelvin-action", "{\"defaultAction\": \"SCMP_ACT_\u{212A}ILL\", \"syscalls\": []}"),
    ("kelvin-op", "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_MAS\u{212A}ED_EQ\"}]}]}"),
    ("kelvin-cap", "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"caps\": [\"CAP_\u{212A}ILL\"]}}]}"),
    ("top-null", "null"),
    ("disabled-with-bad-flag", #"{"defaultAction": "", "flags": ["NOPE"]}"#),
  ]

  static func all() -> [Input] {
    var inputs: [Input] = []
    for file in TestFiles.list("FuzzCorpus") where file.hasSuffix(".json") {
      inputs.append(Input(label: "corpus " + file, bytes: TestFiles.bytes("FuzzCorpus/" + file)))
    }
    for name in TestFiles.fixtures {
      inputs.append(Input(label: "fixture " + name, bytes: TestFiles.bytes("Fixtures/" + name)))
    }
    for (label, text) in handWritten { inputs.append(Input(label: label, bytes: Array(text.utf8))) }

    // Byte mutations, as ProfileFuzzTests makes them.
    for name in TestFiles.fixtures {
      let original = TestFiles.bytes("Fixtures/" + name)
      var rng = SplitMix64(seed: 0x60_0000 &+ UInt64(original.count))
      for round in 0..<100 {
        var bytes = original
        for _ in 0...rng.below(3) { ProfileFuzzTests.mutate(&bytes, &rng) }
        inputs.append(Input(label: "\(name) byte mutation \(round)", bytes: bytes))
      }
    }
    // Random profile-shaped JSON.
    var g = ProfileFuzzTests.Generator(rng: SplitMix64(seed: 0x60))
    for round in 0..<500 {
      inputs.append(Input(label: "random profile \(round)", bytes: Array(g.profile().utf8)))
    }
    // Structural mutations of the fixtures and of small profiles.
    let seeds = TestFiles.fixtures.map { TestFiles.bytes("Fixtures/" + $0) }
      + handWritten.prefix(3).map { Array($0.1.utf8) }
    var rng = SplitMix64(seed: 0x6F)
    for round in 0..<1200 {
      let seed = seeds[round % seeds.count]
      guard var tree = try? JSONValue.parse(seed) else { continue }
      for _ in 0...rng.below(3) { StructuralMutation.apply(&tree, &rng) }
      inputs.append(Input(label: "structural mutation \(round)", bytes: Array(tree.prettyPrinted().utf8)))
    }
    return inputs
  }
}

/// Edits of a parsed profile aimed at how keys and values are read.
enum StructuralMutation {
  static let scalars: [JSONValue.Kind] = [
    .null, .bool(true), .number("1"), .number("-1"), .number("1.5"), .number("1e3"), .number("4294967296"),
    .number("18446744073709551616"), .string("x"), .string(""), .string("SCMP_ACT_ALLOW"), .array([]), .object([]),
  ]

  /// A key as Go might still match it: recased, or with ſ for an s or K for a k.
  static func respell(_ key: String, _ rng: inout SplitMix64) -> String {
    var scalars = Array(key.unicodeScalars)
    guard !scalars.isEmpty else { return key }
    switch rng.below(4) {
    case 0:
      if let i = scalars.firstIndex(where: { $0 == "s" || $0 == "S" }) { scalars[i] = "\u{17F}" }
    case 1:
      if let i = scalars.firstIndex(where: { $0 == "k" || $0 == "K" }) { scalars[i] = "\u{212A}" }
    case 2:
      // A lookalike Go does not fold (CYRILLIC SMALL LETTER DZE for s, dotted I for i).
      if let i = scalars.firstIndex(where: { $0 == "s" }) { scalars[i] = "\u{455}" }
      else if let i = scalars.firstIndex(where: { $0 == "i" }) { scalars[i] = "\u{130}" }
    default:
      for i in scalars.indices where rng.chance(50) {
        let s = String(scalars[i])
        scalars[i] = (s == s.uppercased() ? s.lowercased() : s.uppercased()).unicodeScalars.first!
      }
    }
    var out = String.UnicodeScalarView()
    out.append(contentsOf: scalars)
    return String(out)
  }

  static func apply(_ tree: inout JSONValue, _ rng: inout SplitMix64) {
    let objects = count(tree)
    guard objects > 0 else { return }
    var target = rng.below(objects)
    edit(&tree, &target, &rng)
  }

  static func count(_ v: JSONValue) -> Int {
    switch v.kind {
    case .object(let members): 1 + members.map { count($0.value) }.reduce(0, +)
    case .array(let items): items.map(count).reduce(0, +)
    default: 0
    }
  }

  /// Edits the `target`-th object in preorder.
  @discardableResult
  static func edit(_ v: inout JSONValue, _ target: inout Int, _ rng: inout SplitMix64) -> Bool {
    switch v.kind {
    case .object(var members):
      if target == 0 {
        mutate(&members, &rng)
        v.kind = .object(members)
        return true
      }
      target -= 1
      for i in members.indices where edit(&members[i].value, &target, &rng) {
        v.kind = .object(members)
        return true
      }
    case .array(var items):
      for i in items.indices where edit(&items[i], &target, &rng) {
        if rng.chance(10) { items.insert(JSONValue(.null), at: rng.below(items.count + 1)) }
        v.kind = .array(items)
        return true
      }
    default: break
    }
    return false
  }

  static func mutate(_ members: inout [JSONValue.Member], _ rng: inout SplitMix64) {
    guard !members.isEmpty else {
      members.append(JSONValue.Member(key: rng.pick(["names", "action", "syscalls", "index"]), value: JSONValue(rng.pick(scalars))))
      return
    }
    let i = rng.below(members.count)
    switch rng.below(8) {
    case 0, 1: members[i].key = respell(members[i].key, &rng)
    case 2:
      var copy = members[i]
      if rng.chance(50) { copy.key = respell(copy.key, &rng) }
      if rng.chance(50) { mutateValue(&copy.value, &rng) }
      members.insert(copy, at: rng.chance(50) ? members.count : i + 1)
    case 3: members[i].value = JSONValue(.null)
    case 4, 5: mutateValue(&members[i].value, &rng)
    case 6: members.remove(at: i)
    default:
      if case .array(let items) = members[i].value.kind, let first = items.first, rng.chance(50) {
        members[i].value = first
      } else {
        members[i].value = JSONValue(.array([members[i].value]))
      }
    }
  }

  static func mutateValue(_ v: inout JSONValue, _ rng: inout SplitMix64) {
    switch v.kind {
    case .array(var items) where !items.isEmpty && rng.chance(50):
      let j = rng.below(items.count)
      items[j] = JSONValue(rng.pick(scalars))
      v.kind = .array(items)
    default:
      v = JSONValue(rng.pick(scalars))
    }
  }
}

/// Why syscage refuses a file Go accepts: each class is named in docs/semantics.md
/// ("Where syscage is stricter than Docker").
enum StricterClass: String, CaseIterable {
  case duplicateKey = "a key repeated in one object (Go merges the values)"
  case repairedText = "invalid UTF-8 or a lone surrogate escape (Go reads U+FFFD)"
  case deepNesting = "nesting deeper than 512 levels (Go allows 10,000)"
  case topLevelNull = "a document that is null (moby reads no seccomp)"
  case disabledButInvalid = "errors in a profile moby disables (no defaultAction, no syscalls) before checking anything"
  case noNames = "an entry without syscall names (runc makes no rule)"
  case nullInList = "null inside a list (Go reads the element's zero value)"
  case errnoAbove32Bits = "an errno that does not fit in 32 bits (Go's uint; runc keeps 16 bits)"
  case otherHostArchMap = "an archMap entry moby ignores on an amd64 host"
  case metadataWithoutPath = "listenerMetadata without listenerPath (the runtime-spec forbids it; runc does not check)"
  case indexInSkippedRule = "an argument index above 5 in a rule runc skips (its action is the default action)"
  case missingIndexOrValue = "an argument condition without index or value (Go reads 0)"
  case notASCII = "a capability or arch name equal to a known one only as Unicode text (U+212A for K; Docker compares bytes)"

  static func of(_ d: Diagnostic, goSaid answer: GoOracle.Answer) -> StricterClass? {
    let m = d.message
    if answer == .disabled { return .disabledButInvalid }
    if m.hasPrefix("duplicate key") { return .duplicateKey }
    if m.contains("invalid UTF-8") || m.contains("surrogate") { return .repairedText }
    if m.contains("nesting deeper than") { return .deepNesting }
    if d.path.isEmpty, m.contains("found null") { return .topLevelNull }
    if m.hasPrefix("names is empty") || m.hasPrefix("no syscall names") || (d.path.hasSuffix(".name") && m.contains("empty")) {
      return .noNames
    }
    if m.hasSuffix("found null") { return .nullInList }
    if m.contains("does not fit in 32 bits") { return .errnoAbove32Bits }
    if d.path.hasPrefix("archMap[") { return .otherHostArchMap }
    if d.path == "listenerMetadata" { return .metadataWithoutPath }
    if m.contains("is out of range; expected 0...5") { return .indexInSkippedRule }
    if m.contains("is not written in ASCII") { return .notASCII }
    if m.hasPrefix("index is required") || m.hasPrefix("value is required") { return .missingIndexOrValue }
    return nil
  }
}

@Suite(.serialized) struct GoDecodingOracleTests {
  @Test(.enabled(if: GoOracle.shouldRun, Comment(rawValue: GoOracle.skipReason)))
  func syscageReadsEveryProfileAsGoDoes() throws {
    let dir = try Containers.temporaryDirectory("syscage-go-oracle")
    defer { try? FileManager.default.removeItem(at: dir) }
    let binary = try GoOracle.build(in: dir)
    let inputs = GoOracleInputs.all()
    var files: [String] = []
    for (i, input) in inputs.enumerated() {
      let path = dir.appendingPathComponent("p\(i).json").path
      try Data(input.bytes).write(to: URL(fileURLWithPath: path))
      files.append(path)
    }
    let answers = try GoOracle.answers(binary, files: files)

    var agree = (rejected: 0, accepted: 0, disabled: 0)
    var stricter: [StricterClass: Int] = [:]
    var unexplained: [String] = []
    for (input, go) in zip(inputs, answers) {
      let ours: Result<Profile, InputError>
      do {
        ours = .success(try Profile.decode(input.bytes, file: input.label).profile)
      } catch {
        ours = .failure(error)
      }
      switch (go, ours) {
      case (.reject, .failure):
        agree.rejected += 1
      case (.reject(let why), .success):
        unexplained.append("\(input.label): Docker refuses it (\(why)) but syscage reads it")
      case (.disabled, .success(let p)):
        if p.isDisabled { agree.disabled += 1 } else { unexplained.append("\(input.label): Docker reads no seccomp, syscage a profile") }
      case (.accept(let text), .success(let p)):
        let mine = GoOracle.canonical(p)
        if mine == text {
          agree.accepted += 1
        } else {
          unexplained.append("\(input.label): read differently\n  Go:      \(text.prefix(600))\n  syscage: \(mine.prefix(600))")
        }
      case (.accept, .failure(let e)), (.disabled, .failure(let e)):
        let errors = e.diagnostics.filter { $0.severity == .error }
        if let cls = errors.lazy.compactMap({ StricterClass.of($0, goSaid: go) }).first {
          stricter[cls, default: 0] += 1
        } else {
          unexplained.append("\(input.label): Docker reads it, syscage refuses it for no named reason: \(e)")
        }
      }
    }
    let total = inputs.count
    let summary = """
      Go oracle: \(total) profiles; agree \(agree.rejected + agree.accepted + agree.disabled) \
      (both refuse \(agree.rejected), same reading \(agree.accepted), both no seccomp \(agree.disabled)); \
      syscage stricter \(stricter.values.reduce(0, +)) \
      (\(StricterClass.allCases.compactMap { c in stricter[c].map { "\(c): \($0)" } }.joined(separator: "; "))); \
      unexplained \(unexplained.count)
      """
    print(summary)
    #expect(unexplained.isEmpty, "\(summary)\n\(unexplained.prefix(20).joined(separator: "\n"))")
    #expect(total >= 2000)
    // Both outcomes must be well represented for the comparison to mean anything.
    #expect(agree.rejected > 300 && agree.accepted > 300, "\(summary)")
  }

  /// The two readings the issue names, checked against Go directly.
  @Test(.enabled(if: GoOracle.shouldRun, Comment(rawValue: GoOracle.skipReason)))
  func foldedKeysAndRepeatedKeysAsGoReadsThem() throws {
    let dir = try Containers.temporaryDirectory("syscage-go-oracle")
    defer { try? FileManager.default.removeItem(at: dir) }
    let binary = try GoOracle.build(in: dir)
    let cases = Dictionary(uniqueKeysWithValues: GoOracleInputs.handWritten)
    var files: [String] = []
    for name in ["long-s-syscalls", "kelvin-minkernel", "duplicate-args"] {
      let path = dir.appendingPathComponent(name + ".json").path
      try Data(cases[name]!.utf8).write(to: URL(fileURLWithPath: path))
      files.append(path)
    }
    let answers = try GoOracle.answers(binary, files: files)

    // ſyscalls is syscalls to Go: mount and ptrace are allowed. syscage reads it so, and warns.
    let (longS, warnings) = try Profile.decode(Array(cases["long-s-syscalls"]!.utf8), file: "p.json")
    #expect(answers[0] == .accept(GoOracle.canonical(longS)))
    #expect(longS.syscalls?.first?.names == ["mount", "ptrace"])
    #expect(warnings.contains { $0.message.contains(#"key "ſyscalls" is read as "syscalls" by Docker and runc"#) })

    // MinKernel (with KELVIN SIGN) is minKernel.
    let kelvin = try Profile.decode(Array(cases["kelvin-minkernel"]!.utf8), file: "p.json").profile
    #expect(answers[1] == .accept(GoOracle.canonical(kelvin)))
    #expect(kelvin.syscalls?.first?.excludes?.minKernel == KernelVersion(major: 5, minor: 1))

    // Two args: Go merges the second list into the first (index 1, value 5, but the
    // first's valueTwo stays), which is neither list as written; syscage refuses the file.
    guard case .accept(let merged) = answers[2] else {
      Issue.record("Go refused the duplicate-args profile: \(answers[2])")
      return
    }
    #expect(merged.contains("args=[1:5:131072:"))
    let errors = decodeErrors(cases["duplicate-args"]!)
    #expect(errors.map(\.path) == ["syscalls[0].args"])
    #expect(errors.first?.message.contains("duplicate key syscalls[0].args") == true)
  }
}
