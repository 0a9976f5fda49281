#include "clinux_ptrace.h"

#include <stddef.h>

_Static_assert(offsetof(struct clinux_syscall_info, nr) == 24, "ptrace_syscall_info layout");
_Static_assert(offsetof(struct clinux_syscall_info, ret_data) == 80, "ptrace_syscall_info layout");

long clinux_ptrace(int request, pid_t pid, void *addr, void *data) {
  return ptrace((enum __ptrace_request)request, pid, addr, data);
}

long clinux_ptrace_syscall_info(pid_t pid, struct clinux_syscall_info *info) {
  return ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(*info), info);
}

int clinux_sched_getcpu(void) { return sched_getcpu(); }

int clinux_sched_getaffinity(pid_t pid, cpu_set_t *set) { return sched_getaffinity(pid, sizeof(*set), set); }

int clinux_sched_setaffinity(pid_t pid, const cpu_set_t *set) { return sched_setaffinity(pid, sizeof(*set), set); }
