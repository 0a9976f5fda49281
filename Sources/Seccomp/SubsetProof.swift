import Syscalls

/// A proof that a candidate policy is equally or more restrictive than a base policy on
/// every call, or the first call where it is not.
///
/// Both policies are compared as a runtime loads them (`RuntimeLayer`, by default runc's
/// ENOSYS answer on top of each profile's own decisions): that is what a node runs. On
/// every ABI, every syscall number and every argument region of the common refinement
/// (`DecisionMap`; nothing is sampled), the candidate's action must come no later than the
/// base's in the kernel's precedence (KILL_PROCESS, KILL_THREAD, TRAP, ERRNO, USER_NOTIF,
/// TRACE, LOG, ALLOW): ERRNO(1) and ERRNO(38) rank the same. Numbers no rule names, nr = -1
/// and calls from ABIs neither lists are compared too. A syscall too complex to refine
/// exactly is not proven.
public struct SubsetProof: Sendable {
  /// A call the candidate decides less restrictively than the base.
  public struct Counterexample: Sendable, Hashable, CustomStringConvertible {
    /// nil for a call from an ABI neither policy lists.
    public var arch: Arch?
    /// The syscall's name, or `#N` for a number the table does not name.
    public var name: String
    public var number: UInt32
    /// Six argument registers of the call.
    public var args: [UInt64]
    /// The argument region the call stands for (`any arguments` when no rule looks at them).
    public var region: String
    public var base: SeccompAction
    public var candidate: SeccompAction

    public var description: String {
      guard let arch else { return "calls from ABIs neither policy lists: candidate \(candidate), base \(base)" }
      let shown = region == "any arguments" ? "" : "(\(region))"
      return "\(arch): \(name)\(shown) [nr \(number), args \(args.map { ArgumentValue($0).description }.joined(separator: ", "))]: candidate \(candidate), base \(base)"
    }
  }

  /// The first counterexample (in the base's ABI order, then by number); nil when none.
  public var counterexample: Counterexample?
  /// The other argument regions of the first counterexample's syscall that differ (at most 16).
  public var sameSyscall: [Counterexample]
  /// How many regions (argument regions of named syscalls, ranges of unnamed numbers,
  /// nr = -1, unlisted ABIs) the candidate decides less restrictively.
  public var differingRegions: Int
  /// How many regions were compared.
  public var comparedRegions: Int
  /// Syscalls that could not be compared exactly, as "ABI: name (reason)".
  public var unproven: [String]

  /// True when the candidate is proven equally or more restrictive everywhere.
  public var proved: Bool { counterexample == nil && unproven.isEmpty }

  /// Whether `candidate` is at least as restrictive as `base` (the kernel's precedence).
  public static func atLeastAsRestrictive(_ candidate: SeccompAction, _ base: SeccompAction) -> Bool {
    candidate.kind <= base.kind
  }

  /// Proves `candidate` ⊆ `base` as `runtime` loads both (nil: as given).
  public init(base: Policy, candidate: Policy, runtime: RuntimeLayer? = .runc) {
    let base = runtime.map { base.loaded(by: $0) } ?? base
    let candidate = runtime.map { candidate.loaded(by: $0) } ?? candidate
    let map = DecisionMap(policies: [base, candidate])
    var found: [(order: Int, number: UInt32, example: Counterexample, others: [Counterexample])] = []
    var differing = 0, compared = 0
    var unproven: [String] = []
    let ok = SubsetProof.atLeastAsRestrictive
    compared += 1
    if !ok(candidate.badArchAction, base.badArchAction) {
      differing += 1
      found.append((-1, 0, Counterexample(arch: nil, name: "", number: 0, args: [], region: "", base: base.badArchAction, candidate: candidate.badArchAction), []))
    }
    for (order, ad) in map.arches.enumerated() {
      let reachable = SubsetProof.reachable(ad.arch)
      for s in ad.syscalls where reachable(s.number.word) {
        compared += s.regionCount
        let bad = (0..<s.regionCount).filter { !ok(s.actions[1][$0], s.actions[0][$0]) }
        guard !bad.isEmpty else { continue }
        differing += bad.count
        let examples = bad.prefix(17).map { r in
          let region = s.region(r).filter { !($0.isWholeInterval && $0.masks.isEmpty) }
          return Counterexample(
            arch: ad.arch, name: s.name, number: s.number.word, args: s.witness(of: r),
            region: region.isEmpty ? "any arguments" : region.map(\.description).joined(separator: " && "),
            base: s.actions[0][r], candidate: s.actions[1][r])
        }
        found.append((order, s.number.word, examples[0], Array(examples.dropFirst())))
      }
      for c in ad.tooComplex { unproven.append("\(ad.arch): \(c.name) (\(c.reason))") }
      for range in ad.rest {
        guard let n = SubsetProof.firstReachable(ad.arch, range.first, range.last) else { continue }
        compared += 1
        let b = range.actions[0], c = range.actions[1]
        if ok(c, b) { continue }
        differing += 1
        found.append((order, n, Counterexample(
          arch: ad.arch, name: ad.arch.name(of: SyscallNumber(Int32(bitPattern: n))) ?? "#\(n)", number: n,
          args: [0, 0, 0, 0, 0, 0], region: "any arguments", base: b, candidate: c), []))
      }
      // nr = -1 (a tracer's skip) reaches the default action of the ABI.
      let minusOne = [base, candidate].map { p in
        p.policy(for: ad.arch).map { $0.decide(nr: 0xffff_ffff, args: [0, 0, 0, 0, 0, 0]).action } ?? p.badArchAction
      }
      compared += 1
      if !ok(minusOne[1], minusOne[0]) {
        differing += 1
        found.append((order, 0xffff_ffff, Counterexample(
          arch: ad.arch, name: "nr -1", number: 0xffff_ffff, args: [0, 0, 0, 0, 0, 0], region: "any arguments",
          base: minusOne[0], candidate: minusOne[1]), []))
      }
    }
    let first = found.min { ($0.order, $0.number) < ($1.order, $1.number) }
    counterexample = first?.example
    sameSyscall = first?.others ?? []
    differingRegions = differing
    comparedRegions = compared
    self.unproven = unproven
  }

  /// Whether a number reaches this ABI's policy: x32 calls carry the x32 bit, x86_64
  /// calls do not.
  static func reachable(_ arch: Arch) -> (UInt32) -> Bool {
    let bit = UInt32(SyscallNumber.x32Bit)
    if arch == .x32 { return { $0 & bit != 0 && $0 != 0xffff_ffff } }
    return { $0 != 0xffff_ffff }
  }

  /// The first number of `first...last` that reaches the ABI's policy.
  static func firstReachable(_ arch: Arch, _ first: UInt32, _ last: UInt32) -> UInt32? {
    var n = first
    if arch == .x32 && n & UInt32(SyscallNumber.x32Bit) == 0 { n = n < 0x8000_0000 ? 0x4000_0000 : 0xc000_0000 }
    return n <= last && n != 0xffff_ffff ? n : nil
  }
}
