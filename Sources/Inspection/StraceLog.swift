import Host
import Profiles
import Seccomp
import Syscalls

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The syscalls an strace log shows, per process and ABI.
///
/// Reads what strace writes: plain lines (`openat(AT_FDCWD, "/etc/passwd", O_RDONLY) = 3`),
/// `-f` prefixes (`[pid  1234] ` on stderr, `1234 ` with `-o`), one file per process
/// (`-ff -o PREFIX`: `PREFIX.1234`, the pid taken from the name), `-t`/`-tt`/`-ttt`/`-r`
/// timestamps, `-i` instruction pointers and `-n` numbers in brackets, `-y`/`-yy`
/// decorations, `<unfinished ...>` / `<... NAME resumed>` pairs (a call counts once, when it
/// starts), signal lines (`--- SIGCHLD {...} ---`), exit lines (`+++ exited with 0 +++`),
/// `-k` stack lines, strace's own messages (`strace: Process 12 attached`), the `-c` summary
/// table (names and call counts; per ABI when strace prints one table per mode), the
/// personality markers (`[ Process PID=123 runs in 32 bit mode. ]`) and
/// `syscall_0x1c3`/`syscall_451` for numbers strace cannot name. A line cut short (the
/// process died, the file was truncated) still counts when its name and `(` are there.
///
/// Names are the syscall table's: strace's spellings for the same call map onto it
/// (`oldumount` → `umount`, `pread` → `pread64`, `newfstatat` ↔ `fstatat64`, ...), per ABI.
/// A name the table does not have for that ABI is a warning and is kept in `unknown`.
/// A line that is none of the forms above is a warning naming its file and line, and is
/// skipped; with `strict`, warnings are errors (see `validate()`).
public struct StraceLog: Sendable {
  /// One traced process in one ABI. `pid` is nil for lines that carry no pid (a trace
  /// without `-f`, or the lines before the first fork of `strace -f` on stderr).
  public struct Process: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var pid: Int?
    public var arch: Arch
    public init(pid: Int?, arch: Arch) {
      self.pid = pid
      self.arch = arch
    }
    public static func < (a: Process, b: Process) -> Bool {
      (a.pid ?? -1, a.arch.name) < (b.pid ?? -1, b.arch.name)
    }
    public var description: String { "\(pid.map(String.init) ?? "?")/\(arch.name)" }
  }

  /// The ABI of the traced machine: `64 bit mode` means this one, `32 bit mode` its
  /// 32-bit sibling (x86_64 → x86, aarch64 → arm, s390x → s390, ppc64 → ppc), `x32 mode` x32.
  public var native: Arch
  /// Whether warnings are errors.
  public var strict: Bool

  /// Calls from trace lines, by process: table name → count.
  public private(set) var calls: [Process: [String: Int]] = [:]
  /// Calls from `-c` summary tables, by ABI: table name → count.
  public private(set) var summaries: [Arch: [String: Int]] = [:]
  /// Names (or `syscall_NNN` numbers) the table does not know on that ABI, with counts.
  public private(set) var unknown: [Arch: [String: Int]] = [:]
  /// Every problem found, in reading order.
  public private(set) var diagnostics: [Diagnostic] = []
  /// Lines read, over all inputs.
  public private(set) var lineCount = 0
  /// Lines skipped as malformed.
  public private(set) var skippedLines = 0
  /// Lines counted as a syscall (trace lines and summary rows).
  public private(set) var syscallLines = 0

  public init(native: Arch = .native, strict: Bool = false) {
    self.native = native
    self.strict = strict
  }

  /// Parses one log held in memory.
  public static func parse(
    _ text: String, file: String? = nil, native: Arch = .native, strict: Bool = false
  ) -> StraceLog {
    var log = StraceLog(native: native, strict: strict)
    log.read(Array(text.utf8), file: file)
    return log
  }

  /// Reads each file (`-` for standard input). A path that does not exist but is the
  /// prefix of `strace -ff -o PREFIX` files (`PREFIX.1234`) reads all of them.
  /// - Throws: an `InputError` for a file that cannot be read.
  public static func load(
    paths: [String], native: Arch = .native, strict: Bool = false
  ) throws(InputError) -> StraceLog {
    var log = StraceLog(native: native, strict: strict)
    for path in paths {
      for expanded in perProcessFiles(path) {
        let bytes = try readInputFile(expanded)
        log.read(bytes, file: expanded == "-" ? nil : expanded)
      }
    }
    return log
  }

  /// `[path]`, or the `PATH.<pid>` files of `strace -ff -o PATH` when `path` itself does
  /// not exist, sorted by pid.
  public static func perProcessFiles(_ path: String) -> [String] {
    guard path != "-", access(path, F_OK) != 0 else { return [path] }
    let slash = path.lastIndex(of: "/")
    let dir = slash.map { String(path[..<$0]) } ?? "."
    let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
    guard let d = opendir(dir.isEmpty ? "/" : dir) else { return [path] }
    defer { closedir(d) }
    var found: [(Int, String)] = []
    while let entry = readdir(d) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      guard name.hasPrefix(base + "."), let pid = Int(name.dropFirst(base.count + 1)), pid > 0 else { continue }
      found.append((pid, slash == nil ? name : dir + "/" + name))
    }
    return found.isEmpty ? [path] : found.sorted { $0.0 < $1.0 }.map(\.1)
  }

  /// Every ABI with at least one call, and its calls (trace lines and summary tables
  /// together: per name, the larger of the two counts, so `strace -C` is not counted twice).
  public var syscallsByArch: [Arch: [String: Int]] {
    var traced: [Arch: [String: Int]] = [:]
    for (p, names) in calls {
      traced[p.arch, default: [:]].merge(names, uniquingKeysWith: +)
    }
    for (arch, names) in summaries {
      traced[arch, default: [:]].merge(names, uniquingKeysWith: max)
    }
    return traced.filter { !$0.value.isEmpty }
  }

  /// The pids seen (lines without a pid apart).
  public var pids: [Int] { Set(calls.keys.compactMap(\.pid)).sorted() }

  /// The log restricted to these pids (summary tables, which have no pid, dropped).
  public func filtered(pids wanted: Set<Int>) -> StraceLog {
    var copy = self
    copy.calls = calls.filter { $0.key.pid.map(wanted.contains) ?? false }
    copy.summaries = [:]
    return copy
  }

  /// Throws when a diagnostic is an error (with `strict`, every problem is).
  public func validate() throws(InputError) {
    if diagnostics.contains(where: { $0.severity == .error }) { throw InputError(diagnostics) }
  }

  // MARK: - Reading

  /// Parser state for one file.
  private struct FileState {
    var file: String?
    /// The pid from a `PREFIX.1234` file name, for lines without their own.
    var filePid: Int?
    /// ABI per pid, as the personality markers set it.
    var personality: [Int?: Arch] = [:]
    /// Calls started and not yet resumed, per pid.
    var pending: [Int?: (name: String, arch: Arch)] = [:]
    /// The column layout of the summary table being read.
    var table: SummaryTable?
    /// The ABI of the next summary table (`System call usage summary for 32 bit mode:`).
    var tableArch: Arch?
    /// Names already warned about, per ABI, so each is reported once per file.
    var warned: Set<String> = []
  }

  private struct SummaryTable {
    var callsColumn: Int
    var arch: Arch
  }

  /// Reads one log's bytes.
  public mutating func read(_ bytes: [UInt8], file: String?) {
    var state = FileState(file: file)
    if let file, let dot = file.lastIndex(of: "."), let pid = Int(file[file.index(after: dot)...]), pid > 0, pid <= Int(Int32.max),
      !file[file.index(after: dot)...].contains("/")
    {
      state.filePid = pid
    }
    var lineNumber = 0
    var start = 0
    while start < bytes.count {
      var end = start
      while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
      lineNumber += 1
      var stop = end
      if stop > start && bytes[stop - 1] == UInt8(ascii: "\r") { stop -= 1 }
      readLine(bytes[start..<stop], number: lineNumber, state: &state)
      start = end + 1
    }
    lineCount += lineNumber
  }

  private mutating func readLine(_ line: ArraySlice<UInt8>, number: Int, state: inout FileState) {
    var c = Cursor(line)
    c.skipSpaces()
    if c.atEnd {
      state.table = nil
      return
    }
    // The -c table and its headers.
    if c.hasPrefix("% time") || (state.table == nil && c.hasPrefix("%") && c.rest.contains(asciiWord: "calls")) {
      startTable(c, number: number, state: &state)
      return
    }
    if c.hasPrefix("System call usage summary for ") {
      let mode = String(decoding: c.rest.dropFirst("System call usage summary for ".count), as: UTF8.self)
      state.tableArch = arch(forMode: mode.hasSuffix(":") ? String(mode.dropLast()) : mode, state: state, number: number)
      return
    }
    if let table = state.table {
      if c.hasPrefix("---") || c.hasPrefix("===") { return }
      readTableRow(c, table: table, number: number, state: &state)
      return
    }
    // strace's own messages and -k stack frames.
    if c.hasPrefix("strace: ") || c.hasPrefix("> ") { return }
    if c.hasPrefix("Process "), c.rest.ends(with: "attached") || c.rest.ends(with: "detached") { return }

    // The leader: pid, timestamp, instruction pointer / number.
    var pid: Int? = state.filePid
    if c.consume("[pid") {
      c.skipSpaces()
      guard let p = c.integer(), p <= Int(Int32.max) else {
        return malformed(line, number, "a pid from 0 to \(Int32.max) after '[pid'", state: &state)
      }
      c.skipDecoration()
      guard c.consume("]") else { return malformed(line, number, "']' after the pid", state: &state) }
      pid = p
      c.skipSpaces()
    } else if let p = c.leadingPid() {
      pid = p
      c.skipSpaces()
    }
    c.skipTimestamp()
    c.skipBracketedNumber()
    c.skipSpaces()

    if c.hasPrefix("[ Process PID=") {
      personalityMarker(c, pid: pid, number: number, line: line, state: &state)
      return
    }
    if c.hasPrefix("+++") {
      state.pending[pid] = nil
      return
    }
    if c.hasPrefix("---") { return }
    if c.consume("<...") {
      c.skipSpaces()
      guard let name = c.identifier(), c.rest.starts(with: " resumed".utf8) || c.rest.starts(with: " resumed>".utf8)
      else { return malformed(line, number, "'<... NAME resumed>'", state: &state) }
      if let started = state.pending[pid] {
        state.pending[pid] = nil
        if started.name != name {
          warn(number, "\(name) resumed, but \(started.name) was started by pid \(pid.map(String.init) ?? "?"); counted both", state: &state)
          count(name, pid: pid, arch: started.arch, number: number, state: &state)
        }
      } else {
        // The start is not in this log (attached mid-call, or the log was cut): count it here.
        count(name, pid: pid, arch: state.personality[pid] ?? native, number: number, state: &state)
      }
      return
    }
    guard let name = c.identifier(), c.consume("(") else {
      return malformed(line, number, "a syscall line (NAME(ARGS) = RESULT), a signal, exit or resumed line", state: &state)
    }
    let arch = state.personality[pid] ?? native
    count(name, pid: pid, arch: arch, number: number, state: &state)
    if line.ends(with: "<unfinished ...>") {
      state.pending[pid] = (name, arch)
    }
  }

  private mutating func startTable(_ c: Cursor, number: Int, state: inout FileState) {
    // "% time     seconds  usecs/call     calls    errors syscall": "% time" is one column.
    var words = c.rest.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
    if words.first == "%" { words.removeFirst() }
    guard let callsColumn = words.firstIndex(of: "calls"), words.last == "syscall" || words.last == "syscalls" else {
      state.table = nil
      warn(number, "a summary table header without 'calls' and 'syscall' columns", state: &state, malformed: true)
      return
    }
    state.table = SummaryTable(callsColumn: callsColumn, arch: state.tableArch ?? native)
    state.tableArch = nil
  }

  private mutating func readTableRow(_ c: Cursor, table: SummaryTable, number: Int, state: inout FileState) {
    let words = c.rest.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
    guard let name = words.last, words.count > table.callsColumn + 1, let calls = Int(words[table.callsColumn]),
      calls >= 0, words.dropLast().allSatisfy({ Double($0) != nil })
    else {
      warn(number, "a summary table row (numbers, then the syscall name)", state: &state, malformed: true)
      return
    }
    guard calls <= Int(UInt32.max) else {
      warn(number, "a call count of \(calls) is out of range (at most \(UInt32.max) per row); the row is skipped", state: &state, malformed: true)
      return
    }
    if name == "total" {
      state.table = nil
      return
    }
    syscallLines += 1
    guard let resolved = resolve(name, arch: table.arch, number: number, state: &state) else {
      unknown[table.arch, default: [:]][name, default: 0].addSaturating(calls)
      return
    }
    summaries[table.arch, default: [:]][resolved, default: 0].addSaturating(calls)
  }

  private mutating func personalityMarker(
    _ c: Cursor, pid: Int?, number: Int, line: ArraySlice<UInt8>, state: inout FileState
  ) {
    var m = c
    _ = m.consume("[ Process PID=")
    guard m.integer() != nil, m.consume(" runs in "), let modeEnd = m.rest.firstRange(of: " mode. ]") else {
      return malformed(line, number, "'[ Process PID=N runs in MODE mode. ]'", state: &state)
    }
    let mode = String(decoding: m.rest[m.rest.startIndex..<modeEnd], as: UTF8.self)
    guard let arch = arch(forMode: mode + " mode", state: state, number: number) else {
      warn(number, "unknown personality '\(mode) mode' for \(native.name); its calls are counted as \(native.name)", state: &state)
      return
    }
    // strace prints the marker with the same leader as the process's lines.
    state.personality[pid] = arch
  }

  /// The ABI of strace's mode words for the native ABI.
  private func arch(forMode mode: String, state: FileState, number: Int) -> Arch? {
    let m = mode.lowercased()
    if m.hasPrefix("64 bit") || m.hasPrefix("64-bit") { return native }
    if m.hasPrefix("x32") { return native == .x86_64 || native == .x32 ? .x32 : nil }
    if m.hasPrefix("32 bit") || m.hasPrefix("32-bit") {
      if native.wordBits == 32 { return native }
      return native.family.first { $0.wordBits == 32 }
    }
    return nil
  }

  private mutating func count(_ name: String, pid: Int?, arch: Arch, number: Int, state: inout FileState) {
    syscallLines += 1
    let process = Process(pid: pid, arch: arch)
    guard let resolved = resolve(name, arch: arch, number: number, state: &state) else {
      unknown[arch, default: [:]][name, default: 0] += 1
      calls[process, default: [:]] = calls[process] ?? [:]
      return
    }
    calls[process, default: [:]][resolved, default: 0] += 1
  }

  /// The table's name for what strace printed on `arch`, or nil (and a warning, once per name).
  private mutating func resolve(_ printed: String, arch: Arch, number: Int, state: inout FileState) -> String? {
    if let name = StraceLog.tableName(printed, arch: arch) { return name }
    let key = arch.name + " " + printed
    if !state.warned.contains(key) {
      state.warned.insert(key)
      if printed.hasPrefix("syscall_") {
        warn(number, "strace could not name \(printed) and neither can syscage on \(arch.name); it is left out", state: &state)
      } else if SyscallTable.isKnown(printed) {
        warn(number, "\(printed) is not a syscall of \(arch.name); it is left out", state: &state)
      } else {
        let hint = SyscallTable.suggestions(for: printed)
        warn(
          number,
          "unknown syscall '\(printed)'\(hint.isEmpty ? "" : "; did you mean \(hint.joined(separator: ", "))?"); it is left out",
          state: &state)
      }
    }
    return nil
  }

  /// strace's spellings that differ from the table's for the same call.
  static let aliases: [String: [String]] = [
    "oldumount": ["umount"],
    "umount": ["umount2"],
    "umount2": ["umount"],
    "pread": ["pread64"],
    "pwrite": ["pwrite64"],
    "llseek": ["_llseek"],
    "newselect": ["_newselect"],
    "select": ["_newselect"],
    "_newselect": ["select"],
    "sysctl": ["_sysctl"],
    "newfstatat": ["fstatat64"],
    "fstatat64": ["newfstatat"],
    "mmap_pgoff": ["mmap2"],
    "getrlimit": ["ugetrlimit"],
    "ugetrlimit": ["getrlimit"],
    "newuname": ["uname"],
    "fadvise64_64": ["arm_fadvise64_64", "fadvise64"],
    "arm_fadvise64_64": ["fadvise64_64"],
    "sync_file_range2": ["arm_sync_file_range", "sync_file_range"],
    "arm_sync_file_range": ["sync_file_range2"],
    "oldstat": ["stat"],
    "oldfstat": ["fstat"],
    "oldlstat": ["lstat"],
  ]

  /// The table's name for a name strace printed on `arch` (nil when there is none):
  /// the name itself, an alias of the same call, or the name of a `syscall_NNN` number.
  public static func tableName(_ printed: String, arch: Arch) -> String? {
    if arch.number(of: printed) != nil { return printed }
    for alias in aliases[printed] ?? [] where arch.number(of: alias) != nil { return alias }
    if printed.hasPrefix("syscall_") {
      let digits = printed.dropFirst("syscall_".count)
      let value = digits.hasPrefix("0x") ? Int64(digits.dropFirst(2), radix: 16) : Int64(digits)
      guard let value, let raw = Int32(exactly: value) else { return nil }
      if let name = arch.name(of: SyscallNumber(raw)) { return name }
      // strace may print the number without the ABI's base (x32's bit 30, MIPS's 4000...).
      if arch.abi.numberBase != 0 && raw >= 0 && raw < arch.abi.numberBase {
        return arch.name(of: SyscallNumber(raw &+ arch.abi.numberBase))
      }
    }
    return nil
  }

  private mutating func malformed(_ line: ArraySlice<UInt8>, _ number: Int, _ expected: String, state: inout FileState) {
    warn(number, "expected \(expected); skipped: \(excerpt(line))", state: &state, malformed: true)
  }

  private mutating func warn(_ number: Int, _ message: String, state: inout FileState, malformed: Bool = false) {
    if malformed { skippedLines += 1 }
    diagnostics.append(Diagnostic(strict ? .error : .warning, file: state.file, line: number, message))
  }
}

