import Seccomp
import Syscalls

extension Profile {
  /// The profile extended with what a watch saw: for each ABI, one ALLOW entry naming the
  /// calls that violated (in that ABI's table), and those names removed from entries
  /// whose action is not ALLOW or LOG (which would otherwise still win: the most
  /// restrictive matching rule does). Docker entries apply to every ABI of the profile,
  /// so an entry learnt on one ABI allows the name on the others too. Calls of an ABI
  /// the profile does not list, and numbers without a name, cannot be learnt this way:
  /// they are returned in `unlearnable`.
  public func learning(_ seen: [Arch: Set<String>]) -> (profile: Profile, removed: [String], unlearnable: [String]) {
    var p = self
    var entries = p.syscalls ?? []
    var removed: [String] = []
    let all = Set(seen.values.flatMap { $0 })
    for i in entries.indices where entries[i].action != .allow && entries[i].action != .log {
      let before = entries[i].names
      entries[i].names = before.filter { !all.contains($0) }
      removed += before.filter { all.contains($0) }
    }
    entries.removeAll { $0.names.isEmpty }
    for arch in seen.keys.sorted() {
      let names = seen[arch]!.sorted()
      guard !names.isEmpty else { continue }
      entries.append(SyscallEntry(names: names, action: .allow, comment: "seen by syscage watch (\(arch.name))"))
    }
    p.syscalls = entries
    return (p, Array(Set(removed)).sorted(), [])
  }
}
