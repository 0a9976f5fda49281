import BPF
import Profiles
import Seccomp
import Syscalls

/// An argument whose value names a capability the program uses (a socket family, a
/// namespace, a prctl option): `record --args` writes a rule per value seen.
public struct CapabilityArgument: Hashable, Sendable {
  /// The argument's index (0...5).
  public var index: Int
  /// The bits that carry the capability (nil: the whole value); other bits are free.
  public var mask: UInt64?
  /// What the value means, for messages.
  public var meaning: String
  /// Whether values read best in hexadecimal (flags, ioctl requests).
  public var isHex: Bool

  public init(index: Int, mask: UInt64? = nil, meaning: String, isHex: Bool = false) {
    self.index = index
    self.mask = mask
    self.meaning = meaning
    self.isHex = isHex
  }
}

/// The argument rules of `record --args`: for each call whose arguments name a
/// capability, one ALLOW rule per combination of values seen; other values get the
/// profile's default action.
///
/// clone's namespace flags are in a register, clone3's behind a pointer that seccomp
/// cannot read: the clone rules hold only while clone3 is refused, so clone3 gets
/// ERRNO(ENOSYS) (glibc then falls back to clone), even when it was seen.
public enum ArgumentRules {
  /// The CLONE_NEW* flags clone can take (CLONE_NEWTIME shares its bit with the exit signal there).
  public static let cloneNamespaceFlags: UInt64 = 0x7E02_0000
  /// The CLONE_NEW* flags unshare takes, CLONE_NEWTIME (0x80) included.
  public static let unshareNamespaceFlags: UInt64 = 0x7E02_0080
  /// The socket type's bits; SOCK_NONBLOCK and SOCK_CLOEXEC are left free.
  public static let socketTypeMask: UInt64 = 0xf

  /// The calls and arguments recorded.
  public static let arguments: [String: [CapabilityArgument]] = [
    "socket": [
      CapabilityArgument(index: 0, meaning: "address family"),
      CapabilityArgument(index: 1, mask: socketTypeMask, meaning: "socket type"),
    ],
    "socketpair": [
      CapabilityArgument(index: 0, meaning: "address family"),
      CapabilityArgument(index: 1, mask: socketTypeMask, meaning: "socket type"),
    ],
    "personality": [CapabilityArgument(index: 0, meaning: "persona")],
    "clone": [CapabilityArgument(index: 0, mask: cloneNamespaceFlags, meaning: "namespace flags", isHex: true)],
    "unshare": [CapabilityArgument(index: 0, mask: unshareNamespaceFlags, meaning: "namespace flags", isHex: true)],
    "prctl": [CapabilityArgument(index: 0, meaning: "option")],
    "ioctl": [CapabilityArgument(index: 1, meaning: "request", isHex: true)],
  ]

  /// The calls to observe, per ABI.
  public static func observed(in arches: [Arch]) -> [Arch: Set<SyscallNumber>] {
    var result: [Arch: Set<SyscallNumber>] = [:]
    for arch in arches {
      result[arch] = Set(arguments.keys.compactMap { arch.number(of: $0) })
    }
    return result
  }

  /// The values of the capability arguments of one call, cut to their declared width and
  /// masked; nil when the call is not one of `arguments`.
  public static func key(of call: TracedCall) -> [UInt64]? {
    guard let name = call.name, let specs = arguments[name] else { return nil }
    return specs.map { spec in
      let width = call.arch.argumentType(of: name, index: spec.index).mask
      return call.arguments[spec.index] & width & (spec.mask ?? .max)
    }
  }

