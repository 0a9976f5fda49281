#ifndef CLINUX_PTRACE_H
#define CLINUX_PTRACE_H
// ptrace(2) for Swift, which cannot call the variadic glibc function, and the one
// structure it reads that glibc declares only as a union.
#include <sched.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/ptrace.h>    // the PTRACE_* requests, options and events, for Swift
#include <sys/signalfd.h>  // signalfd(2), where the attached tracer waits (Glibc lacks it)
#include <sys/user.h>

/// ptrace(request, pid, addr, data). Returns its result, or -1 with errno.
long clinux_ptrace(int request, pid_t pid, void *addr, void *data);

/// struct ptrace_syscall_info (linux/ptrace.h) as PTRACE_GET_SYSCALL_INFO fills it for an
/// entry or seccomp stop (`op` 1 or 3). For an exit stop (`op` 2) `nr` holds the return
/// value and the low byte of `args[0]` is_error.
struct clinux_syscall_info {
  uint8_t op;
  uint8_t pad[3];
  uint32_t arch;
  uint64_t ip, sp;
  uint64_t nr;
  uint64_t args[6];
  uint32_t ret_data;
  uint32_t pad2;
};

/// PTRACE_GET_SYSCALL_INFO into `info`. Returns the bytes the kernel has (> 0), or -1 with errno.
long clinux_ptrace_syscall_info(pid_t pid, struct clinux_syscall_info *info);

/// sched_getcpu(3), sched_getaffinity(2) and sched_setaffinity(2) over a whole cpu_set_t, for
/// the tracer's CPU placement: glibc declares them only for _GNU_SOURCE, which Swift's
/// Glibc module is not built with.
int clinux_sched_getcpu(void);
int clinux_sched_getaffinity(pid_t pid, cpu_set_t *set);
int clinux_sched_setaffinity(pid_t pid, const cpu_set_t *set);

#endif
