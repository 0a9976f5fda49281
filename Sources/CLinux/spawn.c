#include "clinux_spawn.h"

#include "clinux_run.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif

static volatile pid_t forward_to = 0;
static volatile sig_atomic_t holding = 0;
static unsigned long held = 0;  // lock-free atomics: safe in the handler
static int held_count = 0;

static void forward_signal(int sig, siginfo_t *info, void *ctx) {
  (void)ctx;
  int terminal = info && info->si_code == SI_KERNEL;
  if (holding) {
    __atomic_fetch_or(&held, 1UL << (sig + (terminal ? 32 : 0)), __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&held_count, 1, __ATOMIC_SEQ_CST);
    return;
  }
  // Signals from the terminal (SI_KERNEL) reach the program's process group
  // directly; forward only what another process sent to us.
  if (terminal) return;
  pid_t p = forward_to;
  if (p > 0) kill(p, sig);
}

// In the child: blocks until the parent lets it go; exits unrun if the parent gave up.
// Returns the byte the parent sent.
static char wait_for_go(int fd) {
  char go = 0;
  ssize_t n;
  while ((n = read(fd, &go, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) _exit(127);
  close(fd);
  return go;
}

#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif

static const int forwarded[6] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};

static void child_fail(int fd, int step) {
  int msg[2] = {step, errno};
  ssize_t ignored = write(fd, msg, sizeof(msg));
  (void)ignored;
  _exit(127);
}

static int start(const char *path, char *const argv[], char *const envp[], int no_new_privs, const void *first,
                 unsigned int firstlen, const void *prog, unsigned int len, unsigned int flags, int listener,
                 struct clinux_spawn *s, int *step, int *error) {
  memset(s, 0, sizeof(*s));
  s->errfd = s->gofd = -1;
  int errpipe[2], gopipe[2];
  if (pipe2(errpipe, O_CLOEXEC) != 0) {
    *step = CLINUX_LAUNCH_STEP_PIPE;
    *error = errno;
    return -1;
  }
  if (pipe2(gopipe, O_CLOEXEC) != 0) {
    *step = CLINUX_LAUNCH_STEP_PIPE;
    *error = errno;
    close(errpipe[0]);
    close(errpipe[1]);
    return -1;
  }
  sigset_t all;
  sigfillset(&all);
  // Block signals around fork so the child starts with none pending from us.
  sigprocmask(SIG_SETMASK, &all, &s->saved);
  pid_t supervisor = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    close(errpipe[0]);
    close(gopipe[1]);
    // Supervised (a listener): die with the supervisor, even by SIGKILL, rather than run on
    // unsupervised. (The death signal is cleared at a setuid execve and by fork.)
    if (listener) {
      prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      if (getppid() != supervisor) _exit(127);
    }
    // As execve would, but before the steps that run here: a caught signal gets its
    // default action back, an ignored one stays ignored (nohup's SIGHUP, a background
    // job's SIGINT and SIGQUIT), and the mask is the caller's from before the block.
    // The forwarding handlers are installed only after the fork: never inherited.
    struct sigaction dfl, cur;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
      if (sigaction(sig, NULL, &cur) != 0) continue;
      if (cur.sa_handler != SIG_IGN && cur.sa_handler != SIG_DFL) sigaction(sig, &dfl, NULL);
    }
    sigprocmask(SIG_SETMASK, &s->saved, NULL);
    char go = listener ? 0 : wait_for_go(gopipe[0]);
    if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(errpipe[1], CLINUX_LAUNCH_STEP_NO_NEW_PRIVS);
    if (go == CLINUX_SPAWN_GO_STACKED && firstlen > 0) {
      // Below the program's filter: on a tie of actions that one's data wins. Spectre
      // mitigations as the program's filter asks (one load without SPEC_ALLOW sets them).
      struct sock_fprog fprog = {.len = (unsigned short)firstlen, .filter = (struct sock_filter *)first};
      if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags & SECCOMP_FILTER_FLAG_SPEC_ALLOW, &fprog) != 0)
        child_fail(errpipe[1], CLINUX_LAUNCH_STEP_FILTER);
    }
    if (listener) {
      // The lowest free fd is the number seccomp will return; report it while unfiltered.
      int lowest = fcntl(errpipe[1], F_DUPFD, 0);
      if (lowest < 0) child_fail(errpipe[1], CLINUX_LAUNCH_STEP_FILTER);
      close(lowest);
      int ready[2] = {0, lowest};
      if (write(errpipe[1], ready, sizeof(ready)) != (ssize_t)sizeof(ready)) _exit(127);
      struct sock_fprog fprog = {.len = (unsigned short)len, .filter = (struct sock_filter *)prog};
      long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags | SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog);
      if (fd < 0) child_fail(errpipe[1], CLINUX_LAUNCH_STEP_FILTER);
      // Not the number reported: the parent would take the wrong fd. (Cannot happen.)
      if (fd != lowest) _exit(127);
      // From here on every call may be notified; the parent answers them.
      wait_for_go(gopipe[0]);
    } else if (len > 0) {
      struct sock_fprog fprog = {.len = (unsigned short)len, .filter = (struct sock_filter *)prog};
      long rc = flags ? syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog)
                      : prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
      if (rc != 0) child_fail(errpipe[1], CLINUX_LAUNCH_STEP_FILTER);
    }
    execve(path, argv, envp);
    child_fail(errpipe[1], CLINUX_LAUNCH_STEP_EXEC);
  }
  if (pid < 0) {
    *step = CLINUX_LAUNCH_STEP_FORK;
    *error = errno;
    sigprocmask(SIG_SETMASK, &s->saved, NULL);
    close(errpipe[0]);
    close(errpipe[1]);
    close(gopipe[0]);
    close(gopipe[1]);
    return -1;
  }
  close(errpipe[1]);
  close(gopipe[0]);
  s->pid = pid;
  s->errfd = errpipe[0];
  s->gofd = gopipe[1];
  sigprocmask(SIG_SETMASK, &s->saved, NULL);
  return 0;
}

