import BPF
import Enforcement
import Foundation
import Processes
import Recording
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// The eBPF assembler against the kernel's encodings (linux/bpf.h, checked by hand
/// against what the verifier's log and `bpftool prog dump xlated opcodes` print), and
/// the in-kernel counter against the live kernel.
@Suite struct EBPFAssemblerTests {
  func hex(_ instructions: [EBPFInstruction]) -> String { instructions.map(\.description).joined(separator: " | ") }

  @Test func instructionsEncodeAsTheKernelDoes() {
    let cases: [(EBPFInstruction, String)] = [
      (.mov(.r6, .r1), "bf 16 00 00 00 00 00 00"),  // BPF_ALU64|BPF_MOV|BPF_X, dst 6, src 1
      (.mov(.r0, 0), "b7 00 00 00 00 00 00 00"),  // BPF_ALU64|BPF_MOV|BPF_K
      (.exit, "95 00 00 00 00 00 00 00"),  // BPF_JMP|BPF_EXIT
      (.call(.currentPidTgid), "85 00 00 00 0e 00 00 00"),  // BPF_JMP|BPF_CALL, imm 14
      (.call(.mapLookupElement), "85 00 00 00 01 00 00 00"),
      (.store(.word, .r10, -4, .r0), "63 0a fc ff 00 00 00 00"),  // BPF_STX|BPF_MEM|BPF_W
      (.store(.word, .r10, -12, 1), "62 0a f4 ff 01 00 00 00"),  // BPF_ST|BPF_MEM|BPF_W
      (.store(.doubleWord, .r0, 0, .r1), "7b 10 00 00 00 00 00 00"),  // BPF_STX|BPF_MEM|BPF_DW
      (.alu(.add, .r2, -4), "07 02 00 00 fc ff ff ff"),  // BPF_ALU64|BPF_ADD|BPF_K
      (.alu(.add, .r1, .r2), "0f 21 00 00 00 00 00 00"),  // BPF_ALU64|BPF_ADD|BPF_X
      (.alu(.rsh, .r0, 32), "77 00 00 00 20 00 00 00"),
      (.load(.doubleWord, .r1, .r6, 8), "79 61 08 00 00 00 00 00"),  // BPF_LDX|BPF_MEM|BPF_DW
      (.load(.word, .r1, .r6, 12), "61 61 0c 00 00 00 00 00"),  // BPF_LDX|BPF_MEM|BPF_W
      (.load(.half, .r1, .r6, 2), "69 61 02 00 00 00 00 00"),
      (.load(.byte, .r1, .r6, 3), "71 61 03 00 00 00 00 00"),
      (.jump(.equal, .r0, 0, 5), "15 00 05 00 00 00 00 00"),  // BPF_JMP|BPF_JEQ|BPF_K
      (.jump(.greater, .r1, 1023, 3), "25 01 03 00 ff 03 00 00"),  // BPF_JMP|BPF_JGT|BPF_K
      (.jump(.equal, .r7, .r8, 1), "1d 87 01 00 00 00 00 00"),  // BPF_JMP|BPF_JEQ|BPF_X
      (.jump(.notEqual, .r1, 1, 2), "55 01 02 00 01 00 00 00"),
      (.jump(-1), "05 00 ff ff 00 00 00 00"),  // BPF_JMP|BPF_JA
      (.atomicAdd(.doubleWord, .r0, 0, .r1), "db 10 00 00 00 00 00 00"),  // BPF_STX|BPF_ATOMIC|BPF_DW, imm BPF_ADD
      (.atomicAdd(.word, .r0, 4, .r1), "c3 10 04 00 00 00 00 00"),
    ]
    for (instruction, expected) in cases {
      #expect(instruction.description == expected)
    }
  }

