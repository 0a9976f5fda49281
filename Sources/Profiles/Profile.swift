import Seccomp
import Syscalls

/// A seccomp profile in Docker's JSON schema (a superset of the OCI runtime-spec
/// `linux.seccomp` object), as written: nothing is expanded or resolved here.
///
/// Optional fields stay nil when absent so that a profile encodes back to what it was.
public struct Profile: Hashable, Sendable {
  public var defaultAction: ActionName?
  /// The errno of an ERRNO or TRACE default action; EPERM when absent.
  public var defaultErrnoRet: UInt32?
  /// `architectures`; mutually exclusive with `archMap`.
  public var architectures: [Arch]?
  public var archMap: [ArchMapEntry]?
  public var syscalls: [SyscallEntry]?
  public var flags: [FilterFlag]?
  public var listenerPath: String?
  public var listenerMetadata: String?

  public init(
    defaultAction: ActionName? = nil, defaultErrnoRet: UInt32? = nil, architectures: [Arch]? = nil,
    archMap: [ArchMapEntry]? = nil, syscalls: [SyscallEntry]? = nil, flags: [FilterFlag]? = nil,
    listenerPath: String? = nil, listenerMetadata: String? = nil
  ) {
    self.defaultAction = defaultAction
    self.defaultErrnoRet = defaultErrnoRet
    self.architectures = architectures
    self.archMap = archMap
    self.syscalls = syscalls
    self.flags = flags
    self.listenerPath = listenerPath
    self.listenerMetadata = listenerMetadata
  }

  /// moby's rule: no default action and no syscalls means no seccomp at all.
  public var isDisabled: Bool { defaultAction == nil && (syscalls ?? []).isEmpty }
}

/// One `archMap` entry: a native arch and the ABIs its processes can also use.
public struct ArchMapEntry: Hashable, Sendable {
  public var architecture: Arch
  /// nil when written as `null`, which Docker's own profile does.
  public var subArchitectures: [Arch]?
  public init(architecture: Arch, subArchitectures: [Arch]?) {
    self.architecture = architecture
    self.subArchitectures = subArchitectures
  }
}

/// One `syscalls[]` entry: names, an action, and argument conditions that must all hold.
public struct SyscallEntry: Hashable, Sendable {
  public var names: [String]
  /// True when the file used the deprecated single `name` field.
  public var usesNameField: Bool
  public var action: ActionName
  public var errnoRet: UInt32?
  public var args: [ArgumentCondition]?
  public var comment: String?
  public var includes: EntryFilter?
  public var excludes: EntryFilter?

  public init(
    names: [String], usesNameField: Bool = false, action: ActionName, errnoRet: UInt32? = nil,
    args: [ArgumentCondition]? = nil, comment: String? = nil, includes: EntryFilter? = nil,
    excludes: EntryFilter? = nil
  ) {
    self.names = names
    self.usesNameField = usesNameField
    self.action = action
    self.errnoRet = errnoRet
    self.args = args
    self.comment = comment
    self.includes = includes
    self.excludes = excludes
  }
}

/// Docker's `includes` / `excludes`: conditions on the host under which an entry applies.
public struct EntryFilter: Hashable, Sendable {
  public var caps: [String]?
  public var arches: [String]?
  public var minKernel: KernelVersion?
  public init(caps: [String]? = nil, arches: [String]? = nil, minKernel: KernelVersion? = nil) {
    self.caps = caps
    self.arches = arches
    self.minKernel = minKernel
  }
  public var isEmpty: Bool { (caps ?? []).isEmpty && (arches ?? []).isEmpty && minKernel == nil }
}