  /// The rules for the values seen (per ABI, per call, the distinct keys of `key(of:)`):
  /// one ALLOW entry per call and key. A profile's entries apply to every ABI it lists,
  /// so the keys of all ABIs are joined.
  public static func entries(_ seen: [Arch: [String: Set<[UInt64]>]]) -> [SyscallEntry] {
    var byName: [String: Set<[UInt64]>] = [:]
    for calls in seen.values {
      for (name, keys) in calls { byName[name, default: []].formUnion(keys) }
    }
    var entries: [SyscallEntry] = []
    for name in byName.keys.sorted() {
      guard let specs = arguments[name], let keys = byName[name] else { continue }
      for key in keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
        let conditions = zip(specs, key).map { spec, value in
          spec.mask.map { ArgumentCondition(index: spec.index, value: $0, valueTwo: value, op: .maskedEqual) }
            ?? ArgumentCondition(index: spec.index, value: value, op: .equal)
        }
        entries.append(
          SyscallEntry(
            names: [name], action: .allow, args: conditions,
            comment: zip(specs, key).map { "\($0.meaning) \(describe($1, hex: $0.isHex))" }.joined(separator: ", ")))
      }
    }
    return entries
  }

  static func describe(_ v: UInt64, hex: Bool) -> String {
    hex || v >= 0x10000 ? "0x" + String(v, radix: 16) : String(v)
  }

  /// `profile` with the argument rules of `seen`: each recorded call leaves the
  /// unconditional ALLOW entry and gets its rules, except the calls in `unconditional`
  /// (a container runtime's, a baseline's), which stay allowed whatever their arguments;
  /// clone3 gets ERRNO(ENOSYS) when clone has rules. Returns the profile and notes.
  public static func apply(
    _ seen: [Arch: [String: Set<[UInt64]>]], to profile: Profile, unconditional: Set<String> = []
  ) -> (Profile, [String]) {
    var profile = profile
    var notes: [String] = []
    let ruled = entries(seen).filter { !unconditional.contains($0.names[0]) }
    let names = Set(ruled.flatMap(\.names))
    guard !names.isEmpty else { return (profile, notes) }
    var syscalls = profile.syscalls ?? []
    for i in syscalls.indices where syscalls[i].action == .allow && (syscalls[i].args ?? []).isEmpty {
      syscalls[i].names.removeAll { names.contains($0) }
    }
    let sawClone3 = syscalls.contains { $0.action == .allow && $0.names.contains("clone3") }
    if names.contains("clone") {
      for i in syscalls.indices { syscalls[i].names.removeAll { $0 == "clone3" } }
      syscalls.append(
        SyscallEntry(
          names: ["clone3"], action: .errno, errnoRet: UInt32(SeccompAction.enosys),
          comment: "clone3's flags are behind a pointer: refused so that libc uses clone, whose flags the rules check"))
      if sawClone3 {
        notes.append(
          "clone3 was seen but gets ENOSYS: seccomp cannot read its flags, so the clone namespace rules hold only while clone3 is refused (glibc falls back to clone)")
      }
    }
    syscalls.removeAll { $0.names.isEmpty }
    syscalls.append(contentsOf: ruled)
    profile.syscalls = syscalls
    return (profile, notes)
  }
}

/// Collects the capability arguments of a recording (`record --args`), at most
/// `limit` distinct values per ABI and call: a rule takes at least two instructions, so
/// more than half the kernel's limit can never fit; beyond that only the count goes on.
public final class ArgumentCollector: @unchecked Sendable {
  /// Per ABI, per call, the distinct keys seen (at most `limit`).
  public private(set) var seen: [Arch: [String: Set<[UInt64]>]] = [:]
  /// Per ABI, the calls that had more than `limit` distinct keys, and how many of their
  /// calls came after the limit was reached.
  public private(set) var overflow: [Arch: [String: Int]] = [:]
  /// The distinct values kept per ABI and call.
  public let limit: Int

  public init(limit: Int = BPF.maxInstructions / 2) { self.limit = limit }

  /// The calls whose values went over the limit, in any ABI.
  public var overflowed: Set<String> { Set(overflow.values.flatMap(\.keys)) }

  /// The observer to pass to the recorder.
  public func observer(arches: [Arch] = [.x86_64, .x86, .x32]) -> CallObserver {
    CallObserver(calls: ArgumentRules.observed(in: arches)) { [self] call in
      guard let name = call.name, let key = ArgumentRules.key(of: call) else { return }
      if let set = seen[call.arch]?[name], set.count >= limit, !set.contains(key) {
        overflow[call.arch, default: [:]][name, default: 0] += 1
        return
      }
      seen[call.arch, default: [:]][name, default: []].insert(key)
    }
  }
}
