import Processes
import Foundation
import Seccomp
import Syscalls

/// A language runtime or program whose calls depend on timing: some runs make them and
/// others do not, so one recording misses them now and then. `record` detects the
/// runtime from the executables a recording ran and allows these calls in an entry of
/// their own, with the reason as its comment.
public enum LanguageRuntime: String, CaseIterable, Sendable, Hashable {
  case go
  case jvm
  case node
  case cpython
  case gnuSort = "gnu-sort"

  /// The calls this runtime makes only in some runs, sorted. None of them has argument
  /// rules (`ArgumentRules.arguments`), so allowing them unconditionally weakens no rule.
  public var occasionalCalls: [String] {
    switch self {
    case .go:
      // runtime/preempt.go, os_linux.go: preemptM → signalM → tgkill(getpid(), tid, SIGURG);
      // osyield (sched_yield) and usleep (nanosleep) in the scheduler, GC and sysmon;
      // the scavenger's sysUnused (madvise) and sysFree (munmap); minit on a thread started
      // later (gettid, sigaltstack, rt_sigprocmask); futex for every sleep and wake-up.
      ["futex", "getpid", "gettid", "madvise", "munmap", "nanosleep", "rt_sigprocmask", "sched_yield", "sigaltstack", "tgkill"]
    case .jvm:
      // HotSpot: os::naked_yield (sched_yield) and naked_short_sleep (nanosleep) in spin
      // loops and safepoints; thread signals (pthread_kill → tgkill) for suspension and
      // to wake a thread blocked in I/O when another closes the socket, which first
      // shuts it down (shutdown) or duplicates over it (dup2); os::available_memory
      // (sysinfo) in GC heuristics; heap uncommit (madvise, munmap).
      ["dup2", "futex", "getpid", "gettid", "madvise", "munmap", "nanosleep", "sched_yield", "shutdown", "sysinfo", "tgkill"]
    case .node:
      // V8 and libuv worker threads: YieldCPU (sched_yield) while waiting for parallel GC
      // and compile jobs; freed and discarded pages (madvise, munmap); futex waits.
      ["futex", "madvise", "munmap", "sched_yield"]
    case .cpython:
      // Lib/multiprocessing/pool.py _terminate_pool: workers still running at exit get
      // terminate() → os.kill (kill); whether one still runs depends on timing (4 of 24
      // recordings of a Pool program missed it). util._exit_function terminates daemon
      // children still alive at exit, and concurrent.futures' process pool its workers
      // when it breaks. _help_stuff_finish calls time.sleep(0) (clock_nanosleep) while
      // the task handler still has tasks queued.
      ["clock_nanosleep", "kill"]
    case .gnuSort:
      // coreutils sort.c: on SIGPIPE, SIGINT, SIGTERM... sighandler removes the temporary
      // files and re-raises the signal: raise → rt_sigprocmask, getpid, gettid, tgkill.
      ["getpid", "gettid", "rt_sigprocmask", "tgkill"]
    }
  }

  /// The comment of the runtime's profile entry.
  public var comment: String {
    switch self {
    case .go:
      "Go runtime: async preemption signals threads (getpid, tgkill), the scheduler yields and sleeps (sched_yield, nanosleep), the scavenger returns memory (madvise, munmap): only in some runs"
    case .jvm:
      "JVM: spin loops yield and sleep (sched_yield, nanosleep), threads are signalled (tgkill) and sockets shut down (shutdown, dup2) when another thread closes them, GC reads sysinfo and uncommits memory: only in some runs"
    case .node:
      "node (V8, libuv): worker threads yield while waiting for GC and compile jobs (sched_yield) and free memory (madvise, munmap): only in some runs"
    case .cpython:
      "CPython multiprocessing: at exit a Pool terminates the workers still running (kill) and may sleep(0) while draining its task queue (clock_nanosleep); both depend on timing"
    case .gnuSort:
      "GNU sort: on a signal (SIGPIPE, SIGINT, ...) it removes its temporary files and re-raises the signal (getpid, gettid, tgkill): only in runs that get one"
    }
  }

  /// For CPython, a runtime entry applies only when the recording saw the program wait
  /// for a child (wait4, waitid): without child processes there is nothing to kill.
  public var needsAnyOf: Set<String>? {
    self == .cpython ? ["wait4", "waitid"] : nil
  }

  /// The runtimes `executable` is built on, from its ELF file (empty when none, or the
  /// file cannot be read). Go: a `.go.buildinfo` section, a `.note.go.buildid` section or
  /// a Go build-id note (owner "Go", type 4) in a PT_NOTE segment. JVM: DT_NEEDED
  /// libjvm.so or libjli.so (the launcher that loads libjvm). node: DT_NEEDED libnode.so
  /// or a binary named node or nodejs. CPython: DT_NEEDED libpython, or `Py_BytesMain` in
  /// the dynamic symbols (Debian links libpython statically into python3). GNU sort: a
  /// binary named sort.
  public static func detect(executable: String) -> Set<LanguageRuntime> {
    guard let elf = ELFFile(path: executable) else { return [] }
    var found: Set<LanguageRuntime> = []
    let base = (executable as NSString).lastPathComponent
    if elf.sectionNames.contains(".go.buildinfo") || elf.sectionNames.contains(".note.go.buildid") || elf.hasGoNote {
      found.insert(.go)
    }
    let needed = elf.needed
    if needed.contains(where: { $0.hasPrefix("libjvm.so") || $0.hasPrefix("libjli.so") }) { found.insert(.jvm) }
    if needed.contains(where: { $0.hasPrefix("libnode.so") }) || base == "node" || base == "nodejs" { found.insert(.node) }
    if needed.contains(where: { $0.hasPrefix("libpython") }) || elf.dynamicStrings.contains("Py_BytesMain") {
      found.insert(.cpython)
    }
    if base == "sort" { found.insert(.gnuSort) }
    return found
  }

  /// The ABI the executable's calls use (x86_64, x32 or x86), nil when it is not an ELF
  /// file of those.
  public static func arch(of executable: String) -> Arch? {
    ELFFile(path: executable)?.arch
  }
}
