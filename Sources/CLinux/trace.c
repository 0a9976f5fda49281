#define _GNU_SOURCE
#include "clinux_trace.h"
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif
#define TRACE_GET_SYSCALL_INFO 0x420e
#define INFO_ENTRY 1
#define INFO_EXIT 2
#define INFO_SECCOMP 3
#ifndef PTRACE_EVENT_SECCOMP
#define PTRACE_EVENT_SECCOMP 7
#endif
#ifndef PTRACE_O_TRACESECCOMP
#define PTRACE_O_TRACESECCOMP (1 << PTRACE_EVENT_SECCOMP)
#endif
#define X32_BIT 0x40000000ULL

// struct ptrace_syscall_info (linux/ptrace.h), as far as we read it.
struct syscall_info {
  uint8_t op;
  uint8_t pad[3];
  uint32_t arch;
  uint64_t ip, sp;
  union {
    struct {
      uint64_t nr;
      uint64_t args[6];
    } entry;
    struct {
      int64_t rval;
      uint8_t is_error;
    } exit;
    struct {
      uint64_t nr;
      uint64_t args[6];
      uint32_t ret_data;
    } seccomp;
  };
};

// Per-thread state between a syscall's entry stop and its exit stop.
struct thread_state {
  pid_t tid;
  int index;  // slot * NRS + nr of the call in progress, -1 when none
  uint64_t start;
};

struct threads {
  struct thread_state *items;
  size_t count, capacity;
};

static struct thread_state *thread_find(struct threads *t, pid_t tid, int create) {
  for (size_t i = 0; i < t->count; i++)
    if (t->items[i].tid == tid) return &t->items[i];
  if (!create) return NULL;
  if (t->count == t->capacity) {
    size_t cap = t->capacity ? t->capacity * 2 : 64;
    struct thread_state *items = realloc(t->items, cap * sizeof(*items));
    if (!items) return NULL;
    t->items = items;
    t->capacity = cap;
  }
  struct thread_state *s = &t->items[t->count++];
  s->tid = tid;
  s->index = -1;
  s->start = 0;
  return s;
}

