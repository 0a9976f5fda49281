#include "clinux_dump.h"

#include <errno.h>
#include <linux/filter.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

int clinux_dump_attach(pid_t tid) {
  if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0) return -1;
  if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0) {
    int e = errno;
    ptrace(PTRACE_DETACH, tid, 0, 0);
    errno = e;
    return -1;
  }
  int st;
  for (;;) {
    pid_t w = waitpid(tid, &st, __WALL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    if (WIFSTOPPED(st)) return 0;
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
      errno = ESRCH;
      return -1;
    }
  }
}

long clinux_dump_filter(pid_t tid, unsigned long index, void *buf, unsigned long cap) {
  long n = ptrace((enum __ptrace_request)PTRACE_SECCOMP_GET_FILTER, tid, (void *)index, NULL);
  if (n < 0 || buf == NULL) return n;
  if ((unsigned long)n > cap) {
    errno = ENOSPC;
    return -1;
  }
  return ptrace((enum __ptrace_request)PTRACE_SECCOMP_GET_FILTER, tid, (void *)index, buf);
}

int clinux_dump_detach(pid_t tid) { return (int)ptrace(PTRACE_DETACH, tid, 0, 0); }
