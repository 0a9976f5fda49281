#ifndef CLINUX_WATCH_H
#define CLINUX_WATCH_H
// Running a program under a seccomp filter whose listener fd (user notification)
// comes back to the caller, for `syscage watch` (x86_64 and other Linux ABIs with
// pidfd_open/pidfd_getfd, Linux >= 5.6).
//
// The guard. The caller forks a guard process first (C only, async-signal-safe calls: it
// is a child of a multithreaded process and never execs). The guard is a child subreaper,
// so every orphan of the program's tree (a background child whose parent exited, a
// double-forked daemon) is reparented to it, and it forks the program, so the program's
// parent-death SIGKILL is tied to it. It holds a SOCK_SEQPACKET socket to the caller and
// reports the program's wait status and when nothing is left below it. When the socket
// hangs up without a release (the caller died, SIGKILL included), the guard SIGKILLs its
// whole subtree, walking /proc/<pid>/task/<tid>/children until it has no child left, and
// exits. It leaves the caller's process group after the fork (a kill of the program's
// group does not reach it), keeps no fd of the caller's or the program's but its socket,
// is never under the filter and never holds the listener. Signals the caller forwards go
// to the guard, which hands them to the program (it is their reaper: never a reused pid).
// The caller stays a child subreaper too: if the guard itself is killed, the program dies
// with it and the rest of the tree comes to the caller, which kills it.
//
// The program is started by the fork/exec helper run and trace use (spawn.h,
// clinux_spawn_start_listener), called in the guard. How the listener gets to the
// caller: the child, single-threaded after fork, finds the lowest free fd number n (the
// number seccomp(NEW_LISTENER) will return, as the kernel always hands out the lowest
// free fd), tells n through the report pipe (before the filter: unfiltered), loads the
// filter, then blocks reading the go pipe. The guard passes both pipes and a pidfd of the
// program to the caller (SCM_RIGHTS), which copies fd n out of the program with
// pidfd_getfd(pidfd, n) (retrying until it is the "seccomp notify" inode), then lets the
// program exec. The child's own calls between the load and execve (read, close, execve,
// and write on failure) may be notified: they are syscage's, and clinux_watch_next
// answers them with FLAG_CONTINUE itself until the exec is seen (the CLOEXEC report pipe
// closes). Nothing is whitelisted in the filter. The listener is O_CLOEXEC in the child,
// so it is gone from the program after execve.
#include <stdint.h>
#include <sys/types.h>

#include "clinux_launch.h"

#ifdef __cplusplus
extern "C" {
#endif

struct clinux_watch {
  int32_t pid;       ///< the program
  int pidfd;         ///< pidfd of the program (readable when it exits)
  int listener;      ///< the seccomp listener, in this process
  int errfd;         ///< report pipe, -1 once the program has exec'd
  int exec_done;     ///< 1 once the program runs (execve succeeded)
  int failed_step;   ///< CLINUX_LAUNCH_STEP_* when the program never ran
  int error;         ///< errno of that step
  int wait_status;   ///< the program's wait status, once it ended
  int exited;        ///< 1 once wait_status is valid
  int signals;       ///< signals syscage received after the program ended
  int forwarded;     ///< how many of those went to its descendants (one per process)
  int abandoned;     ///< processes still under the filter when a second signal stopped the watch
  /// Set by the caller after clinux_watch_start: a second signal after the program's end kills
  /// what is left (`stop_killed`) and the watch goes on until it is gone, instead of stopping.
  int stop_kills;
  int stop_killed;   ///< how many processes that second signal killed
  int guard_lost;    ///< the guard was killed: the program died with it, the rest was killed from here
  int32_t guard;     ///< the guard process (the program's parent)
  void *spawn;       ///< private
};

/// One notification, as struct seccomp_notif has it.
struct clinux_watch_notif {
  uint64_t id;
  uint32_t pid;  ///< the calling thread (tid, in syscage's pid namespace)
  uint32_t flags;
  int32_t nr;
  uint32_t arch;
  uint64_t ip;
  uint64_t args[6];
};

/// Forks the guard, which forks the program (clinux_spawn_start_listener): it resets
/// signals, sets no_new_privs (if asked), loads `prog` with SECCOMP_FILTER_FLAG_NEW_LISTENER
/// | `flags`, waits for this process to take the listener, and execs. Makes this process a
/// child subreaper (for a guard that is killed) and forwards SIGINT/QUIT/TERM/HUP/USR1/USR2
/// from other processes to the program (through the guard). Returns 0 once the listener is
/// here and the program is let go, or -1 with w->failed_step and w->error.
int clinux_watch_start(const char *path, char *const argv[], char *const envp[], int no_new_privs,
                       const void *prog, unsigned int len, unsigned int flags, struct clinux_watch *w);

/// Results of clinux_watch_next.
enum {
  CLINUX_WATCH_TIMEOUT = 0,
  CLINUX_WATCH_NOTIFICATION = 1,  ///< *n is a call of the program to decide
  /// The program ended (w->wait_status) and so did every process that held the filter
  /// (or a second signal after the program's end stopped the watch: w->abandoned).
  CLINUX_WATCH_EXITED = 2,
  CLINUX_WATCH_EXEC_FAILED = 3,   ///< execve failed (w->failed_step, w->error); the child is reaped
};

/// Waits (poll on the listener, the guard's socket and the report pipe; `timeout_ms` < 0
/// forever) for the next notification the caller must decide, or the end of the watch.
/// Stale notifications (the caller died: ENOENT) are skipped. When the program (the first
/// process) ends, its descendants may still run under the filter: their calls are served
/// until the last of them is gone (the listener hangs up, or the guard has nothing left
/// below it). SIGINT/QUIT/TERM/HUP/USR1/USR2 sent to this process from then on go to every
/// remaining descendant, and a second one (from the terminal too) stops the watch
/// (w->abandoned), or with w->stop_kills kills them (w->stop_killed) and waits for their end.
int clinux_watch_next(struct clinux_watch *w, int timeout_ms, struct clinux_watch_notif *n);

/// SECCOMP_IOCTL_NOTIF_ID_VALID: 1 when the call `id` is still waiting.
int clinux_watch_id_valid(struct clinux_watch *w, uint64_t id);

/// Answers a notification: `flags` 1 (SECCOMP_USER_NOTIF_FLAG_CONTINUE) lets the
/// call run; else it returns -error (error > 0) or val. Returns 0, or -1 with
/// errno (ENOENT: the caller is gone).
int clinux_watch_reply(struct clinux_watch *w, uint64_t id, int error, int64_t val, uint32_t flags);

/// SIGKILLs every descendant of this process but the guard (the program, its children,
/// and the orphans the guard holds), found through /proc/<pid>/stat, repeating until none
/// is left or `rounds` passes. Returns how many kills were sent.
int clinux_watch_kill_tree(int rounds);

/// Kills the program if it has not ended, closes the fds, ends the guard (released when
/// w->abandoned: what is left runs on; else it kills what is left), reaps it and restores
/// signal handling.
void clinux_watch_end(struct clinux_watch *w);

#ifdef __cplusplus
}
#endif
#endif
