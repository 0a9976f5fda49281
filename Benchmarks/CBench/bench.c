// Timing of syscalls under a loaded seccomp filter: see CBench.h.
//
// caller ──fork──▶ child: no_new_privs, seccomp(filter), warm-up, timed loop (in
//                         batches), write {status, errno, ns, best batch, result}
//                         to the pipe, _exit
// caller: read the pipe, reap the child.
//
// The caller may be a multithreaded Swift process, so after fork the child only
// makes raw system calls (and clock_gettime, which is the vDSO or a raw call).
// Once the filter is loaded, every call the child makes goes through it: the
// profiles benchmarked allow write and exit_group, and a child that is killed
// or cannot report is seen by the caller as "no result".

#if defined(__x86_64__) && defined(__linux__)

#include "../../Sources/CLinux/ia32.h"  // the product's int 0x80 helper, private to CLinux
#include "CBench.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#ifndef SECCOMP_SET_MODE_FILTER
#define SECCOMP_SET_MODE_FILTER 1
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif
#ifndef __NR_seccomp
#define __NR_seccomp 317
#endif

// What the child reports.
struct bench_report {
  int64_t status;  // 0 ok, else the step that failed (1 no_new_privs, 2 seccomp, 3 clock)
  int64_t error;   // errno of the failed step
  double ns;       // mean ns per call over the whole loop
  double best;     // the lowest mean ns per call of one batch
  int64_t result;  // the last call's raw return value
};

// The call through `syscall`: nr in rax, args in rdi, rsi, rdx, r10, r8, r9.
static inline long bench_native(long nr, const uint64_t *a) {
  register uint64_t r10 __asm__("r10") = a[3];
  register uint64_t r8 __asm__("r8") = a[4];
  register uint64_t r9 __asm__("r9") = a[5];
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "0"(nr), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}


static int64_t now_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return -1;
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    long w = syscall(SYS_write, fd, p, n);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

// The child's work; never returns.
static void bench_child(int fd, const struct sock_filter *prog, unsigned short len, int abi,
                        long nr, const uint64_t *args, long iterations, long batches) {
  struct bench_report r;
  memset(&r, 0, sizeof r);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    r.status = 1;
    r.error = errno;
    goto report;
  }
  if (len > 0) {
    struct sock_fprog fprog = {.len = len, .filter = (struct sock_filter *)prog};
    long rc = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &fprog);
    if (rc != 0 && errno == EINVAL)  // kernels before 4.17 lack SPEC_ALLOW
      rc = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog);
    if (rc != 0) {
      r.status = 2;
      r.error = errno;
      goto report;
    }
  }
  long warmup = iterations / 4;
  if (warmup < 1000) warmup = 1000;
  long ret = 0;
  const int ia32 = abi == CBENCH_ABI_IA32;
  for (long i = 0; i < warmup; i++) ret = ia32 ? clinux_int80(nr, args) : bench_native(nr, args);
  // The loop is timed as a whole, and in `batches` parts: a part that the scheduler
  // interrupted is slower, so the fastest part estimates the undisturbed cost.
  long per = iterations / batches;
  int64_t t0 = now_ns();
  int64_t last = t0;
  double best = 0;
  for (long b = 0; b < batches; b++) {
    long n = b == batches - 1 ? iterations - per * (batches - 1) : per;
    if (ia32) {
      for (long i = 0; i < n; i++) ret = clinux_int80(nr, args);
    } else {
      for (long i = 0; i < n; i++) ret = bench_native(nr, args);
    }
    int64_t t = now_ns();
    double mean = (double)(t - last) / (double)n;
    if (b == 0 || mean < best) best = mean;
    last = t;
  }
  if (t0 < 0 || last < 0) {
    r.status = 3;
    r.error = errno;
    goto report;
  }
  r.ns = (double)(last - t0) / (double)iterations;
  r.best = best;
  r.result = ret;
report:
  write_all(fd, &r, sizeof r);
  _exit(0);
}

int cbench_filter_batches(const struct sock_filter *prog, unsigned short len, int abi,
                                long nr, const uint64_t args[6], long iterations, long batches,
                                double *ns_per_call, double *best_batch_ns, long *result) {
  if ((len > 0 && prog == NULL) || args == NULL || iterations <= 0 || batches <= 0 ||
      batches > iterations || ns_per_call == NULL ||
      (abi != CBENCH_ABI_NATIVE && abi != CBENCH_ABI_IA32)) {
    errno = EINVAL;
    return -1;
  }
  uint64_t a[6];
  memcpy(a, args, sizeof a);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    errno = e;
    return -1;
  }
  if (pid == 0) {
    close(fds[0]);
    bench_child(fds[1], prog, len, abi, nr, a, iterations, batches);
  }
  close(fds[1]);
  struct bench_report r;
  size_t got = 0;
  while (got < sizeof r) {
    ssize_t n = read(fds[0], (char *)&r + got, sizeof r - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got != sizeof r) {
    errno = EINTR;  // the child died without a result
    return -1;
  }
  if (r.status != 0) {
    errno = (int)r.error;
    return -1;
  }
  *ns_per_call = r.ns;
  if (best_batch_ns) *best_batch_ns = r.best;
  if (result) *result = (long)r.result;
  return 0;
}

int cbench_filter_result(const struct sock_filter *prog, unsigned short len, int abi,
                               long nr, const uint64_t args[6], long iterations,
                               double *ns_per_call, long *result) {
  return cbench_filter_batches(prog, len, abi, nr, args, iterations, 1, ns_per_call, NULL,
                                     result);
}

int cbench_filter(const struct sock_filter *prog, unsigned short len, int abi, long nr,
                        const uint64_t args[6], long iterations, double *ns_per_call) {
  return cbench_filter_batches(prog, len, abi, nr, args, iterations, 1, ns_per_call, NULL,
                                     NULL);
}

#else  // not x86_64 Linux

#include "CBench.h"
#include <errno.h>
#include <stddef.h>

int cbench_filter_batches(const struct sock_filter *prog, unsigned short len, int abi,
                                long nr, const uint64_t args[6], long iterations, long batches,
                                double *ns_per_call, double *best_batch_ns, long *result) {
  (void)prog; (void)len; (void)abi; (void)nr; (void)args; (void)iterations; (void)batches;
  (void)ns_per_call; (void)best_batch_ns; (void)result;
  errno = ENOSYS;
  return -1;
}

int cbench_filter_result(const struct sock_filter *prog, unsigned short len, int abi,
                               long nr, const uint64_t args[6], long iterations,
                               double *ns_per_call, long *result) {
  return cbench_filter_batches(prog, len, abi, nr, args, iterations, 1, ns_per_call, NULL,
                                     result);
}

int cbench_filter(const struct sock_filter *prog, unsigned short len, int abi, long nr,
                        const uint64_t args[6], long iterations, double *ns_per_call) {
  return cbench_filter_batches(prog, len, abi, nr, args, iterations, 1, ns_per_call, NULL,
                                     NULL);
}

#endif
