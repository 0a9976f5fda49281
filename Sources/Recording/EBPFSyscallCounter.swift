import CLinux
import Processes
import Foundation
import Seccomp
import Syscalls

/// Counts the syscalls of chosen threads in the kernel: eBPF programs on the tracepoints
/// `raw_syscalls:sys_enter` (count, per syscall number, the calls of threads in the
/// traced map), `sched:sched_process_fork` (a thread or process started by a traced
/// thread is traced), `sched:sched_process_exec` (a thread that execs keeps being traced
/// under its new tid) and `sched:sched_process_exit` (a thread that ends leaves the map:
/// tids are reused). The programs are assembled here (`EBPFAssembler`).
///
/// Attachment (`Attachment`): by default sys_enter, exec and exit are raw tracepoints
/// (BPF_RAW_TRACEPOINT_OPEN: no trace record is built, and detaching does not wait), and
/// so is fork when the kernel has BTF, which gives the offset of `pid` in `task_struct`
/// (the raw fork tracepoint passes task pointers). Otherwise fork, and with `.tracepoint`
/// sys_enter too, are tracepoint programs on perf events, reading the fields at the
/// offsets of the tracefs `format` files; closing each such perf event waits for an RCU
/// grace period (about 70 ms here).
///
/// Counting starts for a thread when it is put in the map (`trace`) and covers numbers
/// 0..<1024: x32 calls (bit 30 set) and the -1 of a syscall-less entry are not counted.
/// The tracepoint carries no ABI, so an ia32 call is counted under its ia32 number;
/// `skipNextCall` leaves out a thread's next call (the recorder calls it for every call
/// ptrace counted, see `EBPFRecorder`). Everything is closed by `close()` or when the
/// counter goes away; the sys_enter program costs every thread of the system about
/// 150 ns per syscall here (a trivial program costs 95) while it is attached.
public final class EBPFSyscallCounter {
  /// How the sys_enter program is attached.
  public enum Attachment: String, Sendable, CaseIterable {
    /// BPF_PROG_TYPE_TRACEPOINT on the `raw_syscalls:sys_enter` perf event: the context
    /// is the trace record (the syscall number at the format's `id` offset).
    case tracepoint
    /// BPF_PROG_TYPE_RAW_TRACEPOINT through BPF_RAW_TRACEPOINT_OPEN("sys_enter"): the
    /// context is the tracepoint's arguments (`struct pt_regs *regs, long id`), so the
    /// number is at offset 8; no trace record is built, which makes it faster.
    case rawTracepoint
  }

  /// The syscall numbers counted: 0..<numbers.
  public static let numbers = 1024
  /// Threads the traced map can hold at once.
  public static let maximumThreads: UInt32 = 1 << 16

  /// Values in the traced map.
  enum Mark: UInt32 {
    /// Count this thread's calls.
    case counting = 1
    /// Skip this thread's next call, then count again.
    case skipNext = 2
  }

  private let descriptors: Descriptors
  private let tracedMap: Int32
  private let countsMap: Int32
  /// How the sys_enter program is attached.
  public let attachment: Attachment
  /// How the fork program is attached: a raw tracepoint when `attachment` is
  /// `.rawTracepoint` and the kernel has BTF, a tracepoint otherwise.
  public let forkAttachment: Attachment

