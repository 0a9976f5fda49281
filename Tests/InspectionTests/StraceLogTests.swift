import Foundation
import Inspection
import Profiles
import Seccomp
import Syscalls
import Testing

/// strace output in every form it takes, hand-written after strace 6.1's own output.
@Suite struct StraceLogTests {
  func calls(_ log: StraceLog, _ pid: Int?, _ arch: Arch = .x86_64) -> [String: Int] {
    log.calls[StraceLog.Process(pid: pid, arch: arch)] ?? [:]
  }

  @Test func plainLines() {
    let log = StraceLog.parse(
      """
      execve("/usr/bin/cat", ["cat", "/etc/passwd"], 0x7ffd2b6a1c18 /* 35 vars */) = 0
      openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3
      read(3, "root:x:0:0:root:/root:/bin/bash\\n"..., 131072) = 1234
      read(3, "", 131072)                     = 0
      write(1, "root:x:0:0"..., 1234)         = 1234
      access("/etc/ld.so.preload", R_OK)      = -1 ENOENT (No such file or directory)
      exit_group(0)                           = ?
      +++ exited with 0 +++

      """, native: .x86_64)
    #expect(log.diagnostics.isEmpty)
    #expect(calls(log, nil) == ["execve": 1, "openat": 1, "read": 2, "write": 1, "access": 1, "exit_group": 1])
    #expect(log.lineCount == 8)
    #expect(log.syscallLines == 7)
  }

  @Test func followForksOnStderrAndWithOutputFile() {
    // strace -f on stderr: no prefix before the first fork, then [pid N].
    let stderrForm = StraceLog.parse(
      """
      execve("/usr/bin/sh", ["sh", "-c", "ls"], 0x7ffe65dcc9b8 /* 35 vars */) = 0
      clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 4242
      strace: Process 4242 attached
      [pid  4242] execve("/usr/bin/ls", ["ls"], 0x55 /* 35 vars */) = 0
      [pid  4242] getdents64(3, 0x55 /* 12 entries */, 32768) = 384
      [pid  4241] wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 4242
      """, native: .x86_64)
    #expect(stderrForm.diagnostics.isEmpty)
    #expect(calls(stderrForm, nil) == ["execve": 1, "clone": 1])
    #expect(calls(stderrForm, 4242) == ["execve": 1, "getdents64": 1])
    #expect(calls(stderrForm, 4241) == ["wait4": 1])
    #expect(stderrForm.pids == [4241, 4242])

    // strace -f -o FILE: "PID " on every line.
    let fileForm = StraceLog.parse(
      """
      32252 execve("/usr/bin/sh", ["sh", "-c", "ls / >/dev/null"], 0x7ffe65dcc9b8 /* 35 vars */) = 0
      32252 brk(NULL)                         = 0x55ed208dd000
      32253 read(3, "\\177ELF\\2\\1\\1"..., 832) = 832
      """, native: .x86_64)
    #expect(fileForm.diagnostics.isEmpty)
    #expect(calls(fileForm, 32252) == ["execve": 1, "brk": 1])
    #expect(calls(fileForm, 32253) == ["read": 1])
  }

  @Test func unfinishedAndResumedPairsAcrossPids() {
    let log = StraceLog.parse(
      """
      32252 vfork( <unfinished ...>
      32253 execve("/usr/bin/ls", ["ls", "/"], 0x55ed208dda60 /* 35 vars */ <unfinished ...>
      32252 <... vfork resumed>)              = 32253
      32252 wait4(-1,  <unfinished ...>
      32253 <... execve resumed>)             = 0
      32253 openat(AT_FDCWD, "/", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 3
      32253 +++ exited with 0 +++
      32252 <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 32253
      32252 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=32253, si_uid=0, si_status=0, si_utime=0, si_stime=0} ---
      32254 <... read resumed>"x", 1)          = 1
      """, native: .x86_64)
    #expect(log.diagnostics.isEmpty)
    // Each call counts once, where it started.
    #expect(calls(log, 32252) == ["vfork": 1, "wait4": 1])
    #expect(calls(log, 32253) == ["execve": 1, "openat": 1])
    // A resumed call whose start is not in the log (attached mid-call) still counts.
    #expect(calls(log, 32254) == ["read": 1])
  }

