import BPF
import Foundation
import Profiles
import Seccomp
import Syscalls
import TestSupport

// libseccomp 2.5.4 (through Scripts/libseccomp-compile.py, which replays runc) as an
// oracle for the compiler, and a model of where runc + libseccomp and syscage are known
// to decide differently, used to put every difference into a named class.

/// What the oracle said about one profile.
enum OracleAnswer {
  /// libseccomp's program and the script's report.
  case program([BPFInstruction], OracleReport)
  /// No oracle answer for this profile, and why (a timeout, a crash, a profile runc
  /// rejects, an ABI this libseccomp cannot compile on this host).
  case none(NoAnswer)
}

/// Why libseccomp gave no program. Counted, never a pass.
enum NoAnswer: Hashable, CustomStringConvertible {
  /// The script ran past its time limit (libseccomp 2.5.4's `add_rule` can loop forever).
  case timeout
  /// It died or exited in a way the script does not document.
  case crash(Int32)
  /// runc would refuse the profile (script exit 2), e.g. SCMP_ACT_NOTIFY on `write`.
  case runcRejects(String)
  /// libseccomp itself failed (script exit 3 with --keep-going).
  case libseccompFailed(String)
  /// A filter for big-endian ABIs compiled on this little-endian host: libseccomp 2.5.4
  /// writes the jumps' constants in the target's byte order but the `ret` values in the
  /// host's (ALLOW comes out as 0x0000ff7f), so its cross-endian output cannot be run.
  case crossEndian
  /// An ABI the script says this libseccomp or runc cannot express (exit 4).
  case unsupported(String)

  var description: String {
    switch self {
    case .timeout: "timeout"
    case .crash(let s): "crash (status \(s))"
    case .runcRejects(let m): "runc rejects the profile: \(m)"
    case .libseccompFailed(let m): "libseccomp failed: \(m)"
    case .unsupported(let m): "unsupported: \(m)"
    case .crossEndian: "libseccomp's cross-endian output (big-endian filter on a little-endian host) mixes byte orders"
    }
  }

  /// A short key for counting (the messages carry profile details).
  var kind: String {
    switch self {
    case .timeout: "timeout"
    case .crash: "crash"
    case .runcRejects: "runc rejects the profile"
    case .libseccompFailed: "libseccomp failed"
    case .crossEndian: "big-endian filter on a little-endian host"
    case .unsupported: "unsupported ABI"
    }
  }
}

/// The script's `--report`.
struct OracleReport {
  /// A rule libseccomp's `add_rule` refused: the name, the index of its entry in the
  /// expanded profile, and the conditions of the rule (one group after runc's split).
  struct Rejected: Hashable {
    var name: String
    var entry: Int
    var args: [Arg]
    var error: String
  }
  struct Arg: Hashable {
    var index: Int
    var op: String
    var value: UInt64
    var valueTwo: UInt64
  }

  var skippedUnknown: Set<String> = []
  var skippedDefaultAction: Set<String> = []
  var rejected: [Rejected] = []
  var optimize = 0

  init() {}

  init(json: JSONValue) {
    func strings(_ v: JSONValue?) -> [String] {
      guard case .array(let items)? = v?.kind else { return [] }
      return items.compactMap { if case .string(let s) = $0.kind { s } else { nil } }
    }
    func number(_ v: JSONValue?) -> UInt64? {
      guard case .number(let lexeme)? = v?.kind else { return nil }
      return UInt64(lexeme)
    }
    func string(_ v: JSONValue?) -> String {
      if case .string(let s)? = v?.kind { return s }
      return ""
    }
    skippedUnknown = Set(strings(json["skipped_unknown"]))
    skippedDefaultAction = Set(strings(json["skipped_default_action"]))
    optimize = Int(number(json["optimize"]) ?? 0)
    if case .array(let items)? = json["rejected"]?.kind {
      for item in items {
        var args: [Arg] = []
        if case .array(let a)? = item["args"]?.kind {
          for c in a {
            args.append(Arg(index: Int(number(c["index"]) ?? 0), op: string(c["op"]), value: number(c["value"]) ?? 0, valueTwo: number(c["valueTwo"]) ?? 0))
          }
        }
        rejected.append(Rejected(name: string(item["name"]), entry: Int(number(item["entry"]) ?? 0), args: args, error: string(item["error"])))
      }
    }
  }

  /// Whether libseccomp refused the rule made of `group` for `name` in entry `entry`.
  func rejects(name: String, entry: Int, group: [ArgumentCondition]) -> Bool {
    let args = group.map { Arg(index: $0.index, op: $0.op.rawValue, value: $0.value, valueTwo: $0.valueTwo ?? 0) }
    return rejected.contains { $0.name == name && $0.entry == entry && $0.args == args }
  }
}