int clinux_spawn_start(const char *path, char *const argv[], char *const envp[], int no_new_privs,
                       const void *prog, unsigned int len, unsigned int flags, struct clinux_spawn *s,
                       int *step, int *error) {
  return start(path, argv, envp, no_new_privs, NULL, 0, prog, len, flags, 0, s, step, error);
}

int clinux_spawn_start_stacked(const char *path, char *const argv[], char *const envp[], int no_new_privs,
                               const void *first, unsigned int firstlen, const void *prog, unsigned int len,
                               unsigned int flags, struct clinux_spawn *s, int *step, int *error) {
  return start(path, argv, envp, no_new_privs, first, firstlen, prog, len, flags, 0, s, step, error);
}

int clinux_spawn_start_listener(const char *path, char *const argv[], char *const envp[], int no_new_privs,
                                const void *prog, unsigned int len, unsigned int flags, struct clinux_spawn *s,
                                int *step, int *error) {
  return start(path, argv, envp, no_new_privs, NULL, 0, prog, len, flags, 1, s, step, error);
}

int clinux_spawn_listener_number(struct clinux_spawn *s, int *number, int *step, int *error) {
  int msg[2];
  ssize_t n;
  do {
    n = read(s->errfd, msg, sizeof(msg));
  } while (n < 0 && errno == EINTR);
  if (n == (ssize_t)sizeof(msg) && msg[0] == 0) {
    *number = msg[1];
    return 0;
  }
  *step = n == (ssize_t)sizeof(msg) ? msg[0] : CLINUX_LAUNCH_STEP_FORK;
  *error = n == (ssize_t)sizeof(msg) ? msg[1] : EPIPE;
  return -1;
}

void clinux_spawn_forward_signals(struct clinux_spawn *s) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = forward_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  forward_to = s->pid;
  sigset_t waiting = s->saved;
  for (int i = 0; i < 6; i++) {
    // An ignored signal stays ignored here as in the child (nohup, a background job).
    if (sigaction(forwarded[i], NULL, &s->old[i]) != 0 || s->old[i].sa_handler == SIG_IGN) continue;
    sigaction(forwarded[i], &sa, NULL);
    // Forwarded signals must reach the handler even if our caller blocked them.
    sigdelset(&waiting, forwarded[i]);
  }
  sigprocmask(SIG_SETMASK, &waiting, NULL);
  s->forwarding = 1;
}

void clinux_spawn_hold_signals(struct clinux_spawn *s) {
  (void)s;
  holding = 1;
  forward_to = 0;
}

unsigned long clinux_spawn_take_held(int *count) {
  int c = __atomic_exchange_n(&held_count, 0, __ATOMIC_SEQ_CST);
  if (count) *count = c;
  return __atomic_exchange_n(&held, 0UL, __ATOMIC_SEQ_CST);
}

void clinux_spawn_release(struct clinux_spawn *s) { clinux_spawn_release_with(s, CLINUX_SPAWN_GO); }

void clinux_spawn_release_with(struct clinux_spawn *s, char go) {
  if (s->gofd < 0) return;
  ssize_t ignored = write(s->gofd, &go, 1);
  (void)ignored;
  close(s->gofd);
  s->gofd = -1;
}

int clinux_spawn_exec_status(struct clinux_spawn *s, int *step, int *error) {
  int msg[2];
  ssize_t n;
  do {
    n = read(s->errfd, msg, sizeof(msg));
  } while (n < 0 && errno == EINTR);
  close(s->errfd);
  s->errfd = -1;
  if (n == (ssize_t)sizeof(msg)) {
    *step = msg[0];
    *error = msg[1];
    return -1;
  }
  return 0;
}

void clinux_spawn_abort(struct clinux_spawn *s) {
  kill(s->pid, SIGKILL);
  if (s->gofd >= 0) {
    close(s->gofd);
    s->gofd = -1;
  }
  int st;
  while (waitpid(s->pid, &st, __WALL) < 0 && errno == EINTR) {
  }
  if (s->errfd >= 0) {
    close(s->errfd);
    s->errfd = -1;
  }
}

void clinux_spawn_end(struct clinux_spawn *s) {
  if (s->gofd >= 0) {  // never released: the child exits without running
    close(s->gofd);
    s->gofd = -1;
  }
  if (s->forwarding) {
    forward_to = 0;
    holding = 0;
    clinux_spawn_take_held(NULL);
    for (int i = 0; i < 6; i++) sigaction(forwarded[i], &s->old[i], NULL);
    s->forwarding = 0;
  }
  sigprocmask(SIG_SETMASK, &s->saved, NULL);
}