  /// Creates the maps, loads the four programs and attaches them. Needs root (or
  /// CAP_BPF, CAP_PERFMON and read access to tracefs).
  public init(attachment: Attachment = .rawTracepoint) throws(EBPFRecorder.Failure) {
    #if os(Linux)
      try EBPFRecorder.checkPrivileges()
      // Raw tracepoints need no tracefs, but the fork one's arguments are task_struct
      // pointers: the child's tid is read at the offset BTF gives. Without BTF, and for
      // `.tracepoint`, the fork program is a tracepoint program reading the format's fields.
      let btfPid = attachment == .rawTracepoint ? KernelBTF.offset(of: "pid", in: "task_struct") : nil
      let events = try Tracefs.formats(
        (attachment == .tracepoint ? ["raw_syscalls/sys_enter"] : []) + (btfPid == nil ? ["sched/sched_process_fork"] : []))
      let descriptors = Descriptors()
      let traced = try descriptors.add(
        clinux_bpf_map_create(1 /* BPF_MAP_TYPE_HASH */, 4, 4, Self.maximumThreads, "syscage_traced"),
        "create the traced-threads map (BPF_MAP_CREATE)")
      let counts = try descriptors.add(
        clinux_bpf_map_create(6 /* BPF_MAP_TYPE_PERCPU_ARRAY */, 4, 8, UInt32(Self.numbers), "syscage_counts"),
        "create the counters map (BPF_MAP_CREATE)")

      switch attachment {
      case .tracepoint:
        let enter = events["raw_syscalls/sys_enter"]!
        let id = try Self.field("id", of: "raw_syscalls/sys_enter", in: enter)
        let program = try Self.load(
          Self.assemble("syscage_enter") { () throws(EBPFAssembler.Error) in
            try EBPFPrograms.sysEnter(traced: traced, counts: counts, id: id)
          }, type: 5, name: "syscage_enter", descriptors: descriptors)
        try Self.attach(program, event: enter, name: "raw_syscalls/sys_enter", descriptors: descriptors)
      case .rawTracepoint:
        let id = TracepointFormat.Field(offset: 8, size: 8, isSigned: true)  // args[1] of sys_enter(regs, id)
        let program = try Self.load(
          Self.assemble("syscage_enter") { () throws(EBPFAssembler.Error) in
            try EBPFPrograms.sysEnter(traced: traced, counts: counts, id: id)
          }, type: 17, name: "syscage_enter", descriptors: descriptors)
        try descriptors.add(
          clinux_bpf_raw_tracepoint_open("sys_enter", program), "attach to the raw tracepoint sys_enter",
          attachment: true)
      }

      if let btfPid {
        let program = try Self.load(
          Self.assemble("syscage_fork") { () throws(EBPFAssembler.Error) in
            try EBPFPrograms.rawFork(traced: traced, pidOffset: btfPid)
          }, type: 17, name: "syscage_fork", descriptors: descriptors)
        try descriptors.add(
          clinux_bpf_raw_tracepoint_open("sched_process_fork", program),
          "attach to the raw tracepoint sched_process_fork", attachment: true)
        forkAttachment = .rawTracepoint
      } else {
        let fork = events["sched/sched_process_fork"]!
        let parent = try Self.field("parent_pid", of: "sched/sched_process_fork", in: fork)
        let child = try Self.field("child_pid", of: "sched/sched_process_fork", in: fork)
        let program = try Self.load(
          Self.assemble("syscage_fork") { () throws(EBPFAssembler.Error) in
            try EBPFPrograms.fork(traced: traced, parent: parent, child: child)
          }, type: 5, name: "syscage_fork", descriptors: descriptors)
        try Self.attach(program, event: fork, name: "sched/sched_process_fork", descriptors: descriptors)
        forkAttachment = .tracepoint
      }
      // exec and exit as raw tracepoints: they run in the thread that execs or exits,
      // so the current tid is what they need (and exec's old_pid, its second argument).
      let execProgram = try Self.load(
        Self.assemble("syscage_exec") { () throws(EBPFAssembler.Error) in try EBPFPrograms.exec(traced: traced) },
        type: 17, name: "syscage_exec", descriptors: descriptors)
      try descriptors.add(
        clinux_bpf_raw_tracepoint_open("sched_process_exec", execProgram),
        "attach to the raw tracepoint sched_process_exec", attachment: true)
      let exitProgram = try Self.load(
        Self.assemble("syscage_exit") { () throws(EBPFAssembler.Error) in try EBPFPrograms.exit(traced: traced) },
        type: 17, name: "syscage_exit", descriptors: descriptors)
      try descriptors.add(
        clinux_bpf_raw_tracepoint_open("sched_process_exit", exitProgram),
        "attach to the raw tracepoint sched_process_exit", attachment: true)
      self.descriptors = descriptors
      self.attachment = attachment
      tracedMap = traced
      countsMap = counts
    #else
      throw EBPFRecorder.Failure(.noBPF, "eBPF recording needs Linux")
    #endif
  }