enum LibseccompOracle {
  static let python = "/usr/bin/python3"
  static let script = packageRoot.appendingPathComponent("Scripts/libseccomp-compile.py").path

  /// Compiles an expanded OCI profile as runc does on a host whose native ABI is the
  /// profile's first architecture: with `--badarch kill-process` (syscage's bad-arch
  /// action), `--keep-going` (a rejected rule is reported and left out) and, when the
  /// profile does not list this host's native ABI, `--no-native` (runc on that host
  /// would not have x86_64 in its filter).
  static func compile(_ oci: Profile, timeout: Double = 20) -> OracleAnswer {
    let (status, message, output, reportBytes) = runScript(oci, pfc: false, timeout: timeout)
    switch status {
    case 0: break
    case -1: return .none(.timeout)
    case 2: return .none(.runcRejects(message))
    case 3: return .none(.libseccompFailed(message))
    case 4: return .none(.unsupported(message))
    default: return .none(.crash(status))
    }
    if oci.architectures?.first?.endianness == .big { return .none(.crossEndian) }
    guard let output, let program = [BPFInstruction](rawBytes: output), !program.isEmpty,
      let reportBytes, let json = try? JSONValue.parse(reportBytes)
    else { return .none(.crash(-3)) }
    return .program(program, OracleReport(json: json))
  }

  /// libseccomp's PFC text for the same profile (its rule database, before BPF
  /// generation), or nil.
  static func pfc(_ oci: Profile, timeout: Double = 20) -> PFCProgram? {
    let (status, _, output, _) = runScript(oci, pfc: true, timeout: timeout)
    guard status == 0, let output else { return nil }
    return PFCProgram(text: String(decoding: output, as: UTF8.self))
  }

  /// Runs the script on `oci`; returns its status (-1 on timeout), the last line of its
  /// standard error, its output and its report.
  static func runScript(_ oci: Profile, pfc: Bool, timeout: Double) -> (Int32, String, [UInt8]?, [UInt8]?) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("syscage-oracle-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = dir.appendingPathComponent("profile.json")
    let output = dir.appendingPathComponent("filter.out")
    let reportFile = dir.appendingPathComponent("report.json")
    guard (try? Data(oci.encode(format: .oci).utf8).write(to: input)) != nil else { return (-2, "cannot write the profile", nil, nil) }
    var args = [script, input.path, "-o", output.path, "--report", reportFile.path, "--badarch", "kill-process", "--keep-going"]
    if !(oci.architectures ?? []).contains(Arch.native) { args.append("--no-native") }
    if pfc { args.append("--pfc") }
    let result = run(python, args, timeout: timeout)
    var message = result.stderr.split(separator: "\n").last.map { String($0) } ?? ""
    for prefix in ["libseccomp-compile: ", "libseccomp failed: ", "bad input: ", "unsupported: "] where message.hasPrefix(prefix) {
      message.removeFirst(prefix.count)
    }
    let out = (try? Data(contentsOf: output)).map { [UInt8]($0) }
    let report = (try? Data(contentsOf: reportFile)).map { [UInt8]($0) }
    return (result.status, message, out, report)
  }

  /// libseccomp's own numbering: for each ABI, each name's `resolve_syscall` (negative:
  /// a pseudo number, the call does not exist there in libseccomp's table; -1: the name
  /// is unknown). On multiplexing ABIs socket and IPC names resolve to socketcall/ipc.
  static func tables(for arches: [Arch], names: [String]) -> [Arch: [String: Int64]]? {
    let code = """
      import sys, seccomp
      names = sys.stdin.read().split()
      for a in sys.argv[1:]:
          arch = getattr(seccomp.Arch, a)
          for n in names:
              try:
                  print(a, n, seccomp.resolve_syscall(arch, n))
              except Exception:
                  print(a, n, -1)
      """
    let short = Dictionary(uniqueKeysWithValues: arches.map { (String($0.profileName.dropFirst("SCMP_ARCH_".count)), $0) })
    let result = run(python, ["-c", code] + short.keys.sorted(), stdin: names.joined(separator: "\n"), timeout: 60)
    guard result.status == 0 else { return nil }
    var out: [Arch: [String: Int64]] = [:]
    for line in result.stdout.split(separator: "\n") {
      let f = line.split(separator: " ")
      guard f.count == 3, let arch = short[String(f[0])], let n = Int64(f[2]) else { return nil }
      out[arch, default: [:]][String(f[1])] = n
    }
    return out
  }
}

// MARK: - Named classes of known difference

