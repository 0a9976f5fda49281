#ifndef CLINUX_PROBE_H
#define CLINUX_PROBE_H
// The live kernel as an oracle for a seccomp BPF program (x86_64 only).
//
// clinux_probe_filter() forks a child that stacks two filters: first one that
// returns SECCOMP_RET_USER_NOTIF for every call (its listener goes to a
// supervisor thread in the same child), then the filter under test. The child
// then makes the one call under test. The kernel runs both filters and takes
// the most restrictive result (KILL_PROCESS < KILL_THREAD < TRAP < ERRNO <
// USER_NOTIF < TRACE < LOG < ALLOW), so:
//   - a call the filter under test denies (ERRNO, TRAP, KILL_*) comes back
//     without a notification, and the way it came back is the answer;
//   - a call it lets through (ALLOW, LOG, TRACE) arrives at the supervisor as
//     a notification, which is failed with a marker errno: nothing runs.
// A filter under test that returns USER_NOTIF itself is found by a second
// pass (CLINUX_PROBE_USER_NOTIF). The child inherits the caller's filters.
// After fork the child uses raw system calls only (plus glibc's sigaction and
// clone wrappers): no malloc, no locks, no errno in the supervisor thread.
// Root is not needed (the child sets no_new_privs).
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// How the call under test enters the kernel.
enum {
  /// The x86_64 `syscall` instruction, nr as given (set 0x40000000 for x32).
  CLINUX_PROBE_ABI_NATIVE = 0,
  /// `int $0x80` from 64-bit code (CONFIG_IA32_EMULATION): the kernel sees
  /// AUDIT_ARCH_I386. The six arguments go to rbx, rcx, rdx, rsi, rdi, rbp
  /// as given (all 64 bits); pass 32-bit values for what a 32-bit program does.
  CLINUX_PROBE_ABI_IA32 = 1,
};

/// Outcome kinds (clinux_probe_result.kind).
enum {
  /// The call reached the user notification: the filter under test returned
  /// ALLOW, LOG or TRACE. nr, arch, ip and args are the notification's data.
  CLINUX_PROBE_NOTIFIED = 1,
  /// The call returned -error without a notification (SECCOMP_RET_ERRNO;
  /// error may be 0, the kernel clamps the data to 4095).
  CLINUX_PROBE_ERRNO = 2,
  /// The whole child died of `signal` (SECCOMP_RET_KILL_PROCESS: SIGSYS).
  CLINUX_PROBE_KILLED_PROCESS = 3,
  /// Only the calling thread died (SECCOMP_RET_KILL_THREAD).
  CLINUX_PROBE_KILLED_THREAD = 4,
  /// SIGSYS with si_code SYS_SECCOMP: error = si_errno (the TRAP data),
  /// nr = si_syscall, arch = si_arch, ip = si_call_addr.
  CLINUX_PROBE_TRAPPED = 5,
  /// A step before the call failed: step (CLINUX_PROBE_STEP_*), error = errno.
  CLINUX_PROBE_LOAD_FAILED = 6,
  /// No outcome within the time limit; the child was killed.
  CLINUX_PROBE_TIMEOUT = 7,
  /// Anything else: detail (CLINUX_PROBE_DETAIL_*) says what.
  CLINUX_PROBE_OTHER = 8,
  /// The filter under test itself returned SECCOMP_RET_USER_NOTIF: the call
  /// would go to that filter's supervisor. nr, arch, ip and args as NOTIFIED.
  /// (Found by a second pass when the first gives ERRNO(ENOSYS); see probe.c.)
  CLINUX_PROBE_USER_NOTIF = 9,
};