  @Test func wideImmediatesTakeTwoSlots() {
    // BPF_LD|BPF_IMM|BPF_DW with src BPF_PSEUDO_MAP_FD (1): the map's fd in the first imm.
    #expect(hex(EBPFInstruction.loadMap(.r1, fd: 7)) == "18 11 00 00 07 00 00 00 | 00 00 00 00 00 00 00 00")
    #expect(
      hex(EBPFInstruction.loadImmediate(.r1, 0x1122_3344_5566_7788))
        == "18 01 00 00 88 77 66 55 | 00 00 00 00 44 33 22 11")
    #expect(EBPFInstruction.encode(EBPFInstruction.loadMap(.r2, fd: 3)).count == 16)
  }

  @Test func labelsResolveToInstructionOffsets() throws {
    var a = EBPFAssembler()
    let out = a.label()
    let top = a.label()
    a.bind(top)
    a.emit(.mov(.r0, 0))  // 0
    a.jump(if: .r0, .equal, 0, to: out)  // 1: out is 5, offset 3
    a.emit(EBPFInstruction.loadMap(.r1, fd: 4))  // 2, 3
    a.jump(to: top)  // 4: back to 0, offset -5
    a.bind(out)
    a.emit(.exit)  // 5
    let program = try a.assemble()
    #expect(program.count == 6)
    #expect(program[1].offset == 3)
    #expect(program[4].offset == -5)

    var unbound = EBPFAssembler()
    unbound.jump(to: unbound.label())
    #expect(throws: EBPFAssembler.Error.unboundLabel) { try unbound.assemble() }

    var twice = EBPFAssembler()
    let label = twice.label()
    twice.bind(label)
    twice.emit(.exit)
    twice.bind(label)
    #expect(throws: EBPFAssembler.Error.labelBoundTwice) { try twice.assemble() }
  }

  @Test func registersAndSizes() {
    #expect(EBPFRegister(rawValue: 10) == .framePointer)
    #expect(EBPFRegister(rawValue: 11) == nil)
    #expect(EBPFSize(bytes: 4) == .word)
    #expect(EBPFSize(bytes: 16) == nil)
  }

  static let sysEnterFormat = """
    name: sys_enter
    ID: 443
    format:
    \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
    \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
    \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
    \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

    \tfield:long id;\toffset:8;\tsize:8;\tsigned:1;
    \tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;

    print fmt: "NR %ld (%lx, %lx, %lx, %lx, %lx, %lx)", REC->id, REC->args[0]
    """

  static let forkFormat = """
    name: sched_process_fork
    ID: 366
    format:
    \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
    \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

    \tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;
    \tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;
    \tfield:__data_loc char[] child_comm;\toffset:16;\tsize:4;\tsigned:0;
    \tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;

    print fmt: "comm=%s pid=%d child_comm=%s child_pid=%d", __get_str(parent_comm)
    """

  @Test func tracepointFormatsGiveOffsets() throws {
    let enter = try #require(TracepointFormat(parsing: Self.sysEnterFormat))
    #expect(enter.id == 443)
    #expect(enter.fields["id"] == TracepointFormat.Field(offset: 8, size: 8, isSigned: true))
    #expect(enter.fields["args"] == TracepointFormat.Field(offset: 16, size: 48, isSigned: false))
    let fork = try #require(TracepointFormat(parsing: Self.forkFormat))
    #expect(fork.id == 366)
    #expect(fork.fields["parent_pid"]?.offset == 12)
    #expect(fork.fields["child_pid"]?.offset == 20)
    #expect(fork.fields["parent_comm"]?.size == 4)
    #expect(TracepointFormat(parsing: "format:\n") == nil)
  }

  /// A BTF blob (linux/btf.h): an INT and `struct task_struct { int state; int pid; }`
  /// with `pid` at bit offset `pidBits`, the kind flag set when `bitfield`.
  static func btf(pidBits: UInt32, bitfieldSize: UInt32? = nil) -> [UInt8] {
    var strings: [UInt8] = [0]
    func string(_ s: String) -> UInt32 {
      defer { strings += Array(s.utf8) + [0] }
      return UInt32(strings.count)
    }
    let intName = string("int")
    let taskName = string("task_struct")
    let stateName = string("state")
    let pidName = string("pid")
    var types: [UInt32] = []
    types += [intName, 1 << 24, 4, 0x0100_0020]  // INT: 32 bits, signed
    let kindFlag: UInt32 = bitfieldSize == nil ? 0 : 1 << 31
    types += [taskName, kindFlag | 4 << 24 | 2, 8]  // STRUCT, 2 members, 8 bytes
    types += [stateName, 1, 0]
    types += [pidName, 1, (bitfieldSize ?? 0) << 24 | pidBits]
    let typeBytes = types.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
    var header: [UInt8] = [0x9f, 0xeb, 1, 0]
    for field: UInt32 in [24, 0, UInt32(typeBytes.count), UInt32(typeBytes.count), UInt32(strings.count)] {
      header += withUnsafeBytes(of: field.littleEndian, Array.init)
    }
    return header + typeBytes + strings
  }

  @Test func btfGivesAStructMembersOffset() {
    #expect(KernelBTF.offset(of: "pid", in: "task_struct", btf: Self.btf(pidBits: 32)) == 4)
    #expect(KernelBTF.offset(of: "state", in: "task_struct", btf: Self.btf(pidBits: 32)) == 0)
    #expect(KernelBTF.offset(of: "tgid", in: "task_struct", btf: Self.btf(pidBits: 32)) == nil)
    #expect(KernelBTF.offset(of: "pid", in: "mm_struct", btf: Self.btf(pidBits: 32)) == nil)
    #expect(KernelBTF.offset(of: "pid", in: "task_struct", btf: Self.btf(pidBits: 36, bitfieldSize: 4)) == nil)
    #expect(KernelBTF.offset(of: "pid", in: "task_struct", btf: Self.btf(pidBits: 64, bitfieldSize: 0)) == 8)
    #expect(KernelBTF.offset(of: "pid", in: "task_struct", btf: [1, 2, 3]) == nil)
  }

  @Test func theFilterSendsOnlyNonNativeCallsToTheTracer() {
    func action(_ nr: UInt32, _ arch: Arch) -> SeccompAction {
      Interpreter.run(EBPFRecorder.nonNativeFilter, on: SeccompData(nr: nr, arch: arch.auditArch)).action
    }
    #expect(action(0, .x86_64) == .allow)
    #expect(action(59, .x86_64) == .allow)
    #expect(action(1023, .x86_64) == .allow)
    #expect(action(UInt32(SyscallNumber.x32Bit) | 1, .x86_64) == .trace(0))
    #expect(action(UInt32.max, .x86_64) == .trace(0))
    #expect(action(20, .x86) == .trace(0))
    #expect(action(0, .x86) == .trace(0))
  }
}