/// Why runc + libseccomp 2.5.4 and syscage may decide one call differently. Each case
/// is a behaviour of runc or libseccomp that `RuncModel` can switch on by itself.
enum DifferenceClass: Int, CaseIterable, Comparable, CustomStringConvertible {
  /// syscage cuts a narrow argument (and the datum) to its declared width (`int` 32
  /// bits, `umode_t` 16); libseccomp compares the ABI's whole word (64 bits, or 32 on
  /// a 32-bit ABI). Recognised: the difference goes away when the conditions whose
  /// declared width is narrower than libseccomp's are evaluated at libseccomp's width.
  case intTruncation = 1
  /// Two or more rules of the syscall with different actions match the call; syscage
  /// takes the most restrictive, libseccomp's tree merge keeps one that depends on the
  /// operators, datums and insertion order (research §1.4). Recognised: libseccomp's
  /// action is the action of one of the matching rules.
  case precedence = 2
  /// GHSA-4q85-33p6-j5g6 (fixed in 2.6.1): when two LT/LE rules on one argument have
  /// datums with the same non-zero high word, `_db_tree_add` assigns the new false
  /// action to `act_t` instead of `act_f`, so the first inserted rule keeps the
  /// high-word branch. Recognised like `precedence`, and only when the matching rules
  /// that disagree include two such LT/LE conditions on one argument.
  case ltLeMergeBug = 3
  /// On ABIs with socketcall/ipc (x86, mips o32, ppc, s390), libseccomp adds a
  /// companion rule `socketcall(a0 == SYS_x)` that keeps the rule's other conditions
  /// (now applied to socketcall's own a1..a5), for allowing rules too; syscage makes a
  /// companion only for unconditional or denying rules and drops the conditions.
  /// Recognised: the number is socketcall or ipc, and libseccomp's companions explain it.
  case multiplexer = 4
  /// A name libseccomp 2.5.4's older table lacks: everywhere (the script's
  /// `skipped_unknown`, e.g. mseal; runc skips the rule), or on this ABI only
  /// (`resolve_syscall` gives a pseudo number, e.g. x32 map_shadow_stack; libseccomp
  /// silently adds no rule there). Recognised: leaving out those rules explains it.
  case unknownName = 5
  /// runc turns an entry whose argument index repeats into one rule per condition
  /// (OR-ed); syscage ANDs them. Recognised: splitting such entries explains it.
  case repeatedIndexSplit = 6
  /// runc drops rules whose action equals the default action; syscage keeps them in
  /// the precedence. Recognised: dropping them explains it.
  case defaultActionRuleDropped = 7
  /// runc's ENOSYS stub is not part of libseccomp's program. Recognised: syscage's
  /// reason is `.enosysStub` and without the stub it decides as libseccomp.
  case enosysStub = 8
  /// On AUDIT_ARCH_X86_64 libseccomp tests `nr >= 0x40000000` (x86_64 only: bad arch
  /// unless nr == -1; x32 only: bad arch below it; both: no test at all), syscage tests
  /// bit 30. Recognised: libseccomp's dispatch explains it.
  case x32Range = 9
  /// A rule libseccomp refused (EEXIST, ...; the script's `rejected`), left out under
  /// --keep-going (runc would fail to start the container). Recognised: leaving out
  /// those rules explains it.
  case rejectedRule = 10
  /// libseccomp treats x32 and MIPS n32 as 32-bit ABIs: it compares only the low word
  /// of an argument, with the datum cut to 32 bits, where the kernel's registers (and
  /// syscage) are 64 bits wide (pitfall (a) 8 applied to these two ABIs). Recognised:
  /// evaluating word-wide conditions on those ABIs at 32 bits explains the difference.
  case narrowAbiCompare = 11
  /// libseccomp 2.5.4's code generator leaves a stale accumulator: when the lo-word test
  /// of one 64-bit comparison falls through to the next sibling node, which tests a
  /// hi word, no `ld` is re-inserted, so the sibling compares the lo word (seen with
  /// two order comparisons on one argument whose datums' high words differ, e.g.
  /// `a3 > 0x100000000 → ALLOW` beside `a3 <= 0 → ERRNO`: a3 = 1 is ALLOWED).
  /// Recognised in libseccomp's own output: the call's path through the program meets
  /// a comparison that other paths reach with the accumulator loaded from another word
  /// (or masked differently), the program's answer differs from that of libseccomp's
  /// rule database (its PFC, evaluated as structured code), and the model explains the
  /// PFC's answer.
  case staleAccumulator = 12

  static func < (a: DifferenceClass, b: DifferenceClass) -> Bool { a.rawValue < b.rawValue }