  @Test func perProcessFilesTakeThePidFromTheName() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strace-ff-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try Data("execve(\"/usr/bin/sh\", [\"sh\"], 0x7f /* 3 vars */) = 0\nvfork() = 12\n".utf8)
      .write(to: dir.appendingPathComponent("trace.11"))
    try Data("1795383513.923082 execve(\"/usr/bin/ls\", [\"ls\"], 0x56 /* 35 vars */) = 0\n".utf8)
      .write(to: dir.appendingPathComponent("trace.12"))
    let prefix = dir.appendingPathComponent("trace").path
    #expect(StraceLog.perProcessFiles(prefix) == [prefix + ".11", prefix + ".12"])
    let log = try StraceLog.load(paths: [prefix], native: .x86_64)
    #expect(log.diagnostics.isEmpty)
    #expect(calls(log, 11) == ["execve": 1, "vfork": 1])
    #expect(calls(log, 12) == ["execve": 1])
  }

  @Test func timestampsOfEveryKind() {
    let log = StraceLog.parse(
      """
      21:38:33 brk(NULL) = 0x55c78b150000
      21:38:33.880821 brk(NULL)         = 0x55c78b150000
      1795383513.920338 brk(NULL)             = 0x564a1bce4000
           0.000517 brk(NULL)                 = 0x55edcc16f000
      32261 21:38:33.880916 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7fea622f1000
      [pid 32262] 1795383513.920338 mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, -1, 0) = 0x7f
      32263      0.000011 munmap(0x7f, 8192) = 0
      [00007f8ed97a2e5b] getpid()             = 7
      32264 21:38:33.880916 [00007f8ed97a2e5b] getpid() = 7
      [ 110] getppid() = 1
      """, native: .x86_64)
    #expect(log.diagnostics.isEmpty, "\(log.diagnostics)")
    #expect(calls(log, nil) == ["brk": 4, "getpid": 1, "getppid": 1])
    #expect(calls(log, 32261) == ["mmap": 1])
    #expect(calls(log, 32262) == ["mmap": 1])
    #expect(calls(log, 32263) == ["munmap": 1])
    #expect(calls(log, 32264) == ["getpid": 1])
  }

  @Test func decorations() {
    let log = StraceLog.parse(
      """
      32261 read(3</usr/lib/x86_64-linux-gnu/libc.so.6>, "\\177ELF\\2\\1\\1\\3"..., 832) = 832
      32261 connect(4<socket:[12345]>, {sa_family=AF_UNIX, sun_path="/run/x"}, 110) = 0
      32261 write(1</dev/pts/0<char 136:0>>, "hi\\n", 3) = 3
      32261<sh> close(3</usr/lib/x86_64-linux-gnu/libc.so.6>) = 0
      [pid 32262<ls>] fstat(1</dev/null<char 1:3>>, {st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}) = 0
      """, native: .x86_64)
    #expect(log.diagnostics.isEmpty, "\(log.diagnostics)")
    #expect(calls(log, 32261) == ["read": 1, "connect": 1, "write": 1, "close": 1])
    #expect(calls(log, 32262) == ["fstat": 1])
  }

  @Test func personalityMarkersSwitchTheABI() {
    let log = StraceLog.parse(
      """
      4000 execve("./int80-32", ["./int80-32"], 0x7ffd /* 3 vars */) = 0
      4000 [ Process PID=4000 runs in 32 bit mode. ]
      4000 brk(NULL)                         = 0x5655a000
      4000 _llseek(3, 0, [0], SEEK_SET)      = 0
      4000 fstatat64(AT_FDCWD, "/", {st_mode=S_IFDIR|0755, ...}, 0) = 0
      4000 syscall_0x1c3(0x1, 0x2)           = -1 ENOSYS (Function not implemented)
      4001 getpid()                          = 4001
      4000 [ Process PID=4000 runs in x32 mode. ]
      4000 read(0, "", 1)                    = 0
      4000 [ Process PID=4000 runs in 64 bit mode. ]
      4000 syscall_39()                      = 4000
      """, native: .x86_64)
    #expect(calls(log, 4000, .x86_64) == ["execve": 1, "getpid": 1])
    // syscall_0x1c3: 451, cachestat on x86, which this strace could not name.
    #expect(calls(log, 4000, .x86) == ["brk": 1, "_llseek": 1, "fstatat64": 1, "cachestat": 1])
    #expect(calls(log, 4000, .x32) == ["read": 1])
    #expect(calls(log, 4001, .x86_64) == ["getpid": 1])
    #expect(log.unknown.isEmpty)
    #expect(log.diagnostics.isEmpty)
    let byArch = log.syscallsByArch
    #expect(Set(byArch.keys) == [.x86_64, .x86, .x32])
  }

  @Test func aliasesMapToTableNames() {
    #expect(StraceLog.tableName("oldumount", arch: .x86) == "umount")
    #expect(StraceLog.tableName("umount", arch: .x86_64) == "umount2")
    #expect(StraceLog.tableName("fstatat64", arch: .x86_64) == "newfstatat")
    #expect(StraceLog.tableName("newfstatat", arch: .x86) == "fstatat64")
    #expect(StraceLog.tableName("pread", arch: .x86_64) == "pread64")
    #expect(StraceLog.tableName("_llseek", arch: .x86) == "_llseek")
    #expect(StraceLog.tableName("_newselect", arch: .x86) == "_newselect")
    #expect(StraceLog.tableName("syscall_0x101", arch: .x86_64) == "openat")
    #expect(StraceLog.tableName("syscall_257", arch: .x86_64) == "openat")
    #expect(StraceLog.tableName("syscall_0", arch: .x32) == "read")  // x32 bit added
    #expect(StraceLog.tableName("syscall_0x7fff", arch: .x86_64) == nil)
    #expect(StraceLog.tableName("frobnicate", arch: .x86_64) == nil)
  }

  @Test func unknownNamesAreWarningsOncePerName() {
    let log = StraceLog.parse(
      """
      frobnicate(1) = 0
      frobnicate(2) = 0
      _llseek(3, 0, [0], SEEK_SET) = 0
      syscall_0x7fff(0) = -1 ENOSYS (Function not implemented)
      getpid() = 1
      """, file: "t.log", native: .x86_64)
    #expect(log.diagnostics.count == 3)
    #expect(log.diagnostics.allSatisfy { $0.severity == .warning })
    #expect(log.diagnostics.map(\.line) == [1, 3, 4])
    #expect(log.diagnostics[0].description.hasPrefix("t.log:1: warning: unknown syscall 'frobnicate'"))
    #expect(log.diagnostics[1].message.contains("_llseek is not a syscall of x86_64"))
    #expect(log.unknown[.x86_64] == ["frobnicate": 2, "_llseek": 1, "syscall_0x7fff": 1])
    #expect(log.syscallsByArch == [.x86_64: ["getpid": 1]])
    #expect(log.skippedLines == 0)
  }

  @Test func summaryTable() {
    let log = StraceLog.parse(
      """
      % time     seconds  usecs/call     calls    errors syscall
      ------ ----------- ----------- --------- --------- ----------------
       45.10    0.000230          11        20           mmap
       20.00    0.000102           8        12         3 openat
        0.00    0.000000           0         8           read
        0.00    0.000000           0         1           execve
        0.00    0.000000           0         2         2 access
      ------ ----------- ----------- --------- --------- ----------------
      100.00    0.000510          11        43         5 total

      System call usage summary for 32 bit mode:
      % time     seconds  usecs/call     calls    errors syscall
      ------ ----------- ----------- --------- --------- ----------------
      100.00    0.000010          10         1           _llseek
      ------ ----------- ----------- --------- --------- ----------------
      100.00    0.000010          10         1           total
      """, native: .x86_64)
    #expect(log.diagnostics.isEmpty, "\(log.diagnostics)")
    #expect(log.summaries[.x86_64] == ["mmap": 20, "openat": 12, "read": 8, "execve": 1, "access": 2])
    #expect(log.summaries[.x86] == ["_llseek": 1])
    #expect(log.syscallsByArch[.x86_64]?["openat"] == 12)
  }

  @Test func summaryAfterTraceIsNotCountedTwice() {
    // strace -C: the lines, then the table of the same calls.
    let log = StraceLog.parse(
      """
      read(0, "a", 1) = 1
      read(0, "", 1) = 0
      % time     seconds  usecs/call     calls    errors syscall
      ------ ----------- ----------- --------- --------- ----------------
      100.00    0.000010           5         2           read
      ------ ----------- ----------- --------- --------- ----------------
      100.00    0.000010           5         2           total
      """, native: .x86_64)
    #expect(log.syscallsByArch == [.x86_64: ["read": 2]])
  }

  @Test func signalExitAndStraceMessagesAreNotCalls() {
    let log = StraceLog.parse(
      """
      strace: Process 77 attached
      77 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=78, si_uid=0, si_status=0} ---
      77 --- stopped by SIGSTOP ---
      [pid    78] +++ killed by SIGKILL +++
      77 +++ superseded by execve in pid 79 +++
      +++ exited with 0 +++
      +++ killed by SIGSYS (core dumped) +++
       > /usr/lib/x86_64-linux-gnu/libc.so.6(__open64+0x5b) [0xf7d5b]
      77 restart_syscall(<... resuming interrupted read ...>) = 0
      """, native: .x86_64)
    #expect(log.diagnostics.isEmpty, "\(log.diagnostics)")
    #expect(log.syscallsByArch == [.x86_64: ["restart_syscall": 1]])
  }

  @Test func truncatedLinesStillCount() {
    // The log ends mid-line (the process was killed, the file cut); a detached call.
    let log = StraceLog.parse(
      """
      12 read(0,  <detached ...>
      12 exit_group(0)                           = ?
      12 openat(AT_FDCWD, "/etc/passw
      """, native: .x86_64)
    #expect(log.diagnostics.isEmpty)
    #expect(calls(log, 12) == ["read": 1, "exit_group": 1, "openat": 1])
  }

  @Test func malformedLinesAreReportedWithTheirLineAndSkipped() throws {
    let text = """
      getpid() = 1
      this is not strace output
      12 ???
      [pid abc] read(0, "", 1) = 0
      <... resumed>) = 0
      getppid() = 1
      """
    let log = StraceLog.parse(text, file: "x.trace", native: .x86_64)
    #expect(log.diagnostics.map(\.line) == [2, 3, 4, 5])
    #expect(log.diagnostics.allSatisfy { $0.severity == .warning && $0.file == "x.trace" })
    #expect(log.skippedLines == 4)
    #expect(log.syscallsByArch == [.x86_64: ["getpid": 1, "getppid": 1]])
    try log.validate()

    let strict = StraceLog.parse(text, file: "x.trace", native: .x86_64, strict: true)
    #expect(strict.diagnostics.allSatisfy { $0.severity == .error })
    #expect(throws: InputError.self) { try strict.validate() }
  }

  @Test func unreadableFileIsAnInputError() {
    #expect(throws: InputError.self) { _ = try StraceLog.load(paths: ["/nonexistent/strace.log"]) }
  }

  @Test func pidFilter() {
    let log = StraceLog.parse("1 getpid() = 1\n2 getppid() = 1\nread(0, \"\", 1) = 0\n", native: .x86_64)
    #expect(log.filtered(pids: [2]).syscallsByArch == [.x86_64: ["getppid": 1]])
  }

  @Test func otherNativeABIs() {
    let log = StraceLog.parse(
      """
      5 openat(AT_FDCWD, "/x", O_RDONLY) = 3
      5 [ Process PID=5 runs in 32 bit mode. ]
      5 ugetrlimit(RLIMIT_STACK, {rlim_cur=8192*1024, rlim_max=RLIM_INFINITY}) = 0
      """, native: .aarch64)
    #expect(calls(log, 5, .aarch64) == ["openat": 1])
    #expect(calls(log, 5, .arm) == ["ugetrlimit": 1])
  }
}

