import Foundation
import Host
import Profiles
import Recording
import Seccomp
import Syscalls
import Testing
import TestSupport

/// `record --baseline P`: the profile written keeps every decision P makes, except that
/// the calls the run made which P refuses by its default action become allowed.
@Suite struct BaselineKeepsTests {
  func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-baseline-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  func policy(_ path: String) throws -> Policy {
    Policy(profile: try Profile.load(path: path).profile, options: PolicyOptions(context: HostFacts.dockerDefault(), enosysStub: false))
  }

  /// The baseline: /bin/true's calls, default KILL_PROCESS, write only to fd 1, socket
  /// AF_VSOCK refused with EAFNOSUPPORT, unshare(CLONE_NEWUSER) refused with EPERM.
  func writeBaseline(in dir: URL) throws -> String {
    let first = dir.appendingPathComponent("true.json").path
    let r = run(syscageExecutable, ["record", "-o", first, "--for", "none", "--", "/bin/true"])
    try #require(r.status == 0, "\(r.stderr)")
    var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: first))) as? [String: Any])
    object["defaultAction"] = "SCMP_ACT_KILL_PROCESS"
    object["defaultErrnoRet"] = nil
    var syscalls = object["syscalls"] as? [[String: Any]] ?? []
    syscalls.append([
      "names": ["write"], "action": "SCMP_ACT_ALLOW", "comment": "standard output only",
      "args": [["index": 0, "value": 1, "op": "SCMP_CMP_EQ"]],
    ])
    syscalls.append([
      "names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
      "args": [["index": 0, "value": 40, "op": "SCMP_CMP_EQ"]],
    ])
    syscalls.append([
      "names": ["unshare"], "action": "SCMP_ACT_ERRNO",
      "args": [["index": 0, "value": 0x1000_0000, "valueTwo": 0x1000_0000, "op": "SCMP_CMP_MASKED_EQ"]],
    ])
    object["syscalls"] = syscalls
    let path = dir.appendingPathComponent("base.json").path
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    return path
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func outputDecidesAsTheBaselineExceptForAddedCalls() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let base = try writeBaseline(in: dir)
    let out = dir.appendingPathComponent("out.json").path
    let script = "echo out; echo err >&2; unshare -U true; python3 -c 'import socket; socket.socket(40, 1)' 2>/dev/null; true"
    let r = run(syscageExecutable, ["record", "--baseline", base, "-o", out, "--", "/bin/sh", "-c", script])
    #expect(r.status == 0, "\(r.stderr)")
    // The recording ran unconfined: unshare -U and AF_VSOCK were made, and are reported.
    #expect(r.stderr.contains("unshare was called"), "\(r.stderr)")
    #expect(r.stderr.contains("socket was called"), "\(r.stderr)")

    let p = try Profile.load(path: base).profile
    let o = try Profile.load(path: out).profile
    #expect(o.defaultAction == .killProcess)
    #expect(o.architectures == p.architectures)
    #expect(Array((o.syscalls ?? []).prefix(p.syscalls?.count ?? 0)) == (p.syscalls ?? []), "the baseline's entries come first, unchanged")

    // Region by region: a call P has no unconditional ALLOW for and that OUT names in its
    // added entries may go from P's default to ALLOW; every other decision is P's.
    let added = Set((o.syscalls ?? []).dropFirst(p.syscalls?.count ?? 0).flatMap(\.names))
    #expect(added.isSuperset(of: ["write", "socket", "unshare"]), "\(added.sorted())")
    let pp = try policy(base)
    let op = try policy(out)
    let map = DecisionMap(policies: [pp, op])
    let kill = SeccompAction.killProcess
    var regions = 0
    for ad in map.arches {
      #expect(ad.present[0] == ad.present[1])
      #expect(ad.tooComplex.isEmpty)
      for s in ad.syscalls {
        for region in 0..<s.regionCount {
          regions += 1
          let (old, new) = (s.actions[0][region], s.actions[1][region])
          if added.contains(s.name) && old == kill {
            #expect(new == .allow, "\(ad.arch) \(s.name) region \(s.region(region)): \(old) → \(new)")
          } else {
            #expect(old == new, "\(ad.arch) \(s.name) region \(s.region(region)): \(old) → \(new)")
          }
        }
      }
      for rest in ad.rest { #expect(rest.actions[0] == rest.actions[1], "\(ad.arch) \(rest.first)...\(rest.last)") }
    }
    #expect(regions > 0)
    let socket = try #require(Arch.x86_64.number(of: "socket"))
    let unshare = try #require(Arch.x86_64.number(of: "unshare"))
    #expect(op.decide(arch: .x86_64, number: socket, args: [40, 1]).action == .errno(97))
    #expect(op.decide(arch: .x86_64, number: socket, args: [2, 1]).action == .allow)
    #expect(op.decide(arch: .x86_64, number: unshare, args: [0x1000_0000]).action == .errno(1))

    // On the kernel: under OUT, AF_VSOCK and unshare -U are still refused.
    let vsock = run(
      syscageExecutable,
      ["run", "--profile", out, "--", "/usr/bin/python3", "-c", "import socket\ntry:\n socket.socket(40, 1)\n print('made')\nexcept OSError as e:\n print(e.errno)"])
    #expect(vsock.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "97", "\(vsock.stdout) \(vsock.stderr)")
    let userns = run(syscageExecutable, ["run", "--profile", out, "--", "/usr/bin/unshare", "-U", "/bin/true"])
    #expect(userns.status != 0, "unshare -U succeeded under the written profile: \(userns.stderr)")
    let plain = run(syscageExecutable, ["run", "--profile", out, "--", "/bin/sh", "-c", "echo out; echo err >&2"])
    #expect(plain.status == 0 && plain.stdout == "out\n", "\(plain.stderr)")
  }

  /// A call P allows for some arguments is not widened when the run made it only with those.
  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func conditionalAllowStaysWhenTheRunKeptToIt() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let base = try writeBaseline(in: dir)
    let out = dir.appendingPathComponent("out.json").path
    let r = run(syscageExecutable, ["record", "--baseline", base, "-o", out, "--", "/bin/echo", "hi"])
    #expect(r.status == 0, "\(r.stderr)")
    let o = try Profile.load(path: out).profile
    let p = try Profile.load(path: base).profile
    let added = Set((o.syscalls ?? []).dropFirst(p.syscalls?.count ?? 0).flatMap(\.names))
    #expect(!added.contains("write"), "write(1, ...) is allowed by the baseline; added: \(added.sorted())")
    let write = try #require(Arch.x86_64.number(of: "write"))
    #expect(try policy(out).decide(arch: .x86_64, number: write, args: [2]).action == .killProcess)
  }

  /// With --args, an argument rule for values the baseline refuses by a rule is left out
  /// (it would be shadowed) and said; the other values get their rules.
  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func argumentRulesTheBaselineRefusesAreLeftOut() throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let base = try writeBaseline(in: dir)
    let out = dir.appendingPathComponent("out.json").path
    let code = "import socket\nsocket.socket(2, 1)\ntry:\n socket.socket(40, 1)\nexcept OSError:\n pass"
    let r = run(syscageExecutable, ["record", "--args", "--baseline", base, "-o", out, "--", "/usr/bin/python3", "-c", code])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("socket (address family 40, socket type 1) was called but the baseline refuses it"), "\(r.stderr)")
    let o = try Profile.load(path: out).profile
    let socketRules = (o.syscalls ?? []).filter { $0.names == ["socket"] && $0.action == .allow }
    #expect(socketRules.count == 1 && socketRules.first?.args?.first?.value == 2, "\(socketRules)")
    let check = "import socket\nsocket.socket(2, 1)\ntry:\n socket.socket(40, 1)\n print('made')\nexcept OSError as e:\n print(e.errno)"
    let again = run(syscageExecutable, ["run", "--profile", out, "--", "/usr/bin/python3", "-c", check])
    #expect(again.status == 0 && again.stdout == "97\n", "\(again.stdout) \(again.stderr)")
  }
}