  var description: String {
    switch self {
    case .intTruncation: "1 int truncation"
    case .precedence: "2 precedence of overlapping rules"
    case .ltLeMergeBug: "3 LT/LE merge bug GHSA-4q85-33p6-j5g6"
    case .multiplexer: "4 socketcall/ipc argument loss"
    case .unknownName: "5 name unknown to libseccomp 2.5.4"
    case .repeatedIndexSplit: "6 runc splits a repeated argument index"
    case .defaultActionRuleDropped: "7 runc drops default-action rules"
    case .enosysStub: "8 runc's ENOSYS stub"
    case .x32Range: "9 x32 range test"
    case .rejectedRule: "10 rule rejected by libseccomp"
    case .narrowAbiCompare: "11 libseccomp's 32-bit compare on x32/n32"
    case .staleAccumulator: "12 libseccomp's stale accumulator (code generator)"
    }
  }

  /// The order in which single causes are tried: the specific, mechanical ones first,
  /// the two precedence classes (which only say "some matching rule won") last.
  static let searchOrder: [DifferenceClass] = [
    .enosysStub, .x32Range, .unknownName, .rejectedRule, .defaultActionRuleDropped, .repeatedIndexSplit,
    .multiplexer, .intTruncation, .narrowAbiCompare, .ltLeMergeBug, .precedence,
  ]
}

// MARK: - A model of both deciders

/// The decisions of syscage and of runc + libseccomp 2.5.4 as one function of which
/// known differences are switched on: with none it is `Policy.decide`, with all of them
/// it is libseccomp's program. A difference between the two belongs to the smallest
/// set of classes whose switches make the model give libseccomp's answer.
final class RuncModel {
  let policy: Policy
  /// The expanded OCI profile given to the script.
  let oci: Profile
  let report: OracleReport
  /// libseccomp's `resolve_syscall` per ABI and name.
  let tables: [Arch: [String: Int64]]

  init(policy: Policy, oci: Profile, report: OracleReport, tables: [Arch: [String: Int64]]) {
    self.policy = policy
    self.oci = oci
    self.report = report
    self.tables = tables
  }

  /// One rule as either side holds it.
  struct ModelRule {
    var name: String
    var number: UInt32
    var action: SeccompAction
    var conditions: [Condition]
    /// The raw 64-bit datums of LT/LE conditions by index, at libseccomp's width (for
    /// recognising GHSA-4q85-33p6-j5g6).
    var ltLe: [Int: UInt64]
  }

  /// socketcall / ipc call numbers (linux/net.h, linux/ipc.h).
  static let socketcall: [String: UInt64] = [
    "socket": 1, "bind": 2, "connect": 3, "listen": 4, "accept": 5, "getsockname": 6,
    "getpeername": 7, "socketpair": 8, "send": 9, "recv": 10, "sendto": 11, "recvfrom": 12,
    "shutdown": 13, "setsockopt": 14, "getsockopt": 15, "sendmsg": 16, "recvmsg": 17,
    "accept4": 18, "recvmmsg": 19, "sendmmsg": 20,
  ]
  static let ipc: [String: UInt64] = [
    "semop": 1, "semget": 2, "semctl": 3, "semtimedop": 4, "msgsnd": 11, "msgrcv": 12,
    "msgget": 13, "msgctl": 14, "shmat": 21, "shmdt": 22, "shmget": 23, "shmctl": 24,
  ]

  /// ABIs on which libseccomp 2.5.4 rewrites socket/ipc rules into multiplexer
  /// companions (measured with --pfc for x86, mipsel, ppc64le; the big-endian siblings
  /// share the code).
  static func libseccompMultiplexes(_ arch: Arch) -> Bool {
    [Arch.x86, .mips, .mipsel, .ppc, .ppc64, .ppc64le, .s390, .s390x].contains(arch)
  }

  /// ABIs libseccomp compiles with one 32-bit compare per condition (datum cut to 32
  /// bits): the 32-bit ABIs and, measured with --pfc, x32 and MIPS n32.
  static func libseccompCompares32(_ arch: Arch) -> Bool {
    arch.wordBits == 32 || arch == .x32 || arch == .mips64n32 || arch == .mipsel64n32
  }

  /// The argument mask used for a condition on `name`'s argument `index`.
  func width(_ arch: Arch, _ name: String, _ index: Int, _ on: Set<DifferenceClass>) -> UInt64 {
    let syscage = arch.argumentType(of: name, index: index).mask
    let libseccomp: UInt64 = RuncModel.libseccompCompares32(arch) ? 0xffff_ffff : .max
    if syscage < libseccomp { return on.contains(.intTruncation) ? libseccomp : syscage }
    if syscage > libseccomp { return on.contains(.narrowAbiCompare) ? libseccomp : syscage }
    return syscage
  }

