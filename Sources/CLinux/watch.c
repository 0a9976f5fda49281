#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // ppoll
#endif
#include "clinux_watch.h"
#include "spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Declared here so that old headers do not matter.
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#define WATCH_USER_NOTIF_FLAG_CONTINUE 1U

struct watch_notif {
  uint64_t id;
  uint32_t pid;
  uint32_t flags;
  struct {
    int32_t nr;
    uint32_t arch;
    uint64_t ip;
    uint64_t args[6];
  } data;
};
struct watch_resp {
  uint64_t id;
  int64_t val;
  int32_t error;
  uint32_t flags;
};
#define WATCH_IOCTL_NOTIF_RECV 0xc0502100UL      // _IOWR('!', 0, struct seccomp_notif)
#define WATCH_IOCTL_NOTIF_SEND 0xc0182101UL      // _IOWR('!', 1, struct seccomp_notif_resp)
#define WATCH_IOCTL_NOTIF_ID_VALID 0x40082102UL  // _IOW('!', 2, __u64)

// ---------------------------------------------------------------------------------------
// The guard: a process between syscage and the program (see clinux_watch.h).
//
// It is forked from syscage, a multithreaded process, and never execs: it makes only
// async-signal-safe calls (system calls, no malloc, no stdio; its arrays are static).
// Messages on a SOCK_SEQPACKET pair, one struct guard_msg each.

enum {
  GUARD_STARTED = 1,  ///< guard → watch: a = the program's pid; fds: report pipe, go pipe, pidfd
  GUARD_FAILED = 2,   ///< guard → watch: the fork failed (a = step, b = errno)
  GUARD_EXIT = 3,     ///< guard → watch: the program was reaped (a = its wait status)
  GUARD_EMPTY = 4,    ///< guard → watch: the program ended and nothing is left below the guard
  GUARD_RELEASE = 5,  ///< watch → guard: exit and leave what is left running
};

struct guard_msg {
  int32_t kind, a, b;
};

static const int guard_relayed[6] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};

/// In the guard: the program while it is unreaped (the relay handler's target).
static volatile pid_t guard_program = 0;

static void guard_relay(int sig, siginfo_t *info, void *ctx) {
  (void)ctx;
  if (info && info->si_code == SI_KERNEL) return;  // the terminal's: the program got it too
  pid_t p = guard_program;
  if (p > 0) kill(p, sig);
}

static void guard_wake(int sig) { (void)sig; }

