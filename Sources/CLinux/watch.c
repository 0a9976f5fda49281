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
#include <sys/syscall.h>
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

struct watch_private {
  struct clinux_spawn spawn;
  struct sigaction oldchld;
  int listener_hup;  ///< the listener reported POLLHUP: no task uses the filter
  int started;       ///< the child was forked (clinux_spawn_end is due)
};

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

// Kills and reaps the child that must not run; w->failed_step and w->error say why.
static int fail_child(struct clinux_watch *w, int step, int error) {
  struct watch_private *priv = w->spawn;
  w->failed_step = step;
  w->error = error;
  clinux_spawn_abort(&priv->spawn);  // SIGKILL, close the go pipe, reap, close the report pipe
  w->errfd = -1;
  w->exited = 1;
  w->wait_status = SIGKILL;
  return -1;
}

int clinux_watch_start(const char *path, char *const argv[], char *const envp[], int no_new_privs,
                       const void *prog, unsigned int len, unsigned int flags, struct clinux_watch *w) {
  memset(w, 0, sizeof(*w));
  w->pidfd = w->listener = w->errfd = -1;
  struct watch_private *priv = calloc(1, sizeof(*priv));
  if (!priv) {
    w->failed_step = CLINUX_WATCH_STEP_FORK;
    w->error = ENOMEM;
    return -1;
  }
  struct clinux_spawn *s = &priv->spawn;
  s->errfd = s->gofd = -1;
  w->spawn = priv;
  // An inherited SIGCHLD = SIG_IGN (or SA_NOCLDWAIT) would auto-reap the program and make
  // waitpid block until every child (orphans included, as subreaper) is gone.
  // Set after the fork: the program keeps an ignored SIGCHLD as it was given.
  struct sigaction dflchld;
  memset(&dflchld, 0, sizeof(dflchld));
  dflchld.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, NULL, &priv->oldchld);
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  int step = 0, error = 0;
  if (clinux_spawn_start_listener(path, argv, envp, no_new_privs, prog, len, flags, s, &step, &error) != 0) {
    w->failed_step = step;
    w->error = error;
    return -1;
  }
  sigaction(SIGCHLD, &dflchld, NULL);
  priv->started = 1;
  w->pid = s->pid;
  w->errfd = s->errfd;
  clinux_spawn_forward_signals(s);
  w->pidfd = (int)syscall(SYS_pidfd_open, w->pid, 0);
  if (w->pidfd < 0) return fail_child(w, CLINUX_WATCH_STEP_LISTENER, errno);
  int number = -1;
  if (clinux_spawn_listener_number(s, &number, &step, &error) != 0) return fail_child(w, step, error);
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
      return fail_child(w, CLINUX_WATCH_STEP_LISTENER, err);
    }
    struct pollfd p = {.fd = w->errfd, .events = POLLIN};
    if (poll(&p, 1, 1) > 0) {  // the load failed (or the child died)
      int n = read_msg(w->errfd, msg);
      return fail_child(w, n == (int)sizeof(msg) ? msg[0] : CLINUX_WATCH_STEP_FILTER, n == (int)sizeof(msg) ? msg[1] : EPIPE);
    }
    if (now_ms() > deadline) return fail_child(w, CLINUX_WATCH_STEP_LISTENER, ETIMEDOUT);
  }
  s->errfd = -1;  // the watch owns the report pipe from here on
  clinux_spawn_release(s);
  return 0;
}

// Reaps every child that ended (the program, and orphans reparented here as subreaper).
// Stops forwarding signals before the program itself is reaped (its pid could be reused).
// Returns 1 while this process has children, 0 when it has none.
static int reap(struct clinux_watch *w) {
  struct watch_private *priv = w->spawn;
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) != 0) {
      if (errno == EINTR) continue;
      return errno == ECHILD ? 0 : 1;
    }
    if (si.si_pid == 0) return 1;  // children, none ended
    int program = si.si_pid == w->pid && !w->exited;
    if (program) clinux_spawn_hold_signals(&priv->spawn);
    int st = 0;
    pid_t r;
    while ((r = waitpid(si.si_pid, &st, WNOHANG | __WALL)) < 0 && errno == EINTR) {
    }
    if (program && r == w->pid) {
      w->exited = 1;
      w->wait_status = st;
    }
  }
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
      // program go to them, and a second one stops the watch.
      int count = 0;
      unsigned long held = clinux_spawn_take_held(&count);
      if (count > 0) {
        w->signals += count;
        for (int sig = 1; sig < 32; sig++)
          if (held & (1UL << sig)) w->forwarded += signal_descendants(sig, 1);
        if (w->signals >= 2 && !w->abandoned) {
          w->abandoned = signal_descendants(0, 1);
          if (w->abandoned > 0) return CLINUX_WATCH_EXITED;
        }
      }
      // Done when no task uses the filter: the listener hung up, or (kernels before 5.8
      // do not signal that) no descendant is left, as they are all reparented here.
      if (priv->listener_hup || !reap(w)) return CLINUX_WATCH_EXITED;
    }
    struct pollfd p[3];
    int np = 0, il = -1, ip = -1, ie = -1;
    if (!priv->listener_hup && w->listener >= 0) {
      p[np] = (struct pollfd){.fd = w->listener, .events = POLLIN};
      il = np++;
    }
    if (!w->exited) {
      p[np] = (struct pollfd){.fd = w->pidfd, .events = POLLIN};
      ip = np++;
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
    // After the program's end, wake every 50 ms: to reap orphans (the end is seen that way
    // where the listener never hangs up; on Linux 6.18 it does once the last user has
    // exited, zombie or not) and to act on held signals another thread took.
    if (w->exited && (wait < 0 || wait > 50)) wait = 50;
    int rc = poll(p, np, wait);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return CLINUX_WATCH_TIMEOUT;
    }
    if (rc == 0) {
      reap(w);
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
        kill(w->pid, SIGKILL);
        int st;
        while (waitpid(w->pid, &st, __WALL) < 0 && errno == EINTR) {
        }
        w->exited = 1;
        w->wait_status = st;
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
    if (ip >= 0 && p[ip].revents) reap(w);
  }
}

// Sends `sig` to every descendant of this process, found through /proc/<pid>/stat,
// repeating (for `rounds`) until none is left; sig 0 counts them. Returns how many
// signals were sent.
static int signal_descendants(int sig, int rounds) {
  int sent = 0;
  pid_t self = getpid();
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
      if (mark[i] && kill(pids[i], sig) == 0) {
        sent++;
        found = 1;
      }
    free(mark);
    free(pids);
    free(ppids);
    if (!found || sig != SIGKILL) break;
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  return sent;
}

int clinux_watch_kill_tree(int rounds) { return signal_descendants(SIGKILL, rounds); }

void clinux_watch_end(struct clinux_watch *w) {
  if (w->pid > 0 && !w->exited) {
    kill(w->pid, SIGKILL);
    int st;
    while (waitpid(w->pid, &st, __WALL) < 0 && errno == EINTR) {
    }
    w->exited = 1;
    w->wait_status = st;
  }
  if (w->listener >= 0) close(w->listener);
  if (w->pidfd >= 0) close(w->pidfd);
  if (w->errfd >= 0) close(w->errfd);
  w->listener = w->pidfd = w->errfd = -1;
  if (w->spawn) {
    struct watch_private *priv = w->spawn;
    if (priv->started) clinux_spawn_end(&priv->spawn);
    sigaction(SIGCHLD, &priv->oldchld, NULL);
    free(w->spawn);
    w->spawn = NULL;
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}