  private var cache: [String: [UInt32: [ModelRule]]] = [:]
  /// `StaleAccumulator.states` of libseccomp's program, computed once.
  private var accumulatorStates: [Set<StaleAccumulator.State>]?? = nil

  /// The rules of one ABI by number, in the order both sides add them (entry by entry,
  /// name by name, the direct rule before its multiplexer companion).
  func rules(for arch: Arch, _ on: Set<DifferenceClass>) -> [UInt32: [ModelRule]] {
    let relevant: [DifferenceClass] = [.intTruncation, .narrowAbiCompare, .multiplexer, .unknownName, .repeatedIndexSplit, .defaultActionRuleDropped, .rejectedRule]
    let key = arch.name + ":" + relevant.filter(on.contains).map { String($0.rawValue) }.joined(separator: ",")
    if let hit = cache[key] { return hit }
    let defaultAction = (oci.defaultAction ?? .allow).action(errnoRet: oci.defaultErrnoRet)
    var out: [UInt32: [ModelRule]] = [:]
    func add(_ name: String, _ number: SyscallNumber, _ action: SeccompAction, _ conds: [(ArgumentCondition, String)]) {
      var ltLe: [Int: UInt64] = [:]
      let conditions = conds.map { c, typeName in
        let w = width(arch, typeName, c.index, on)
        if (c.op == .lessThan || c.op == .lessOrEqual) && !RuncModel.libseccompCompares32(arch) { ltLe[c.index] = c.value }
        return Condition(index: c.index, op: c.op, value: c.value, valueTwo: c.valueTwo ?? 0, width: w)
      }
      out[number.word, default: []].append(ModelRule(name: name, number: number.word, action: action, conditions: conditions, ltLe: ltLe))
    }
    for (i, entry) in (oci.syscalls ?? []).enumerated() {
      let action = entry.action.action(errnoRet: entry.errnoRet)
      // runc (matchCall): a rule whose action equals the default is never added.
      if on.contains(.defaultActionRuleDropped) && action == defaultAction { continue }
      let args = entry.args ?? []
      let indexes = args.map(\.index)
      // runc: a repeated index turns every condition into its own rule (OR).
      let groups: [[ArgumentCondition]] =
        on.contains(.repeatedIndexSplit) && Set(indexes).count < indexes.count ? args.map { [$0] } : [args]
      for name in entry.names {
        // runc: names libseccomp's table does not know are skipped.
        if on.contains(.unknownName) && report.skippedUnknown.contains(name) { continue }
        for group in groups {
          // --keep-going: a rule libseccomp refused is missing.
          if on.contains(.rejectedRule) && report.rejects(name: name, entry: i, group: group) { continue }
          // libseccomp's table lacks the call on this ABI: no rule there.
          let absentThere = (tables[arch]?[name] ?? 0) < 0
          if let number = arch.number(of: name), !(on.contains(.unknownName) && absentThere) {
            add(name, number, action, group.map { ($0, name) })
          }
          let mux: (String, UInt64)? =
            RuncModel.socketcall[name].map { ("socketcall", $0) } ?? RuncModel.ipc[name].map { ("ipc", $0) }
          guard let (muxName, call) = mux else { continue }
          if on.contains(.multiplexer) {
            // libseccomp (x86_rule_add and siblings): the companion keeps every
            // condition but a0's, which becomes `a0 == call`.
            guard RuncModel.libseccompMultiplexes(arch), let n = arch.number(of: muxName) else { continue }
            let kept = group.filter { $0.index != 0 }.map { ($0, muxName) }
            add(muxName, n, action, [(ArgumentCondition(index: 0, value: call, op: .equal), muxName)] + kept)
          } else {
            // syscage (Policy.init): a companion only for an unconditional rule or a
            // denying one, and then without the rule's conditions.
            guard let n = arch.number(of: muxName), group.isEmpty || !action.permits else { continue }
            add(muxName, n, action, [(ArgumentCondition(index: 0, value: call, op: .equal), muxName)])
          }
        }
      }
    }
    cache[key] = out
    return out
  }