/// The counter's programs loaded into the live kernel, counting a thread of this process
/// (no forking recorder here: recording waits for any child, see RecordCommandTests).
@Suite struct EBPFCounterTests {
  /// This thread's tid, from /proc/thread-self (a link to PID/task/TID).
  static func currentThread() -> Int32? {
    guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self") else {
      return nil
    }
    return target.split(separator: "/").last.flatMap { Int32($0) }
  }

  static let getppid = Int(Arch.x86_64.number(of: "getppid")!.rawValue)

  @Test(
    .enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)),
    arguments: EBPFSyscallCounter.Attachment.allCases)
  func countsTheCallsOfATracedThread(attachment: EBPFSyscallCounter.Attachment) throws {
    try #require(Peer.root.isAvailable, "needs root")
    let counter = try EBPFSyscallCounter(attachment: attachment)
    defer { counter.close() }
    let tid = try #require(Self.currentThread())
    try counter.trace(tid)
    #expect(counter.isTraced(tid))
    for _ in 0..<1000 { _ = Glibc.getppid() }
    counter.skipNextCall(of: tid)  // this bpf(2) call itself is counted
    _ = Glibc.getppid()  // skipped
    _ = Glibc.getppid()
    counter.untrace(tid)  // counted: the tracepoint fires before the delete
    for _ in 0..<10 { _ = Glibc.getppid() }  // not traced any more
    #expect(!counter.isTraced(tid))
    let counts = try counter.counts()
    #expect(counts.count == EBPFSyscallCounter.numbers)
    #expect(counts[Self.getppid] == 1001)
    let bpf = Int(Arch.x86_64.number(of: "bpf")!.rawValue)
    #expect(counts[bpf] == 3, "trace's update is not counted; skipNextCall, isTraced and untrace are")
  }

  @Test(
    .enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)),
    arguments: EBPFSyscallCounter.Attachment.allCases)
  func followsAChildAndForgetsItWhenItExits(attachment: EBPFSyscallCounter.Attachment) throws {
    try #require(Peer.root.isAvailable, "needs root")
    let counter = try EBPFSyscallCounter(attachment: attachment)
    if attachment == .tracepoint { #expect(counter.forkAttachment == .tracepoint) }
    defer { counter.close() }
    let tid = try #require(Self.currentThread())
    try counter.trace(tid)
    var pid: pid_t = 0
    let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
    defer { free(argv[0]) }
    let rc = posix_spawn(&pid, "/bin/true", nil, nil, argv, environ)
    counter.untrace(tid)
    try #require(rc == 0)
    var status: Int32 = 0
    #expect(waitpid(pid, &status, 0) == pid)
    #expect(!counter.isTraced(pid), "sched_process_exit removed the child")
    let counts = try counter.counts()
    #expect(counts[Int(Arch.x86_64.number(of: "execve")!.rawValue)] >= 1, "the child was traced")
    #expect(counts[Int(Arch.x86_64.number(of: "exit_group")!.rawValue)] >= 1)
  }

  @Test(.enabled(if: Peer.root.shouldRun, Comment(rawValue: Peer.root.skipReason)))
  func theKernelsBTFHasTheTaskPid() throws {
    try #require(Peer.root.isAvailable, "needs root")
    guard FileManager.default.fileExists(atPath: KernelBTF.path) else { return }  // no CONFIG_DEBUG_INFO_BTF
    let offset = try #require(KernelBTF.offset(of: "pid", in: "task_struct"))
    #expect(offset > 0 && offset < 16384)
    #expect(KernelBTF.offset(of: "tgid", in: "task_struct") == offset + 4)
  }

  @Test func failuresSayWhatIsMissing() {
    let privileges = EBPFRecorder.Failure(.privileges, "not root")
    #expect(privileges.description.contains("needs root"))
    #expect(privileges.launchFailure == nil)
    let verifier = EBPFRecorder.Failure(.verifier(log: "0: R1 type=ctx\ninvalid access\n", errno: .permissionDenied), "refused")
    #expect(verifier.description.contains("invalid access"))
    let launch = EBPFRecorder.Failure(.launch(Recorder.Failure(step: .exec, errno: ENOENT)), "x")
    #expect(launch.launchFailure?.exitStatus == 127)
  }
}

