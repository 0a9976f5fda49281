#ifndef CLINUX_DUMP_H
#define CLINUX_DUMP_H
// Reads the seccomp filters attached to a thread with PTRACE_SECCOMP_GET_FILTER
// (needs CAP_SYS_ADMIN, a caller not under seccomp, CONFIG_CHECKPOINT_RESTORE).
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Attaches to thread `tid` (PTRACE_SEIZE + PTRACE_INTERRUPT), waits for it to
/// stop, and returns 0 (or -1 with errno; EPERM: not allowed to trace it).
int clinux_dump_attach(pid_t tid);

/// Filter `index` (0 = the newest) of an attached, stopped thread: with
/// `buf` NULL returns its length in instructions; else copies at most `cap`
/// sock_filter records (8 bytes each) into buf and returns the length. -1 with
/// errno: ENOENT past the last filter, EINVAL when the thread is not in filter
/// mode, EACCES without CAP_SYS_ADMIN or when the caller is under seccomp, EIO
/// without CONFIG_CHECKPOINT_RESTORE (the request is unknown).
long clinux_dump_filter(pid_t tid, unsigned long index, void *buf, unsigned long cap);

/// Detaches from the thread, leaving it running.
int clinux_dump_detach(pid_t tid);

#ifdef __cplusplus
}
#endif
#endif