  /// The actions the model allows for one call with the classes in `on` switched on:
  /// one action, or several when a precedence class leaves the choice among matching
  /// rules open.
  func outcomes(auditArch: AuditArch, nr: UInt32, args: [UInt64], _ on: Set<DifferenceClass>) -> Set<SeccompAction> {
    let candidates = policy.arches.filter { $0.arch.auditArch == auditArch }
    guard !candidates.isEmpty else { return [policy.badArchAction] }
    // syscage's choice of ABI policy (Policy.decide): bit 30 on AUDIT_ARCH_X86_64.
    var chosen: ArchPolicy? = candidates[0]
    let x64 = candidates.first { $0.arch == .x86_64 }
    let x32 = candidates.first { $0.arch == .x32 }
    let x86Family = x64 != nil || x32 != nil
    if x86Family {
      let x32Bit = nr & 0x4000_0000 != 0 && nr != 0xffff_ffff
      if x32Bit { chosen = x32 } else { chosen = x64 ?? (nr == 0xffff_ffff ? x32 : nil) }
    }
    var searched: [ArchPolicy]
    if x86Family && on.contains(.x32Range) {
      // libseccomp (gen_bpf.c): x86_64 only: `jge 0x40000000` → bad arch unless -1;
      // x32 only: below 0x40000000 → bad arch; both: one merged block, no test.
      switch (x64, x32) {
      case (_?, nil): if nr >= 0x4000_0000 && nr != 0xffff_ffff { return [policy.badArchAction] }
      case (nil, _?): if nr < 0x4000_0000 { return [policy.badArchAction] }
      default: break
      }
      searched = [x64, x32].compactMap { $0 }
    } else {
      guard let c = chosen else { return [policy.badArchAction] }
      searched = [c]
    }
    if nr != 0xffff_ffff {
      var matching: [ModelRule] = []
      for ap in searched {
        matching += (rules(for: ap.arch, on)[nr] ?? []).filter { r in r.conditions.allSatisfy { $0.holds(for: args[$0.index]) } }
      }
      if !matching.isEmpty {
        let actions = Set(matching.map(\.action))
        if actions.count > 1 && on.contains(.precedence) { return actions }
        if actions.count > 1 && on.contains(.ltLeMergeBug) && RuncModel.hasGhsaPair(matching) { return actions }
        var best = matching[0]
        for r in matching.dropFirst() where r.action.kind < best.action.kind { best = r }
        return [best.action]
      }
    }
    // runc's stub, as syscage places it (after the rules, before the default).
    if !on.contains(.enosysStub), let ap = chosen, let stub = ap.enosysAbove, nr != 0xffff_ffff,
      nr > stub.word || (nr == 0 && (ap.arch == .s390 || ap.arch == .s390x))
    {
      return [.errno(SeccompAction.enosys)]
    }
    return [(chosen ?? searched[0]).defaultAction]
  }

  /// Two matching rules with different actions whose LT/LE conditions on one argument
  /// have datums with the same non-zero high word (the GHSA-4q85-33p6-j5g6 shape).
  static func hasGhsaPair(_ matching: [ModelRule]) -> Bool {
    for (i, a) in matching.enumerated() {
      for b in matching[(i + 1)...] where a.action != b.action {
        for (index, da) in a.ltLe {
          if let db = b.ltLe[index], da >> 32 != 0, da >> 32 == db >> 32 { return true }
        }
      }
    }
    return false
  }

  /// The smallest set of classes (tried in `DifferenceClass.searchOrder`, singles
  /// before pairs before triples) that makes the model answer `action`; nil when no set
  /// of up to three does.
  func minimalExplanation(auditArch: AuditArch, nr: UInt32, args: [UInt64], _ action: SeccompAction) -> Set<DifferenceClass>? {
    for size in 1...3 {
      for combo in combinations(DifferenceClass.searchOrder, size) {
        let on = Set(combo)
        if outcomes(auditArch: auditArch, nr: nr, args: args, on).contains(action) { return on }
      }
    }
    return nil
  }

  /// How a difference was explained.
  enum Explanation {
    case classes(Set<DifferenceClass>)
    /// No set of up to three classes gives libseccomp's answer.
    case unexplained
    /// The model with no class switched on does not give syscage's own decision: the
    /// model in this file is out of step with `Policy`, so it cannot classify.
    case modelOutOfStep(Set<SeccompAction>)
  }

  /// The classes that explain why libseccomp's `program` answers `libseccomp` where
  /// syscage answers `syscage`.
  ///
  /// A stale accumulator comes first: when the call's path through the program meets a
  /// comparison that other paths reach with another accumulator word, and libseccomp's
  /// own rule database (its PFC, from `pfc()`, fetched only then) answers otherwise, the
  /// program broke libseccomp's intent; what remains to explain is the PFC's answer.
  func explain(
    auditArch: AuditArch, nr: UInt32, args: [UInt64], syscage: SeccompAction, libseccomp: SeccompAction,
    program: [BPFInstruction], endianness: Endianness, pfc: () -> PFCProgram?
  ) -> Explanation {
    let plain = outcomes(auditArch: auditArch, nr: nr, args: args, [])
    guard plain == [syscage] else { return .modelOutOfStep(plain) }
    let data = SeccompData(nr: nr, arch: auditArch, args: args)
    if accumulatorStates == nil { accumulatorStates = .some(StaleAccumulator.states(program)) }
    if let states = accumulatorStates!, StaleAccumulator.pathIsAmbiguous(program, states, data, endianness: endianness) {
      guard let meant = pfc()?.evaluate(data) else { return .unexplained }
      if meant != libseccomp {
        if meant == syscage { return .classes([.staleAccumulator]) }
        guard let rest = minimalExplanation(auditArch: auditArch, nr: nr, args: args, meant) else { return .unexplained }
        return .classes(rest.union([.staleAccumulator]))
      }
    }
    return minimalExplanation(auditArch: auditArch, nr: nr, args: args, libseccomp).map { .classes($0) } ?? .unexplained
  }
}