/// `syscage record --backend ebpf` against the ptrace backend, in the syscage executable.
@Suite struct EBPFRecordCommandTests {
  let helper = RecordCommandTests()

  /// Whether this syscage has the eBPF backend (the flag is wired in RecordCommand.swift).
  static let hasBackend: Bool = run(syscageExecutable, ["record", "--help"]).stdout.contains("ebpf")
  static let skipReason = Comment(
    rawValue: hasBackend ? Peer.root.skipReason : "this syscage has no `record --backend ebpf` yet")

  /// Records `command` with both backends: (eBPF, ptrace with one stop).
  func both(_ command: [String], in dir: URL) throws -> (ebpf: RecordCommandTests.Recorded, ptrace: RecordCommandTests.Recorded) {
    let ebpf = try helper.record(command, in: dir, extra: ["--backend", "ebpf"])
    let ptrace = try helper.record(command, in: dir, extra: ["--stops", "one"])
    #expect(ebpf.result.status == ptrace.result.status, "\(ebpf.result.stderr)")
    #expect(ebpf.result.stdout == ptrace.result.stdout)
    return (ebpf, ptrace)
  }

  /// Calls whose counts (or presence) depend on timing: lock contention, signal
  /// delivery, a thread still running when another execs.
  static let timingDependent: Set<String> = ["futex", "rt_sigreturn", "restart_syscall", "pause", "rt_sigprocmask", "wait4", "sched_yield"]