static void guard_send(int sock, int kind, int a, int b, const int *fds, int nfds) {
  struct guard_msg m = {kind, a, b};
  struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
  union {
    char buf[CMSG_SPACE(3 * sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr h;
  memset(&h, 0, sizeof(h));
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  if (nfds > 0) {
    memset(&u, 0, sizeof(u));
    h.msg_control = u.buf;
    h.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
  }
  // MSG_NOSIGNAL: a dead syscage must not kill the guard by SIGPIPE.
  while (sendmsg(sock, &h, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

/// Writes "/proc/<a>[/task[/<b>/children]]" (b < 0: up to task) into out (64 bytes).
static void guard_path(char *out, long a, long b, int children) {
  char *p = out;
  const char *prefix = "/proc/";
  while (*prefix) *p++ = *prefix++;
  char digits[24];
  int n = 0;
  do digits[n++] = (char)('0' + a % 10), a /= 10;
  while (a > 0);
  while (n > 0) *p++ = digits[--n];
  if (children >= 0) {
    const char *task = children ? "/task/" : "/task";
    while (*task) *p++ = *task++;
    if (children) {
      do digits[n++] = (char)('0' + b % 10), b /= 10;
      while (b > 0);
      while (n > 0) *p++ = digits[--n];
      const char *tail = "/children";
      while (*tail) *p++ = *tail++;
    }
  } else {
    const char *stat = "/stat";
    while (*stat) *p++ = *stat++;
  }
  *p = 0;
}

/// The parent of `pid` from /proc/<pid>/stat, or -1.
static long guard_parent_of(pid_t pid) {
  char path[64], buf[512];
  guard_path(path, pid, -1, -1);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *paren = strrchr(buf, ')');  // the name may hold anything, ')' included
  if (!paren || paren + 4 >= buf + n) return -1;
  char *q = paren + 4;  // ") S ppid"
  long ppid = 0;
  while (*q >= '0' && *q <= '9') ppid = ppid * 10 + (*q++ - '0');
  return ppid;
}

/// The pids in a /proc/<pid>/task/<tid>/children file (up to `cap`).
static int guard_children(const char *path, pid_t *out, int cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  long cur = -1;
  int n = 0;
  ssize_t r;
  while ((r = read(fd, buf, sizeof(buf))) > 0) {
    for (ssize_t i = 0; i < r; i++) {
      if (buf[i] >= '0' && buf[i] <= '9') {
        cur = (cur < 0 ? 0 : cur * 10) + (buf[i] - '0');
      } else if (cur >= 0) {
        if (n < cap) out[n++] = (pid_t)cur;
        cur = -1;
      }
    }
  }
  if (cur >= 0 && n < cap) out[n++] = (pid_t)cur;
  close(fd);
  return n;
}

struct guard_dirent {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

static pid_t guard_stack[8192];

/// SIGKILLs every process below the guard that /proc/<pid>/task/<tid>/children shows,
/// parents before their children. A pid is signalled through a pidfd opened while its
/// parent is the one it was listed under (or the guard): never a reused pid.
static void guard_kill_round(pid_t self) {
  int top = 0;
  guard_stack[top++] = self;
  while (top > 0) {
    pid_t p = guard_stack[--top];
    char path[64];
    guard_path(path, p, 0, 0);
    int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) continue;
    char dents[2048];
    long got;
    while ((got = syscall(SYS_getdents64, dir, dents, sizeof(dents))) > 0) {
      for (long off = 0; off < got;) {
        struct guard_dirent *e = (struct guard_dirent *)(dents + off);
        off += e->reclen;
        long tid = 0;
        const char *c = e->name;
        if (*c < '0' || *c > '9') continue;
        while (*c >= '0' && *c <= '9') tid = tid * 10 + (*c++ - '0');
        guard_path(path, p, tid, 1);
        pid_t kids[256];
        int k = guard_children(path, kids, 256);
        for (int i = 0; i < k; i++) {
          int fd = (int)syscall(SYS_pidfd_open, kids[i], 0);
          if (fd < 0) continue;
          long parent = guard_parent_of(kids[i]);
          if (parent == p || parent == self) syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
          close(fd);
          if (top < (int)(sizeof(guard_stack) / sizeof(guard_stack[0]))) guard_stack[top++] = kids[i];
        }
      }
    }
    close(dir);
  }
}

/// Kills and reaps everything below the guard: repeated until it has no child left
/// (a process that forked meanwhile, or whose parent died first and left it here).
static void guard_kill_tree(void) {
  pid_t self = getpid();
  for (;;) {
    guard_kill_round(self);
    int st;
    pid_t r;
    while ((r = waitpid(-1, &st, WNOHANG | __WALL)) > 0) {
    }
    if (r < 0 && errno == ECHILD) return;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

/// The guard's life: fork the program (clinux_spawn_start_listener), hand its pipes to
/// syscage, then reap and report until the tree is empty, syscage releases it, or syscage
/// is gone (the socket hangs up): then kill the tree.
__attribute__((noreturn)) static void guard_main(int sock, const sigset_t *mask, const char *path, char *const argv[],
                                                 char *const envp[], int no_new_privs, const void *prog,
                                                 unsigned int len, unsigned int flags) {
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  prctl(PR_SET_NAME, "syscage-guard", 0, 0, 0);
  // Signals syscage forwards reach the program through here; one syscage ignores stays
  // ignored (and the program inherits it ignored). Caught ones are reset in the program.
  struct sigaction relay;
  memset(&relay, 0, sizeof(relay));
  relay.sa_sigaction = guard_relay;
  relay.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&relay.sa_mask);
  sigset_t relayed;
  sigemptyset(&relayed);
  for (int i = 0; i < 6; i++) {
    struct sigaction cur;
    if (sigaction(guard_relayed[i], NULL, &cur) != 0 || cur.sa_handler == SIG_IGN) continue;
    sigaction(guard_relayed[i], &relay, NULL);
    sigaddset(&relayed, guard_relayed[i]);
  }
  // The program starts with syscage's caller's mask.
  sigprocmask(SIG_SETMASK, mask, NULL);
  struct clinux_spawn s;
  int step = 0, error = 0;
  if (clinux_spawn_start_listener(path, argv, envp, no_new_privs, prog, len, flags, &s, &step, &error) != 0) {
    guard_send(sock, GUARD_FAILED, step, error, NULL, 0);
    _exit(0);
  }
  // After the fork: the program keeps an ignored SIGCHLD as it was given. Here it must
  // not auto-reap (the program's status) and must wake ppoll.
  struct sigaction chld;
  memset(&chld, 0, sizeof(chld));
  chld.sa_handler = guard_wake;
  chld.sa_flags = SA_NOCLDSTOP;
  sigemptyset(&chld.sa_mask);
  sigaction(SIGCHLD, &chld, NULL);
  sigset_t blocked = *mask, open_mask = *mask;
  for (int sig = 1; sig < NSIG; sig++)
    if (sig == SIGCHLD || sigismember(&relayed, sig) == 1) {
      sigaddset(&blocked, sig);
      sigdelset(&open_mask, sig);
    }
  // Signals are handled only inside ppoll: the relay never sees a reaped pid.
  sigprocmask(SIG_SETMASK, &blocked, NULL);
  int pidfd = (int)syscall(SYS_pidfd_open, s.pid, 0);
  if (pidfd < 0) {  // (Linux < 5.3: no pidfd_getfd either)
    int err = errno;
    kill(s.pid, SIGKILL);
    waitpid(s.pid, NULL, __WALL);
    guard_send(sock, GUARD_FAILED, CLINUX_LAUNCH_STEP_LISTENER, err, NULL, 0);
    _exit(0);
  }
  guard_program = s.pid;
  int fds[3] = {s.errfd, s.gofd, pidfd};
  guard_send(sock, GUARD_STARTED, s.pid, 0, fds, 3);
  close(s.errfd);
  close(s.gofd);
  close(pidfd);
  // Out of syscage's process group: a kill of the program's group (`kill -9 0`, a job's
  // kill) or the terminal's signals do not reach the guard, which outlives them to kill
  // the rest. It holds nothing of syscage's or the program's (their pipes see EOF
  // without it).
  setpgid(0, 0);
  if (sock > 3) syscall(SYS_close_range, 3, sock - 1, 0);
  syscall(SYS_close_range, sock + 1, ~0U, 0);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3; fd++) {
    if (null >= 0) dup2(null, fd);
    else close(fd);
  }
  if (null > 2) close(null);
  for (;;) {
    int st;
    pid_t r;
    while ((r = waitpid(-1, &st, WNOHANG | __WALL)) > 0)
      if (r == guard_program) {
        guard_program = 0;
        guard_send(sock, GUARD_EXIT, st, 0, NULL, 0);
      }
    if (r < 0 && errno == ECHILD) {
      if (guard_program) guard_send(sock, GUARD_EXIT, SIGKILL, 0, NULL, 0);  // (cannot happen)
      guard_send(sock, GUARD_EMPTY, 0, 0, NULL, 0);
      _exit(0);
    }
    struct pollfd p = {.fd = sock, .events = POLLIN};
    if (ppoll(&p, 1, NULL, &open_mask) <= 0) continue;  // a child ended (EINTR), or a relay
    struct guard_msg m;
    ssize_t n = recv(sock, &m, sizeof(m), MSG_DONTWAIT);
    if (n == (ssize_t)sizeof(m) && m.kind == GUARD_RELEASE) _exit(0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      guard_kill_tree();  // syscage is gone
      _exit(0);
    }
  }
}

// ---------------------------------------------------------------------------------------
// syscage's side.

struct watch_private {
  struct clinux_spawn spawn;  ///< forwarding of signals to the guard (spawn.pid)
  struct sigaction oldchld;
  int listener_hup;  ///< the listener reported POLLHUP: no task uses the filter
  int forwarding;    ///< signals are forwarded (clinux_spawn_end is due)
  pid_t guard;       ///< the guard, until reaped
  int sock;          ///< the socket to the guard, -1 once it hung up
  int gofd;          ///< the program's go pipe, until it is let go
  int tree_empty;    ///< the guard said nothing is left below it (or the tree was killed from here)
};

/// The guard of the running watch: signal_descendants walks the tree below it, never signals it.
static pid_t walk_skip = 0;

static int signal_descendants(int sig, int rounds);

static int is_seccomp_listener(int fd) {
  char path[64], target[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, target, sizeof(target) - 1);
  if (n < 0) return 0;
  target[n] = 0;
  return strcmp(target, "anon_inode:seccomp notify") == 0;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int read_msg(int fd, int msg[2]) {
  ssize_t n;
  do n = read(fd, msg, 2 * sizeof(int));
  while (n < 0 && errno == EINTR);
  return (int)n;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/// The guard was killed: the program died with it (its parent-death signal) and the rest
/// of the tree was reparented here (this process is a subreaper too). Kill and reap it
/// here, as the guard would have.
static void guard_lost(struct clinux_watch *w) {
  struct watch_private *priv = w->spawn;
  clinux_spawn_hold_signals(&priv->spawn);
  w->guard_lost = 1;
  if (priv->guard > 0) {
    int st;
    while (waitpid(priv->guard, &st, __WALL) < 0 && errno == EINTR) {
    }
    priv->guard = 0;
  }
  walk_skip = 0;
  for (;;) {
    signal_descendants(SIGKILL, 1);
    int st;
    pid_t r;
    while ((r = waitpid(-1, &st, WNOHANG | __WALL)) > 0) {
    }
    if (r < 0 && errno != EINTR) break;  // ECHILD: none left
    sleep_ms(2);
  }
  if (!w->exited) {
    w->exited = 1;
    w->wait_status = SIGKILL;
  }
  priv->tree_empty = 1;
}

/// Reads what the guard sent (without blocking when `wait` is 0). Returns 0, or -1 when
/// the guard hung up (handled: guard_lost unless it was done).
static int guard_read(struct clinux_watch *w, int wait, int *fds, int *nfds) {
  struct watch_private *priv = w->spawn;
  if (nfds) *nfds = 0;
  for (;;) {
    if (priv->sock < 0) return -1;
    struct guard_msg m;
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
    union {
      char buf[CMSG_SPACE(3 * sizeof(int))];
      struct cmsghdr align;
    } u;
    struct msghdr h;
    memset(&h, 0, sizeof(h));
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = u.buf;
    h.msg_controllen = sizeof(u.buf);
    ssize_t n = recvmsg(priv->sock, &h, MSG_CMSG_CLOEXEC | (wait ? 0 : MSG_DONTWAIT));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (n <= 0) {
      close(priv->sock);
      priv->sock = -1;
      if (!priv->tree_empty) guard_lost(w);
      return -1;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      int got[3];
      memcpy(got, CMSG_DATA(c), (k > 3 ? 3 : k) * sizeof(int));
      for (int i = 0; i < k && i < 3; i++) {
        if (fds && nfds && *nfds < 3) fds[(*nfds)++] = got[i];
        else close(got[i]);
      }
    }
    switch (m.kind) {
    case GUARD_STARTED:
    case GUARD_FAILED:
      w->failed_step = m.kind == GUARD_FAILED ? m.a : 0;
      w->error = m.b;
      if (m.kind == GUARD_STARTED) w->pid = m.a;
      return 0;
    case GUARD_EXIT:
      // Stop forwarding before anything else: the pid is free now.
      clinux_spawn_hold_signals(&priv->spawn);
      if (!w->exited) {
        w->exited = 1;
        w->wait_status = m.a;
      }
      break;
    case GUARD_EMPTY:
      priv->tree_empty = 1;
      break;
    }
    if (wait) return 0;
  }
}

/// Blocks until the guard has reported the program's end (or is gone).
static void guard_wait_exit(struct clinux_watch *w) {
  struct watch_private *priv = w->spawn;
  while (!w->exited && priv->sock >= 0) guard_read(w, 1, NULL, NULL);
  if (!w->exited) {
    w->exited = 1;
    w->wait_status = SIGKILL;
  }
}

// Kills the program that must not run (it is reaped by the guard); w->failed_step and
// w->error say why.
static int fail_child(struct clinux_watch *w, int step, int error) {
  struct watch_private *priv = w->spawn;
  w->failed_step = step;
  w->error = error;
  if (w->pidfd >= 0) syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
  if (priv->gofd >= 0) {  // it exits unrun in any case
    close(priv->gofd);
    priv->gofd = -1;
  }
  guard_wait_exit(w);
  if (w->errfd >= 0) close(w->errfd);
  w->errfd = -1;
  return -1;
}

int clinux_watch_start(const char *path, char *const argv[], char *const envp[], int no_new_privs,
                       const void *prog, unsigned int len, unsigned int flags, struct clinux_watch *w) {
  memset(w, 0, sizeof(*w));
  w->pidfd = w->listener = w->errfd = -1;
  struct watch_private *priv = calloc(1, sizeof(*priv));
  if (!priv) {
    w->failed_step = CLINUX_LAUNCH_STEP_FORK;
    w->error = ENOMEM;
    return -1;
  }
  priv->sock = priv->gofd = -1;
  priv->spawn.errfd = priv->spawn.gofd = -1;
  w->spawn = priv;
  sigaction(SIGCHLD, NULL, &priv->oldchld);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    w->failed_step = CLINUX_LAUNCH_STEP_PIPE;
    w->error = errno;
    return -1;
  }
  // An inherited SIGCHLD = SIG_IGN (or SA_NOCLDWAIT) would auto-reap the guard. Set after
  // the fork: the guard and the program keep an ignored SIGCHLD as it was given.
  struct sigaction dflchld;
  memset(&dflchld, 0, sizeof(dflchld));
  dflchld.sa_handler = SIG_DFL;
  // Only for a guard that is killed: the tree then comes here, to be killed from here.
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &priv->spawn.saved);
  pid_t guard = fork();
  if (guard == 0) {
    close(sv[0]);
    guard_main(sv[1], &priv->spawn.saved, path, argv, envp, no_new_privs, prog, len, flags);
  }
  int fork_errno = errno;
  close(sv[1]);
  if (guard < 0) {
    sigprocmask(SIG_SETMASK, &priv->spawn.saved, NULL);
    close(sv[0]);
    w->failed_step = CLINUX_LAUNCH_STEP_FORK;
    w->error = fork_errno;
    return -1;
  }
  sigaction(SIGCHLD, &dflchld, NULL);
  priv->guard = guard;
  priv->sock = sv[0];
  w->guard = guard;
  walk_skip = guard;
  // Signals from other processes go to the guard, which hands them to the program.
  priv->spawn.pid = guard;
  clinux_spawn_forward_signals(&priv->spawn);  // sets the mask: the caller's, the forwarded unblocked
  priv->forwarding = 1;
  int fds[3], nfds = 0;
  if (guard_read(w, 1, fds, &nfds) != 0 || w->pid <= 0) {
    for (int i = 0; i < nfds; i++) close(fds[i]);
    if (!w->failed_step) {
      w->failed_step = CLINUX_LAUNCH_STEP_FORK;
      w->error = EPIPE;
    }
    w->pid = 0;
    return -1;
  }
  if (nfds < 3) {  // (cannot happen: the guard sends all three)
    for (int i = 0; i < nfds; i++) close(fds[i]);
    w->failed_step = CLINUX_LAUNCH_STEP_FORK;
    w->error = EPROTO;
    w->pid = 0;
    return -1;
  }
  w->errfd = fds[0];
  priv->gofd = fds[1];
  w->pidfd = fds[2];
  struct clinux_spawn report = {.pid = w->pid, .errfd = w->errfd, .gofd = -1};
  int number = -1, step = 0, error = 0;
  if (clinux_spawn_listener_number(&report, &number, &step, &error) != 0) return fail_child(w, step, error);
  // The child loads the filter after its report: retry until fd `number` is the listener.
  long deadline = now_ms() + 10000;
  int msg[2];
  for (;;) {
    int fd = (int)syscall(SYS_pidfd_getfd, w->pidfd, number, 0);
    if (fd >= 0) {
      if (is_seccomp_listener(fd)) {
        w->listener = fd;  // O_CLOEXEC (pidfd_getfd sets it)
        break;
      }
      close(fd);
    } else if (errno != EBADF) {
      int err = errno;
      // The child may have failed to load the filter and exited already: its report says why.
      struct pollfd q = {.fd = w->errfd, .events = POLLIN};
      if (poll(&q, 1, 1000) > 0 && read_msg(w->errfd, msg) == (int)sizeof(msg)) return fail_child(w, msg[0], msg[1]);
      return fail_child(w, CLINUX_LAUNCH_STEP_LISTENER, err);
    }
    struct pollfd p = {.fd = w->errfd, .events = POLLIN};
    if (poll(&p, 1, 1) > 0) {  // the load failed (or the child died)
      int n = read_msg(w->errfd, msg);
      return fail_child(w, n == (int)sizeof(msg) ? msg[0] : CLINUX_LAUNCH_STEP_FILTER, n == (int)sizeof(msg) ? msg[1] : EPIPE);
    }
    if (now_ms() > deadline) return fail_child(w, CLINUX_LAUNCH_STEP_LISTENER, ETIMEDOUT);
  }
  char go = CLINUX_SPAWN_GO;
  ssize_t ignored = write(priv->gofd, &go, 1);
  (void)ignored;
  close(priv->gofd);
  priv->gofd = -1;
  return 0;
}
int clinux_watch_reply(struct clinux_watch *w, uint64_t id, int error, int64_t val, uint32_t flags) {
  struct watch_resp resp = {.id = id, .val = val, .error = error > 0 ? -error : 0, .flags = flags};
  int rc;
  do rc = ioctl(w->listener, WATCH_IOCTL_NOTIF_SEND, &resp);
  while (rc < 0 && errno == EINTR);
  return rc;
}

int clinux_watch_id_valid(struct clinux_watch *w, uint64_t id) {
  return ioctl(w->listener, WATCH_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

int clinux_watch_next(struct clinux_watch *w, int timeout_ms, struct clinux_watch_notif *out) {
  struct watch_private *priv = w->spawn;
  long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
  for (;;) {
    if (w->exited) {
      // The program ended; its descendants may still use the filter. Signals meant for the
      // program go to them, and a second one stops the watch (or kills them: stop_kills).
      int count = 0;
      unsigned long held = clinux_spawn_take_held(&count);
      if (count > 0) {
        w->signals += count;
        for (int sig = 1; sig < 32; sig++)
          if (held & (1UL << sig)) w->forwarded += signal_descendants(sig, 1);
        if (w->signals >= 2 && !w->abandoned && !w->stop_killed) {
          int left = signal_descendants(0, 1);
          if (left > 0 && w->stop_kills) {
            w->stop_killed = left;
            signal_descendants(SIGKILL, 50);  // the watch goes on until they are gone
          } else if (left > 0) {
            w->abandoned = left;
            return CLINUX_WATCH_EXITED;
          }
        }
      }
      // Done when no task uses the filter: the listener hung up, or (kernels before 5.8
      // do not signal that) the guard has nothing left below it.
      if (priv->listener_hup || priv->tree_empty) return CLINUX_WATCH_EXITED;
    }
    struct pollfd p[3];
    int np = 0, il = -1, ig = -1, ie = -1;
    if (!priv->listener_hup && w->listener >= 0) {
      p[np] = (struct pollfd){.fd = w->listener, .events = POLLIN};
      il = np++;
    }
    if (priv->sock >= 0) {
      p[np] = (struct pollfd){.fd = priv->sock, .events = POLLIN};
      ig = np++;
    }
    if (w->errfd >= 0) {
      p[np] = (struct pollfd){.fd = w->errfd, .events = POLLIN};
      ie = np++;
    }
    int wait = -1;
    if (timeout_ms >= 0) {
      long left = deadline - now_ms();
      wait = left < 0 ? 0 : (int)left;
    }
    // After the program's end, wake every 50 ms to act on held signals another thread took.
    if (w->exited && (wait < 0 || wait > 50)) wait = 50;
    int rc = poll(p, np, wait);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return CLINUX_WATCH_TIMEOUT;
    }
    if (rc == 0) {
      if (timeout_ms >= 0 && now_ms() >= deadline && !w->exited) return CLINUX_WATCH_TIMEOUT;
      continue;
    }
    if (ie >= 0 && p[ie].revents) {
      int msg[2];
      int n = read_msg(w->errfd, msg);
      close(w->errfd);
      w->errfd = -1;
      if (n == (int)sizeof(msg)) {
        w->failed_step = msg[0];
        w->error = msg[1];
        clinux_spawn_hold_signals(&priv->spawn);
        // Its exit_group may be a notified call nobody would answer: kill it.
        syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
        guard_wait_exit(w);
        return CLINUX_WATCH_EXEC_FAILED;
      }
      w->exec_done = 1;
    }
    if (il >= 0 && (p[il].revents & POLLIN)) {
      struct watch_notif n;
      memset(&n, 0, sizeof(n));
      if (ioctl(w->listener, WATCH_IOCTL_NOTIF_RECV, &n) == 0) {
        if (!w->exec_done && (pid_t)n.pid == w->pid) {
          // syscage's own calls between the filter and execve.
          clinux_watch_reply(w, n.id, 0, 0, WATCH_USER_NOTIF_FLAG_CONTINUE);
          continue;
        }
        out->id = n.id;
        out->pid = n.pid;
        out->flags = n.flags;
        out->nr = n.data.nr;
        out->arch = n.data.arch;
        out->ip = n.data.ip;
        memcpy(out->args, n.data.args, sizeof(out->args));
        return CLINUX_WATCH_NOTIFICATION;
      }
      // ENOENT: the caller died (or was interrupted) before we got to it.
      continue;
    } else if (il >= 0 && (p[il].revents & (POLLHUP | POLLERR))) {
      priv->listener_hup = 1;  // no task uses the filter any more
    }
    if (ig >= 0 && p[ig].revents) guard_read(w, 0, NULL, NULL);
  }
}

// Sends `sig` to every descendant of the guard (the program's tree: every orphan of it
// reparents to the guard), or, when there is no guard (it was lost), of this process,
// found through /proc/<pid>/stat, repeating (for `rounds`) until none is left; sig 0
// counts them. Returns how many signals were sent. Rooted at the guard, it never reaches
// another child of this process (a test process runs watches beside other children).
static int signal_descendants(int sig, int rounds) {
  int sent = 0;
  pid_t self = walk_skip > 0 ? walk_skip : getpid();
  for (int round = 0; round < rounds; round++) {
    size_t cap = 1024, count = 0;
    pid_t *pids = malloc(cap * sizeof(pid_t)), *ppids = malloc(cap * sizeof(pid_t));
    if (!pids || !ppids) {
      free(pids);
      free(ppids);
      return sent;
    }
    DIR *d = opendir("/proc");
    if (!d) {
      free(pids);
      free(ppids);
      return sent;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
      char *end;
      long pid = strtol(e->d_name, &end, 10);
      if (*end || pid <= 0) continue;
      char path[64], buf[512];
      snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      ssize_t n = read(fd, buf, sizeof(buf) - 1);
      close(fd);
      if (n <= 0) continue;
      buf[n] = 0;
      char *paren = strrchr(buf, ')');
      if (!paren) continue;
      char state = 0;
      int ppid = 0;
      if (sscanf(paren + 1, " %c %d", &state, &ppid) != 2 || state == 'Z' || state == 'X') continue;
      if (count == cap) {
        cap *= 2;
        pid_t *a = realloc(pids, cap * sizeof(pid_t)), *b = realloc(ppids, cap * sizeof(pid_t));
        if (!a || !b) {
          free(a ? a : pids);
          free(b ? b : ppids);
          closedir(d);
          return sent;
        }
        pids = a;
        ppids = b;
      }
      pids[count] = (pid_t)pid;
      ppids[count] = ppid;
      count++;
    }
    closedir(d);
    // Descendants of self: repeat marking until nothing changes.
    char *mark = calloc(count ? count : 1, 1);
    int changed = 1, found = 0;
    while (changed && mark) {
      changed = 0;
      for (size_t i = 0; i < count; i++) {
        if (mark[i]) continue;
        int parent_marked = ppids[i] == self;
        for (size_t j = 0; !parent_marked && j < count; j++)
          if (mark[j] && pids[j] == ppids[i]) parent_marked = 1;
        if (parent_marked) {
          mark[i] = 1;
          changed = 1;
        }
      }
    }
    for (size_t i = 0; mark && i < count; i++)
      if (mark[i] && pids[i] != walk_skip && kill(pids[i], sig) == 0) {
        sent++;
        found = 1;
      }
    free(mark);
    free(pids);
    free(ppids);
    if (!found || sig != SIGKILL) break;
    sleep_ms(2);
  }
  return sent;
}

int clinux_watch_kill_tree(int rounds) { return signal_descendants(SIGKILL, rounds); }

void clinux_watch_end(struct clinux_watch *w) {
  struct watch_private *priv = w->spawn;
  if (priv && w->pid > 0 && !w->exited) {
    if (w->pidfd >= 0) syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
    if (priv->gofd >= 0) {
      close(priv->gofd);
      priv->gofd = -1;
    }
    guard_wait_exit(w);
  }
  if (w->listener >= 0) close(w->listener);
  if (w->pidfd >= 0) close(w->pidfd);
  if (w->errfd >= 0) close(w->errfd);
  w->listener = w->pidfd = w->errfd = -1;
  if (priv) {
    clinux_spawn_hold_signals(&priv->spawn);  // the guard's pid is about to be free
    if (priv->gofd >= 0) close(priv->gofd);
    if (priv->sock >= 0) {
      // Released, the guard leaves what is left running (abandoned); else it kills it
      // (nothing is left but when the tree ended without telling).
      if (w->abandoned > 0) {
        struct guard_msg m = {GUARD_RELEASE, 0, 0};
        while (send(priv->sock, &m, sizeof(m), MSG_NOSIGNAL) < 0 && errno == EINTR) {
        }
      }
      close(priv->sock);
      priv->sock = -1;
    }
    if (priv->guard > 0) {
      int st;
      while (waitpid(priv->guard, &st, __WALL) < 0 && errno == EINTR) {
      }
      priv->guard = 0;
    }
    walk_skip = 0;
    if (priv->forwarding) clinux_spawn_end(&priv->spawn);
    sigaction(SIGCHLD, &priv->oldchld, NULL);
    free(w->spawn);
    w->spawn = NULL;
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}
