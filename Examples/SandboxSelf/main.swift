import Enforcement
import Foundation
import Host
import Profiles
import Seccomp

// A Swift program that sandboxes itself: after setting up, it gives up the syscalls
// it no longer needs. Run: swift run sandbox-self
//
// Everything stays allowed except opening files for writing (openat whose flags
// have O_WRONLY or O_RDWR: flags & 3 is 1 or 2), refused with EROFS, and mkdir, refused
// with EPERM. A Swift program has threads it did not start; `apply` filters them all.
let profile = Profile(defaultAction: .allow, syscalls: [
  SyscallEntry(names: ["openat"], action: .errno, errnoRet: UInt32(EROFS),
               args: [ArgumentCondition(index: 2, value: 3, valueTwo: UInt64(O_WRONLY), op: .maskedEqual)]),
  SyscallEntry(names: ["openat"], action: .errno, errnoRet: UInt32(EROFS),
               args: [ArgumentCondition(index: 2, value: 3, valueTwo: UInt64(O_RDWR), op: .maskedEqual)]),
  SyscallEntry(names: ["mkdir", "mkdirat"], action: .errno, errnoRet: UInt32(EPERM)),
])

let before = FileManager.default.createFile(atPath: "/tmp/sandbox-self-before", contents: Data("ok".utf8))
print("before the filter, writing a file: \(before ? "worked" : "failed")")

do {
  try Sandbox.apply(Policy(profile: profile, options: PolicyOptions(context: HostFacts.dockerDefault())))  // every thread, no_new_privs set
} catch {
  print("could not sandbox: \(error)")
  exit(1)
}

let fd = open("/tmp/sandbox-self-after", O_WRONLY | O_CREAT, 0o600)
print("after the filter, opening for writing: \(fd < 0 ? String(cString: strerror(errno)) : "worked (unexpected)")")
let readable = open("/etc/hostname", O_RDONLY)
print("after the filter, opening for reading: \(readable >= 0 ? "worked" : String(cString: strerror(errno)))")
print("mkdir: \(mkdir("/tmp/sandbox-self-dir", 0o700) == 0 ? "worked (unexpected)" : String(cString: strerror(errno)))")
