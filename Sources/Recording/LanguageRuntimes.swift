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

/// What `LanguageRuntime.detect` reads of an ELF file: section names, PT_NOTE notes, the
/// dynamic section's DT_NEEDED entries and string table. Reads with pread; a malformed
/// file yields what could be read.
struct ELFFile {
  var arch: Arch?
  var sectionNames: Set<String> = []
  var hasGoNote = false
  var needed: [String] = []
  /// The NUL-separated strings of the dynamic string table (symbol and library names).
  var dynamicStrings: Set<String> = []

  init?(path: String) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    let size = Int(st.st_size)
    func read(_ offset: Int, _ count: Int) -> [UInt8] {
      guard offset >= 0, count > 0, offset < size else { return [] }
      let n = min(count, size - offset, 64 << 20)
      var buf = [UInt8](repeating: 0, count: n)
      let got = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, n, off_t(offset)) }
      return got > 0 ? Array(buf.prefix(got)) : []
    }
    let ident = read(0, 64)
    guard ident.count >= 52, ident[0] == 0x7f, ident[1] == 0x45, ident[2] == 0x4c, ident[3] == 0x46, ident[5] == 1 else {
      return nil
    }
    let is64 = ident[4] == 2
    func u16(_ b: [UInt8], _ o: Int) -> Int { o + 2 <= b.count ? Int(b[o]) | Int(b[o + 1]) << 8 : 0 }
    func u32(_ b: [UInt8], _ o: Int) -> Int { o + 4 <= b.count ? (0..<4).reduce(0) { $0 | Int(b[o + $1]) << (8 * $1) } : 0 }
    func u64(_ b: [UInt8], _ o: Int) -> Int {
      o + 8 <= b.count ? Int(truncatingIfNeeded: (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) }) : 0
    }
    func word(_ b: [UInt8], _ o: Int) -> Int { is64 ? u64(b, o) : u32(b, o) }
    let machine = u16(ident, 18)
    switch (machine, is64) {
    case (62, true): arch = .x86_64
    case (62, false): arch = .x32
    case (3, false): arch = .x86
    default: arch = nil
    }
    let phoff = word(ident, is64 ? 32 : 28), shoff = word(ident, is64 ? 40 : 32)
    let phentsize = u16(ident, is64 ? 54 : 42), phnum = u16(ident, is64 ? 56 : 44)
    let shentsize = u16(ident, is64 ? 58 : 46), shnum = u16(ident, is64 ? 60 : 48), shstrndx = u16(ident, is64 ? 62 : 50)

    // Program headers: PT_NOTE (4) for the Go note, PT_DYNAMIC (2) for DT_NEEDED, PT_LOAD
    // (1) to turn DT_STRTAB's address into a file offset.
    var loads: [(vaddr: Int, offset: Int, size: Int)] = []
    var dynamic: (offset: Int, size: Int)?
    let ph = read(phoff, phentsize * phnum)
    for i in 0..<phnum where phentsize > 0 {
      let o = i * phentsize
      let type = u32(ph, o)
      let offset = is64 ? u64(ph, o + 8) : u32(ph, o + 4)
      let vaddr = is64 ? u64(ph, o + 16) : u32(ph, o + 8)
      let filesz = is64 ? u64(ph, o + 32) : u32(ph, o + 16)
      switch type {
      case 1: loads.append((vaddr, offset, filesz))
      case 2: dynamic = (offset, filesz)
      case 4: if Self.notes(read(offset, min(filesz, 1 << 16))).contains(where: { $0.owner == "Go" && $0.type == 4 }) { hasGoNote = true }
      default: break
      }
    }
    // Section names.
    let sh = read(shoff, shentsize * shnum)
    if shentsize > 0, shstrndx < shnum {
      let so = shstrndx * shentsize
      let names = read(word(sh, so + (is64 ? 24 : 16)), word(sh, so + (is64 ? 32 : 20)))
      for i in 0..<shnum {
        let at = u32(sh, i * shentsize)
        if at < names.count, let end = names[at...].firstIndex(of: 0) {
          sectionNames.insert(String(decoding: names[at..<end], as: UTF8.self))
        }
      }
    }
    // The dynamic section: DT_NEEDED (1) offsets into DT_STRTAB (5) of DT_STRSZ (10).
    if let dynamic {
      let d = read(dynamic.offset, min(dynamic.size, 1 << 20))
      let entry = is64 ? 16 : 8
      var neededOffsets: [Int] = []
      var strtab = 0, strsz = 0
      var i = 0
      while i + entry <= d.count {
        let tag = word(d, i), value = word(d, i + entry / 2)
        if tag == 0 { break }
        if tag == 1 { neededOffsets.append(value) }
        if tag == 5 { strtab = value }
        if tag == 10 { strsz = value }
        i += entry
      }
      if let load = loads.first(where: { strtab >= $0.vaddr && strtab < $0.vaddr + $0.size }), strsz > 0 {
        let strings = read(strtab - load.vaddr + load.offset, strsz)
        for at in neededOffsets where at < strings.count {
          if let end = strings[at...].firstIndex(of: 0) { needed.append(String(decoding: strings[at..<end], as: UTF8.self)) }
        }
        dynamicStrings = Set(strings.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
      }
    }
  }

  /// The notes of a PT_NOTE segment: owner name and type.
  static func notes(_ b: [UInt8]) -> [(owner: String, type: Int)] {
    func u32(_ o: Int) -> Int { o + 4 <= b.count ? (0..<4).reduce(0) { $0 | Int(b[o + $1]) << (8 * $1) } : 0 }
    var out: [(String, Int)] = []
    var o = 0
    while o + 12 <= b.count {
      let namesz = u32(o), descsz = u32(o + 4), type = u32(o + 8)
      let nameEnd = min(b.count, o + 12 + namesz)
      let name = b[(o + 12)..<nameEnd].prefix { $0 != 0 }
      out.append((String(decoding: name, as: UTF8.self), type))
      o += 12 + (namesz + 3) / 4 * 4 + (descsz + 3) / 4 * 4
    }
    return out
  }
}
