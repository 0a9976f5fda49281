import Foundation
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport


/// Decodes `bytes`, which must either succeed or throw an InputError with at least one
/// error; a decoded profile must survive encode → decode unchanged.
func checkDecodes(_ bytes: [UInt8], format: ProfileFormat = .docker, _ label: @autoclosure () -> String) {
  do {
    let (profile, _) = try Profile.decode(bytes, file: "fuzz", format: format)
    let text = profile.encode(format: format)
    do {
      let again = try Profile.decode(Array(text.utf8), file: "re-encoded", format: format)
      #expect(again.profile == profile, "round trip changed \(label())")
    } catch {
      Issue.record("re-encoded profile of \(label()) does not decode: \(error)\n\(text.prefix(2000))")
    }
  } catch {
    #expect(error.diagnostics.contains { $0.severity == .error }, "\(label()): thrown without an error")
    #expect(error.diagnostics.allSatisfy { !$0.message.isEmpty })
  }
}

@Suite struct ProfileFuzzTests {
  static let tokens: [[UInt8]] = [
    "[", "]", "{", "}", "\"", ",", ":", "\\", "-", "0", "7", "18446744073709551616", "1e999", "-1", "0.5",
    "null", "true", "\"\\u", "\\ud800", String(repeating: "9", count: 400),
  ].map { Array($0.utf8) } + [[0x00], [0xFF], [0xC0, 0xAF], [0xEF, 0xBB, 0xBF], [0xE2, 0x80, 0xA8]]