  deinit { descriptors.close() }

  /// Detaches the programs and frees the maps (also done when the counter goes away).
  public func close() { descriptors.close() }

  /// Counts the calls of thread `tid` (a tid as the initial pid namespace sees it) from
  /// now on, and of every thread and process it starts.
  public func trace(_ tid: Int32) throws(EBPFRecorder.Failure) {
    var key = UInt32(bitPattern: tid)
    var value = Mark.counting.rawValue
    if clinux_bpf_map_update(tracedMap, &key, &value, 0) != 0 {
      throw EBPFRecorder.Failure(.kernel(errno: Errno(rawValue: errno)), "cannot add thread \(tid) to the traced map")
    }
  }

  /// Leaves thread `tid`'s next call out of the counts (when it is traced).
  public func skipNextCall(of tid: Int32) {
    var key = UInt32(bitPattern: tid)
    var value = Mark.skipNext.rawValue
    _ = clinux_bpf_map_update(tracedMap, &key, &value, 2 /* BPF_EXIST */)
  }

  /// Stops counting thread `tid`'s calls.
  public func untrace(_ tid: Int32) {
    var key = UInt32(bitPattern: tid)
    _ = clinux_bpf_map_delete(tracedMap, &key)
  }

  /// Whether thread `tid` is in the traced map.
  public func isTraced(_ tid: Int32) -> Bool {
    var key = UInt32(bitPattern: tid)
    var value: UInt32 = 0
    return clinux_bpf_map_lookup(tracedMap, &key, &value) == 0
  }

  /// The calls counted so far, by syscall number (`numbers` entries), summed over the CPUs.
  public func counts() throws(EBPFRecorder.Failure) -> [UInt64] {
    let cpus = Self.possibleCPUs
    var perCPU = [UInt64](repeating: 0, count: cpus)
    var result = [UInt64](repeating: 0, count: Self.numbers)
    for nr in 0..<Self.numbers {
      var key = UInt32(nr)
      let rc = perCPU.withUnsafeMutableBytes { clinux_bpf_map_lookup(countsMap, &key, $0.baseAddress) }
      if rc != 0 { throw EBPFRecorder.Failure(.kernel(errno: Errno(rawValue: errno)), "cannot read the counters (BPF_MAP_LOOKUP_ELEM)") }
      result[nr] = perCPU.reduce(0, &+)
    }
    return result
  }