/// Finds comparisons in a program that are reached with the accumulator loaded from
/// different words of `seccomp_data` (libseccomp 2.5.4's stale accumulator), and what
/// the program answers when such a comparison sees the other word.
enum StaleAccumulator {
  /// What the accumulator holds: the word loaded from `offset`, and-ed with `mask`.
  struct State: Hashable {
    var offset: UInt32
    var mask: UInt32
  }

  /// For each instruction, every accumulator state some path reaches it with; nil
  /// when the program uses instructions outside libseccomp's subset.
  static func states(_ program: [BPFInstruction]) -> [Set<State>]? {
    var states = [Set<State>?](repeating: nil, count: program.count)
    states[0] = [State(offset: .max, mask: .max)]  // nothing loaded yet
    for (i, ins) in program.enumerated() {
      guard let here = states[i] else { continue }
      func flow(_ target: Int, _ s: Set<State>) {
        guard target < program.count else { return }
        states[target] = (states[target] ?? []).union(s)
      }
      switch ins.code {
      case BPF.ld | BPF.w | BPF.abs: flow(i + 1, [State(offset: ins.k, mask: .max)])
      case BPF.alu | BPF.and | BPF.k: flow(i + 1, Set(here.map { State(offset: $0.offset, mask: $0.mask & ins.k) }))
      case BPF.ret | BPF.k: break
      case BPF.jmp | BPF.ja: flow(i + 1 + Int(ins.k), here)
      case BPF.jmp | BPF.jeq | BPF.k, BPF.jmp | BPF.jgt | BPF.k, BPF.jmp | BPF.jge | BPF.k, BPF.jmp | BPF.jset | BPF.k:
        flow(i + 1 + Int(ins.jt), here)
        flow(i + 1 + Int(ins.jf), here)
      default: return nil
      }
    }
    return states.map { $0 ?? [] }
  }

  /// Whether the call's path meets a comparison that some path reaches with the
  /// accumulator loaded from another word (or masked otherwise).
  static func pathIsAmbiguous(
    _ program: [BPFInstruction], _ states: [Set<State>], _ data: SeccompData, endianness: Endianness
  ) -> Bool {
    var pc = 0
    var acc: UInt32 = 0
    while pc < program.count {
      let ins = program[pc]
      switch ins.code {
      case BPF.ld | BPF.w | BPF.abs: acc = data.word(at: ins.k, endianness: endianness); pc += 1
      case BPF.alu | BPF.and | BPF.k: acc &= ins.k; pc += 1
      case BPF.ret | BPF.k: return false
      case BPF.jmp | BPF.ja: pc += 1 + Int(ins.k)
      default:
        if states[pc].count > 1 { return true }
        let taken: Bool
        switch ins.code & 0xf0 {
        case BPF.jeq: taken = acc == ins.k
        case BPF.jgt: taken = acc > ins.k
        case BPF.jge: taken = acc >= ins.k
        default: taken = acc & ins.k != 0
        }
        pc += 1 + Int(taken ? ins.jt : ins.jf)
      }
    }
    return false
  }
}

// MARK: - libseccomp's PFC, evaluated

/// libseccomp's pseudo filter code (`--pfc`): its rule database as nested
/// `if (...)` / `else` / `action X;` statements. Evaluated as structured code (a branch
/// that ends without an action goes on with the next statement), it is what libseccomp
/// means its BPF to do. The BPF-only parts (the x32 test on x86_64) are not in it.
struct PFCProgram {
  indirect enum Statement {
    case branch(Condition, [Statement], [Statement])
    case action(SeccompAction)
  }
  struct Condition {
    enum Subject { case arch, syscall, arg(Int, Part) }
    enum Part { case whole, hi, lo }
    var subject: Subject
    var mask: UInt64?
    var op: String
    var value: UInt64
  }

  var statements: [Statement]