  /// One random edit of `bytes`.
  static func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix64) {
    guard !bytes.isEmpty else {
      bytes = rng.pick(tokens)
      return
    }
    let i = rng.below(bytes.count)
    switch rng.below(7) {
    case 0: bytes[i] ^= UInt8(1) << UInt8(rng.below(8))
    case 1: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
    case 2: bytes.removeSubrange(i...)
    case 3: bytes.insert(contentsOf: rng.pick(tokens), at: i)
    case 4: bytes.removeSubrange(i..<min(bytes.count, i + 1 + rng.below(64)))
    case 5:
      let end = min(bytes.count, i + 1 + rng.below(200))
      bytes.insert(contentsOf: bytes[i..<end], at: rng.below(bytes.count))
    default:
      bytes.swapAt(i, rng.below(bytes.count))
    }
  }

  @Test(arguments: TestFiles.fixtures)
  func mutatedFixtures(_ name: String) {
    let original = TestFiles.bytes("Fixtures/" + name)
    var rng = SplitMix64(seed: UInt64(name.utf8.count) &* 0x1234_5678 &+ UInt64(original.count))
    for round in 0..<150 {
      var bytes = original
      for _ in 0...rng.below(4) { Self.mutate(&bytes, &rng) }
      checkDecodes(bytes, "\(name) mutation \(round)")
      checkDecodes(bytes, format: .oci, "\(name) mutation \(round) as OCI")
    }
  }

  @Test func randomBytes() {
    var rng = SplitMix64(seed: 42)
    for round in 0..<300 {
      let bytes = (0..<rng.below(300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      checkDecodes(bytes, "random bytes \(round)")
    }
  }

  // MARK: Random JSON shaped like a profile, with wrong types mixed in

  struct Generator {
    var rng: SplitMix64

    static let strings = [
      "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_TRACE", "SCMP_ACT_NOPE", "SCMP_ARCH_X86_64",
      "SCMP_ARCH_ARM", "x86_64", "SCMP_CMP_EQ", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_XX", "SECCOMP_FILTER_FLAG_LOG",
      "read", "openat", "fooo", "arm_fadvise64_64", "", "4.8", "0.0", "4.8.1", "CAP_SYS_ADMIN", "SYS_ADMIN",
      "amd64", "arm64", "é\u{0}\"\\\n", "/run/x.sock",
    ]
    static let numbers = [
      "0", "1", "5", "6", "38", "-1", "-0", "0.5", "1e3", "4294967295", "4294967296", "18446744073709551615",
      "18446744073709551616", String(repeating: "9", count: 400),
    ]
    static let topKeys = [
      "defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags", "listenerPath", "listenerMetadata",
      "syscalls", "DefaultAction", "unknown",
    ]
    static let entryKeys = ["names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes", "Names", "x"]
    static let argKeys = ["index", "value", "valueTwo", "op", "OP", "y"]
    static let filterKeys = ["caps", "arches", "minKernel", "z"]

    mutating func quoted(_ s: String) -> String {
      var out = "\""
      for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\u{0}": out += "\\u0000"
        default: out.unicodeScalars.append(u)
        }
      }
      return out + "\""
    }

    mutating func scalar() -> String {
      switch rng.below(4) {
      case 0: return rng.pick(["null", "true", "false"])
      case 1: return rng.pick(Self.numbers)
      default: return quoted(rng.pick(Self.strings))
      }
    }

    /// Any JSON value, nested at most `depth` more levels.
    mutating func any(_ depth: Int) -> String {
      guard depth > 0, rng.chance(40) else { return scalar() }
      if rng.chance(50) {
        return "[" + (0..<rng.below(4)).map { _ in any(depth - 1) }.joined(separator: ",") + "]"
      }
      return object(rng.pick([Self.topKeys, Self.entryKeys, Self.argKeys, Self.filterKeys]), depth - 1) { g, _, d in g.any(d) }
    }

    mutating func object(
      _ keys: [String], _ depth: Int, value: (inout Generator, String, Int) -> String
    ) -> String {
      var members: [String] = []
      var used = Set<String>()
      for key in keys where rng.chance(60) {
        // Mostly one spelling per field: two are a duplicate key, which is an error.
        if !used.insert(key.lowercased()).inserted, rng.chance(80) { continue }
        members.append(quoted(key) + ": " + (rng.chance(85) ? value(&self, key, depth) : any(depth)))
      }
      return "{" + members.joined(separator: ",\n") + "}"
    }

    mutating func list(_ count: Int, _ element: (inout Generator) -> String) -> String {
      "[" + (0..<count).map { _ in element(&self) }.joined(separator: ", ") + "]"
    }

    mutating func profile() -> String {
      object(Self.topKeys, 3) { g, key, d in
        switch key {
        case "defaultAction", "DefaultAction": g.quoted(g.rng.pick(["SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG"]))
        case "defaultErrnoRet": g.rng.pick(["1", "38", "-1"])
        case "architectures": g.list(g.rng.below(3)) { g in g.quoted(g.rng.pick(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"])) }
        case "archMap":
          g.list(g.rng.below(3)) { g in
            #"{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": "# + (g.rng.chance(50) ? "null" : #"["SCMP_ARCH_X86"]"#) + "}"
          }
        case "flags": g.list(g.rng.below(3)) { g in g.quoted(g.rng.pick(FilterFlag.allCases.map(\.rawValue))) }
        case "syscalls": g.list(g.rng.below(6)) { g in g.entry(d) }
        default: g.any(d)
        }
      }
    }

    mutating func entry(_ depth: Int) -> String {
      object(Self.entryKeys, depth) { g, key, d in
        switch key {
        case "names", "Names": g.list(1 + g.rng.below(3)) { g in g.quoted(g.rng.pick(["read", "write", "openat", "fooo"])) }
        case "name": g.quoted("read")
        case "action": g.quoted(g.rng.pick(["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS"]))
        case "errnoRet": g.rng.pick(["1", "38"])
        case "args":
          g.list(g.rng.below(3)) { g in
            g.object(Self.argKeys, d) { g, key, _ in
              switch key {
              case "index": String(g.rng.below(7))
              case "value", "valueTwo": g.rng.pick(Self.numbers)
              case "op", "OP": g.quoted(g.rng.pick(ComparisonOperator.allCases.map(\.rawValue)))
              default: g.scalar()
              }
            }
          }
        case "includes", "excludes":
          g.object(Self.filterKeys, d) { g, key, _ in
            switch key {
            case "caps": g.list(g.rng.below(2)) { g in g.quoted(g.rng.pick(["CAP_SYS_ADMIN", "SYS_ADMIN"])) }
            case "arches": g.list(g.rng.below(2)) { g in g.quoted(g.rng.pick(["amd64", "arm64", "x86_64"])) }
            case "minKernel": g.quoted(g.rng.pick(["4.8", "", "0.0", "5"]))
            default: g.scalar()
            }
          }
        default: g.any(d)
        }
      }
    }
  }

  @Test func randomProfiles() {
    var g = Generator(rng: SplitMix64(seed: 7))
    var decodedCount = 0
    for round in 0..<600 {
      let text = g.profile()
      let bytes = Array(text.utf8)
      if (try? Profile.decode(bytes, file: nil)) != nil { decodedCount += 1 }
      checkDecodes(bytes, "random profile \(round):\n\(text)")
      checkDecodes(bytes, format: .oci, "random profile \(round) as OCI:\n\(text)")
    }
    // The generator must reach both outcomes to be worth anything.
    #expect(decodedCount > 30 && decodedCount < 570, "\(decodedCount) of 600 decoded")
  }

  // MARK: Extremes

  @Test(arguments: [
    String(repeating: "[", count: 100_000),
    String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000),
    String(repeating: #"{"a":"#, count: 100_000),
    #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": "# + String(repeating: "[{\"args\":", count: 50_000),
  ])
  func deepNestingIsAnErrorNotACrash(_ text: String) {
    do {
      _ = try Profile.decode(Array(text.utf8), file: nil)
      Issue.record("deep nesting decoded")
    } catch {
      #expect(error.diagnostics.first?.message.contains("nesting deeper than 512 levels") == true, "\(error)")
    }
  }

  @Test func fourHundredDigitNumbers() {
    let digits = String(repeating: "7", count: 400)
    for text in [
      digits, "-" + digits, "0." + digits, "1e" + digits, "[\(digits)]",
      #"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": \#(digits)}"#,
      #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": \#(digits)}]}"#,
      #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [\#(digits)], "action": "SCMP_ACT_ALLOW"}]}"#,
      #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": \#(digits), "value": \#(digits), "valueTwo": -\#(digits), "op": "SCMP_CMP_EQ"}]}]}"#,
    ] {
      #expect(throws: InputError.self) { try Profile.decode(Array(text.utf8), file: nil) }
      checkDecodes(Array(text.utf8), "400 digits")
    }
  }

  /// A ~10 MB profile: many entries, each with conditions and a comment.
  static func bigProfile() -> (text: [UInt8], entries: Int) {
    let names = SyscallTable.allNames.filter { Arch.x86_64.number(of: $0) != nil }
    var rng = SplitMix64(seed: 10)
    var text = #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": ["#
    var count = 0
    while text.utf8.count < 10_000_000 {
      if count > 0 { text += ",\n" }
      let entryNames = (0..<8).map { _ in "\"\(rng.pick(names))\"" }.joined(separator: ", ")
      text += """
        {"names": [\(entryNames)], "action": "SCMP_ACT_ERRNO", "errnoRet": \(count % 4096), \
        "args": [{"index": \(count % 6), "value": \(rng.next()), "op": "SCMP_CMP_NE"}, \
        {"index": 0, "value": \(rng.next()), "valueTwo": \(count), "op": "SCMP_CMP_MASKED_EQ"}], \
        "comment": "entry \(count)", "includes": {"minKernel": "5.\(count % 256)"}}
        """
      count += 1
    }
    text += "]}"
    return (Array(text.utf8), count)
  }

  @Test func tenMegabyteProfileDecodes() throws {
    let (bytes, count) = Self.bigProfile()
    #expect(bytes.count >= 10_000_000)
    let (profile, warnings) = try Profile.decode(bytes, file: nil)
    #expect(warnings.isEmpty)
    let entries = try #require(profile.syscalls)
    #expect(entries.count == count)
    #expect(entries.last?.comment == "entry \(count - 1)")
    #expect(entries.last?.args?[1].valueTwo == UInt64(count - 1))
  }

  @Test func tenMegabyteProfileMutations() {
    var (bytes, _) = Self.bigProfile()
    var rng = SplitMix64(seed: 99)
    for round in 0..<4 {
      Self.mutate(&bytes, &rng)
      do {
        _ = try Profile.decode(bytes, file: nil)
      } catch {
        #expect(error.diagnostics.contains { $0.severity == .error }, "round \(round)")
      }
    }
  }

  // MARK: The committed corpus

  struct CorpusCase: CustomTestStringConvertible, Sendable {
    var file: String
    var fails: Bool
    var fragment: String
    var testDescription: String { file }
  }

  static let corpus: [CorpusCase] = {
    let manifest = String(decoding: TestFiles.bytes("FuzzCorpus/MANIFEST.txt"), as: UTF8.self)
    return manifest.split(separator: "\n").compactMap { line in
      guard !line.hasPrefix("#"), !line.allSatisfy(\.isWhitespace) else { return nil }
      let fields = line.split(separator: "|", maxSplits: 2).map { $0.trimmingCharacters(in: .whitespaces) }
      return CorpusCase(file: fields[0], fails: fields[1] == "error", fragment: fields.count > 2 ? fields[2] : "")
    }
  }()

  @Test func corpusManifestListsEveryFile() {
    let files = Set(TestFiles.list("FuzzCorpus")).subtracting(["MANIFEST.txt"])
    #expect(files == Set(Self.corpus.map(\.file)))
    #expect(files.count >= 20)
  }

  @Test(arguments: corpus)
  func corpusFile(_ c: CorpusCase) {
    let bytes = TestFiles.bytes("FuzzCorpus/" + c.file)
    do {
      _ = try Profile.decode(bytes, file: c.file)
      #expect(!c.fails, "\(c.file) decoded but should fail with \(c.fragment)")
    } catch {
      #expect(c.fails, "\(c.file): \(error)")
      let first = error.diagnostics.first { $0.severity == .error }
      #expect(first?.message.contains(c.fragment) == true, "\(c.file): \(error)")
    }
    checkDecodes(bytes, c.file)
  }
}
