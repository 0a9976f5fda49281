#ifndef CLINUX_SPAWN_H
#define CLINUX_SPAWN_H
// What runs in the child after fork, and the signal forwarding around it: the fork →
// (wait for the parent) → no_new_privs → filter → execve sequence shared by every
// launcher (Processes' `Launcher.run` and `Tracer` in Swift, clinux_watch in C), and
// the forwarding of signals to the child while the parent waits. The parent's side
// (tracing, waiting) is the caller's. Failed steps are CLINUX_LAUNCH_STEP_* values.
#include <signal.h>
#include <sys/types.h>

#include "clinux_launch.h"

struct clinux_spawn {
  pid_t pid;
  int errfd;  ///< read end: the child writes {step, errno} when a step fails
  int gofd;   ///< write end: one byte lets the child go on, closing it stops it
  sigset_t saved;
  struct sigaction old[6];
  int forwarding;
};

/// Forks a child that waits for clinux_spawn_release, gives every caught signal its
/// default action back (ignored ones stay ignored, the signal mask stays the caller's),
/// sets no_new_privs (if asked), loads `prog` (len > 0) with seccomp `flags`,
/// and execs. Returns 0, or -1 with *step (CLINUX_LAUNCH_STEP_*) and *error set.
int clinux_spawn_start(const char *path, char *const argv[], char *const envp[], int no_new_privs,
                       const void *prog, unsigned int len, unsigned int flags, struct clinux_spawn *s,
                       int *step, int *error);

/// The byte clinux_spawn_release_with sends: go on; go on and load the first filter too.
enum { CLINUX_SPAWN_GO = 'g', CLINUX_SPAWN_GO_STACKED = 's' };

/// As clinux_spawn_start, with a second filter `first` (`firstlen` instructions) the child
/// loads before `prog` when released with CLINUX_SPAWN_GO_STACKED (not with
/// CLINUX_SPAWN_GO), with SPEC_ALLOW if `flags` has it and no other flag.
int clinux_spawn_start_stacked(const char *path, char *const argv[], char *const envp[], int no_new_privs,
                               const void *first, unsigned int firstlen, const void *prog, unsigned int len,
                               unsigned int flags, struct clinux_spawn *s, int *step, int *error);

/// As clinux_spawn_start, for a filter whose listener the parent takes (`syscage watch`):
/// the child resets caught signals (as clinux_spawn_start), sets no_new_privs (if asked), reports through the error
/// pipe the fd number n the listener will get (the lowest free one: the kernel hands out
/// the lowest, and the child is single-threaded) as {0, n}, loads `prog` with
/// SECCOMP_FILTER_FLAG_NEW_LISTENER | `flags`, and only then waits for
/// clinux_spawn_release before it execs. Its calls after the load may be notified: the
/// parent must answer them (read of the go pipe, execve, a failure report). The
/// listener is O_CLOEXEC: the program does not inherit it.
int clinux_spawn_start_listener(const char *path, char *const argv[], char *const envp[], int no_new_privs,
                                const void *prog, unsigned int len, unsigned int flags, struct clinux_spawn *s,
                                int *step, int *error);

/// After clinux_spawn_start_listener: reads the fd number the listener will get in the
/// child. Returns 0 with *number, or -1 with *step and *error (the child failed before
/// the load, or died: CLINUX_LAUNCH_STEP_FORK, EPIPE). Blocks until the child reports.
int clinux_spawn_listener_number(struct clinux_spawn *s, int *number, int *step, int *error);

/// Forwards SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 sent by other
/// processes to the child (terminal signals reach its process group directly); one
/// this process ignores stays ignored (and the child ignores it too).
void clinux_spawn_forward_signals(struct clinux_spawn *s);

/// Stops forwarding (call it before the child is reaped: its pid could be reused) and
/// holds the forwarded signals instead, from other processes and from the terminal alike,
/// for clinux_spawn_take_held.
void clinux_spawn_hold_signals(struct clinux_spawn *s);

/// The signals held since clinux_spawn_hold_signals and not taken yet: bit `sig` for one
/// sent by another process, bit 32 + `sig` for one from the terminal; *count (if not
/// NULL) how many arrived. Clears both.
unsigned long clinux_spawn_take_held(int *count);

/// Lets the child go on to exec (CLINUX_SPAWN_GO).
void clinux_spawn_release(struct clinux_spawn *s);

/// Lets the child go on with `go` (CLINUX_SPAWN_GO or CLINUX_SPAWN_GO_STACKED).
void clinux_spawn_release_with(struct clinux_spawn *s, char go);

/// Reads how the exec went: 0 when it happened (the pipe closed), else -1 with
/// *step and *error. Blocks until the child execs or fails.
int clinux_spawn_exec_status(struct clinux_spawn *s, int *step, int *error);

/// Kills and reaps a child that must not run (e.g. it could not be traced).
void clinux_spawn_abort(struct clinux_spawn *s);

/// Restores the signal handlers and mask clinux_spawn_start and
/// clinux_spawn_forward_signals changed; a child never released exits unrun.
void clinux_spawn_end(struct clinux_spawn *s);

#endif