  /// The number of possible CPUs (/sys/devices/system/cpu/possible, e.g. `0-3,6`): a
  /// per-CPU map's value holds one slot for each.
  static let possibleCPUs: Int = {
    guard let text = try? String(contentsOfFile: "/sys/devices/system/cpu/possible", encoding: .utf8) else {
      return max(1, sysconf(Int32(_SC_NPROCESSORS_CONF)))
    }
    var count = 0
    for range in text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
      let ends = range.split(separator: "-").compactMap { Int($0) }
      if ends.count == 2 { count += ends[1] - ends[0] + 1 } else if ends.count == 1 { count += 1 }
    }
    return max(count, 1)
  }()

  private static func field(_ name: String, of event: String, in format: TracepointFormat) throws(EBPFRecorder.Failure)
    -> TracepointFormat.Field
  {
    guard let field = format.fields[name], EBPFSize(bytes: field.size) != nil else {
      throw EBPFRecorder.Failure(.tracefs, "the tracepoint \(event) has no field \(name) of 1, 2, 4 or 8 bytes")
    }
    return field
  }

  private static func assemble(
    _ name: String, _ build: () throws(EBPFAssembler.Error) -> [EBPFInstruction]
  ) throws(EBPFRecorder.Failure) -> [EBPFInstruction] {
    do throws(EBPFAssembler.Error) {
      return try build()
    } catch {
      throw EBPFRecorder.Failure(.assembly(error), "cannot assemble the program \(name)")
    }
  }

  private static func load(
    _ program: [EBPFInstruction], type: UInt32, name: String, descriptors: Descriptors
  ) throws(EBPFRecorder.Failure) -> Int32 {
    let bytes = EBPFInstruction.encode(program)
    let count = UInt32(program.count)
    let fd = bytes.withUnsafeBytes { clinux_bpf_prog_load(type, $0.baseAddress, count, "GPL", 0, nil, 0, name) }
    if fd >= 0 { return descriptors.keep(fd) }
    let error = errno
    if error == EPERM || error == EACCES && geteuid() != 0 {
      throw EBPFRecorder.Failure(.privileges, "the kernel refused to load the program \(name)")
    }
    // Load again with the verifier's log: it is the only useful message.
    let logSize = 1 << 20
    var log = [CChar](repeating: 0, count: logSize)
    let again = bytes.withUnsafeBytes { insns in
      log.withUnsafeMutableBufferPointer {
        clinux_bpf_prog_load(type, insns.baseAddress, count, "GPL", 1, $0.baseAddress, UInt32(logSize), name)
      }
    }
    if again >= 0 { return descriptors.keep(again) }
    let text = log.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    if error == ENOSYS { throw EBPFRecorder.Failure(.noBPF, "bpf(2) is not available") }
    throw EBPFRecorder.Failure(
      .verifier(log: text, errno: Errno(rawValue: error)),
      "the kernel refused the program \(name) (\(program.count) instructions): \(String(cString: strerror(error)))")
  }

  private static func attach(_ program: Int32, event: TracepointFormat, name: String, descriptors: Descriptors)
    throws(EBPFRecorder.Failure)
  {
    // One perf event is enough: the program hangs off the tracepoint and runs on every
    // CPU. Open it on the first CPU that takes it (a CPU may be offline).
    var fd: Int32 = -1
    var error: Int32 = 0
    for cpu in 0..<possibleCPUs {
      fd = clinux_perf_tracepoint_open(event.id, Int32(cpu))
      if fd >= 0 { break }
      error = errno
      if error != ENODEV && error != EINVAL { break }
    }
    if fd < 0 {
      errno = error
      try descriptors.add(fd, "open the perf event of \(name) (perf_event_open)")
    }
    descriptors.keep(fd, attachment: true)
    try descriptors.check(
      clinux_perf_event_attach_bpf(fd, program) == 0, "attach the program to \(name) (PERF_EVENT_IOC_SET_BPF)")
  }
}

/// File descriptors closed together, once: the attachments (perf events, links) first,
/// each on its own thread, because detaching a program from a tracepoint waits for an
/// RCU grace period (about 50 ms here) and the waits then overlap; then maps and programs.
final class Descriptors: @unchecked Sendable {
  private var fds: [Int32] = []
  private var attachments: [Int32] = []
  private let lock = NSLock()

  /// Keeps `fd` (an attachment when `attachment`); returns it.
  @discardableResult func keep(_ fd: Int32, attachment: Bool = false) -> Int32 {
    lock.withLock {
      if attachment { attachments.append(fd) } else { fds.append(fd) }
    }
    return fd
  }

  /// Keeps the descriptor a call returned (0 included: stdin may have been closed), or
  /// throws the failure of `step` when it returned -1 with errno.
  @discardableResult func add(_ result: Int32, _ step: String, attachment: Bool = false)
    throws(EBPFRecorder.Failure) -> Int32
  {
    try check(result >= 0, step)
    keep(result, attachment: attachment)
    return result
  }

  /// Throws the failure of `step` (with errno) unless it `succeeded`.
  func check(_ succeeded: Bool, _ step: String) throws(EBPFRecorder.Failure) {
    guard succeeded else {
      let error = errno
      throw EBPFRecorder.Failure(
        EBPFRecorder.Failure.reason(for: Errno(rawValue: error)), "cannot \(step): \(String(cString: strerror(error)))")
    }
  }

