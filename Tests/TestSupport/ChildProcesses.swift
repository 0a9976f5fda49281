import Foundation

/// Starts `path` with posix_spawn and no signal blocked (as from a shell: the test runner's
/// threads block most), standard input from /dev/null, standard output and error into
/// files (created or truncated), optionally in a process group of its own. Foundation's
/// Process would wait for every process that inherited its pipes, orphans included.
/// Returns -1 when it cannot start.
public func spawnUnblocked(
  _ path: String, _ arguments: [String], stdout: String = "/dev/null", stderr: String = "/dev/null", newProcessGroup: Bool = false
) -> pid_t {
  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
  posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
  posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
  var cargs = ([path] + arguments).map { strdup($0) } + [nil]
  defer { for c in cargs { free(c) } }
  var attributes = posix_spawnattr_t()
  posix_spawnattr_init(&attributes)
  defer { posix_spawnattr_destroy(&attributes) }
  var none = sigset_t()
  sigemptyset(&none)
  posix_spawnattr_setsigmask(&attributes, &none)
  var flags = Int32(POSIX_SPAWN_SETSIGMASK)
  if newProcessGroup {
    posix_spawnattr_setpgroup(&attributes, 0)
    flags |= Int32(POSIX_SPAWN_SETPGROUP)
  }
  posix_spawnattr_setflags(&attributes, Int16(flags))
  var pid: pid_t = 0
  guard posix_spawn(&pid, path, &actions, &attributes, &cargs, environ) == 0 else { return -1 }
  return pid
}

/// `spawnUnblocked` of the syscage executable.
public func spawnSyscage(
  _ arguments: [String], stdout: String = "/dev/null", stderr: String = "/dev/null", newProcessGroup: Bool = false
) -> pid_t {
  spawnUnblocked(syscageExecutable, arguments, stdout: stdout, stderr: stderr, newProcessGroup: newProcessGroup)
}

/// Waits until `path` holds a number and a newline (a pid a program wrote with `echo`).
public func readPid(_ path: String, within seconds: Double = 10) -> pid_t? {
  let start = Date()
  while Date().timeIntervalSince(start) < seconds {
    if let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n"),
      let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    {
      return pid
    }
    usleep(10000)
  }
  return nil
}

/// State and parent of `pid` from /proc/<pid>/stat (nil: gone).
public func processStat(_ pid: pid_t) -> (state: Character, ppid: pid_t)? {
  guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
    let paren = text.lastIndex(of: ")")
  else { return nil }
  let fields = text[text.index(after: paren)...].split(separator: " ")
  guard fields.count > 1, let state = fields[0].first, let ppid = pid_t(fields[1]) else { return nil }
  return (state, ppid)
}

/// Whether `pid` runs: neither gone nor a zombie.
public func isAlive(_ pid: pid_t) -> Bool {
  guard let s = processStat(pid) else { return false }
  return s.state != "Z" && s.state != "X"
}

/// Whether `pid` ends (gone, or a zombie no one reaped yet) within `seconds`.
public func ends(_ pid: pid_t, within seconds: Double = 10) -> Bool {
  let start = Date()
  while Date().timeIntervalSince(start) < seconds {
    if !isAlive(pid) { return true }
    usleep(10000)
  }
  return false
}
