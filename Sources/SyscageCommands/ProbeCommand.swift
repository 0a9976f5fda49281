import ArgumentParser
import BPF
import Foundation
import Inspection
import Profiles
import Seccomp
import Syscalls

struct ProbeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "probe",
    abstract: "Which syscalls the seccomp filters of this process block, found without running them.",
    discussion: """
      For each syscall, a throwaway child stacks a user-notification filter over the \
      filters it inherited and makes the call with zero arguments. A call that arrives \
      as a notification is allowed by the filters around us (syscage fails it, so \
      nothing runs); a call that comes back without one was denied by seccomp, with \
      that errno, trap or kill. So a seccomp denial is told apart from a missing \
      capability or ENOSYS, which running the call cannot do. Works without privileges \
      (it sets no_new_privs in the child), inside containers too.

      Examples:
        syscage probe                  # the blocked syscalls of this ABI
        syscage probe --all --json     # every syscall's answer
        syscage probe --arch x86       # ia32 calls (int 0x80)
      """)

  @Option(help: "The ABI to probe: x86_64, x86 (int 0x80) or x32.")
  var arch: Arch = .x86_64

  @Flag(help: "List every syscall, not only the blocked ones.")
  var all = false

  @Flag(help: "Print JSON lines.")
  var json = false

  func validate() throws {
    guard [.x86_64, .x86, .x32].contains(arch) else {
      throw ValidationError("probe works on x86_64 hosts for x86_64, x86 and x32 calls")
    }
  }

  func run() throws {
    #if !arch(x86_64)
      throw fail("probe needs an x86_64 machine", code: ExitStatus.unavailable)
    #endif
    let allowAll = [BPFInstruction.ret(SeccompAction.allow)]
    var blocked = 0
    var allowed = 0
    for (name, number) in SyscallTable.entries(in: arch.abi) {
      if arch == .x86_64 && (name == "uretprobe" || name == "uprobe") { continue }  // the kernel exempts them
      let outcome = FilterProbe.run(allowAll, abi: arch == .x86 ? .ia32 : .native, nr: number.word)
      let (verdict, isBlocked): (String, Bool)
      switch outcome {
      case .allowed: (verdict, isBlocked) = ("allowed", false)
      case .errno(let e): (verdict, isBlocked) = ("denied: errno \(e) (\(errnoName(e)))", true)
      case .killedProcess(let s): (verdict, isBlocked) = ("killed (process, signal \(s))", true)
      case .killedThread: (verdict, isBlocked) = ("killed (thread)", true)
      case .trapped(let d, _, _): (verdict, isBlocked) = ("trapped (SIGSYS, data \(d))", true)
      case .userNotification: (verdict, isBlocked) = ("sent to another supervisor (user notification)", true)
      case .loadFailed(let step, let e):
        if step == "listener" && e == EBUSY {
          throw fail("a filter of this process already has a user-notification listener; a process can have only one, so probe cannot stack its own", code: ExitStatus.unavailable)
        }
        throw fail("cannot probe: \(step) failed with errno \(e) (\(errnoName(e))); seccomp user notification needs Linux 5.0", code: ExitStatus.unavailable)
      case .timedOut, .unexpected:
        (verdict, isBlocked) = ("no answer (\(outcome))", true)
      }
      if isBlocked { blocked += 1 } else { allowed += 1 }
      guard all || isBlocked else { continue }
      if json {
        print(jsonLine(["arch": arch.name, "syscall": name, "number": Int(number.rawValue), "blocked": isBlocked, "outcome": verdict]))
      } else {
        print("\(name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(String(number.rawValue).padding(toLength: 11, withPad: " ", startingAt: 0)) \(verdict)")
      }
    }
    printError("syscage: \(arch): \(blocked) syscalls blocked by seccomp, \(allowed) allowed (zero arguments)")
  }

  func errnoName(_ e: Int32) -> String { String(cString: strerror(e)) }
}
