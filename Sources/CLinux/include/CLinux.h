#ifndef CLINUX_H
#define CLINUX_H
// Thin wrappers for what Swift cannot call directly: variadic syscalls and
// kernel macros. No logic beyond what Swift cannot do.
#include <stdint.h>
#include <sys/types.h>

/// uname(2) release, e.g. "6.18.0"; writes at most len bytes.
int clinux_kernel_release(char *buf, size_t len);

#include "clinux_probe.h"
#include "clinux_launch.h"
#include "clinux_run.h"
#include "clinux_spawn.h"
#include "clinux_ptrace.h"
#include "clinux_dump.h"

#include "clinux_watch.h"
#include "clinux_ebpf.h"

#endif
