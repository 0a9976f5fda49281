#ifndef CLINUX_RUN_H
#define CLINUX_RUN_H
// Runs a program under a seccomp filter: fork, (in the child) reset caught signals,
// set no_new_privs, load the filter, execve; (in the parent) watch the main
// process with ptrace for its exit only (PTRACE_O_TRACEEXIT and its threads by
// PTRACE_O_TRACECLONE: no syscall stops), so that a kill by seccomp can be
// named with the syscall the killed thread was making. No Swift runs between
// fork and execve.
#include <stdint.h>
#include <sys/types.h>

#include "clinux_launch.h"

#ifdef __cplusplus
extern "C" {
#endif

struct clinux_run_result {
  int failed_step;      ///< CLINUX_LAUNCH_STEP_*, or CLINUX_LAUNCH_OK
  int error;            ///< errno of the failed step
  int wait_status;      ///< the program's wait(2) status when it ran
  int seccomp_kill;     ///< 1: a thread died of SIGSYS at a syscall's entry (seccomp); 2: of SIGSYS elsewhere
  int64_t nr;           ///< that syscall's number (orig_rax)
  uint32_t arch;        ///< AUDIT_ARCH_* of that call (i386 when cs is 32-bit)
  int32_t tid;          ///< the thread that made it
  uint64_t args[6];     ///< its arguments (32-bit ones zero-extended for ia32)
  int detector;         ///< the strict-mode detector was loaded (traced: a tracer was there to stop at)
  int strict_request;   ///< the program asked for strict mode: 1 by prctl, 2 by seccomp (first request)
  int32_t strict_tid;   ///< the thread that asked
  int32_t pid;          ///< the program's pid
};

/// Runs `path` with `argv` and `envp` under the filter `prog` (`len`
/// sock_filter records; len 0 = no filter) loaded with seccomp(2) `flags`.
/// `no_new_privs` sets PR_SET_NO_NEW_PRIVS first (else CAP_SYS_ADMIN is
/// needed). `trace` watches for a kill by seccomp (0 = plain fork/exec/wait).
/// While it waits, SIGINT/SIGQUIT/SIGTERM/SIGHUP/SIGUSR1/SIGUSR2 sent to this
/// process by another process are forwarded to the program; those from the
/// terminal reach the program directly. Returns 0, or -1 when the program
/// never ran (see out->failed_step and out->error).
int clinux_run(const char *path, char *const argv[], char *const envp[],
               const void *prog, unsigned int len, unsigned int flags,
               int no_new_privs, int trace, struct clinux_run_result *out);

/// The SECCOMP_RET_DATA of the strict-mode detector's TRACE.
#define CLINUX_RUN_STRICT_DATA 0x5354

/// As clinux_run, with a second filter `detector` (`detector_len` instructions) loaded
/// below `prog` when the program is traced (`trace`, and the seize worked): a filter that
/// returns SECCOMP_RET_TRACE | CLINUX_RUN_STRICT_DATA for the calls to note (a request
/// for strict mode) and ALLOW for every other. The tracer then also stops at seccomp
/// stops: the detector's are noted in out->strict_request and the call goes on (the
/// kernel refuses strict mode under a filter: EINVAL); a TRACE of `prog` fails with
/// ENOSYS, as it does without a tracer. Without `trace`, `detector` (one that returns
/// LOG for the calls to note: the kernel logs them to the audit log, where the caller
/// reads them) is loaded all the same.
int clinux_run_stacked(const char *path, char *const argv[], char *const envp[], const void *detector,
                       unsigned int detector_len, const void *prog, unsigned int len, unsigned int flags,
                       int no_new_privs, int trace, struct clinux_run_result *out);

/// Loads a filter on the calling thread (with SECCOMP_FILTER_FLAG_TSYNC in
/// `flags`, on every thread of the process). Returns 0, or -1 with errno; with
/// TSYNC a positive return is the id of a thread that could not be synced.
long clinux_seccomp_install(const void *prog, unsigned int len, unsigned int flags);

/// Sets PR_SET_NO_NEW_PRIVS. Returns 0, or -1 with errno.
int clinux_set_no_new_privs(void);

/// Enters strict mode (SECCOMP_SET_MODE_STRICT) on the calling thread: from now
/// on it can only read, write, _exit and sigreturn. Returns -1 with errno on failure.
int clinux_seccomp_strict(void);

/// The raw exit_group syscall, allowed in strict mode's sense only as _exit (60).
void clinux_exit_thread(int status) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif
#endif
