// Wrappers for bpf(2), perf_event_open(2) and the perf ioctls (clinux_ebpf.h).
#include "clinux_ebpf.h"

#include <errno.h>

#ifdef __linux__
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int sys_bpf(int cmd, union bpf_attr *attr) {
  long rc;
  do {
    rc = syscall(SYS_bpf, cmd, attr, sizeof(*attr));
  } while (rc < 0 && errno == EINTR);
  return (int)rc;
}

static void copy_name(char *to, const char *name) {
  if (name) strncpy(to, name, BPF_OBJ_NAME_LEN - 1);
}

int clinux_bpf_map_create(uint32_t map_type, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                          const char *name) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_type = map_type;
  attr.key_size = key_size;
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  copy_name(attr.map_name, name);
  return sys_bpf(BPF_MAP_CREATE, &attr);
}

int clinux_bpf_prog_load(uint32_t prog_type, const void *insns, uint32_t insn_count, const char *license,
                         uint32_t log_level, char *log, uint32_t log_size, const char *name) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = prog_type;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.insn_cnt = insn_count;
  attr.license = (uint64_t)(uintptr_t)license;
  if (log && log_size > 0) {
    log[0] = 0;
    attr.log_level = log_level;
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = log_size;
  }
  copy_name(attr.prog_name, name);
  int fd = -1;
  for (int attempt = 0; attempt < 5; attempt++) {
    fd = sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0 || errno != EAGAIN) break;
  }
  return fd;
}

int clinux_bpf_map_lookup(int map_fd, const void *key, void *value) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_fd = (uint32_t)map_fd;
  attr.key = (uint64_t)(uintptr_t)key;
  attr.value = (uint64_t)(uintptr_t)value;
  return sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr);
}

int clinux_bpf_map_update(int map_fd, const void *key, const void *value, uint64_t flags) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_fd = (uint32_t)map_fd;
  attr.key = (uint64_t)(uintptr_t)key;
  attr.value = (uint64_t)(uintptr_t)value;
  attr.flags = flags;
  return sys_bpf(BPF_MAP_UPDATE_ELEM, &attr);
}

int clinux_bpf_map_delete(int map_fd, const void *key) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_fd = (uint32_t)map_fd;
  attr.key = (uint64_t)(uintptr_t)key;
  return sys_bpf(BPF_MAP_DELETE_ELEM, &attr);
}

int clinux_bpf_raw_tracepoint_open(const char *name, int prog_fd) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.raw_tracepoint.name = (uint64_t)(uintptr_t)name;
  attr.raw_tracepoint.prog_fd = (uint32_t)prog_fd;
  return sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &attr);
}

int clinux_perf_tracepoint_open(uint64_t event_id, int cpu) {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.type = PERF_TYPE_TRACEPOINT;
  attr.size = sizeof(attr);
  attr.config = event_id;
  attr.sample_period = 1;
  attr.sample_type = PERF_SAMPLE_RAW;
  attr.wakeup_events = 1;
  attr.disabled = 1;
  long rc;
  do {
    rc = syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  } while (rc < 0 && errno == EINTR);
  return (int)rc;
}

int clinux_perf_event_attach_bpf(int perf_fd, int prog_fd) {
  int rc;
  do {
    rc = ioctl(perf_fd, PERF_EVENT_IOC_SET_BPF, prog_fd);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return rc;
  do {
    rc = ioctl(perf_fd, PERF_EVENT_IOC_ENABLE, 0);
  } while (rc < 0 && errno == EINTR);
  return rc;
}

#else

int clinux_bpf_map_create(uint32_t map_type, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                          const char *name) {
  (void)map_type, (void)key_size, (void)value_size, (void)max_entries, (void)name;
  errno = ENOSYS;
  return -1;
}
int clinux_bpf_prog_load(uint32_t prog_type, const void *insns, uint32_t insn_count, const char *license,
                         uint32_t log_level, char *log, uint32_t log_size, const char *name) {
  (void)prog_type, (void)insns, (void)insn_count, (void)license, (void)log_level, (void)log, (void)log_size,
      (void)name;
  errno = ENOSYS;
  return -1;
}
int clinux_bpf_map_lookup(int map_fd, const void *key, void *value) {
  (void)map_fd, (void)key, (void)value;
  errno = ENOSYS;
  return -1;
}
int clinux_bpf_map_update(int map_fd, const void *key, const void *value, uint64_t flags) {
  (void)map_fd, (void)key, (void)value, (void)flags;
  errno = ENOSYS;
  return -1;
}
int clinux_bpf_map_delete(int map_fd, const void *key) {
  (void)map_fd, (void)key;
  errno = ENOSYS;
  return -1;
}
int clinux_bpf_raw_tracepoint_open(const char *name, int prog_fd) {
  (void)name, (void)prog_fd;
  errno = ENOSYS;
  return -1;
}
int clinux_perf_tracepoint_open(uint64_t event_id, int cpu) {
  (void)event_id, (void)cpu;
  errno = ENOSYS;
  return -1;
}
int clinux_perf_event_attach_bpf(int perf_fd, int prog_fd) {
  (void)perf_fd, (void)prog_fd;
  errno = ENOSYS;
  return -1;
}

#endif