/// The allow-list profile built from what a log shows.
@Suite struct ProfileBuilderTests {
  @Test func guardRailsAndFallbacksOnlyWhereTheyExist() throws {
    let p = ProfileBuilder().build([.aarch64: ["openat": 3, "read": 1]] as [Arch: [String: Int]])
    #expect(p.defaultAction == .errno && p.defaultErrnoRet == 1)
    #expect(p.architectures == [.aarch64])
    let allow = try #require(p.syscalls?.first)
    #expect(allow.action == .allow)
    #expect(allow.names == ["clock_gettime", "exit", "exit_group", "getcpu", "gettimeofday", "openat", "read", "restart_syscall", "rt_sigreturn"])
    #expect(!allow.names.contains("time"))  // no time(2) on aarch64
    let enosys = try #require(p.syscalls?.last)
    #expect(enosys.names == ["clone3", "faccessat2", "fchmodat2", "openat2"] && enosys.errnoRet == 38)
  }

  @Test func archOrderAndDefaults() {
    let seen: [Arch: Set<String>] = [.x86: ["_llseek"], .x32: ["read"], .x86_64: ["openat2", "read"]]
    let p = ProfileBuilder().build(seen)
    #expect(p.architectures == [.x86_64, .x32, .x86])
    #expect(p.syscalls?.first?.names.contains("_llseek") == true)
    #expect(p.syscalls?.last?.names == ["clone3", "faccessat2", "fchmodat2"])  // openat2 was seen
    // A permissive default needs no ENOSYS entry; neither does a default that is ENOSYS already.
    #expect(ProfileBuilder(defaultAction: .log).build(seen).syscalls?.count == 1)
    #expect(ProfileBuilder(defaultAction: .errno, defaultErrnoRet: 38).build(seen).syscalls?.count == 1)
    #expect(ProfileBuilder(defaultAction: .killProcess).build(seen).defaultErrnoRet == nil)
  }
}
