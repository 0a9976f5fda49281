#ifndef CLINUX_TRACE_H
#define CLINUX_TRACE_H
// Records every syscall a program (with its children and threads) makes, the
// strace way: fork; in the child wait on a go-pipe, reset caught signals (ignored
// ones and the signal mask stay as they were, as strace and env leave them), execve; in
// the parent PTRACE_SEIZE with TRACESYSGOOD|TRACEFORK|TRACEVFORK|TRACECLONE|
// TRACEEXEC|TRACEEXIT|EXITKILL, then PTRACE_SYSCALL from stop to stop, reading
// each call with PTRACE_GET_SYSCALL_INFO. Counting starts at the program's
// first execve, so the launcher's own calls are not counted. Calls are counted
// at entry (exit and exit_group included; strace counts at exit and misses
// them). No Swift runs between fork and execve.
#include <stdint.h>
#include <sys/types.h>

#include "clinux_launch.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Numbers per ABI slot; calls[slot * CLINUX_TRACE_NRS + nr].
#define CLINUX_TRACE_NRS 1024
/// ABI slots: x86_64, ia32 (int 0x80 / 32-bit processes), x32 (bit 30 removed).
enum {
  CLINUX_TRACE_X86_64 = 0,
  CLINUX_TRACE_IA32 = 1,
  CLINUX_TRACE_X32 = 2,
  CLINUX_TRACE_ABIS = 3,
};

/// Where the counts go: three arrays of CLINUX_TRACE_ABIS * CLINUX_TRACE_NRS
/// entries each, zeroed by the caller. `errors` and `nanoseconds` are filled
/// only when `timing` is set.
struct clinux_trace_counts {
  uint64_t *calls;        ///< entries per (slot, nr)
  uint64_t *errors;       ///< exits with a return value in -4095..-1
  uint64_t *nanoseconds;  ///< CLOCK_MONOTONIC time from entry stop to exit stop
  uint64_t unknown;       ///< entries with a number outside the slots (or an unknown arch)
  uint64_t stops;         ///< ptrace stops handled
};

struct clinux_trace_result {
  int failed_step;  ///< CLINUX_LAUNCH_STEP_*, or CLINUX_LAUNCH_OK
  int error;        ///< errno of the failed step
  int wait_status;  ///< the program's wait(2) status
  int32_t pid;      ///< the program's pid
  int32_t tracees;  ///< threads and processes traced in all
  int strict_request;  ///< one-stop recording only: the program asked for strict mode (1 prctl, 2 seccomp)
                       ///< at a stop of data CLINUX_RUN_STRICT_DATA, and every tracee was killed
  int32_t strict_tid;  ///< the thread that asked
};

/// Optional extras of a trace (all fields may be NULL).
struct clinux_trace_hooks {
  /// Called for every counted call whose byte in `call_mask` (CLINUX_TRACE_ABIS *
  /// CLINUX_TRACE_NRS bytes, indexed like the counts) is nonzero, or for every counted
  /// call when `call_mask` is NULL: at its entry stop (two stops) or its seccomp stop
  /// (one stop), while the tracee is stopped. `nr` is as the kernel saw it (x32 bit
  /// included).
  void (*on_call)(void *ctx, int32_t tid, uint32_t arch, uint64_t nr, const uint64_t args[6]);
  const uint8_t *call_mask;
  /// Called once, when the launched program's first execve has completed (at its
  /// PTRACE_EVENT_EXEC stop, the tracee stopped).
  void (*on_exec)(void *ctx, int32_t pid);
  void *ctx;
};

/// Where the tracer and a launched program run (the `pin` argument). A ptrace stop
/// between two CPUs needs a wake-up of the other CPU; on one CPU it is a plain
/// context switch, several times cheaper (much more so in a VM).
enum {
  CLINUX_TRACE_PIN_NONE = 0,    ///< wherever the scheduler puts them
  CLINUX_TRACE_PIN_AUTO = 1,    ///< on the tracer's CPU until the program starts a second
                                ///< process or thread or asks for its CPUs (sched_getaffinity):
                                ///< then every CPU it had, before it can tell
  CLINUX_TRACE_PIN_ALWAYS = 2,  ///< on the tracer's CPU for the whole run
};

