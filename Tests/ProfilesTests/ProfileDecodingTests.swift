import Foundation
import Host
import Profiles
import Seccomp
import Syscalls
import Testing

/// Files next to this test source, found through `#filePath`.
enum TestFiles {
  static let directory: String = {
    let path = #filePath
    return String(path[..<path.lastIndex(of: "/")!])
  }()

  static func bytes(_ relativePath: String) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: directory + "/" + relativePath) else {
      Issue.record("cannot read \(relativePath)")
      return []
    }
    return [UInt8](data)
  }

  static func list(_ subdirectory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/" + subdirectory)) ?? []).sorted()
  }

  static let fixtures = ["docker-default.json", "conditional_include.json", "default-old-format.json", "example.json"]
}

/// Decodes text, expecting success.
func decoded(
  _ text: String, format: ProfileFormat = .docker, strict: Bool = false
) throws(InputError) -> (profile: Profile, warnings: [Diagnostic]) {
  try Profile.decode(Array(text.utf8), file: "test.json", format: format, strict: strict)
}

/// Decodes text, expecting failure; returns the errors.
func decodeErrors(_ text: String, format: ProfileFormat = .docker, strict: Bool = false) -> [Diagnostic] {
  do {
    _ = try decoded(text, format: format, strict: strict)
    Issue.record("expected an error decoding \(text)")
    return []
  } catch {
    return error.diagnostics.filter { $0.severity == .error }
  }
}

/// Expects exactly one error, at `path`, whose message contains every fragment.
func expectError(
  _ text: String, at path: String, mentions fragments: [String], format: ProfileFormat = .docker,
  strict: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
) {
  let errors = decodeErrors(text, format: format, strict: strict)
  #expect(errors.count == 1, "\(errors)", sourceLocation: sourceLocation)
  guard let e = errors.first else { return }
  #expect(e.path == path, "\(e)", sourceLocation: sourceLocation)
  for f in fragments {
    #expect(e.message.contains(f), "\(e.message) should mention \(f)", sourceLocation: sourceLocation)
  }
}

/// A profile with one entry whose body is `entry` (JSON members without braces).
func entry(_ body: String, top: String = "") -> String {
  """
  {
    "defaultAction": "SCMP_ACT_ERRNO",\(top)
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
      {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
      {\(body)}
    ]
  }
  """
}