static void thread_remove(struct threads *t, pid_t tid) {
  for (size_t i = 0; i < t->count; i++)
    if (t->items[i].tid == tid) {
      t->items[i] = t->items[--t->count];
      return;
    }
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

// The slot index of a call, or -1 when it falls outside the table.
static int slot_index(uint32_t arch, uint64_t nr) {
  int slot;
  if (arch == AUDIT_ARCH_I386) {
    slot = CLINUX_TRACE_IA32;
  } else if (arch == AUDIT_ARCH_X86_64) {
    if (nr & X32_BIT) {
      slot = CLINUX_TRACE_X32;
      nr &= ~X32_BIT;
    } else {
      slot = CLINUX_TRACE_X86_64;
    }
  } else {
    return -1;
  }
  if (nr >= CLINUX_TRACE_NRS) return -1;
  return slot * CLINUX_TRACE_NRS + (int)nr;
}

// A seccomp stop: count the call; in verification, fail the calls the filter
// sent with a known code.
static void seccomp_stop(pid_t w, const int32_t *errnos, unsigned int ncodes, struct clinux_trace_counts *counts,
                         struct clinux_trace_denials *denials) {
  struct syscall_info info;
  memset(&info, 0, sizeof(info));
  long got = ptrace((enum __ptrace_request)TRACE_GET_SYSCALL_INFO, w, sizeof(info), &info);
  if (got <= 0 || info.op != INFO_SECCOMP) {
    counts->unknown++;
    return;
  }
  int index = slot_index(info.arch, info.seccomp.nr);
  if (index >= 0)
    counts->calls[index]++;
  else
    counts->unknown++;
  if (!errnos || info.seccomp.ret_data >= ncodes) return;
  int32_t e = errnos[info.seccomp.ret_data];
  if (denials) {
    if (denials->items && denials->count < denials->capacity) {
      struct clinux_trace_denial *d = &denials->items[denials->count];
      d->tid = w;
      d->arch = info.arch;
      d->nr = info.seccomp.nr;
      memcpy(d->args, info.seccomp.args, sizeof(d->args));
      d->code = info.seccomp.ret_data;
      d->errno_ret = e;
    }
    denials->count++;
  }
  // Skip the call (number -1) and make it return -e: the kernel leaves rax alone
  // for a skipped call.
  struct user_regs_struct regs;
  if (ptrace(PTRACE_GETREGS, w, 0, &regs) == 0) {
    regs.orig_rax = (unsigned long long)-1;
    regs.rax = (unsigned long long)(-(long long)e);
    ptrace(PTRACE_SETREGS, w, 0, &regs);
  }
}

static int trace_run(const char *path, char *const argv[], char *const envp[], int timing, const void *prog,
                     unsigned int len, int no_new_privs, int seccomp, const int32_t *errnos, unsigned int ncodes,
                     struct clinux_trace_counts *counts, struct clinux_trace_denials *denials,
                     struct clinux_trace_result *out) {
  memset(out, 0, sizeof(*out));
  struct clinux_spawn spawn;
  int step = 0, error = 0;
  const enum __ptrace_request resume = seccomp ? PTRACE_CONT : PTRACE_SYSCALL;
  if (clinux_spawn_start(path, argv, envp, no_new_privs, prog, len, 0, &spawn, &step, &error) != 0) {
    out->failed_step = step;
    out->error = error;
    return -1;
  }
  pid_t pid = spawn.pid;
  out->pid = pid;
  long options = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                 PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL;
  if (seccomp) options = (options & ~PTRACE_O_TRACESYSGOOD) | PTRACE_O_TRACESECCOMP;
  int st = 0;
  // Seize, then interrupt so the child is in a ptrace-stop and can be restarted
  // with PTRACE_SYSCALL before it execs: its execve is the first call counted.
  if (ptrace(PTRACE_SEIZE, pid, 0, options) != 0 || ptrace(PTRACE_INTERRUPT, pid, 0, 0) != 0) {
    out->failed_step = CLINUX_TRACE_STEP_TRACE;
    out->error = errno;
    clinux_spawn_abort(&spawn);
    clinux_spawn_end(&spawn);
    return -1;
  }
  clinux_spawn_forward_signals(&spawn);

  struct threads threads = {0};
  int started = seccomp;  // the program's first execve was seen (the filter sees nothing before it)
  int go_sent = 0;
  int tracees = 1;
  for (;;) {
    pid_t w = waitpid(-1, &st, __WALL);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: every tracee has ended
    }
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
      thread_remove(&threads, w);
      if (w == pid) out->wait_status = st;
      continue;
    }
    if (!WIFSTOPPED(st)) continue;
    counts->stops++;
    int sig = WSTOPSIG(st);
    int event = (unsigned)st >> 16;
    if (sig == (SIGTRAP | 0x80) && event == 0) {
      struct syscall_info info;
      memset(&info, 0, sizeof(info));
      long got = ptrace((enum __ptrace_request)TRACE_GET_SYSCALL_INFO, w, sizeof(info), &info);
      if (got > 0 && info.op == INFO_ENTRY) {
        int index = slot_index(info.arch, info.entry.nr);
        if (!started && w == pid && index >= 0 &&
            (index == SYS_execve || index == SYS_execveat))
          started = 1;
        struct thread_state *s = thread_find(&threads, w, 1);
        if (started) {
          if (index >= 0)
            counts->calls[index]++;
          else
            counts->unknown++;
        }
        if (s) {
          s->index = started ? index : -1;
          if (timing && started) s->start = now_ns();
        }
      } else if (got > 0 && info.op == INFO_EXIT) {
        struct thread_state *s = thread_find(&threads, w, 0);
        if (s && s->index >= 0 && timing) {
          uint64_t t = now_ns();
          counts->nanoseconds[s->index] += t > s->start ? t - s->start : 0;
          if (info.exit.is_error || (info.exit.rval >= -4095 && info.exit.rval <= -1)) counts->errors[s->index]++;
        }
        if (s) s->index = -1;
      }
      ptrace(resume, w, 0, 0);
    } else if (event == PTRACE_EVENT_SECCOMP) {
      seccomp_stop(w, errnos, ncodes, counts, denials);
      ptrace(resume, w, 0, 0);
    } else if (event == PTRACE_EVENT_STOP) {
      if (w == pid && !go_sent) {
        // The initial interrupt: let the child go on to execve, stopping at every call.
        ptrace(resume, w, 0, 0);
        clinux_spawn_release(&spawn);
        go_sent = 1;
      } else if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
        ptrace(PTRACE_LISTEN, w, 0, 0);  // group-stop: stay stopped until SIGCONT
      } else {
        ptrace(resume, w, 0, 0);  // a new tracee's first stop, or an interrupt
      }
    } else if (event == PTRACE_EVENT_EXEC) {
      unsigned long former = 0;
      ptrace(PTRACE_GETEVENTMSG, w, 0, &former);
      if ((pid_t)former != w) {
        // A non-leader thread exec'd: it now has the leader's tid. Keep its call in progress.
        struct thread_state *old_state = thread_find(&threads, (pid_t)former, 0);
        int index = old_state ? old_state->index : -1;
        uint64_t start = old_state ? old_state->start : 0;
        thread_remove(&threads, (pid_t)former);
        struct thread_state *s = thread_find(&threads, w, 1);
        if (s) {
          s->index = index;
          s->start = start;
        }
      }
      ptrace(resume, w, 0, 0);
    } else if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_CLONE) {
      tracees++;
      ptrace(resume, w, 0, 0);
    } else if (event != 0) {
      ptrace(resume, w, 0, 0);
    } else {
      ptrace(resume, w, 0, sig);  // signal-delivery-stop: pass the signal on
    }
  }
  free(threads.items);
  out->tracees = tracees;
  clinux_spawn_end(&spawn);
  if (clinux_spawn_exec_status(&spawn, &step, &error) != 0) {
    out->failed_step = step;
    out->error = error;
    return -1;
  }
  return 0;
}

int clinux_trace(const char *path, char *const argv[], char *const envp[], int timing,
                 struct clinux_trace_counts *counts, struct clinux_trace_result *out) {
  return trace_run(path, argv, envp, timing, NULL, 0, 0, 0, NULL, 0, counts, NULL, out);
}

int clinux_trace_seccomp(const char *path, char *const argv[], char *const envp[], const void *prog,
                         unsigned int len, int no_new_privs, const int32_t *errnos, unsigned int ncodes,
                         struct clinux_trace_counts *counts, struct clinux_trace_denials *denials,
                         struct clinux_trace_result *out) {
  return trace_run(path, argv, envp, 0, prog, len, no_new_privs, 1, errnos, ncodes, counts, denials, out);
}
