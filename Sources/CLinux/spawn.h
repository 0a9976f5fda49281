#ifndef CLINUX_SPAWN_H
#define CLINUX_SPAWN_H
// Private to CLinux: the fork → (wait for the parent) → no_new_privs → filter →
// execve sequence shared by clinux_run and clinux_trace, and the forwarding of
// signals to the child while the parent waits.
#include <signal.h>
#include <sys/types.h>

struct clinux_spawn {
  pid_t pid;
  int errfd;  ///< read end: the child writes {step, errno} when a step fails
  int gofd;   ///< write end: one byte lets the child go on, closing it stops it
  sigset_t saved;
  struct sigaction old[6];
  int forwarding;
};

/// Forks a child that waits for clinux_spawn_release, resets every signal,
/// sets no_new_privs (if asked), loads `prog` (len > 0) with seccomp `flags`,
/// and execs. Returns 0, or -1 with *step (CLINUX_RUN_STEP_*) and *error set.
int clinux_spawn_start(const char *path, char *const argv[], char *const envp[], int no_new_privs,
                       const void *prog, unsigned int len, unsigned int flags, struct clinux_spawn *s,
                       int *step, int *error);

/// Forwards SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 sent by other
/// processes to the child (terminal signals reach its process group directly).
void clinux_spawn_forward_signals(struct clinux_spawn *s);

/// Lets the child go on to exec.
void clinux_spawn_release(struct clinux_spawn *s);

/// Reads how the exec went: 0 when it happened (the pipe closed), else -1 with
/// *step and *error. Blocks until the child execs or fails.
int clinux_spawn_exec_status(struct clinux_spawn *s, int *step, int *error);

/// Kills and reaps a child that must not run (e.g. it could not be traced).
void clinux_spawn_abort(struct clinux_spawn *s);

/// Restores the signal handlers and mask clinux_spawn_start and
/// clinux_spawn_forward_signals changed; a child never released exits unrun.
void clinux_spawn_end(struct clinux_spawn *s);

#endif