/// Runs `path` with `argv` and `envp` under ptrace and counts its syscalls
/// into `counts` until every tracee has ended. With `timing`, also records
/// errors and the time between entry and exit stops. While it waits,
/// SIGINT/SIGQUIT/SIGTERM/SIGHUP/SIGUSR1/SIGUSR2 sent to this process by
/// another process are forwarded to the program; those from the terminal reach
/// the program's process group directly and are otherwise ignored here.
/// Returns 0, or -1 when the program never ran (see out->failed_step).
int clinux_trace(const char *path, char *const argv[], char *const envp[], int timing, int pin,
                 const struct clinux_trace_hooks *hooks, struct clinux_trace_counts *counts,
                 struct clinux_trace_result *out);

/// How an attached trace ended (clinux_trace_result.wait_status is meaningful only
/// for CLINUX_TRACE_ENDED).
enum {
  CLINUX_TRACE_ENDED = 0,     ///< every traced process ended
  CLINUX_TRACE_DETACHED = 1,  ///< a signal asked to stop; every tracee was detached and runs on
};

/// Attaches to the running processes `pids` (`npids`), every thread of each
/// (PTRACE_SEIZE without EXITKILL, following their new children and threads),
/// and counts their syscalls at entry (and times them with `timing`) until all
/// have ended, or until this process receives SIGINT, SIGTERM or SIGHUP: then it
/// interrupts and detaches every tracee, leaving it running, and sets *ended to
/// CLINUX_TRACE_DETACHED. Those signals are blocked meanwhile and restored after.
/// Returns 0, or -1 when no process could be attached (out->error is the errno of
/// the first failure, out->pid the pid it failed on).
int clinux_trace_attach(const int32_t *pids, unsigned int npids, int timing, const struct clinux_trace_hooks *hooks,
                        struct clinux_trace_counts *counts, struct clinux_trace_result *out, int *ended);

/// One call the verification filter sent to the tracer (SECCOMP_RET_TRACE with a code).
struct clinux_trace_denial {
  int32_t tid;
  uint32_t arch;      ///< AUDIT_ARCH_* of the call
  uint64_t nr;        ///< as the filter saw it (x32 bit included)
  uint64_t args[6];
  uint32_t code;      ///< the filter's SECCOMP_RET_DATA
  int32_t errno_ret;  ///< what the call was failed with
};

/// Where clinux_trace_seccomp puts the calls it failed (verification only).
struct clinux_trace_denials {
  struct clinux_trace_denial *items;  ///< `capacity` entries, or NULL
  uint64_t capacity;
  uint64_t count;  ///< calls failed in all (may exceed capacity; only the first `capacity` are stored)
};

/// `pin` is a CLINUX_TRACE_PIN_* value.
///
/// One stop per call: the child sets no_new_privs (if asked) and loads `prog`
/// (`len` instructions) before execve; the tracer seizes with TRACESECCOMP (and
/// the fork/clone/exec/exit options, EXITKILL), restarts every stop with
/// PTRACE_CONT and reads each PTRACE_EVENT_SECCOMP stop with
/// PTRACE_GET_SYSCALL_INFO. The filter is inherited by every child and thread.
///
/// Without `errnos` (profile-only recording) every seccomp stop is counted in
/// `counts->calls` and the call runs, except a stop with SECCOMP_RET_DATA
/// CLINUX_RUN_STRICT_DATA (a request for strict mode, which the kernel refuses under a
/// filter): it ends the recording (every tracee is killed, out->strict_request says how
/// the program asked). With `errnos` (verification) a stop whose
/// SECCOMP_RET_DATA code is below `ncodes` is recorded in `denials` and the
/// call is skipped (orig_rax = -1) and returns -errnos[code]; it is also counted
/// in `counts->calls`. Returns 0, or -1 when the program never ran.
int clinux_trace_seccomp(const char *path, char *const argv[], char *const envp[], const void *prog,
                         unsigned int len, int no_new_privs, const int32_t *errnos, unsigned int ncodes, int pin,
                         const struct clinux_trace_hooks *hooks, struct clinux_trace_counts *counts,
                         struct clinux_trace_denials *denials, struct clinux_trace_result *out);

#ifdef __cplusplus
}
#endif
#endif
