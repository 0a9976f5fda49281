import Foundation
import ProfileCorpus
import Profiles
import Seccomp
import Syscalls
import Testing

/// The systemd-nspawn settings file (`NspawnConversion`) and the systemd drop-in's notes
/// about nspawn and about killing.
@Suite struct NspawnFormatTests {
  static func target(_ native: Arch = .x86_64, arches: [Arch]? = nil) -> ConversionTarget {
    ConversionTarget(
      context: ExpansionContext(native: native, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: Corpus.kernel),
      arches: arches)
  }

  /// What nspawn allows under the file, as systemd 252 combines it with its own allow-list:
  /// the file's names added to nspawn's, then its `~` names taken out.
  static func nspawnAllows(_ file: NspawnConversion) -> Set<String> {
    NspawnConversion.builtinAllowList().union(file.allowed).subtracting(file.refused)
  }

  static func items(_ file: NspawnConversion) -> [String] {
    file.directives.flatMap { line in
      line.dropFirst("SystemCallFilter=".count).split(separator: " ").map { String($0.hasPrefix("~") ? $0.dropFirst() : $0) }
    }
  }

  @Test func denyDirIsTwoRefusedNames() {
    let p = Profile(defaultAction: .allow, syscalls: [SyscallEntry(names: ["mkdir", "mkdirat"], action: .errno)])
    let file = NspawnConversion(profile: p, target: Self.target())
    #expect(file.directives == ["SystemCallFilter=~mkdir mkdirat"])
    #expect(file.allowed.isEmpty && file.refused == ["mkdir", "mkdirat"])
    #expect(file.text.hasSuffix("[Exec]\nSystemCallFilter=~mkdir mkdirat\n"))
    #expect(file.commandLineArguments == ["--system-call-filter=~mkdir mkdirat"])
    // Stricter than the profile where nspawn's own list refuses: said as a note, not a warning.
    #expect(file.notes.contains { $0.contains("add_key") && $0.contains("bpf") && $0.contains("own allow-list") })
    // The profile covers x86_64 only: nspawn cannot refuse x86 and x32 as a whole.
    #expect(file.warnings.count == 1 && file.warnings[0].hasPrefix("x86, x32: the profile does not cover"))
    let covered = NspawnConversion(profile: p, target: Self.target(arches: [.x86_64, .x86, .x32]))
    #expect(covered.warnings.isEmpty, "\(covered.warnings)")
  }

  @Test func namesOnlyNeverAnErrnoOrAGroup() {
    for (label, profile) in [("docker-default", Corpus.dockerDefault)] + Corpus.edgeCases {
      let file = NspawnConversion(profile: profile, target: Self.target(profile.architectures?.first ?? .x86_64))
      for item in Self.items(file) {
        #expect(!item.contains(":") && !item.hasPrefix("@") && SyscallTable.isKnown(item), "\(label): \(item)")
      }
      #expect(Set(file.allowed).isDisjoint(with: file.refused), "\(label)")
      #expect(file.directives.allSatisfy { $0.count < 140 }, "\(label)")
    }
  }

  /// Whatever nspawn's own list, the result allows nothing the profile refuses, on every ABI
  /// of the host; and an allow-list allows what the profile allows.
  @Test func neverLooserThanTheProfile() {
    let cases: [(String, Profile, ConversionTarget)] =
      [("docker-default", Corpus.dockerDefault, Self.target())]
      + Corpus.edgeCases.map { ($0.0, $0.1, Self.target($0.1.architectures?.first ?? .x86_64)) }
      + (1...6).map { seed in
        let p = Corpus.randomProfile(seed: UInt64(seed))
        return ("random-\(seed)", p, Self.target(p.architectures![0]))
      }
    for (label, profile, target) in cases {
      let file = NspawnConversion(profile: profile, target: target)
      let policy = Policy(profile: profile, options: target.policyOptions)
      let allows = Self.nspawnAllows(file)
      let allowList = !(policy.arches.first?.defaultAction.permits ?? true)
      var looser: [String] = []
      var stricter: [String] = []
      for ap in policy.arches {
        for (name, nr) in SyscallTable.entries(in: ap.arch.abi) {
          let rules = ap.rules.filter { $0.number == nr }
          // Every argument vector the rules name, and zeros.
          var vectors: [[UInt64]] = [[UInt64](repeating: 0, count: 6)]
          for r in rules {
            for c in r.conditions {
              for v in [c.value, c.value &+ 1, c.value &- 1] {
                var a = [UInt64](repeating: 0, count: 6)
                a[c.index] = v
                vectors.append(a)
              }
            }
          }
          let permitsSome = vectors.contains { ap.decide(nr: nr.word, args: $0).action.permits }
          let permitsAll = vectors.allSatisfy { ap.decide(nr: nr.word, args: $0).action.permits }
          if allows.contains(name) && !permitsAll && rules.allSatisfy(\.conditions.isEmpty) { looser.append("\(ap.arch):\(name)") }
          if allows.contains(name) && !permitsSome { looser.append("\(ap.arch):\(name)") }
          if allowList && permitsAll && !allows.contains(name) && !file.inexact.contains(name) { stricter.append("\(ap.arch):\(name)") }
        }
      }
      #expect(looser.isEmpty, "\(label): nspawn would allow \(looser.prefix(10))")
      #expect(stricter.isEmpty, "\(label): nspawn would refuse \(stricter.prefix(10)) that the profile allows")
      // An allow-list names every call of the host's ABIs, so nspawn's own list adds nothing.
      if allowList {
        var host = Set<String>()
        for abi in target.context.native.family { host.formUnion(SyscallTable.entries(in: abi.abi).map(\.name)) }
        #expect(host.isSubset(of: Set(file.allowed).union(file.refused)), "\(label)")
      }
    }
  }