  init?(text: String) {
    // (indent, text) of every line that is code.
    var lines: [(Int, Substring)] = []
    for raw in text.split(separator: "\n") {
      let body = raw.drop { $0 == " " }
      let indent = raw.count - body.count
      let code = body.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
      if code.isEmpty { continue }
      lines.append((indent, Substring(code)))
    }
    var i = 0
    func block(_ indent: Int) -> [Statement]? {
      var out: [Statement] = []
      while i < lines.count, lines[i].0 == indent {
        let line = lines[i].1
        if line.hasPrefix("action ") {
          guard let a = PFCProgram.action(line.dropFirst("action ".count).dropLast()) else { return nil }
          out.append(.action(a))
          i += 1
        } else if line.hasPrefix("if (") && line.hasSuffix(")") {
          guard let c = PFCProgram.condition(line.dropFirst(4).dropLast()) else { return nil }
          i += 1
          guard let then = block(indent + 2) else { return nil }
          var otherwise: [Statement] = []
          if i < lines.count, lines[i].0 == indent, lines[i].1 == "else" {
            i += 1
            guard let e = block(indent + 2) else { return nil }
            otherwise = e
          }
          out.append(.branch(c, then, otherwise))
        } else {
          return nil
        }
      }
      return out
    }
    guard let top = block(0), i == lines.count else { return nil }
    statements = top
  }

  static func action(_ text: Substring) -> SeccompAction? {
    func data(_ prefix: String) -> UInt16? {
      guard text.hasPrefix(prefix + "("), text.hasSuffix(")") else { return nil }
      return UInt16(text.dropFirst(prefix.count + 1).dropLast())
    }
    switch text {
    case "ALLOW": return .allow
    case "LOG": return .log
    case "KILL": return .killThread
    case "KILL_PROCESS": return .killProcess
    case "TRAP": return .trap()
    default:
      if let e = data("ERRNO") { return .errno(e) }
      if let t = data("TRACE") { return .trace(t) }
      if text.hasPrefix("0x"), let v = UInt32(text.dropFirst(2), radix: 16) { return SeccompAction(returnValue: v) }
      return nil
    }
  }

  static func number(_ text: Substring) -> UInt64? {
    text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
  }

  /// `$arch == N`, `$syscall > N`, `$a3.hi32 & 0x0000ffff == N`, `$a0 >= N`, ...
  static func condition(_ text: Substring) -> Condition? {
    let f = text.split(separator: " ")
    guard f.count == 3 || f.count == 5 else { return nil }
    let subject: Condition.Subject
    switch f[0] {
    case "$arch": subject = .arch
    case "$syscall": subject = .syscall
    default:
      guard f[0].hasPrefix("$a") else { return nil }
      let parts = f[0].dropFirst(2).split(separator: ".")
      guard let index = Int(parts[0]), index < 6 else { return nil }
      let part: Condition.Part = parts.count == 1 ? .whole : parts[1] == "hi32" ? .hi : .lo
      subject = .arg(index, part)
    }
    if f.count == 5 {
      guard f[1] == "&", let mask = number(f[2]), let v = number(f[4]) else { return nil }
      return Condition(subject: subject, mask: mask, op: String(f[3]), value: v)
    }
    guard let v = number(f[2]) else { return nil }
    return Condition(subject: subject, mask: nil, op: String(f[1]), value: v)
  }

  /// The action for one call, or nil when no statement gives one.
  func evaluate(_ data: SeccompData) -> SeccompAction? {
    func holds(_ c: Condition) -> Bool {
      var x: UInt64
      switch c.subject {
      case .arch: x = UInt64(data.arch.rawValue)
      case .syscall: x = UInt64(data.nr)
      case .arg(let i, .whole): x = data.args[i] & 0xffff_ffff  // only 32-bit ABIs print a bare $aN
      case .arg(let i, .hi): x = data.args[i] >> 32
      case .arg(let i, .lo): x = data.args[i] & 0xffff_ffff
      }
      if let m = c.mask { x &= m }
      switch c.op {
      case "==": return x == c.value
      case "!=": return x != c.value
      case ">": return x > c.value
      case ">=": return x >= c.value
      case "<": return x < c.value
      case "<=": return x <= c.value
      default: return false
      }
    }
    func run(_ block: [Statement]) -> SeccompAction? {
      for s in block {
        switch s {
        case .action(let a): return a
        case .branch(let c, let then, let otherwise):
          if let a = run(holds(c) ? then : otherwise) { return a }
        }
      }
      return nil
    }
    return run(statements)
  }
}

/// The `k`-element subsets of `items`, in order.
func combinations<T>(_ items: [T], _ k: Int) -> [[T]] {
  if k == 0 { return [[]] }
  guard items.count >= k else { return [] }
  var out: [[T]] = []
  for (i, item) in items.enumerated() {
    for rest in combinations(Array(items[(i + 1)...]), k - 1) { out.append([item] + rest) }
  }
  return out
}
