#ifndef CLINUX_RUN_H
#define CLINUX_RUN_H
// Loading seccomp filters and strict mode on the calling thread, and the strict-mode
// detector's data. (Running a program under a filter is Processes' `Launcher.run`, over
// clinux_spawn.h.)
#include <stdint.h>
#include <sys/types.h>

#include "clinux_launch.h"

#ifdef __cplusplus
extern "C" {
#endif

/// The SECCOMP_RET_DATA of the strict-mode detector's TRACE.
#define CLINUX_RUN_STRICT_DATA 0x5354

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