  func close() {
    let (links, others) = lock.withLock {
      defer {
        fds = []
        attachments = []
      }
      return (attachments, fds)
    }
    if links.count > 1 {
      let group = DispatchGroup()
      for fd in links {
        group.enter()
        Thread.detachNewThread {
          _ = Glibc.close(fd)
          group.leave()
        }
      }
      group.wait()
    } else {
      for fd in links { _ = Glibc.close(fd) }
    }
    for fd in others.reversed() { _ = Glibc.close(fd) }
  }

  deinit { close() }
}

/// The recorder's four programs.
enum EBPFPrograms {
  /// sys_enter: if the current thread is traced, count its call by number, unless its
  /// mark says to skip this one call (then clear the mark).
  static func sysEnter(traced: Int32, counts: Int32, id: TracepointFormat.Field) throws(EBPFAssembler.Error)
    -> [EBPFInstruction]
  {
    var a = EBPFAssembler()
    let out = a.label()
    let count = a.label()
    a.emit(.mov(.r6, .r1))
    a.emit(.call(.currentPidTgid))
    a.emit(.store(.word, .r10, -4, .r0))  // the tid: the low 32 bits
    a.lookUp(at: -4, in: traced)
    a.jump(if: .r0, .equal, 0, to: out)
    a.emit(.load(.word, .r1, .r0, 0))
    a.jump(if: .r1, .equal, Int32(EBPFSyscallCounter.Mark.counting.rawValue), to: count)
    a.emit(.store(.word, .r0, 0, Int32(EBPFSyscallCounter.Mark.counting.rawValue)))
    a.jump(to: out)
    a.bind(count)
    a.emit(.load(EBPFSize(bytes: id.size) ?? .doubleWord, .r1, .r6, Int16(id.offset)))
    // Unsigned: -1 (no syscall) and x32's bit 30 are out of range.
    a.jump(if: .r1, .greater, Int32(EBPFSyscallCounter.numbers - 1), to: out)
    a.emit(.store(.word, .r10, -8, .r1))
    a.emit(EBPFInstruction.loadMap(.r1, fd: counts))
    a.emit(.mov(.r2, .r10), .alu(.add, .r2, -8))
    a.emit(.call(.mapLookupElement))
    a.jump(if: .r0, .equal, 0, to: out)
    // A per-CPU counter: no other CPU writes it, so no atomic add is needed.
    a.emit(.load(.doubleWord, .r1, .r0, 0), .alu(.add, .r1, 1), .store(.doubleWord, .r0, 0, .r1))
    a.bind(out)
    a.emit(.mov(.r0, 0), .exit)
    return try a.assemble()
  }

  /// sched_process_fork, raw (`(struct task_struct *parent, struct task_struct *child)`,
  /// in the parent): a child (process or thread) of a traced thread is traced; its tid
  /// is read from `child->pid` at `pidOffset` (from BTF).
  static func rawFork(traced: Int32, pidOffset: Int) throws(EBPFAssembler.Error) -> [EBPFInstruction] {
    var a = EBPFAssembler()
    let out = a.label()
    a.emit(.load(.doubleWord, .r6, .r1, 8))  // child
    a.emit(.call(.currentPidTgid))
    a.emit(.store(.word, .r10, -4, .r0))
    a.lookUp(at: -4, in: traced)
    a.jump(if: .r0, .equal, 0, to: out)
    a.emit(.mov(.r1, .r10), .alu(.add, .r1, -8))
    a.emit(.mov(.r2, 4))
    a.emit(.mov(.r3, .r6), .alu(.add, .r3, Int32(pidOffset)))
    a.emit(.call(.probeReadKernel))
    a.jump(if: .r0, .notEqual, 0, to: out)
    a.traceThread(at: -8, in: traced)
    a.bind(out)
    a.emit(.mov(.r0, 0), .exit)
    return try a.assemble()
  }

