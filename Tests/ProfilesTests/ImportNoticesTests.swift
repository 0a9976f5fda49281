import Foundation
import Profiles
import Syscalls
import Testing

/// What `import --lxc` and `import --names` say about the names they leave out, and a
/// diagnostic's JSON members.
@Suite struct ImportNoticesTests {
  @Test func anLXCPolicysNamesThatAreNoSyscall() throws {
    let policy = try LXCPolicyImport(text: "2\ndenylist\n[all]\nkeyctl errno 1\nnosuch errno 1\n", file: "p.seccomp", host: .x86_64)
    #expect(policy.noSyscall.map(\.name) == ["nosuch"] && policy.notOnTheseABIs.isEmpty)
    let warned = policy.diagnostics(strict: false, file: "p.seccomp")
    let last = try #require(warned.last)
    #expect(last.severity == .warning && last.line == 5 && last.file == "p.seccomp")
    #expect(last.message == "no syscall on any ABI (LXC skips it): nosuch")
    #expect(policy.diagnostics(strict: true, file: nil).last?.severity == .error)
  }

  @Test func aNameListsNamesLeftOut() throws {
    let list = try SyscallNameList(text: "read write\nnosuch\n_llseek\n", file: "n.txt")
    let d = list.diagnostics(on: .x86_64, strict: false, file: "n.txt")
    #expect(d.map(\.message) == ["left out 1 name that is no syscall on any ABI: nosuch", "left out 1 name that is not a syscall of x86_64: _llseek"])
    #expect(d.map(\.line) == [2, 3] && d.allSatisfy { $0.severity == .warning })
    // --strict makes the unknown name an error; a name of another ABI stays a warning.
    #expect(list.diagnostics(on: .x86_64, strict: true, file: nil).map(\.severity) == [.error, .warning])
    #expect(list.diagnostics(on: .x86, strict: false, file: nil).map(\.message) == ["left out 1 name that is no syscall on any ABI: nosuch"])
  }

  @Test func aDiagnosticsJSONMembers() throws {
    let o = Diagnostic(.error, file: "a.log", line: 3, "bad").jsonObject
    #expect(o["severity"] as? String == "error" && o["message"] as? String == "bad" && o["file"] as? String == "a.log" && o["line"] as? Int == 3)
    let bare = Diagnostic(.warning, "w").jsonObject
    #expect(bare.count == 2 && bare["file"] == nil && bare["line"] == nil)
  }
}