/// A profile with one argument condition `arg` on entry 1.
func arg(_ body: String) -> String {
  entry(#""names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{\#(body)}]"#)
}

@Suite struct FixtureTests {
  @Test(arguments: TestFiles.fixtures)
  func decodesWithoutErrorsAndRoundTrips(_ name: String) throws {
    let (profile, warnings) = try Profile.decode(TestFiles.bytes("Fixtures/" + name), file: name)
    #expect(!warnings.contains { $0.severity == .error })
    let again = try Profile.decode(Array(profile.encode().utf8), file: nil)
    #expect(again.profile == profile)
    #expect(again.profile.encode() == profile.encode())
  }

  @Test func dockerDefaultFacts() throws {
    let (p, warnings) = try Profile.decode(TestFiles.bytes("Fixtures/docker-default.json"), file: nil)
    // The table has no sync_file_range2 on arm (the kernel's name there is arm_sync_file_range).
    #expect(warnings.map(\.path) == ["syscalls[11].names[2]"], "\(warnings)")
    #expect(warnings.first?.message.contains("\"sync_file_range2\" is not a syscall on arm, aarch64") == true)
    #expect(p.defaultAction == .errno)
    #expect(p.defaultErrnoRet == 1)
    #expect(p.architectures == nil)
    #expect(p.archMap?.count == 9)
    #expect(p.archMap?.first == ArchMapEntry(architecture: .x86_64, subArchitectures: [.x86, .x32]))
    #expect(p.archMap?.first { $0.architecture == .riscv64 }?.subArchitectures == nil)
    let entries = try #require(p.syscalls)
    #expect(entries.count == 33)
    #expect(entries[0].names.count == 361)
    #expect(entries[0].action == .allow && entries[0].args == nil)
    #expect(entries.map(\.names.count).reduce(0, +) == 442)
    #expect(entries[1].includes?.minKernel == KernelVersion(major: 4, minor: 8))

    let socket = entries.filter { $0.names == ["socket"] }
    #expect(socket.compactMap(\.args?.first?.op) == [.lessThan, .equal, .greaterThan])
    #expect(socket.compactMap(\.args?.first?.value) == [38, 39, 40])
    #expect(socket.allSatisfy { $0.args?.first?.index == 0 && $0.args?.first?.valueTwo == nil })

    let personality = entries.filter { $0.names == ["personality"] }
    #expect(personality.compactMap(\.args?.first?.value) == [0, 8, 0x20000, 0x20008, 0xffff_ffff])
    #expect(personality.allSatisfy { $0.args?.first?.op == .equal })

    let clone3 = try #require(entries.first { $0.names == ["clone3"] && $0.action == .errno })
    #expect(clone3.errnoRet == 38)
    let clone = try #require(entries.first { $0.names == ["clone"] && $0.args?.first?.op == .maskedEqual })
    #expect(clone.args?.first?.value == 0x7E02_0000 && clone.args?.first?.valueTwo == nil)
  }

  @Test func dockerDefaultEncodesByteForByte() throws {
    let bytes = TestFiles.bytes("Fixtures/docker-default.json")
    let (p, _) = try Profile.decode(bytes, file: nil)
    #expect(p.encode() == String(decoding: bytes, as: UTF8.self) + "\n")
  }

  @Test func oldFormatKeepsTheNameField() throws {
    let (p, _) = try Profile.decode(TestFiles.bytes("Fixtures/example.json"), file: nil)
    let entries = try #require(p.syscalls)
    #expect(entries.allSatisfy { $0.usesNameField })
    #expect(entries[0].names == ["clone"])
    #expect(entries[3].errnoRet == 12345)
    #expect(entries[1].args == [])
    #expect(p.encode().contains(#""name": "clone""#))
    #expect(p.encode().contains(#""args": []"#))
    #expect(!p.encode(format: .oci).contains(#""name":"#))
  }

  @Test func conditionalIncludeFilters() throws {
    let (p, _) = try Profile.decode(TestFiles.bytes("Fixtures/conditional_include.json"), file: nil)
    #expect(p.syscalls?[1].includes == EntryFilter(caps: ["CAP_SYSLOG"]))
    #expect(p.syscalls?[2].excludes == EntryFilter(caps: ["CAP_SYS_ADMIN"]))
  }
}

@Suite struct ValidationTests {
  static let actions = ActionName.allCases.map(\.rawValue)

  @Test func defaultActionMustBeKnown() {
    expectError(#"{"defaultAction": "SCMP_ACT_DENY"}"#, at: "defaultAction", mentions: ["\"SCMP_ACT_DENY\""] + Self.actions)
  }

  @Test func defaultActionIsRequiredUnlessDisabled() throws {
    expectError(
      #"{"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#, at: "defaultAction",
      mentions: ["required", "SCMP_ACT_ERRNO"])
    #expect(try decoded("{}").profile.isDisabled)
    #expect(try decoded(#"{"defaultAction": "", "syscalls": []}"#).profile.isDisabled)
  }

  @Test func architecturesAndArchMapTogether() {
    expectError(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": null}]}"#,
      at: "archMap", mentions: ["architectures", "archMap"])
  }

  @Test func archNamesMustBeKnown() {
    expectError(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "x86_64"]}"#,
      at: "architectures[1]", mentions: ["\"x86_64\"", "did you mean \"SCMP_ARCH_X86_64\"", "SCMP_ARCH_AARCH64"])
    expectError(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_I386"]}]}"#,
      at: "archMap[0].subArchitectures[1]", mentions: ["\"SCMP_ARCH_I386\""])
    expectError(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"subArchitectures": []}]}"#,
      at: "archMap[0]", mentions: ["architecture is required"])
  }

  @Test func nameAndNamesTogether() {
    expectError(entry(#""name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW""#), at: "syscalls[1].name", mentions: ["names"])
  }

  @Test func neitherNameNorNames() {
    expectError(entry(#""action": "SCMP_ACT_ALLOW""#), at: "syscalls[1]", mentions: ["names"])
  }

  @Test func namesMustBeNonEmptyStrings() {
    expectError(entry(#""names": [], "action": "SCMP_ACT_ALLOW""#), at: "syscalls[1].names", mentions: ["empty"])
    expectError(entry(#""names": ["read", 12], "action": "SCMP_ACT_ALLOW""#), at: "syscalls[1].names[1]", mentions: ["a string", "12"])
    expectError(entry(#""names": ["read", ""], "action": "SCMP_ACT_ALLOW""#), at: "syscalls[1].names[1]", mentions: ["empty"])
    expectError(entry(#""names": "read", "action": "SCMP_ACT_ALLOW""#), at: "syscalls[1].names", mentions: ["an array", "\"read\""])
    expectError(entry(#""name": "", "action": "SCMP_ACT_ALLOW""#), at: "syscalls[1].name", mentions: ["empty"])
  }

  @Test func actionIsRequiredAndKnown() {
    expectError(entry(#""names": ["read"]"#), at: "syscalls[1]", mentions: ["action is required"] + Self.actions)
    expectError(entry(#""names": ["read"], "action": "allow""#), at: "syscalls[1].action", mentions: ["\"allow\""] + Self.actions)
  }

  @Test func argIndexIsZeroToFive() throws {
    expectError(arg(#""index": 6, "value": 1, "op": "SCMP_CMP_EQ""#), at: "syscalls[1].args[0].index", mentions: ["6", "0...5"])
    expectError(arg(#""value": 1, "op": "SCMP_CMP_EQ""#), at: "syscalls[1].args[0]", mentions: ["index is required"])
    #expect(try decoded(arg(#""index": 5, "value": 1, "op": "SCMP_CMP_EQ""#)).profile.syscalls?[1].args?[0].index == 5)
  }

  @Test func argValuesAreUnsigned64Bit() throws {
    let max = try decoded(arg(#""index": 0, "value": 18446744073709551615, "valueTwo": 18446744073709551615, "op": "SCMP_CMP_MASKED_EQ""#))
    #expect(max.profile.syscalls?[1].args?[0].value == UInt64.max)
    #expect(max.profile.syscalls?[1].args?[0].valueTwo == UInt64.max)
    expectError(
      arg(#""index": 0, "value": 18446744073709551616, "op": "SCMP_CMP_EQ""#), at: "syscalls[1].args[0].value",
      mentions: ["18446744073709551616", "64 bits", "18446744073709551615"])
    expectError(arg(#""index": 0, "value": -1, "op": "SCMP_CMP_EQ""#), at: "syscalls[1].args[0].value", mentions: ["-1", "negative"])
    expectError(arg(#""index": 0, "value": -0, "op": "SCMP_CMP_EQ""#), at: "syscalls[1].args[0].value", mentions: ["-0", "negative"])
    expectError(arg(#""index": 0, "value": 1e3, "op": "SCMP_CMP_EQ""#), at: "syscalls[1].args[0].value", mentions: ["1e3", "exponent"])
    expectError(arg(#""index": 0, "value": 1.0, "op": "SCMP_CMP_EQ""#), at: "syscalls[1].args[0].value", mentions: ["1.0", "fraction"])
    expectError(arg(#""index": 0, "value": "1", "op": "SCMP_CMP_EQ""#), at: "syscalls[1].args[0].value", mentions: ["unsigned integer", "\"1\""])
    expectError(
      arg(#""index": 0, "value": 1, "valueTwo": -5, "op": "SCMP_CMP_MASKED_EQ""#), at: "syscalls[1].args[0].valueTwo",
      mentions: ["-5"])
    expectError(arg(#""index": 0, "op": "SCMP_CMP_EQ""#), at: "syscalls[1].args[0]", mentions: ["value is required"])
  }

  @Test func hugeNumbersAreAbbreviated() {
    let digits = String(repeating: "9", count: 400)
    let errors = decodeErrors(arg(#""index": 0, "value": \#(digits), "op": "SCMP_CMP_EQ""#))
    #expect(errors.count == 1)
    #expect(errors.first?.message.contains("400 characters") == true)
    #expect((errors.first?.message.count ?? 0) < 200)
  }

  @Test func opMustBeKnown() {
    let ops = ComparisonOperator.allCases.map(\.rawValue)
    #expect(ops.count == 7)
    expectError(arg(#""index": 0, "value": 1, "op": "SCMP_CMP_NEQ""#), at: "syscalls[1].args[0].op", mentions: ["\"SCMP_CMP_NEQ\""] + ops)
    expectError(arg(#""index": 0, "value": 1"#), at: "syscalls[1].args[0]", mentions: ["op is required"] + ops)
  }

  @Test func errnoRetFits32Bits() throws {
    expectError(
      entry(#""names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4294967296"#), at: "syscalls[1].errnoRet",
      mentions: ["4294967296", "32 bits", "4294967295"])
    expectError(#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}"#, at: "defaultErrnoRet", mentions: ["-1"])
    #expect(try decoded(entry(#""names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4294967295"#)).profile.syscalls?[1].errnoRet == .max)
  }

  @Test func errnoRetOnAnotherActionIsAWarningOrStrictError() throws {
    let text = entry(#""names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1"#)
    let (p, warnings) = try decoded(text)
    #expect(p.syscalls?[1].errnoRet == 1)
    #expect(warnings.count == 1)
    #expect(warnings.first?.path == "syscalls[1].errnoRet")
    #expect(warnings.first?.message.contains("SCMP_ACT_ALLOW") == true)
    expectError(text, at: "syscalls[1].errnoRet", mentions: ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO"], strict: true)
    let (_, traceWarnings) = try decoded(entry(#""names": ["read"], "action": "SCMP_ACT_TRACE", "errnoRet": 1"#))
    #expect(traceWarnings.isEmpty)
    let (_, defaultWarnings) = try decoded(#"{"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1}"#)
    #expect(defaultWarnings.map(\.path) == ["defaultErrnoRet"])
  }

  @Test func flagsMustBeKnown() throws {
    expectError(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_NEW_LISTENER"]}"#,
      at: "flags[1]", mentions: ["\"SECCOMP_FILTER_FLAG_NEW_LISTENER\""] + FilterFlag.allCases.map(\.rawValue))
    #expect(try decoded(#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": []}"#).profile.flags == [])
  }

  @Test func listenerMetadataNeedsListenerPath() throws {
    expectError(#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "meta"}"#, at: "listenerMetadata", mentions: ["\"meta\"", "listenerPath"])
    expectError(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "", "listenerMetadata": "meta"}"#, at: "listenerMetadata",
      mentions: ["listenerPath"])
    let p = try decoded(#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/x.sock", "listenerMetadata": "meta"}"#).profile
    #expect(p.listenerPath == "/run/x.sock" && p.listenerMetadata == "meta")
  }

  @Test(arguments: ["4", "4.8.1", "0.0", "256.1", "4.256", "a.b", "4.", ".8", "4.-1", "+4.8", " 4.8", "4.8 "])
  func minKernelMustBeXDotY(_ version: String) {
    expectError(
      entry(#""names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "\#(version)"}"#),
      at: "syscalls[1].includes.minKernel", mentions: ["\"\(version)\"", "X.Y"])
  }

  @Test func emptyMinKernelInExcludesWarns() throws {
    let (p, warnings) = try decoded(entry(#""names": ["mount"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": ""}"#))
    #expect(p.syscalls?[1].excludes?.minKernel == KernelVersion(major: 0, minor: 0))
    #expect(warnings.map(\.path) == ["syscalls[1].excludes.minKernel"])
    #expect(warnings.first?.message.contains("never applies") == true)
    #expect(p.encode().contains(#""minKernel": """#))
  }

  @Test func runcUnknownFlagsAndArchitectures() throws {
    expectError(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#, at: "flags[0]",
      mentions: ["runc does not know", "SECCOMP_FILTER_FLAG_LOG"])
    expectError(#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PARISC"]}"#, at: "architectures[0]", mentions: ["runc has no architecture"])
    let oci = try decoded(#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_SH"]}"#, format: .oci)
    #expect(oci.profile.architectures == [.sh] && oci.warnings.map(\.path) == ["architectures[0]"])
  }

  @Test func emptyNameOrNamesGivesWay() throws {
    let (p, warnings) = try decoded(entry(#""name": "", "names": ["write"], "action": "SCMP_ACT_ALLOW""#))
    #expect(p.syscalls?[1].names == ["write"] && warnings.map(\.path) == ["syscalls[1].name"])
    let (q, _) = try decoded(entry(#""name": "write", "names": [], "action": "SCMP_ACT_ALLOW""#))
    #expect(q.syscalls?[1].names == ["write"])
    #expect(try decoded(#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": [], "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": null}]}"#).profile.archMap?.count == 1)
  }

  @Test func minKernelAcceptedForms() throws {
    func minKernel(_ json: String) throws -> KernelVersion? {
      try decoded(entry(#""names": ["read"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": \#(json)}"#))
        .profile.syscalls?[1].excludes?.minKernel
    }
    #expect(try minKernel(#""4.8""#) == KernelVersion(major: 4, minor: 8))
    #expect(try minKernel(#""04.08""#) == KernelVersion(major: 4, minor: 8))
    #expect(try minKernel(#""255.0""#) == KernelVersion(major: 255, minor: 0))
    #expect(try minKernel(#""0.1""#) == KernelVersion(major: 0, minor: 1))
    #expect(try minKernel(#""""#) == KernelVersion(major: 0, minor: 0))  // moby's reading of ""
    #expect(try minKernel("null") == nil)
    expectError(
      entry(#""names": ["read"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": 4.8}"#),
      at: "syscalls[1].excludes.minKernel", mentions: ["a string", "4.8"])
  }

  @Test func filterCapsAndArches() throws {
    expectError(
      entry(#""names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", 7]}"#),
      at: "syscalls[1].includes.caps[1]", mentions: ["a string", "7"])
    let (p, warnings) = try decoded(
      entry(#""names": ["read"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["SYS_ADMIN", "CAP_FOO"], "arches": ["x86_64"]}"#))
    #expect(p.syscalls?[1].excludes?.caps == ["SYS_ADMIN", "CAP_FOO"])  // kept as written
    #expect(warnings.map(\.path) == ["syscalls[1].excludes.caps[0]", "syscalls[1].excludes.caps[1]", "syscalls[1].excludes.arches[0]"])
    #expect(warnings[0].message.contains("\"CAP_SYS_ADMIN\""))
    #expect(warnings[2].message.contains("did you mean \"amd64\""))
  }

  @Test func wrongTypesNameTheExpectedType() {
    expectError(#"{"defaultAction": 1}"#, at: "defaultAction", mentions: ["expected a string", "the number 1"])
    expectError(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}}"#, at: "syscalls", mentions: ["expected an array", "an object"])
    expectError(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [[]]}"#, at: "syscalls[0]", mentions: ["expected an object", "an empty array"])
    expectError(#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": "SCMP_ARCH_X86"}"#, at: "architectures", mentions: ["expected an array"])
    expectError(#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": [true]}"#, at: "flags[0]", mentions: ["expected a string", "true"])
    expectError(#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": 5}"#, at: "listenerPath", mentions: ["a string"])
    expectError(entry(#""names": ["read"], "action": "SCMP_ACT_ALLOW", "args": {}"#), at: "syscalls[1].args", mentions: ["an array"])
    expectError(entry(#""names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": 3"#), at: "syscalls[1].comment", mentions: ["a string"])
    expectError(entry(#""names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": []"#), at: "syscalls[1].includes", mentions: ["an object"])
    expectError(arg(#""index": "0", "value": 1, "op": "SCMP_CMP_EQ""#), at: "syscalls[1].args[0].index", mentions: ["unsigned integer", "\"0\""])
    expectError(arg(#""index": 0, "value": 1, "op": 1"#), at: "syscalls[1].args[0].op", mentions: ["a string"])
    expectError("[]", at: "", mentions: ["expected an object"])
  }

  @Test func everyErrorIsReported() {
    let errors = decodeErrors(
      """
      {"defaultAction": "SCMP_ACT_NOPE", "architectures": ["SCMP_ARCH_NOPE"], "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_NOPE"},
        {"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 9, "value": -1, "op": "SCMP_CMP_NOPE"}]}
      ]}
      """)
    #expect(
      errors.map(\.path) == [
        "defaultAction", "architectures[0]", "syscalls[0].action", "syscalls[1].args[0].index",
        "syscalls[1].args[0].value", "syscalls[1].args[0].op",
      ])
    #expect(errors.map(\.line) == [1, 1, 2, 3, 3, 3])
    #expect(errors.allSatisfy { $0.file == "test.json" })
  }

  @Test func unknownKeysAreWarnings() throws {
    let (p, warnings) = try decoded(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoret": 1, "syscalls": [{"nmaes": ["read"], "names": ["read"], "action": "SCMP_ACT_ALLOW", "why": 1}]}"#)
    #expect(p.defaultErrnoRet == 1)  // Go matches keys case-insensitively
    #expect(warnings.map(\.path) == ["defaultErrnoret", "syscalls[0].nmaes", "syscalls[0].why"])
    #expect(warnings[0].message.contains("\"defaultErrnoRet\""))
    #expect(warnings[1].message.contains("did you mean \"names\""))
    #expect(decodeErrors(#"{"defaultAction": "SCMP_ACT_ALLOW", "extra": 1}"#, strict: true).map(\.path) == ["extra"])
  }

  @Test func repeatedKeysAreErrorsNamingBothPaths() {
    let errors = decodeErrors(
      """
      {"defaultAction": "SCMP_ACT_ERRNO",
       "defaultAction": "SCMP_ACT_ALLOW"}
      """)
    #expect(errors.count == 1)
    #expect(errors.first?.line == 2)
    #expect(errors.first?.path == "defaultAction")
    #expect(errors.first?.message.contains("duplicate key defaultAction: also set at defaultAction on line 1") == true)
    #expect(errors.first?.message.contains("write it once") == true)

    // Keys Go reads as one field are the same key, whatever their spelling.
    let folded = decodeErrors(
      entry(#""names": ["clone"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}],\#n"Args": []"#))
    #expect(folded.map(\.path) == ["syscalls[1].Args"])
    #expect(folded.first?.message.contains(#"duplicate key syscalls[1].args: also set at syscalls[1].args on line 6 (spelled "args" there)"#) == true, "\(folded)")
    let deep = decodeErrors(arg(#""index": 0, "value": 1, "op": "SCMP_CMP_EQ", "ſ": 1, "OP": "SCMP_CMP_NE""#))
    #expect(deep.map(\.path) == ["syscalls[1].args[0].OP"])
    // Unknown keys may repeat: Go skips them.
    #expect(throws: Never.self) { try decoded(#"{"defaultAction": "SCMP_ACT_ALLOW", "x": 1, "x": 2}"#) }
  }

  @Test func keysFoldAsGoFoldsThem() throws {
    // ſ (U+017F) is s and K (U+212A KELVIN SIGN) is k to Go; other lookalikes are not.
    let (p, warnings) = try decoded(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "ſyscalls": [{"NAMES": ["mount"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.1"}, "includes": {"caps": ["CAP_SYS_ADMIN"]}}], "ѕyscalls": []}"#)
    #expect(p.syscalls?.first?.names == ["mount"])
    #expect(p.syscalls?.first?.excludes?.minKernel == KernelVersion(major: 5, minor: 1))
    #expect(warnings.map(\.path) == [#"["ſyscalls"]"#, #"["ѕyscalls"]"#, "syscalls[0].NAMES", #"syscalls[0].excludes["minKernel"]"#])
    #expect(warnings[0].message.hasPrefix(#"key "ſyscalls" is read as "syscalls" by Docker and runc"#))
    #expect(warnings[1].message.hasPrefix(#"unknown key "ѕyscalls" is ignored"#))
    #expect(warnings[3].message.contains(#"is read as "minKernel""#))
    #expect(decodeErrors(#"{"defaultAction": "SCMP_ACT_ALLOW", "Syscalls": []}"#, strict: true).map(\.path) == ["Syscalls"])
  }

  @Test(arguments: [
    ("syscalls", "syscalls", true), ("SYSCALLS", "syscalls", true), ("ſyscallſ", "syscalls", true),
    ("\u{212A}", "k", true), ("minKernel", "minkernel", true),
    ("mini\u{212A}ernel", "minKernel", false), ("min\u{212A}ernel", "minKernel", true), ("syscall", "syscalls", false),
    ("syscallss", "syscalls", false), ("ѕyscalls", "syscalls", false), ("İndex", "index", false), ("ındex", "index", false),
    ("in_ex", "index", false), ("@ction", "action", false), ("Action", "action", true), ("", "op", false),
  ])
  func goFolding(_ key: String, _ field: String, _ matches: Bool) {
    #expect(goFoldMatches(key, field) == matches)
  }

  @Test func nullMeansAbsent() throws {
    let (p, _) = try decoded(
      #"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": null, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": null, "includes": null}]}"#)
    #expect(p.architectures == nil)
    #expect(p.syscalls?[0].args == nil && p.syscalls?[0].includes == nil)
  }

  @Test func keysNeedingQuotesInPaths() throws {
    let (_, warnings) = try decoded(#"{"defaultAction": "SCMP_ACT_ALLOW", "a.b c": 1}"#)
    #expect(warnings.first?.path == #"["a.b c"]"#)
  }
}

@Suite struct SyscallNameTests {
  @Test func unknownNameOnTheTargetABIs() throws {
    let (_, warnings) = try decoded(entry(#""names": ["read", "fooo", "arm_fadvise64_64"], "action": "SCMP_ACT_ALLOW""#))
    #expect(warnings.map(\.path) == ["syscalls[1].names[1]", "syscalls[1].names[2]"])
    #expect(warnings[0].message.contains("\"fooo\" is not a syscall on any architecture"))
    #expect(warnings[1].message.contains("\"arm_fadvise64_64\" is not a syscall on x86_64, x86, x32"))
    #expect(warnings[1].message.contains("arm"))
  }

  @Test func didYouMean() throws {
    let (_, warnings) = try decoded(entry(#""names": ["opneat"], "action": "SCMP_ACT_ALLOW""#))
    #expect(warnings.first?.message.contains("did you mean") == true)
    #expect(warnings.first?.message.contains("\"openat\"") == true)
  }

  @Test func strictMakesUnknownNamesErrors() {
    expectError(entry(#""names": ["fooo"], "action": "SCMP_ACT_ALLOW""#), at: "syscalls[1].names[0]", mentions: ["\"fooo\""], strict: true)
  }

  @Test func targetsFollowArchMapAndIncludes() throws {
    let profile = """
      {"defaultAction": "SCMP_ACT_ERRNO",
       "archMap": [{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
       "syscalls": [
         {"names": ["arm_fadvise64_64"], "action": "SCMP_ACT_ALLOW"},
         {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW"},
         {"names": ["arch_prctl", "modify_ldt"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
         {"names": ["sync_file_range2", "set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["ppc64le"]}}
       ]}
      """
    let (_, warnings) = try decoded(profile)
    #expect(warnings.map(\.path) == ["syscalls[1].names[0]", "syscalls[3].names[1]"])
    #expect(warnings[0].message.contains("on aarch64, arm"))
    #expect(warnings[1].message.contains("\"set_tls\" is not a syscall on ppc64le"))
  }

  @Test func nativeFamilyWithoutArchitectures() throws {
    let (_, warnings) = try decoded(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "fooo"], "action": "SCMP_ACT_ALLOW"}]}"#)
    #expect(warnings.map(\.path) == ["syscalls[0].names[1]"])
  }
}

@Suite struct FormatTests {
  static let oci = """
    {
    \t"defaultAction": "SCMP_ACT_ERRNO",
    \t"defaultErrnoRet": 38,
    \t"architectures": [
    \t\t"SCMP_ARCH_X86_64",
    \t\t"SCMP_ARCH_X86"
    \t],
    \t"flags": [
    \t\t"SECCOMP_FILTER_FLAG_LOG"
    \t],
    \t"listenerPath": "/run/seccomp.sock",
    \t"listenerMetadata": "a \\"quoted\\" \\\\ value\\n",
    \t"syscalls": [
    \t\t{
    \t\t\t"names": [
    \t\t\t\t"personality"
    \t\t\t],
    \t\t\t"action": "SCMP_ACT_ALLOW",
    \t\t\t"args": [
    \t\t\t\t{
    \t\t\t\t\t"index": 0,
    \t\t\t\t\t"value": 18446744073709551615,
    \t\t\t\t\t"valueTwo": 0,
    \t\t\t\t\t"op": "SCMP_CMP_MASKED_EQ"
    \t\t\t\t}
    \t\t\t]
    \t\t},
    \t\t{
    \t\t\t"names": [
    \t\t\t\t"ptrace"
    \t\t\t],
    \t\t\t"action": "SCMP_ACT_ERRNO",
    \t\t\t"errnoRet": 1
    \t\t}
    \t]
    }

    """

  @Test func ociRoundTrip() throws {
    let (p, warnings) = try decoded(Self.oci, format: .oci)
    #expect(warnings.isEmpty)
    #expect(p.listenerMetadata == "a \"quoted\" \\ value\n")
    #expect(p.syscalls?[0].args?[0].value == .max)
    #expect(p.encode(format: .oci) == Self.oci)
    #expect(try decoded(p.encode(format: .oci), format: .oci).profile == p)
  }

  @Test func dockerOnlyKeysWarnInOCI() throws {
    let (p, warnings) = try decoded(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "c", "includes": {}, "excludes": {}}]}"#,
      format: .oci)
    #expect(p.archMap == nil && p.syscalls?[0].comment == nil && p.syscalls?[0].includes == nil)
    #expect(warnings.map(\.path) == ["archMap", "syscalls[0].comment", "syscalls[0].includes", "syscalls[0].excludes"])
    #expect(warnings.allSatisfy { $0.message.contains("OCI") })
    expectError(
      #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW"}]}"#,
      at: "syscalls[0]", mentions: ["names"], format: .oci)
  }

  @Test func encodeDropsDockerFieldsForOCI() throws {
    let p = Profile(
      defaultAction: .errno, archMap: [ArchMapEntry(architecture: .x86_64, subArchitectures: nil)],
      syscalls: [SyscallEntry(names: ["read"], usesNameField: true, action: .allow, comment: "hi", includes: EntryFilter(caps: ["CAP_SYS_ADMIN"]))])
    let docker = p.encode()
    #expect(docker.contains(#""subArchitectures": null"#))
    #expect(docker.contains(#""name": "read""#))
    #expect(docker.contains(#""comment": "hi""#))
    #expect(docker.hasSuffix("}\n"))
    let oci = p.encode(format: .oci)
    for key in ["archMap", "\"name\"", "comment", "includes"] { #expect(!oci.contains(key)) }
    #expect(oci.contains(#""names""#))
  }

  @Test func encodeOrderAndEscaping() throws {
    let p = Profile(
      defaultAction: .allow, defaultErrnoRet: 1, architectures: [.x86_64], syscalls: [
        SyscallEntry(
          names: ["read"], action: .errno, errnoRet: 5, args: [ArgumentCondition(index: 1, value: 2, valueTwo: 3, op: .maskedEqual)],
          comment: "tab\tnul\u{0}quote\"line\u{2028}é", includes: EntryFilter(caps: ["CAP_BPF"], arches: ["amd64"], minKernel: KernelVersion(major: 5, minor: 4)),
          excludes: EntryFilter())
      ], flags: [.log], listenerPath: "p", listenerMetadata: "m")
    let text = p.encode()
    let keys = ["defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath", "listenerMetadata", "syscalls",
                "names", "action", "errnoRet", "args", "index", "value", "valueTwo", "op", "comment", "includes", "caps", "arches", "minKernel", "excludes"]
    let positions = keys.map { text.range(of: "\"\($0)\"")?.lowerBound }
    #expect(positions.allSatisfy { $0 != nil })
    #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted())
    #expect(text.contains(#""tab\tnul\u0000quote\"line\u2028é""#))
    #expect(text.contains(#""excludes": {}"#))
    #expect(try decoded(text).profile == p)
  }
}

@Suite struct JSONSyntaxTests {
  func syntaxError(_ text: String) -> Diagnostic? {
    let errors = decodeErrors(text)
    #expect(errors.count == 1)
    return errors.first
  }

  @Test func namesLineAndColumn() {
    let e = syntaxError("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n  \"syscalls\": []\n}")
    #expect(e?.line == 3)
    #expect(e?.message.contains("column 3") == true)
    #expect(e?.message.contains("expected ',' or '}'") == true)
  }

  @Test func columnsCountCharacters() {
    let e = syntaxError("{\"é\": x}")
    #expect(e?.message.contains("column 7") == true)
  }

  @Test(arguments: [
    ("", "empty"), ("   ", "whitespace"), ("{", "end of input"), ("{\"a\"", "':'"), ("[1,]", "expected a value"),
    ("{\"a\":1,}", "string key"), ("01", "leading zeros"), ("-", "digit"), ("1.", "digit"), ("1e", "exponent"),
    ("tru", "true"), ("nul", "null"), ("\"\\x\"", "escape"), ("\"\\u12\"", "hex digits"), ("\"\\ud800\"", "surrogate"),
    ("\"\\udc00\"", "surrogate"), ("\"a\nb\"", "control character"), ("{}{}", "end of the input"), ("// c\n{}", "expected a value"),
    ("\u{FEFF}{}", "byte order mark"), ("'a'", "expected a value"),
  ])
  func rejects(_ text: String, _ fragment: String) {
    let e = syntaxError(text)
    #expect(e?.message.contains(fragment) == true, "\(String(describing: e))")
  }

  @Test func rejectsInvalidUTF8() {
    for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xE2, 0x82]] {
      #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(bytes) }
    }
    #expect(throws: JSONSyntaxError.self) { try JSONValue.parse([0x7B, 0x00, 0x7D]) }
  }

  @Test func parsesValues() throws {
    let v = try JSONValue.parse(Array(#"{"a": [1, -2.5e+3, true, false, null, "\u00e9\ud83d\ude00\/"], "a": {}}"#.utf8))
    #expect(v.duplicateMembers.map(\.key) == ["a"])
    #expect(v["a"]?.kind == .object([]))
    guard case .object(let members) = v.kind, case .array(let items) = members[0].value.kind else {
      Issue.record("not parsed as expected")
      return
    }
    #expect(items.map(\.kind) == [.number("1"), .number("-2.5e+3"), .bool(true), .bool(false), .null, .string("é😀/")])
  }

  @Test func depthLimit() throws {
    let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
    _ = try JSONValue.parse(Array(ok.utf8))
    let deep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
    #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Array(deep.utf8)) }
    do {
      _ = try JSONValue.parse(Array(deep.utf8))
    } catch {
      #expect(error.message.contains("512"))
    }
  }

  @Test func prettyPrintRoundTrip() throws {
    let text = "{\n\t\"a\": [\n\t\t1,\n\t\t{}\n\t],\n\t\"b\": []\n}"
    #expect(try JSONValue.parse(Array(text.utf8)).prettyPrinted() == text)
  }
}

@Suite struct LoadTests {
  @Test func loadsAFile() throws {
    let path = TestFiles.directory + "/Fixtures/example.json"
    let (p, _) = try Profile.load(path: path)
    #expect(p.syscalls?.count == 4)
  }

  @Test func unreadableFileNamesFileAndReason() {
    let path = TestFiles.directory + "/Fixtures/no-such-profile.json"
    do {
      _ = try Profile.load(path: path)
      Issue.record("expected an error")
    } catch {
      #expect(error.diagnostics.count == 1)
      #expect(error.diagnostics.first?.file == path)
      #expect(error.description.contains("No such file or directory"))
    }
    do {
      _ = try Profile.load(path: TestFiles.directory + "/Fixtures")
      Issue.record("expected an error")
    } catch {
      #expect(error.description.contains("directory"))
    }
  }

  @Test func errorsCarryTheFileName() {
    do {
      _ = try Profile.decode(Array("{".utf8), file: "x.json")
    } catch {
      #expect(error.description.hasPrefix("x.json:1: error: "))
    }
  }
}