  @Test func dockerDefaultFailsClosedAndSaysWhy() {
    let file = NspawnConversion(profile: Corpus.dockerDefault, target: Self.target())
    #expect(file.refused.contains("keyctl") && file.refused.contains("unshare") && file.refused.contains("mount"))
    #expect(file.allowed.contains("read") && file.allowed.contains("mkdir"))
    for name in ["clone", "socket", "personality"] {
      #expect(file.refused.contains(name))
      #expect(file.warnings.contains { $0.hasPrefix("\(name): argument rules cannot be expressed") && $0.contains("refused (EPERM) for every call (fail closed)") })
    }
    #expect(file.refused.contains("clone3"))
    #expect(file.warnings.contains { $0.contains("SCMP_ACT_ERRNO(ENOSYS)") && $0.contains("clone3") })
    #expect(file.text.contains("# Not expressible exactly in systemd-nspawn:"))
    #expect(file.header.contains { $0.contains("/etc/systemd/nspawn/MACHINE.nspawn") })
  }

  @Test func actionsNspawnCannotTakeAreApproximatedAndSaid() {
    let p = Profile(
      defaultAction: .allow, architectures: [.x86_64, .x86, .x32],
      syscalls: [
        SyscallEntry(names: ["kexec_load"], action: .killProcess),
        SyscallEntry(names: ["ptrace"], action: .trap),
        SyscallEntry(names: ["getppid"], action: .log),
        SyscallEntry(names: ["reboot"], action: .errno, errnoRet: 38),
        SyscallEntry(names: ["umount2"], action: .errno, errnoRet: 1),
        SyscallEntry(names: ["kill"], action: .errno, errnoRet: 1, args: [ArgumentCondition(index: 1, value: 9, op: .equal)]),
      ])
    let file = NspawnConversion(profile: p, target: Self.target())
    #expect(file.refused == ["kexec_load", "kill", "ptrace", "reboot", "umount2"], "\(file.refused)")
    #expect(file.warnings.contains { $0.contains("nspawn cannot kill") && $0.contains("kexec_load") })
    #expect(file.warnings.contains { $0.contains("SCMP_ACT_TRAP") && $0.contains("ptrace") })
    #expect(file.warnings.contains { $0.contains("SCMP_ACT_LOG") && $0.contains("getppid") })
    #expect(file.warnings.contains { $0.contains("SCMP_ACT_ERRNO(ENOSYS)") && $0.contains("reboot") })
    #expect(file.warnings.contains { $0.hasPrefix("kill: argument rules") })
    #expect(!file.warnings.contains { $0.contains("umount2") }, "EPERM is exact")
    #expect(file.inexact == ["kexec_load", "ptrace", "getppid", "reboot", "kill"])
  }

  @Test func systemdDropInSaysWhenItKillsAndThatNspawnDoesNotReadIt() {
    let deny = Profile(defaultAction: .allow, syscalls: [SyscallEntry(names: ["mkdir"], action: .errno)])
    let errnoOnly = SystemdConversion(profile: deny, target: Self.target())
    #expect(!errnoOnly.setsErrorNumber)
    #expect(errnoOnly.notes.contains { $0.hasPrefix("no SystemCallErrorNumber=: systemd kills") && $0.contains("none is killed") })
    #expect(errnoOnly.text.contains("# Not for systemd-nspawn") && errnoOnly.text.contains("~mkdir:EPERM leaves mkdir allowed"))

    let killing = SystemdConversion(
      profile: Profile(defaultAction: .allow, syscalls: [SyscallEntry(names: ["mkdir"], action: .killProcess)]), target: Self.target())
    #expect(killing.notes.contains { $0.contains("here 1 call is killed, as the profile says (mkdir)") })

    let killDefault = SystemdConversion(
      profile: Profile(defaultAction: .killProcess, syscalls: [SyscallEntry(names: ["read", "write"], action: .allow)]),
      target: Self.target())
    #expect(killDefault.notes.contains { $0.contains("every call outside the allow-list is killed") })

    let docker = SystemdConversion(profile: Corpus.dockerDefault, target: Self.target())
    #expect(docker.setsErrorNumber && !docker.notes.contains { $0.contains("SystemCallErrorNumber") })
  }

  @Test func builtinAllowListFollowsCapabilities() {
    let defaults = NspawnConversion.builtinAllowList()
    #expect(defaults.contains("mount") && defaults.contains("ptrace") && defaults.contains("reboot"))
    #expect(!defaults.contains("keyctl") && !defaults.contains("bpf") && !defaults.contains("settimeofday"))
    let withTime = NspawnConversion.builtinAllowList(capabilities: NspawnConversion.defaultCapabilities.union(["CAP_SYS_TIME"]))
    #expect(withTime.contains("settimeofday"))
    #expect(!NspawnConversion.builtinAllowList(capabilities: []).contains("ptrace"))
  }
}
