// The live kernel as an oracle for a seccomp filter: see clinux_probe.h.
//
// Layout of one probe:
//
//   caller ──fork──▶ child main thread                 child supervisor thread
//                    (target)                           (created before any filter)
//                    set_tid_address(&tid_word), thread pidfd, userfaultfd doorbell page
//                    SIGSYS handler (record, ring the doorbell)
//                    no_new_privs
//                    seccomp(NEW_LISTENER, notify-all) ─▶ listener fd (memory store)
//                    seccomp(filter under test) ──notif─▶ check it, FLAG_CONTINUE
//                    the call under test ─────────notif─▶ record, fail with the marker
//                    store the return value,               or: see ret / SIGSYS / tid 0
//                    ring the doorbell (blocks for good)   write result to pipe, exit_group
//   caller: read the pipe, reap; a child dead of SIGSYS without a result = KILL_PROCESS.
//
// Once its filters are in place the main thread cannot block in a system call
// (each one is filtered, and may be killed or trapped), so when it is done it
// writes to a page registered with a userfaultfd: the fault parks it in the
// kernel and wakes the supervisor, which polls the listener, the userfaultfd
// and the thread's pidfd (readable when KILL_THREAD ends it). Without those
// (old kernels, userfaultfd forbidden) the main thread spins and the supervisor
// naps; results are the same, only slower under CPU contention.
//
// After fork only raw system calls (and sigaction/clone, which are thin
// wrappers) run in the child: the caller may be a multithreaded Swift process.
// The supervisor thread shares the main thread's TLS (no CLONE_SETTLS), so it
// must not touch errno or anything else thread-local: it only uses raw_syscall.

#if defined(__x86_64__) && defined(__linux__)

#include "ia32.h"
#include "clinux_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>

// Constants that older headers may lack.
#ifndef SECCOMP_SET_MODE_FILTER
#define SECCOMP_SET_MODE_FILTER 1
#endif
#ifndef SECCOMP_GET_ACTION_AVAIL
#define SECCOMP_GET_ACTION_AVAIL 2
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif
#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif
#ifndef __NR_seccomp
#define __NR_seccomp 317
#endif
#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_userfaultfd
#define __NR_userfaultfd 323
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL  // 6.9+: the pidfd reports this thread's exit
#endif
#ifndef AUDIT_ARCH_X86_64
#define AUDIT_ARCH_X86_64 0xc000003eU
#endif

// The notification structures and ioctls, declared here so that old headers
// (before 5.0) still compile; the layout is fixed uapi.
struct probe_seccomp_data {
  int nr;
  uint32_t arch;
  uint64_t instruction_pointer;
  uint64_t args[6];
};
struct probe_notif {
  uint64_t id;
  uint32_t pid;
  uint32_t flags;
  struct probe_seccomp_data data;
};
struct probe_notif_resp {
  uint64_t id;
  int64_t val;
  int32_t error;
  uint32_t flags;
};
_Static_assert(sizeof(struct probe_notif) == 80, "struct seccomp_notif is 80 bytes");
_Static_assert(sizeof(struct probe_notif_resp) == 24, "struct seccomp_notif_resp is 24 bytes");
// _IOWR('!', 0, struct seccomp_notif), _IOWR('!', 1, struct seccomp_notif_resp)
#define PROBE_IOCTL_NOTIF_RECV 0xc0502100UL
#define PROBE_IOCTL_NOTIF_SEND 0xc0182101UL

_Static_assert(sizeof(struct clinux_probe_result) == 8 * CLINUX_PROBE_RESULT_WORDS,
               "every result field is one 64-bit word");
_Static_assert(offsetof(struct clinux_probe_result, args) == 8 * 9, "args are words 9...14");
_Static_assert(offsetof(struct clinux_probe_result, elapsed_ns) == 8 * 17, "elapsed_ns is word 17");

// ---------------------------------------------------------------------------
// Raw system calls: no errno, no TLS, returns -errno on failure.

