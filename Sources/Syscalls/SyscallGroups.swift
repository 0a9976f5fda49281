/// Named sets of syscalls: systemd's `SystemCallFilter=` groups (`@mount`,
/// `@system-service`, ...), and `@docker-default-refused`, the calls Docker's
/// default profile refuses to a container with Docker's default capabilities.
public enum SyscallGroups {
  /// Every group name, sorted.
  public static var names: [String] { GeneratedSyscallTable.groups.map(\.name) }

  /// The members of a group as written, with nested `@group` entries left in.
  public static func members(of group: String) -> [String]? {
    GeneratedSyscallTable.groups.first { $0.name == group }?.members
  }

  /// The syscall names of a group, nested groups expanded, sorted; nil for an unknown group.
  public static func expand(_ group: String) -> [String]? {
    var seen = Set<String>()
    var out = Set<String>()
    func walk(_ g: String) -> Bool {
      guard let members = members(of: g) else { return false }
      guard seen.insert(g).inserted else { return true }
      for m in members {
        if m.hasPrefix("@") { _ = walk(m) } else { out.insert(m) }
      }
      return true
    }
    guard walk(group) else { return nil }
    return out.sorted()
  }
}
