import BPF
import CLinux
import Foundation
import Host
import Profiles
import Seccomp
import Syscalls

/// The seccomp filters a live process runs under, read from the kernel with
/// PTRACE_SECCOMP_GET_FILTER.
public enum FilterDump {
  /// The filters of one thread, newest first (the order the kernel runs them in).
  public struct ThreadFilters: Sendable {
    public var tid: Int32
    public var filters: [[BPFInstruction]]
  }

  /// Why the filters cannot be read.
  public struct Problem: Error, Sendable, CustomStringConvertible {
    public var description: String
  }

  /// What reading filters needs that this process or kernel lacks: CAP_SYS_ADMIN, a
  /// caller not itself under seccomp, CONFIG_CHECKPOINT_RESTORE. Empty when all is there.
  public static func missingRequirements() -> [String] {
    var missing: [String] = []
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    var capEff: UInt64 = 0
    var seccompMode = "0"
    for line in status.split(separator: "\n") {
      if line.hasPrefix("CapEff:") { capEff = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) ?? 0 }
      if line.hasPrefix("Seccomp:") { seccompMode = line.dropFirst(8).trimmingCharacters(in: .whitespaces) }
    }
    if capEff & (1 << 21) == 0 { missing.append("CAP_SYS_ADMIN (run as root)") }
    if seccompMode != "0" { missing.append("a caller not itself under seccomp (this process runs in seccomp mode \(seccompMode))") }
    if KernelSeccompSupport.read().configCheckpointRestore == false {
      missing.append("a kernel built with CONFIG_CHECKPOINT_RESTORE")
    }
    return missing
  }

  /// The filters of every thread of `pid` (threads may differ: a filter is per thread
  /// unless installed with TSYNC). Each thread is stopped briefly and left running.
  public static func read(pid: Int32) throws(Problem) -> [ThreadFilters] {
    let taskDir = "/proc/\(pid)/task"
    guard let tids = try? FileManager.default.contentsOfDirectory(atPath: taskDir).compactMap({ Int32($0) }).sorted(),
      !tids.isEmpty
    else { throw Problem(description: "no process \(pid)") }
    var result: [ThreadFilters] = []
    for tid in tids {
      guard clinux_dump_attach(tid) == 0 else {
        let e = errno
        if e == ESRCH { continue }  // the thread ended meanwhile
        if let tracer = tracerPid(tid), tracer != 0 {
          throw Problem(description: "thread \(tid) is already traced by process \(tracer), and a thread can have one tracer only; reading its filters needs to trace it")
        }
        throw Problem(description: "cannot stop thread \(tid) with ptrace: \(String(cString: strerror(e)))" + (e == EPERM ? " (see /proc/sys/kernel/yama/ptrace_scope)" : ""))
      }
      defer { _ = clinux_dump_detach(tid) }
      var filters: [[BPFInstruction]] = []
      var index: UInt = 0
      while true {
        let length = clinux_dump_filter(tid, index, nil, 0)
        if length < 0 {
          let e = errno
          // ENOENT: past the last filter; EINVAL: the thread is not in filter mode.
          if e == ENOENT || e == EINVAL || e == EMEDIUMTYPE { break }
          if e == EACCES { throw Problem(description: "the kernel refused: reading filters needs CAP_SYS_ADMIN and a caller not under seccomp") }
          if e == EIO { throw Problem(description: "the kernel cannot: PTRACE_SECCOMP_GET_FILTER needs CONFIG_CHECKPOINT_RESTORE") }
          throw Problem(description: "PTRACE_SECCOMP_GET_FILTER failed for thread \(tid): \(String(cString: strerror(e)))")
        }
        var raw = [UInt8](repeating: 0, count: Int(length) * 8)
        let got = raw.withUnsafeMutableBytes { clinux_dump_filter(tid, index, $0.baseAddress, UInt(length)) }
        guard got == length, let program = [BPFInstruction](rawBytes: raw) else {
          throw Problem(description: "thread \(tid): filter \(index) changed while it was read")
        }
        filters.append(program)
        index += 1
      }
      // The kernel's index 0 is the oldest filter; the kernel runs them newest first.
      result.append(ThreadFilters(tid: tid, filters: filters.reversed()))
    }
    return result
  }

  /// The seccomp mode of a thread (0 none, 1 strict, 2 filter), from /proc; nil when unreadable.
  public static func seccompMode(tid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(tid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("Seccomp:") {
      return Int(line.dropFirst("Seccomp:".count).trimmingCharacters(in: .whitespaces))
    }
    return nil
  }

  /// `TracerPid` of a thread, from /proc.
  static func tracerPid(_ tid: Int32) -> Int32? {
    guard let status = try? String(contentsOfFile: "/proc/\(tid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("TracerPid:") {
      return Int32(line.dropFirst("TracerPid:".count).trimmingCharacters(in: .whitespaces))
    }
    return nil
  }

  /// The combined decision of stacked filters for one call, as the kernel takes it:
  /// the most restrictive action, and among equals the newest filter's data.
  public static func decide(_ filters: [[BPFInstruction]], _ data: SeccompData, endianness: Endianness) -> SeccompAction {
    var best: SeccompAction? = nil
    for program in filters {  // newest first
      let a = Interpreter.run(program, on: data, endianness: endianness).action
      if best == nil || a.kind < best!.kind { best = a }
    }
    return best ?? .allow
  }

  // MARK: - Decisions over every argument region

  /// The ABIs a stack of filters tells apart: this machine's family and any arch a
  /// filter compares against, keeping those where some call gets past the filters.
  public static func arches(_ filters: [[BPFInstruction]]) -> [Arch] {
    var result = Arch.native.family
    let constants = Set(filters.flatMap { $0.filter { $0.code == BPF.jmp | BPF.jeq | BPF.k }.map(\.k) })
    for a in Arch.all where constants.contains(a.auditArch.rawValue) && !result.contains(a) && a.abi != .x32 {
      result.append(a)
    }
    return result.filter { a in
      SyscallTable.entries(in: a.abi).contains {
        decide(filters, SeccompData(nr: $0.number.word, arch: a.auditArch), endianness: a.endianness).permits
      }
    }
  }

  /// One syscall of the table: its decisions over every argument region, or why they
  /// could not be found exactly.
  public struct SyscallRow: Sendable {
    public var arch: Arch
    public var name: String
    public var number: SyscallNumber
    public var decisions: Result<SymbolicDecisions, TooComplex>
  }

  /// Every syscall of `arch` with the stack's decisions; with `keptSpace`, only on
  /// arguments without bits the kernel drops (`RegionRules.keptSpace`).
  public static func rows(_ filters: [[BPFInstruction]], arch: Arch, keptSpace: Bool = false) -> [SyscallRow] {
    SyscallTable.entries(in: arch.abi).map { name, number in
      let within = keptSpace ? RegionRules.keptSpace(widths: widths(arch, name), endianness: arch.endianness) : [:]
      let d = Result { () throws(TooComplex) in
        try SymbolicFilter.decisions(filters, arch: arch.auditArch, nr: number.word, endianness: arch.endianness, within: within)
      }
      return SyscallRow(arch: arch, name: name, number: number, decisions: d)
    }
  }

  /// The bits the kernel keeps of each argument of `name` on `arch`.
  static func widths(_ arch: Arch, _ name: String) -> (Int) -> UInt64 {
    { arch.argumentType(of: name, index: $0).mask }
  }

  /// One part of a row as it is written: a region, or regions of one action that
  /// differ only in adjacent intervals of one argument, joined into one interval.
  struct Piece {
    var action: SeccompAction
    var region: SymbolicRegion?
    var cell: ArgumentCell?

    func text(_ widths: (Int) -> UInt64) -> String { cell?.conditionText ?? region!.describe(widths: widths) }
  }

  static func pieces(_ d: SymbolicDecisions, widths: (Int) -> UInt64) -> [Piece] {
    var out: [Piece] = []
    for r in d.regions {
      if !r.readsInstructionPointer, r.arguments.count == 1, let c = r.cell(argument: r.arguments[0]),
        c.masks.isEmpty, c.width == widths(c.index)
      {
        if let i = out.firstIndex(where: { p in
          guard p.action == r.action, let o = p.cell, o.index == c.index, o.width == c.width else { return false }
          return o.hi &+ 1 == c.lo || c.hi &+ 1 == o.lo
        }) {
          out[i].cell!.lo = min(out[i].cell!.lo, c.lo)
          out[i].cell!.hi = max(out[i].cell!.hi, c.hi)
          // A join can make a neighbour adjacent too.
          if let j = out.indices.first(where: { j in
            j != i && out[j].action == r.action && out[j].cell.map { $0.index == c.index && $0.width == c.width && ($0.hi &+ 1 == out[i].cell!.lo || out[i].cell!.hi &+ 1 == $0.lo) } == true
          }) {
            out[i].cell!.lo = min(out[i].cell!.lo, out[j].cell!.lo)
            out[i].cell!.hi = max(out[i].cell!.hi, out[j].cell!.hi)
            out.remove(at: j)
          }
          continue
        }
        out.append(Piece(action: r.action, region: nil, cell: c))
      } else {
        out.append(Piece(action: r.action, region: r, cell: nil))
      }
    }
    return out
  }

  /// The pieces of one row, and the action best written as "otherwise" (the one whose
  /// pieces are hardest to state: most exclusions, then the longest text).
  static func grouped(_ d: SymbolicDecisions, widths: (Int) -> UInt64) -> (listed: [Piece], otherwise: SeccompAction) {
    let ps = pieces(d, widths: widths)
    var score: [SeccompAction: (Int, Int)] = [:]
    for p in ps {
      let t = p.text(widths)
      let exclusions = t.components(separatedBy: "!=").count + t.components(separatedBy: "∉").count - 2
      let s = score[p.action] ?? (0, 0)
      score[p.action] = (s.0 + exclusions, s.1 + t.count)
    }
    let other = ps.map(\.action).max { a, b in score[a]! < score[b]! }!
    return (ps.filter { $0.action != other }, other)
  }

  /// A row's decision as text: the action, or each region and its action
  /// (`a0 == 1 → ALLOW; a0 == 2 → ALLOW; otherwise → ERRNO(1)`).
  public static func describe(_ row: SyscallRow) -> String {
    switch row.decisions {
    case .failure(let e):
      return "too complex to follow exactly (\(e.reason))"
    case .success(let d):
      if let a = d.constantAction { return a.description }
      let (listed, otherwise) = grouped(d, widths: widths(row.arch, row.name))
      let w = widths(row.arch, row.name)
      let text = (listed.map { "\($0.text(w)) → \($0.action)" } + ["otherwise → \(otherwise)"]).joined(separator: "; ")
      return d.regions.contains(where: \.readsInstructionPointer) ? text + " (depends on the instruction pointer)" : text
    }
  }

  // MARK: - A Docker profile deciding the same

  /// A profile written from filters, and what it does not express exactly.
  public struct WrittenProfile: Sendable {
    public var profile: Profile
    /// Every place where the profile, compiled by syscage, decides otherwise than the
    /// filters, and every condition it leaves out (empty: it decides the same for every
    /// syscall of the table, on every argument as the kernel reads it).
    public var notExpressed: [String]
    /// Arguments whose bits the kernel drops (the high half of an `int`) the filters
    /// also test: `write a0 on x86_64`. A profile compares an argument as the kernel
    /// reads it, so calls with such bits set are not compared.
    public var droppedBitsTested: [String]
    /// What runc's ENOSYS stub would change (`enosysStubNote`).
    public var enosysStub: String?
    /// ABIs of this machine the profile does not list (every call of them stopped by
    /// the filters) whose calls the filters stop otherwise than a profile does for an
    /// ABI it does not list (KILL_PROCESS): `x86 calls get KILL_THREAD ...`.
    public var unlistedABIs: [String]
  }

  /// A Docker profile deciding as `filters` do on every syscall of `arches`, argument
  /// rules included (each argument as the kernel reads it); then compiled and compared
  /// with the filters region by region.
  public static func profile(of filters: [[BPFInstruction]], arches abis: [Arch]) -> WrittenProfile {
    var notes: [String] = []
    var dropped: [String] = []
    var rowsByArch: [(Arch, [SyscallRow])] = []
    var counts: [SeccompAction: Int] = [:]
    for arch in abis {
      let rows = rows(filters, arch: arch, keptSpace: true)
      rowsByArch.append((arch, rows))
      for row in rows {
        switch row.decisions {
        case .success(let d):
          if let a = d.constantAction { counts[a, default: 0] += 1 }
        case .failure(let e):
          notes.append("\(row.name) on \(arch): too complex to follow exactly (\(e.reason)); the profile gives it the default action")
        }
      }
      // Which narrow arguments the filters test beyond the bits the kernel keeps.
      for full in FilterDump.rows(filters, arch: arch) {
        guard case .success(let d) = full.decisions else { continue }
        let w = widths(arch, full.name)
        var seen: Set<Int> = []
        for r in d.regions {
          for index in r.arguments where w(index) != .max && !seen.contains(index) {
            let (low, high) = r.atoms(argument: index)
            let keep = UInt32(truncatingIfNeeded: w(index))
            if !high.isEmpty || low.contains(where: { $0.mask & ~keep != 0 }) { seen.insert(index) }
          }
        }
        dropped += seen.sorted().map { "\(full.name) a\($0) on \(arch)" }
      }
    }
    // Whether the filters carry runc's ENOSYS stub: ENOSYS past the table.
    let stub = hasEnosysStub(filters, arches: abis)
    // The default action: without the stub, what the filters give a number no rule
    // names (nr = -1, which syscage's compiler and libseccomp let reach the default);
    // with it, the most common action the stub lets stand (runc's stub answers nr = -1
    // itself); else the most common.
    let unnamed = stub ? nil : abis.first.flatMap { a in
      try? SymbolicFilter.decisions(filters, arch: a.auditArch, nr: 0xffff_ffff, endianness: a.endianness).constantAction
    }
    let stubbed = counts.filter { a, _ in
      ![.allow, .log, .trace].contains(a.kind) && a != .errno(SeccompAction.enosys)
    }
    let defaultAction = unnamed
      ?? (stub ? stubbed : counts).max { ($0.value, $1.key.returnValue) < ($1.value, $0.key.returnValue) }?.key
      ?? (stub ? .errno(SeccompAction.enosys) : .errno(1))
    // Per name, the rules of the first ABI that has it.
    var chosen: [String: [(SeccompAction, [ArgumentCondition])]] = [:]
    var order: [String] = []
    // With the stub, the calls at the top of each ABI's table that get ENOSYS are left
    // to it: the first number from which every call of the table gets ENOSYS.
    var stubStart: [Arch: UInt32] = [:]
    for (arch, rows) in rowsByArch {
      var start = UInt32.max
      for row in rows.sorted(by: { $0.number.word > $1.number.word }) {
        guard stub, case .success(let d) = row.decisions, d.constantAction == .errno(SeccompAction.enosys) else { break }
        start = row.number.word
      }
      stubStart[arch] = start
    }
    for (arch, rows) in rowsByArch {
      for row in rows {
        guard case .success(let d) = row.decisions, chosen[row.name] == nil else { continue }
        if row.number.word >= stubStart[arch]! {
          chosen[row.name] = []
          continue
        }
        // A call also made through socketcall/ipc: there a conditional rule that denies
        // applies unconditionally, so rules that allow are preferred.
        let multiplexed = abis.contains { Multiplexer.route(row.name, on: $0) != nil }
        let written = RegionRules.rules(
          for: d, defaultAction: defaultAction, widths: widths(arch, row.name), endianness: arch.endianness,
          preferAllowing: multiplexed)
        for o in written.omitted {
          notes.append("\(row.name) on \(arch): a profile cannot state \(o); the rules are wider there")
        }
        // A name's rules are written once for every ABI: those of the first ABI that has
        // it (the comparison below finds any ABI they do not fit).
        chosen[row.name] = written.rules.map { ($0.action, $0.conditions) }
        order.append(row.name)
      }
    }
    // runc's ENOSYS stub starts above the highest name a profile lists: name each ABI's
    // highest syscall (below the calls left to the stub) so that it starts there.
    var explicitDefault: [String] = []
    for (arch, rows) in rowsByArch {
      guard let last = rows.filter({ $0.number.word < stubStart[arch]! }).max(by: { $0.number.word < $1.number.word }),
        chosen[last.name]?.isEmpty ?? true
      else { continue }
      if !explicitDefault.contains(last.name) { explicitDefault.append(last.name) }
    }
    // One entry per (action, conditions), names in table order.
    var entries: [(SeccompAction, [ArgumentCondition], [String])] = []
    for name in order {
      for (action, conds) in chosen[name]! {
        if let i = entries.firstIndex(where: { $0.0 == action && $0.1 == conds }) {
          if !entries[i].2.contains(name) { entries[i].2.append(name) }
        } else {
          entries.append((action, conds, [name]))
        }
      }
    }
    if !explicitDefault.isEmpty { entries.append((defaultAction, [], explicitDefault)) }
    // Allow first, kill last; among actions of one kind the one that must win first
    // (file order decides there), then conditional rules before unconditional ones.
    entries = entries.enumerated().sorted { x, y in
      let (a, b) = (x.element, y.element)
      if a.0.kind != b.0.kind { return a.0.kind > b.0.kind }
      if a.0.returnValue != b.0.returnValue { return RegionRules.wins(a.0, over: b.0) }
      if a.1.isEmpty != b.1.isEmpty { return !a.1.isEmpty }
      return x.offset < y.offset
    }.map(\.element)
    let syscalls = entries.map { action, conds, names -> SyscallEntry in
      let (n, e) = action.profileAction
      return SyscallEntry(names: names, action: n, errnoRet: e, args: conds.isEmpty ? nil : conds)
    }
    let (dn, de) = defaultAction.profileAction
    let profile = Profile(defaultAction: dn, defaultErrnoRet: de, architectures: abis, syscalls: syscalls)
    notes += compare(profile, with: filters, arches: abis, enosysStub: stub)
    var seen: Set<String> = []
    return WrittenProfile(
      profile: profile, notExpressed: notes.filter { seen.insert($0).inserted }, droppedBitsTested: dropped,
      enosysStub: enosysStubNote(profile, with: filters, arches: abis, enosysStub: stub),
      unlistedABIs: Arch.native.family.filter { !abis.contains($0) }.compactMap { arch in
        guard let first = SyscallTable.entries(in: arch.abi).first else { return nil }
        let a = decide(filters, SeccompData(nr: first.number.word, arch: arch.auditArch), endianness: arch.endianness)
        return a == .killProcess ? nil
          : "\(arch) calls get \(a) from the filters, KILL_PROCESS from a profile that does not list \(arch)"
      })
  }

  /// Whether the filters answer ENOSYS past the table on every ABI, as runc's stub does.
  public static func hasEnosysStub(_ filters: [[BPFInstruction]], arches abis: [Arch]) -> Bool {
    !abis.isEmpty && abis.allSatisfy { arch in
      guard let top = SyscallTable.entries(in: arch.abi).map(\.number.word).max() else { return false }
      return [top + 1, top + 100].allSatisfy {
        decide(filters, SeccompData(nr: $0, arch: arch.auditArch), endianness: arch.endianness) == .errno(SeccompAction.enosys)
      }
    }
  }

  /// What runc's ENOSYS stub (which syscage's `run` and `compile` also add) changes.
  /// Without a stub in the filters: the numbers past the table, where the filters give
  /// another action than ENOSYS and the profile run with the stub answers ENOSYS. With
  /// one: nr = -1 (a tracer's skip), which runc's stub answers ENOSYS as the filters
  /// do and syscage gives the default. nil when it changes nothing.
  public static func enosysStubNote(
    _ profile: Profile, with filters: [[BPFInstruction]], arches abis: [Arch], enosysStub: Bool
  ) -> String? {
    let policy = Policy(profile: profile, options: PolicyOptions(context: HostFacts.dockerDefault(), arches: abis, enosysStub: !enosysStub))
    var parts: [String] = []
    for arch in abis {
      guard let top = SyscallTable.entries(in: arch.abi).map(\.number.word).max() else { continue }
      let nr: UInt32 = enosysStub ? 0xffff_ffff : top + 1
      let filtersGive = decide(filters, SeccompData(nr: nr, arch: arch.auditArch), endianness: arch.endianness)
      let profileGives = policy.decide(auditArch: arch.auditArch, nr: nr).action
      if filtersGive != profileGives {
        parts.append(enosysStub
          ? "on \(arch) nr -1 gets \(filtersGive) from the filters' stub and from runc's, \(profileGives) (the default) from syscage"
          : "\(arch) numbers above \(top) get \(filtersGive) from the filters, \(profileGives) from the stub")
      }
    }
    if parts.isEmpty { return nil }
    return enosysStub
      ? "the filters carry runc's ENOSYS stub, and the profile is compared with syscage's: " + parts.joined(separator: "; ")
      : "runc's ENOSYS stub changes numbers no syscall has: " + parts.joined(separator: "; ")
        + " (the profile is compared without the stub: `syscage run --no-enosys-stub` runs it so)"
  }

  /// Where `profile`, compiled by syscage (with runc's ENOSYS stub when `enosysStub`,
  /// see `enosysStubNote`), decides otherwise than `filters`: on every syscall of the
  /// table (region by region, each argument as the kernel reads it) and on sampled
  /// numbers outside it (nr = -1 only without the stub).
  public static func compare(
    _ profile: Profile, with filters: [[BPFInstruction]], arches abis: [Arch], enosysStub: Bool = false
  ) -> [String] {
    let policy = Policy(profile: profile, options: PolicyOptions(context: HostFacts.dockerDefault(), arches: abis, enosysStub: enosysStub))
    let program: [BPFInstruction]
    do { program = try Compiler.compile(policy) } catch { return ["the profile does not compile: \(error)"] }
    var notes: [String] = []
    for arch in abis {
      var numbers = SyscallTable.entries(in: arch.abi).map { ($0.name, $0.number.word) }
      let top = numbers.map(\.1).max() ?? 0
      numbers += (enosysStub ? [top &+ 1, top &+ 100] : [top &+ 1, top &+ 100, 0xffff_ffff]).map { ("number \(Int32(bitPattern: $0))", $0) }
      let named = Set(SyscallTable.entries(in: arch.abi).map(\.name))
      for (name, nr) in numbers {
        // Each argument as the kernel reads it, as the profile compares it.
        let w: (Int) -> UInt64 = named.contains(name) ? widths(arch, name) : { _ in .max }
        do {
          let diffs = try SymbolicFilter.differences(
            filters, [program], arch: arch.auditArch, nr: nr, endianness: arch.endianness,
            within: RegionRules.keptSpace(widths: w, endianness: arch.endianness))
          for d in diffs {
            let region = d.region.keptView(widths: w)
            notes.append("\(name) on \(arch): when \(region.describe(widths: w)) the filters give \(d.first), the profile \(d.second) (e.g. arguments \(region.witness.args.map { "0x" + String($0, radix: 16) }.joined(separator: ", ")))")
          }
        } catch {
          notes.append("\(name) on \(arch): cannot be compared exactly (\(error.reason))")
        }
      }
    }
    return notes
  }
}