/// `ProfileAssembly.fitting`: argument rules that make the filter too long become one
/// unconditional ALLOW, biggest call first, leaving a baseline's entries alone.
@Suite struct FittingTests {
  @Test func collapsesTheBiggestCallAndKeepsTheBaseline() {
    let kept = [
      SyscallEntry(names: ["read"], action: .allow),
      SyscallEntry(names: ["socket"], action: .errno, errnoRet: 97, args: [ArgumentCondition(index: 0, value: 40, op: .equal)]),
      SyscallEntry(names: ["ioctl"], action: .allow, args: [ArgumentCondition(index: 1, value: 7, op: .equal)]),
    ]
    let ioctls = (0..<2500).map { i in
      SyscallEntry(names: ["ioctl"], action: .allow, args: [ArgumentCondition(index: 1, value: UInt64(0x10000 + 3 * i), op: .equal)])
    }
    let prctls = (0..<3).map { i in
      SyscallEntry(names: ["prctl"], action: .allow, args: [ArgumentCondition(index: 0, value: UInt64(i), op: .equal)])
    }
    var profile = Profile(defaultAction: .errno)
    profile.architectures = [.x86_64]
    profile.syscalls = kept + ioctls + prctls
    #expect(!ProgramSize(profile: profile, kernel: .running).fits)
    let (fitted, notes) = ProfileAssembly.fitting(profile, keeping: kept.count)
    #expect(ProgramSize(profile: fitted, kernel: .running).fits)
    let entries = fitted.syscalls ?? []
    #expect(Array(entries.prefix(kept.count)) == kept)
    #expect(entries.dropFirst(kept.count).filter { $0.names == ["prctl"] }.count == 3, "the small call keeps its rules")
    #expect(entries.dropFirst(kept.count).contains { $0.names == ["ioctl"] && $0.args == nil && $0.action == .allow })
    #expect(notes.count == 1 && notes[0].hasPrefix("ioctl: its 2500 argument rules"), "\(notes)")
  }
}