static inline long raw_syscall6(long n, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#define raw0(n) raw_syscall6((n), 0, 0, 0, 0, 0, 0)
#define raw1(n, a) raw_syscall6((n), (long)(a), 0, 0, 0, 0, 0)
#define raw2(n, a, b) raw_syscall6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define raw3(n, a, b, c) raw_syscall6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define raw4(n, a, b, c, d) raw_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define raw6(n, a, b, c, d, e, f) \
  raw_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static __attribute__((noreturn)) void raw_exit_group(int code) {
  for (;;) raw1(SYS_exit_group, code);
}

static inline void spin_forever(void) {
  for (;;) __asm__ volatile("pause" ::: "memory");
}

// The call under test through `syscall`: rax = nr, args in rdi, rsi, rdx, r10, r8, r9.
static __attribute__((noinline)) long call_native(long nr, const uint64_t *a) {
  return raw_syscall6(nr, (long)a[0], (long)a[1], (long)a[2], (long)a[3], (long)a[4], (long)a[5]);
}

// The call under test through `int $0x80` (ia32.h), kept out of line.
static __attribute__((noinline)) long call_ia32(long nr, const uint64_t *a) { return clinux_int80(nr, a); }

static int64_t monotonic_ns_raw(void) {
  struct timespec ts;
  if (raw2(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0) return 0;
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// ---------------------------------------------------------------------------
// The child's shared state (both threads of the child; not shared with the caller).

enum { PHASE_INSTALL = 0, PHASE_CALL = 1, PHASE_NOTIFIED = 2 };

struct probe_ctl {
  // Inputs.
  const void *prog;
  unsigned int len;
  int abi;
  int listen_on_test;          // second pass: the filter under test gets the listener
  long nr;
  uint64_t args[6];
  int pipe_fd;
  int64_t deadline_ns;
  struct sock_fprog notify_fprog;
  struct sock_filter notify_insn[1];
  struct sock_fprog test_fprog;

  int uffd;                    // -1, or a userfaultfd watching `doorbell`
  int pidfd;                   // -1, or a thread pidfd of the main thread
  volatile char *doorbell;     // an untouched page: writing it blocks the writer

  // Written by the main thread, read by the supervisor.
  volatile int32_t tid_word;   // cleared by the kernel when the main thread dies
  int32_t listener;            // -1 until the notify filter is installed
  int32_t failed_step;         // 0, or CLINUX_PROBE_STEP_* with failed_errno
  int32_t failed_errno;
  int32_t returned;            // 1 when retval is valid
  int64_t retval;
  int32_t trapped;             // 1 when the sig_* fields are valid
  int32_t sig_code;
  int32_t sig_errno;
  int32_t sig_syscall;
  uint32_t sig_arch;
  uint64_t sig_addr;
};

static struct probe_ctl *probe_child_ctl;  // only ever set in the child

#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

// The main thread is done and must not return anywhere (any system call it
// made now would be filtered). It writes the doorbell page: the fault blocks
// it in the kernel for good and wakes the supervisor through the userfaultfd.
// Without a userfaultfd it spins (and competes with the supervisor for a CPU).
static __attribute__((noreturn)) void main_done(struct probe_ctl *c) {
  if (c->uffd >= 0) *c->doorbell = 1;
  spin_forever();
  __builtin_unreachable();
}

static void probe_sigsys(int sig, siginfo_t *si, void *uctx) {
  (void)sig;
  (void)uctx;
  struct probe_ctl *c = probe_child_ctl;
  c->sig_code = si->si_code;
  c->sig_errno = si->si_errno;
  c->sig_syscall = si->si_syscall;
  c->sig_arch = si->si_arch;
  c->sig_addr = (uint64_t)(uintptr_t)si->si_call_addr;
  STORE_REL(&c->trapped, 1);
  main_done(c);  // returning would need rt_sigreturn, which the filters see
}

static __attribute__((noreturn)) void main_fail(struct probe_ctl *c, int step, long err) {
  c->failed_errno = (int32_t)err;
  STORE_REL(&c->failed_step, step);
  main_done(c);
}

// ---------------------------------------------------------------------------
// The supervisor thread.

static __attribute__((noreturn)) void supervisor_finish(struct probe_ctl *c,
                                                       struct clinux_probe_result *r) {
  const char *p = (const char *)r;
  size_t left = sizeof(*r);
  while (left > 0) {
    long n = raw3(SYS_write, c->pipe_fd, p, left);
    if (n == -EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= (size_t)n;
  }
  raw_exit_group(0);
}

static void notif_reply(int fd, uint64_t id, int32_t error, uint32_t flags, long *err) {
  struct probe_notif_resp resp;
  memset(&resp, 0, sizeof(resp));
  resp.id = id;
  resp.error = error;
  resp.flags = flags;
  long rc;
  do rc = raw3(SYS_ioctl, fd, PROBE_IOCTL_NOTIF_SEND, &resp);
  while (rc == -EINTR);
  *err = rc < 0 ? -rc : 0;
}

static int supervisor_main(void *arg) {
  struct probe_ctl *c = arg;
  struct clinux_probe_result r;
  memset(&r, 0, sizeof(r));
  r.size = sizeof(r);
  int phase = c->listen_on_test ? PHASE_CALL : PHASE_INSTALL;
  long spins = 0;
  raw2(SYS_prctl, PR_SET_TIMERSLACK, 1);  // short naps should be short

  for (;;) {
    if (monotonic_ns_raw() > c->deadline_ns) {
      r.kind = CLINUX_PROBE_TIMEOUT;
      supervisor_finish(c, &r);
    }
    int step = LOAD_ACQ(&c->failed_step);
    if (step != 0) {
      r.kind = CLINUX_PROBE_LOAD_FAILED;
      r.step = step;
      r.error = c->failed_errno;
      supervisor_finish(c, &r);
    }

    // Wait for the next event. With the doorbell and the thread pidfd every
    // outcome wakes this poll; the timeouts are a safety net (and the way to
    // notice outcomes without them).
    int fd = LOAD_ACQ(&c->listener);
    int wakes = c->uffd >= 0 && c->pidfd >= 0;
    struct pollfd pfds[3] = {
        {.fd = fd, .events = POLLIN, .revents = 0},
        {.fd = c->uffd, .events = POLLIN, .revents = 0},
        {.fd = c->pidfd, .events = POLLIN, .revents = 0},
    };
    // Nothing wakes the poll when the listener appears, so nap until it does.
    long nap_ns = fd < 0 ? 20000 : wakes ? 10000000 : spins < 1000 ? 20000 : 1000000;
    struct timespec nap = {.tv_sec = 0, .tv_nsec = nap_ns};
    long n = raw6(SYS_ppoll, pfds, 3, &nap, NULL, 0, 0);
    if (fd >= 0) {
      struct pollfd pfd = pfds[0];
      if (n > 0 && (pfd.revents & POLLIN)) {
        struct probe_notif notif;
        memset(&notif, 0, sizeof(notif));  // the kernel insists on a zeroed struct
        long rc = raw3(SYS_ioctl, fd, PROBE_IOCTL_NOTIF_RECV, &notif);
        if (rc == 0) {
          long err = 0;
          const struct probe_seccomp_data *d = &notif.data;
          if (phase == PHASE_INSTALL) {
            // Only the main thread's seccomp(SET_MODE_FILTER, 0, &test_fprog) may arrive now.
            if (d->nr == __NR_seccomp && d->arch == AUDIT_ARCH_X86_64 &&
                d->args[0] == SECCOMP_SET_MODE_FILTER && d->args[1] == 0 &&
                d->args[2] == (uint64_t)(uintptr_t)&c->test_fprog) {
              notif_reply(fd, notif.id, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE, &err);
              if (err != 0) {
                r.kind = CLINUX_PROBE_LOAD_FAILED;
                r.step = CLINUX_PROBE_STEP_CONTINUE;
                r.error = err;
                supervisor_finish(c, &r);
              }
              phase = PHASE_CALL;
              spins = 0;
              continue;
            }
          }
          // The call under test (or, out of phase, something unexpected): fail it.
          notif_reply(fd, notif.id, -CLINUX_PROBE_MARKER_ERRNO, 0, &err);
          r.nr = d->nr;
          r.arch = d->arch;
          r.ip = (int64_t)d->instruction_pointer;
          for (int i = 0; i < 6; i++) r.args[i] = d->args[i];
          if (phase != PHASE_CALL) {
            r.kind = CLINUX_PROBE_OTHER;
            r.detail = CLINUX_PROBE_DETAIL_NOTIFICATION;
            supervisor_finish(c, &r);
          }
          phase = PHASE_NOTIFIED;
          spins = 0;
          continue;
        }
      }
    }

    if (LOAD_ACQ(&c->trapped)) {
      if (c->sig_code == SYS_SECCOMP) {
        r.kind = CLINUX_PROBE_TRAPPED;
        r.error = c->sig_errno;
        r.nr = c->sig_syscall;
        r.arch = c->sig_arch;
        r.ip = (int64_t)c->sig_addr;
      } else {
        r.kind = CLINUX_PROBE_OTHER;
        r.detail = CLINUX_PROBE_DETAIL_SIGSYS;
        r.error = c->sig_code;
      }
      supervisor_finish(c, &r);
    }
    if (LOAD_ACQ(&c->returned)) {
      long ret = c->retval;
      r.retval = ret;
      if (phase == PHASE_NOTIFIED && ret == -CLINUX_PROBE_MARKER_ERRNO) {
        r.kind = CLINUX_PROBE_NOTIFIED;
      } else if (phase == PHASE_CALL && ret <= 0 && ret >= -4095) {
        r.kind = CLINUX_PROBE_ERRNO;
        r.error = -ret;
      } else {
        r.kind = CLINUX_PROBE_OTHER;
        r.detail = CLINUX_PROBE_DETAIL_RETURN;
      }
      supervisor_finish(c, &r);
    }
    if (LOAD_ACQ(&c->tid_word) == 0) {
      // The kernel cleared the word: the main thread is gone, the process is not.
      r.kind = CLINUX_PROBE_KILLED_THREAD;
      supervisor_finish(c, &r);
    }
    spins++;
  }
}

// ---------------------------------------------------------------------------
// The child's main thread.

static __attribute__((noreturn)) void child_main(struct probe_ctl *in, int pipe_fd,
                                                 pid_t parent) {
  // Die with the caller; no core files (core_pattern may be a relative "core").
  raw2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  if (raw0(SYS_getppid) != parent) raw_exit_group(127);
  raw2(SYS_prctl, PR_SET_DUMPABLE, 0);

  // Keep only the result pipe (and stdio, harmless) of whatever the caller had open.
  if (pipe_fd > 3) raw3(__NR_close_range, 3, pipe_fd - 1, 0);
  raw3(__NR_close_range, pipe_fd + 1, ~0U, 0);

  // Block every signal; the main thread later lets SIGSYS through.
  sigset_t all;
  sigfillset(&all);
  raw4(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, sizeof(long));

  // One private mapping: the shared state, then the supervisor's stack.
  const size_t stack_size = 64 * 1024;
  const size_t ctl_size = (sizeof(struct probe_ctl) + 4095) & ~(size_t)4095;
  long m = raw6(SYS_mmap, 0, ctl_size + stack_size, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  struct clinux_probe_result fail;
  memset(&fail, 0, sizeof(fail));
  fail.size = sizeof(fail);
  fail.kind = CLINUX_PROBE_LOAD_FAILED;
  fail.step = CLINUX_PROBE_STEP_SETUP;
  if (m < 0 && m > -4096) {
    fail.error = -m;
    raw3(SYS_write, pipe_fd, &fail, sizeof(fail));
    raw_exit_group(0);
  }
  struct probe_ctl *c = (struct probe_ctl *)m;
  memcpy(c, in, sizeof(*c));
  c->pipe_fd = pipe_fd;
  c->listener = -1;
  c->notify_insn[0] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
  c->notify_fprog.len = 1;
  c->notify_fprog.filter = c->notify_insn;
  c->test_fprog.len = (unsigned short)c->len;
  c->test_fprog.filter = (struct sock_filter *)c->prog;  // the caller's memory, copied by fork
  probe_child_ctl = c;

  // The doorbell: a page never touched, registered for missing-page faults.
  c->uffd = -1;
  c->pidfd = -1;
  long page = raw6(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  long uffd = raw1(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (uffd == -EINVAL) uffd = raw1(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);  // before 5.11
  if (uffd >= 0 && !(page < 0 && page > -4096)) {
    struct uffdio_api api = {.api = UFFD_API, .features = 0, .ioctls = 0};
    struct uffdio_register reg = {
        .range = {.start = (uint64_t)page, .len = 4096},
        .mode = UFFDIO_REGISTER_MODE_MISSING,
        .ioctls = 0,
    };
    if (raw3(SYS_ioctl, uffd, UFFDIO_API, &api) == 0 &&
        raw3(SYS_ioctl, uffd, UFFDIO_REGISTER, &reg) == 0) {
      c->uffd = (int)uffd;
      c->doorbell = (volatile char *)page;
    } else {
      raw1(SYS_close, uffd);
    }
  }

  // The kernel clears tid_word (and wakes futex waiters) when this thread exits.
  c->tid_word = (int32_t)raw0(SYS_gettid);
  raw1(SYS_set_tid_address, &c->tid_word);
  long pidfd = raw2(__NR_pidfd_open, c->tid_word, PIDFD_THREAD);  // readable once it dies
  if (pidfd >= 0) c->pidfd = (int)pidfd;

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = probe_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigfillset(&sa.sa_mask);
  if (sigaction(SIGSYS, &sa, NULL) != 0) {  // glibc adds the restorer x86_64 requires
    fail.error = EINVAL;
    raw3(SYS_write, pipe_fd, &fail, sizeof(fail));
    raw_exit_group(0);
  }

  // The supervisor starts before any filter: filters apply to the installing
  // thread only (no TSYNC), so it stays unfiltered. It inherits the full mask.
  char *stack_top = (char *)m + ctl_size + stack_size;
  int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
  long tid = clone(supervisor_main, stack_top, flags, c);
  if (tid < 0) {
    fail.error = EAGAIN;
    raw3(SYS_write, pipe_fd, &fail, sizeof(fail));
    raw_exit_group(0);
  }

  sigset_t sys;
  sigemptyset(&sys);
  sigaddset(&sys, SIGSYS);
  raw4(SYS_rt_sigprocmask, SIG_UNBLOCK, &sys, NULL, sizeof(long));

  long rc = raw2(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1);
  if (rc < 0) main_fail(c, CLINUX_PROBE_STEP_NO_NEW_PRIVS, -rc);

  if (c->listen_on_test) {
    // Second pass (see clinux_probe_filter): the filter under test alone, with the listener.
    long fd = raw3(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                   &c->test_fprog);
    if (fd < 0) main_fail(c, CLINUX_PROBE_STEP_FILTER, -fd);
    STORE_REL(&c->listener, (int32_t)fd);
  } else {
    long fd = raw3(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                   &c->notify_fprog);
    if (fd < 0) main_fail(c, CLINUX_PROBE_STEP_LISTENER, -fd);
    STORE_REL(&c->listener, (int32_t)fd);

    // From here every system call of this thread is notified. This one the
    // supervisor continues, so the kernel installs the filter under test.
    rc = raw3(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &c->test_fprog);
    if (rc < 0) main_fail(c, CLINUX_PROBE_STEP_FILTER, -rc);
  }

  long ret = c->abi == CLINUX_PROBE_ABI_IA32 ? call_ia32(c->nr, c->args)
                                             : call_native(c->nr, c->args);
  c->retval = ret;
  STORE_REL(&c->returned, 1);
  main_done(c);
}

// ---------------------------------------------------------------------------
// The caller.

static int64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void reap(pid_t pid, int *status) {
  while (waitpid(pid, status, __WALL) < 0) {
    if (errno != EINTR) {
      *status = -1;
      return;
    }
  }
}

static void probe_once(const void *prog, unsigned int len, int abi, long nr,
                       const uint64_t args[6], int timeout_ms, int listen_on_test,
                       struct clinux_probe_result *out) {
  int64_t start = monotonic_ns();
  memset(out, 0, sizeof(*out));
  out->size = sizeof(*out);

  struct probe_ctl ctl;
  memset(&ctl, 0, sizeof(ctl));
  ctl.prog = prog;
  ctl.len = len;
  ctl.abi = abi;
  ctl.listen_on_test = listen_on_test;
  ctl.nr = nr;
  for (int i = 0; i < 6; i++) ctl.args[i] = args[i];
  ctl.deadline_ns = start + (int64_t)timeout_ms * 1000000LL;

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    out->kind = CLINUX_PROBE_LOAD_FAILED;
    out->step = CLINUX_PROBE_STEP_PIPE;
    out->error = errno;
    return;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    out->kind = CLINUX_PROBE_LOAD_FAILED;
    out->step = CLINUX_PROBE_STEP_FORK;
    out->error = e;
    return;
  }
  if (pid == 0) {
    raw1(SYS_close, fds[0]);
    child_main(&ctl, fds[1], parent);
  }
  close(fds[1]);

  // Read one result, or EOF when the child died without one.
  struct clinux_probe_result got;
  size_t have = 0;
  int timed_out = 0;
  int64_t hard_deadline = ctl.deadline_ns + 2000000000LL;  // the supervisor's own limit, + 2 s
  while (have < sizeof(got)) {
    int64_t left_ms = (hard_deadline - monotonic_ns()) / 1000000;
    if (left_ms <= 0) {
      timed_out = 1;
      break;
    }
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN, .revents = 0};
    int n = poll(&pfd, 1, (int)(left_ms > 1000 ? 1000 : left_ms));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (n == 0) continue;
    ssize_t k = read(fds[0], (char *)&got + have, sizeof(got) - have);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    have += (size_t)k;
  }
  close(fds[0]);
  if (timed_out || have < sizeof(got)) kill(pid, SIGKILL);
  int status = 0;
  reap(pid, &status);

  if (have == sizeof(got) && got.size == (int64_t)sizeof(got)) {
    *out = got;
  } else if (timed_out) {
    out->kind = CLINUX_PROBE_TIMEOUT;
  } else if (status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
    out->kind = CLINUX_PROBE_KILLED_PROCESS;
    out->signal = SIGSYS;
  } else if (status != -1 && WIFSIGNALED(status)) {
    out->kind = CLINUX_PROBE_OTHER;
    out->detail = CLINUX_PROBE_DETAIL_SIGNALED;
    out->signal = WTERMSIG(status);
  } else if (status != -1 && WIFEXITED(status) && have == 0) {
    out->kind = CLINUX_PROBE_OTHER;
    out->detail = CLINUX_PROBE_DETAIL_EXITED;
  } else {
    out->kind = CLINUX_PROBE_OTHER;
    out->detail = CLINUX_PROBE_DETAIL_RESULT;
  }
  out->size = sizeof(*out);
  out->status = status;
  out->elapsed_ns = monotonic_ns() - start;
}

int clinux_probe_filter(const void *prog, unsigned int len, int abi, long nr,
                        const uint64_t args[6], int timeout_ms,
                        struct clinux_probe_result *out) {
  if (out == NULL || prog == NULL || args == NULL || len > 0xffff ||
      (abi != CLINUX_PROBE_ABI_NATIVE && abi != CLINUX_PROBE_ABI_IA32)) {
    errno = EINVAL;
    return -1;
  }
  if (timeout_ms <= 0) timeout_ms = 5000;
  probe_once(prog, len, abi, nr, args, timeout_ms, 0, out);

  // A filter under test that returns USER_NOTIF wins the tie with the
  // notify-everything filter (of equal actions the newest filter's counts),
  // has no listener, and so fails the call with ENOSYS: from here that looks
  // like ERRNO(ENOSYS). Tell them apart with the filter under test alone,
  // holding the listener itself. This is safe: the filter sees the same data
  // (same nr, arch, args and instruction pointer) and so returns USER_NOTIF or
  // ERRNO(ENOSYS) again; neither lets the call run.
  if (out->kind == CLINUX_PROBE_ERRNO && out->error == ENOSYS) {
    struct clinux_probe_result second;
    probe_once(prog, len, abi, nr, args, timeout_ms, 1, &second);
    if (second.kind == CLINUX_PROBE_NOTIFIED) {
      second.kind = CLINUX_PROBE_USER_NOTIF;
      second.elapsed_ns += out->elapsed_ns;
      *out = second;
    } else {
      out->elapsed_ns += second.elapsed_ns;
    }
  }
  return 0;
}

int clinux_probe_supported(void) {
  uint32_t action = SECCOMP_RET_USER_NOTIF;
  return syscall(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0 ? 1 : 0;
}

#else  // not x86_64 Linux

#include "clinux_probe.h"
#include <errno.h>

int clinux_probe_filter(const void *prog, unsigned int len, int abi, long nr,
                        const uint64_t args[6], int timeout_ms,
                        struct clinux_probe_result *out) {
  (void)prog; (void)len; (void)abi; (void)nr; (void)args; (void)timeout_ms; (void)out;
  errno = ENOSYS;
  return -1;
}

int clinux_probe_supported(void) { return 0; }

#endif