/// The first 80 characters of a line, for messages.
func excerpt(_ line: ArraySlice<UInt8>) -> String {
  let text = String(decoding: line, as: UTF8.self)
  return text.count > 80 ? String(text.prefix(77)) + "..." : text
}

// MARK: - A cursor over one line's bytes

struct Cursor {
  var rest: ArraySlice<UInt8>
  init(_ bytes: ArraySlice<UInt8>) { rest = bytes }

  var atEnd: Bool { rest.isEmpty }

  func hasPrefix(_ s: String) -> Bool { rest.starts(with: s.utf8) }

  mutating func consume(_ s: String) -> Bool {
    guard hasPrefix(s) else { return false }
    rest = rest.dropFirst(s.utf8.count)
    return true
  }

  mutating func skipSpaces() {
    while let b = rest.first, b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") { rest = rest.dropFirst() }
  }

  /// Decimal digits as an Int.
  mutating func integer() -> Int? {
    var value = 0
    var n = 0
    while let b = rest.first, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") {
      let (v, o) = value.multipliedReportingOverflow(by: 10)
      let (w, o2) = v.addingReportingOverflow(Int(b - UInt8(ascii: "0")))
      guard !o, !o2 else { return nil }
      value = w
      rest = rest.dropFirst()
      n += 1
    }
    return n == 0 ? nil : value
  }

  /// `[A-Za-z_][A-Za-z0-9_]*`
  mutating func identifier() -> String? {
    guard let first = rest.first, isIdentifierStart(first) else { return nil }
    var end = rest.startIndex
    while end < rest.endIndex, isIdentifierStart(rest[end]) || isDigit(rest[end]) { end += 1 }
    let name = String(decoding: rest[rest.startIndex..<end], as: UTF8.self)
    rest = rest[end...]
    return name
  }

  /// A `-f -o` pid: digits (and an optional `<comm>` of `--decode-pids=comm`) followed by a space.
  mutating func leadingPid() -> Int? {
    var probe = self
    guard let pid = probe.integer(), pid <= Int(Int32.max) else { return nil }
    probe.skipDecoration()
    guard probe.rest.first == UInt8(ascii: " ") else { return nil }
    self = probe
    return pid
  }

  /// `<...>` right here (a `-y` or `--decode-pids=comm` decoration).
  mutating func skipDecoration() {
    guard rest.first == UInt8(ascii: "<"), let close = rest.firstIndex(of: UInt8(ascii: ">")) else { return }
    rest = rest[(close + 1)...]
  }

  /// `21:38:33`, `21:38:33.880537`, `1795383513.920338`, `0.000517` followed by a space.
  mutating func skipTimestamp() {
    var end = rest.startIndex
    var punctuated = false
    while end < rest.endIndex, isDigit(rest[end]) || rest[end] == UInt8(ascii: ":") || rest[end] == UInt8(ascii: ".") {
      if !isDigit(rest[end]) { punctuated = true }
      end += 1
    }
    guard punctuated, end > rest.startIndex, end < rest.endIndex, rest[end] == UInt8(ascii: " ") else { return }
    rest = rest[end...]
    skipSpaces()
  }

  /// `-i`'s `[00007f8ed97a2e5b] ` or `-n`'s `[ 257] `; not `[ Process ...`.
  mutating func skipBracketedNumber() {
    while rest.first == UInt8(ascii: "[") {
      guard let close = rest.firstIndex(of: UInt8(ascii: "]")) else { return }
      let inside = rest[(rest.startIndex + 1)..<close]
      let ok = !inside.isEmpty && inside.allSatisfy {
        isDigit($0) || $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "x")
          || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
      } && inside.contains(where: { $0 != UInt8(ascii: " ") })
      guard ok else { return }
      rest = rest[(close + 1)...]
      skipSpaces()
    }
  }
}

extension Int {
  /// Adds `n`, stopping at `Int.max` (counts summed over a huge log never trap).
  mutating func addSaturating(_ n: Int) {
    let (sum, overflow) = addingReportingOverflow(n)
    self = overflow ? (n > 0 ? .max : .min) : sum
  }
}

private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
private func isIdentifierStart(_ b: UInt8) -> Bool {
  (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    || b == UInt8(ascii: "_")
}

extension ArraySlice where Element == UInt8 {
  func ends(with s: String) -> Bool {
    var trimmed = self
    while let last = trimmed.last, last == UInt8(ascii: " ") { trimmed = trimmed.dropLast() }
    return trimmed.count >= s.utf8.count && trimmed.suffix(s.utf8.count).elementsEqual(s.utf8)
  }

  func contains(asciiWord w: String) -> Bool {
    split(separator: UInt8(ascii: " ")).contains { $0.elementsEqual(w.utf8) }
  }

  func firstRange(of s: String) -> Index? {
    let needle = Array(s.utf8)
    guard count >= needle.count else { return nil }
    var i = startIndex
    while i + needle.count <= endIndex {
      if self[i..<(i + needle.count)].elementsEqual(needle) { return i }
      i += 1
    }
    return nil
  }
}