  @Test(.enabled(if: Peer.root.shouldRun && hasBackend, skipReason))
  func aDeterministicProgramGetsTheSameCounts() throws {
    try #require(Peer.root.isAvailable, "needs root")
    let dir = try helper.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (ebpf, ptrace) = try both(["/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=1000"], in: dir)
    let native = ebpf.calls["x86_64"] ?? [:]
    #expect(native["read"] ?? 0 >= 1000)
    #expect(native["read"] == ptrace.calls["x86_64"]?["read"])
    #expect(native["write"] == ptrace.calls["x86_64"]?["write"])
    #expect(native["execve"] == 1)
    #expect(native["exit_group"] == 1)
    #expect(ebpf.calls == ptrace.calls)
    #expect(try String(contentsOfFile: ebpf.profile, encoding: .utf8) == String(contentsOfFile: ptrace.profile, encoding: .utf8))
  }

  @Test(.enabled(if: Peer.root.shouldRun && hasBackend, skipReason))
  func forksAndThreadsAreFollowed() throws {
    try #require(Peer.root.isAvailable, "needs root")
    let dir = try helper.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    var commands = [["/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8; do /bin/true & done; wait; ls / | wc -l"]]
    if let exe = try helper.compile(RecordCommandTests.threaded, in: dir, flags: ["-pthread"]) { commands.append([exe]) }
    for command in commands {
      let (ebpf, ptrace) = try both(command, in: dir)
      let seen = ebpf.calls["x86_64"] ?? [:]
      let expected = ptrace.calls["x86_64"] ?? [:]
      let missing = Set(expected.keys).subtracting(seen.keys).subtracting(Self.timingDependent)
      #expect(missing.isEmpty, "\(command): eBPF lacks \(missing.sorted())")
      for name in ["execve", "exit_group", "clone", "clone3", "exit", "write"] {
        #expect(seen[name] == expected[name], "\(command): \(name)")
      }
    }
  }

  @Test(.enabled(if: Peer.root.shouldRun && hasBackend, skipReason))
  func ia32CallsAreCountedUnderX86() throws {
    try #require(Peer.root.isAvailable, "needs root")
    let dir = try helper.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    // getpid (20) five times and getppid (64) once through int 0x80; as x86_64 numbers
    // those would be writev and semget.
    let source = """
      int main(void) {
        long r;
        for (int i = 0; i < 5; i++) __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L));
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(64L));
        return r > 0 ? 0 : 1;
      }
      """
    guard let exe = try helper.compile(source, in: dir) else { return }
    let (ebpf, ptrace) = try both([exe], in: dir)
    #expect(ebpf.result.status == 0)
    #expect(ebpf.calls["x86"] == ["getpid": 5, "getppid": 1])
    #expect(ebpf.calls["x86_64"]?["writev"] == nil)
    #expect(ebpf.calls["x86_64"]?["semget"] == nil)
    #expect(ebpf.calls == ptrace.calls)
  }

  @Test(.enabled(if: Peer.root.shouldRun && hasBackend, skipReason))
  func withoutRootItSaysSo() throws {
    try #require(Peer.root.isAvailable, "needs root")
    let dir = try helper.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = run(
      "/usr/bin/setpriv",
      ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", syscageExecutable,
       "record", "-o", "/dev/null", "--backend", "ebpf", "--", "/bin/true"])
    #expect(r.status == 125, "\(r.stderr)")
    #expect(r.stderr.contains("root"))
  }
}