/// Steps (clinux_probe_result.step) for CLINUX_PROBE_LOAD_FAILED.
enum {
  CLINUX_PROBE_STEP_PIPE = 1,          ///< pipe2 in the caller
  CLINUX_PROBE_STEP_FORK = 2,          ///< fork in the caller
  CLINUX_PROBE_STEP_SETUP = 3,         ///< mmap, sigaction or clone in the child
  CLINUX_PROBE_STEP_NO_NEW_PRIVS = 4,  ///< prctl(PR_SET_NO_NEW_PRIVS)
  CLINUX_PROBE_STEP_LISTENER = 5,      ///< the notify-everything filter (NEW_LISTENER)
  CLINUX_PROBE_STEP_CONTINUE = 6,      ///< answering the filter install with FLAG_CONTINUE
  CLINUX_PROBE_STEP_FILTER = 7,        ///< loading the filter under test
};

/// Details (clinux_probe_result.detail) for CLINUX_PROBE_OTHER.
enum {
  /// The child died of `signal` that is not SIGSYS (e.g. SIGSEGV from
  /// `int $0x80` on a kernel without ia32 emulation).
  CLINUX_PROBE_DETAIL_SIGNALED = 1,
  /// The child exited (status in `status`) without writing a result.
  CLINUX_PROBE_DETAIL_EXITED = 2,
  /// The call returned `retval`, which neither an ERRNO action nor the
  /// supervisor's reply explains.
  CLINUX_PROBE_DETAIL_RETURN = 3,
  /// A notification that was not the expected one (nr/arch/args recorded).
  CLINUX_PROBE_DETAIL_NOTIFICATION = 4,
  /// SIGSYS with an si_code other than SYS_SECCOMP (code in `error`).
  CLINUX_PROBE_DETAIL_SIGSYS = 5,
  /// The result could not be read back from the child.
  CLINUX_PROBE_DETAIL_RESULT = 6,
};

/// The errno the supervisor fails notified calls with (EHWPOISON).
#define CLINUX_PROBE_MARKER_ERRNO 133

/// One probe's result. Every field is 64 bits wide, in this order, so the
/// layout is the same from any language: word i is at byte offset 8 * i.
struct clinux_probe_result {
  int64_t size;       ///< sizeof(struct clinux_probe_result), set by the callee
  int64_t kind;       ///< CLINUX_PROBE_*
  int64_t error;      ///< ERRNO: the errno; LOAD_FAILED: errno; TRAPPED: the data
  int64_t step;       ///< LOAD_FAILED: CLINUX_PROBE_STEP_*
  int64_t signal;     ///< KILLED_PROCESS, OTHER/SIGNALED: the signal
  int64_t detail;     ///< OTHER: CLINUX_PROBE_DETAIL_*
  int64_t nr;         ///< NOTIFIED, USER_NOTIF: seccomp_data.nr; TRAPPED: si_syscall
  int64_t arch;       ///< NOTIFIED, USER_NOTIF: seccomp_data.arch; TRAPPED: si_arch
  int64_t ip;         ///< NOTIFIED, USER_NOTIF: instruction_pointer; TRAPPED: si_call_addr
  uint64_t args[6];   ///< NOTIFIED, USER_NOTIF: seccomp_data.args
  int64_t retval;     ///< the call's return value when it returned
  int64_t status;     ///< the child's wait status
  int64_t elapsed_ns; ///< wall time of the probe, fork to reap (both passes)
};
#define CLINUX_PROBE_RESULT_WORDS 18

/// Runs one probe: what the live kernel does with call `nr` (args `args`,
/// entered the `abi` way) under the filter `prog` (`len` instructions).
/// `timeout_ms` <= 0 means 5000. Returns 0 when `out` holds an outcome
/// (including LOAD_FAILED and TIMEOUT), -1 with errno EINVAL for bad arguments.
/// Thread-safe; each call forks its own child and reaps it before returning.
int clinux_probe_filter(const void *prog /* struct sock_filter[len] */, unsigned int len,
                        int abi, long nr, const uint64_t args[6], int timeout_ms,
                        struct clinux_probe_result *out);

/// Whether the kernel offers SECCOMP_RET_USER_NOTIF to this process
/// (seccomp(SECCOMP_GET_ACTION_AVAIL)); 1 yes, 0 no.
int clinux_probe_supported(void);

#ifdef __cplusplus
}
#endif
#endif
