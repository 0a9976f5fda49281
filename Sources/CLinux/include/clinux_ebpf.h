#ifndef CLINUX_EBPF_H
#define CLINUX_EBPF_H
// eBPF for recording: thin wrappers over bpf(2), perf_event_open(2) and the perf
// ioctls, each filling the kernel's attribute union (union bpf_attr, struct
// perf_event_attr) zeroed, as the kernel requires. The programs themselves are
// assembled in Swift (Recording/EBPFAssembler.swift). Every function returns a
// file descriptor or 0 on success, and -1 with errno set on failure (EINTR is
// retried). Every descriptor is opened close-on-exec. On non-Linux systems
// every function fails with ENOSYS.
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// BPF_MAP_CREATE: a map of `map_type` (BPF_MAP_TYPE_*); `name` (up to 15 bytes)
/// may be NULL.
int clinux_bpf_map_create(uint32_t map_type, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                          const char *name);

/// BPF_PROG_LOAD: `insn_count` 8-byte instructions (struct bpf_insn) of
/// `prog_type` (BPF_PROG_TYPE_*), under `license`. With `log_level` 1 and a
/// buffer, the verifier writes its log into `log` (NUL-terminated, `log_size`
/// bytes at most; ENOSPC when it did not fit). EAGAIN is retried a few times,
/// as libbpf does. `name` (up to 15 bytes) may be NULL.
int clinux_bpf_prog_load(uint32_t prog_type, const void *insns, uint32_t insn_count, const char *license,
                         uint32_t log_level, char *log, uint32_t log_size, const char *name);

/// BPF_MAP_LOOKUP_ELEM: copies the value of `key` into `value` (for a per-CPU
/// map, one value per possible CPU, each rounded up to 8 bytes). ENOENT: no such key.
int clinux_bpf_map_lookup(int map_fd, const void *key, void *value);

/// BPF_MAP_UPDATE_ELEM with `flags` (BPF_ANY 0, BPF_NOEXIST 1, BPF_EXIST 2).
int clinux_bpf_map_update(int map_fd, const void *key, const void *value, uint64_t flags);

/// BPF_MAP_DELETE_ELEM. ENOENT: no such key.
int clinux_bpf_map_delete(int map_fd, const void *key);

/// BPF_RAW_TRACEPOINT_OPEN: attaches a BPF_PROG_TYPE_RAW_TRACEPOINT program to the
/// raw tracepoint `name` (e.g. "sys_enter"); closing the returned link detaches it.
int clinux_bpf_raw_tracepoint_open(const char *name, int prog_fd);

/// perf_event_open(PERF_TYPE_TRACEPOINT, config = `event_id` (the tracefs event's
/// `id`), pid -1, `cpu`), disabled, close-on-exec. Then `clinux_perf_event_attach_bpf`.
int clinux_perf_tracepoint_open(uint64_t event_id, int cpu);

/// PERF_EVENT_IOC_SET_BPF with `prog_fd`, then PERF_EVENT_IOC_ENABLE. The program
/// then runs on every CPU whenever the tracepoint fires; closing the perf event
/// detaches it.
int clinux_perf_event_attach_bpf(int perf_fd, int prog_fd);

#ifdef __cplusplus
}
#endif
#endif