  /// sched_process_fork: a child (process or thread) of a traced thread is traced.
  static func fork(traced: Int32, parent: TracepointFormat.Field, child: TracepointFormat.Field)
    throws(EBPFAssembler.Error) -> [EBPFInstruction]
  {
    var a = EBPFAssembler()
    let out = a.label()
    a.emit(.mov(.r6, .r1))
    a.emit(.load(EBPFSize(bytes: parent.size) ?? .word, .r1, .r6, Int16(parent.offset)))
    a.emit(.store(.word, .r10, -4, .r1))
    a.lookUp(at: -4, in: traced)
    a.jump(if: .r0, .equal, 0, to: out)
    a.emit(.load(EBPFSize(bytes: child.size) ?? .word, .r1, .r6, Int16(child.offset)))
    a.emit(.store(.word, .r10, -8, .r1))
    a.traceThread(at: -8, in: traced)
    a.bind(out)
    a.emit(.mov(.r0, 0), .exit)
    return try a.assemble()
  }

  /// sched_process_exec, raw (`(struct task_struct *p, pid_t old_pid, struct linux_binprm *)`,
  /// in the thread that execs): a traced thread other than the leader that execs takes
  /// the leader's tid (the leader's exit has removed that tid already); trace it under
  /// the new tid and forget the old one.
  static func exec(traced: Int32) throws(EBPFAssembler.Error) -> [EBPFInstruction] {
    var a = EBPFAssembler()
    let out = a.label()
    a.emit(.load(.doubleWord, .r8, .r1, 8))  // old_pid
    a.emit(.alu(.lsh, .r8, 32), .alu(.rsh, .r8, 32))
    a.emit(.call(.currentPidTgid))
    a.emit(.mov(.r7, .r0), .alu(.lsh, .r7, 32), .alu(.rsh, .r7, 32))  // the tid now
    a.jump(if: .r7, .equal, .r8, to: out)
    a.emit(.store(.word, .r10, -4, .r8))
    a.lookUp(at: -4, in: traced)
    a.jump(if: .r0, .equal, 0, to: out)
    a.emit(.store(.word, .r10, -8, .r7))
    a.traceThread(at: -8, in: traced)
    a.emit(EBPFInstruction.loadMap(.r1, fd: traced))
    a.emit(.mov(.r2, .r10), .alu(.add, .r2, -4))
    a.emit(.call(.mapDeleteElement))
    a.bind(out)
    a.emit(.mov(.r0, 0), .exit)
    return try a.assemble()
  }

  /// sched_process_exit, raw (in the thread that exits): it is no longer traced (its
  /// tid will be reused).
  static func exit(traced: Int32) throws(EBPFAssembler.Error) -> [EBPFInstruction] {
    var a = EBPFAssembler()
    a.emit(.call(.currentPidTgid))
    a.emit(.store(.word, .r10, -4, .r0))
    a.emit(EBPFInstruction.loadMap(.r1, fd: traced))
    a.emit(.mov(.r2, .r10), .alu(.add, .r2, -4))
    a.emit(.call(.mapDeleteElement))
    a.emit(.mov(.r0, 0), .exit)
    return try a.assemble()
  }
}

extension EBPFAssembler {
  /// r0 = the traced map's value for the tid stored at fp+`offset` (NULL when absent).
  mutating func lookUp(at offset: Int32, in traced: Int32) {
    emit(EBPFInstruction.loadMap(.r1, fd: traced))
    emit(.mov(.r2, .r10), .alu(.add, .r2, offset))
    emit(.call(.mapLookupElement))
  }

  /// Marks the tid stored at fp+`offset` as counting in the traced map (uses fp+offset-4).
  mutating func traceThread(at offset: Int32, in traced: Int32) {
    let mark = offset - 4
    emit(.store(.word, .r10, Int16(mark), Int32(EBPFSyscallCounter.Mark.counting.rawValue)))
    emit(EBPFInstruction.loadMap(.r1, fd: traced))
    emit(.mov(.r2, .r10), .alu(.add, .r2, offset))
    emit(.mov(.r3, .r10), .alu(.add, .r3, mark))
    emit(.mov(.r4, 0))  // BPF_ANY
    emit(.call(.mapUpdateElement))
  }
}
