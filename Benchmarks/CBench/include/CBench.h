#ifndef CBENCH_H
#define CBENCH_H
// Timing of syscalls under a loaded filter, for Benchmarks/ (x86_64 Linux only;
// elsewhere the functions fail with ENOSYS).
//
// Each measurement forks a child that sets no_new_privs, loads the filter
// (seccomp(SET_MODE_FILTER) with SECCOMP_FILTER_FLAG_SPEC_ALLOW, as runc does),
// warms up, then times `iterations` calls with clock_gettime(CLOCK_MONOTONIC)
// around the loop. The calls are made with inline `syscall` / `int $0x80`, so
// neither glibc's wrappers nor the vDSO are involved. The child sends its
// figures through a pipe and exits; the caller waits for it. Nothing is pinned.
#include <stdint.h>

#ifdef __linux__
#include <linux/filter.h>
#else
struct sock_filter {
  uint16_t code;
  uint8_t jt;
  uint8_t jf;
  uint32_t k;
};
#endif

#ifdef __cplusplus
extern "C" {
#endif

/// How the timed call enters the kernel.
enum {
  /// The x86_64 `syscall` instruction, nr as given (set 0x40000000 for x32).
  CBENCH_ABI_NATIVE = 0,
  /// `int $0x80` from 64-bit code: the kernel sees AUDIT_ARCH_I386 and i386
  /// numbering; the arguments go to ebx, ecx, edx, esi, edi, ebp.
  CBENCH_ABI_IA32 = 1,
};

/// Times `iterations` calls of `nr` with `args` (entered the `abi` way) under
/// `prog` (`len` instructions; 0 = no filter). On success returns 0 and stores
/// the mean wall time of one call in *ns_per_call. Returns -1 with errno set
/// when an argument is bad, when fork/pipe fails, when the child could not
/// load the filter (errno is the child's), or when it died without a result
/// (EINTR; e.g. SIGSEGV from `int $0x80` without ia32 emulation, or SIGSYS
/// from a filter that kills the call).
int cbench_filter(const struct sock_filter *prog, unsigned short len, int abi, long nr,
                        const uint64_t args[6], long iterations, double *ns_per_call);

/// As cbench_filter, and stores the last call's raw return value
/// (-errno on failure) in *result, so the caller can check what the call did.
int cbench_filter_result(const struct sock_filter *prog, unsigned short len, int abi,
                               long nr, const uint64_t args[6], long iterations,
                               double *ns_per_call, long *result);

/// As cbench_filter_result, with the timed loop split into `batches` parts
/// (1 <= batches <= iterations) that are also timed one by one: *best_batch_ns
/// (if not NULL) receives the lowest mean of one part. A part the scheduler
/// interrupted is slower, so on a busy machine the best part estimates the
/// undisturbed cost better than the whole loop's mean (*ns_per_call).
int cbench_filter_batches(const struct sock_filter *prog, unsigned short len, int abi,
                                long nr, const uint64_t args[6], long iterations, long batches,
                                double *ns_per_call, double *best_batch_ns, long *result);

#ifdef __cplusplus
}
#endif
#endif
