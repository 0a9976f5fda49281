#include "clinux_trace.h"
#include "clinux_run.h"
#include "clinux_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <sched.h>
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

// One trace: what it counts, how it stops, and the tracees it knows.
struct session {
  int timing;
  int seccomp;  // one stop per call (PTRACE_CONT, seccomp stops)
  int attached;
  const int32_t *errnos;
  unsigned int ncodes;
  const struct clinux_trace_hooks *hooks;
  struct clinux_trace_counts *counts;
  struct clinux_trace_denials *denials;
  struct clinux_trace_result *out;
  struct threads threads;  // every live tracee (attached) or those with state (launched)
  pid_t pid;               // the launched program, or the first attached pid
  int started;             // the program's first execve was seen
  int exec_reported;
  int tracees;
  int killing;        // a recording that met a request for strict mode: every tracee is killed
  int pin;            // CLINUX_TRACE_PIN_*
  int pinned;         // the program still runs on the tracer's CPU only
  cpu_set_t cpus;     // the tracer's CPUs before pinning: the program's again after
};

// Gives a pinned program (`tid`, and `child` when nonzero) back every CPU it had.
static void unpin(struct session *s, pid_t tid, pid_t child) {
  if (!s->pinned || s->pin != CLINUX_TRACE_PIN_AUTO) return;
  s->pinned = 0;
  sched_setaffinity(tid, sizeof(s->cpus), &s->cpus);
  if (child > 0) sched_setaffinity(child, sizeof(s->cpus), &s->cpus);
}

// Whether a call asks for the caller's CPUs (sched_getaffinity, in any x86 ABI).
static int asks_for_cpus(int index) {
  return index == CLINUX_TRACE_X86_64 * CLINUX_TRACE_NRS + SYS_sched_getaffinity ||
         index == CLINUX_TRACE_X32 * CLINUX_TRACE_NRS + SYS_sched_getaffinity ||
         index == CLINUX_TRACE_IA32 * CLINUX_TRACE_NRS + 242;
}

static void report_call(struct session *s, pid_t tid, int index, uint32_t arch, uint64_t nr, const uint64_t args[6]) {
  const struct clinux_trace_hooks *h = s->hooks;
  if (!h || !h->on_call || index < 0) return;
  if (h->call_mask && !h->call_mask[index]) return;
  h->on_call(h->ctx, tid, arch, nr, args);
}

// Ends a recording: SIGKILL to every tracee known (the program, and every process and
// thread it started); those not seen yet are killed at their first stop.
static void kill_tracees(struct session *s) {
  s->killing = 1;
  kill(s->pid, SIGKILL);
  for (size_t i = 0; i < s->threads.count; i++) kill(s->threads.items[i].tid, SIGKILL);
}

// A seccomp stop: count the call; in verification, fail the calls the filter
// sent with a known code. In a recording, a request for strict mode (the stop of
// the detector's data) ends the run: under the filter the kernel would refuse it.
static void seccomp_stop(struct session *s, pid_t w) {
  struct syscall_info info;
  memset(&info, 0, sizeof(info));
  long got = ptrace((enum __ptrace_request)TRACE_GET_SYSCALL_INFO, w, sizeof(info), &info);
  if (got <= 0 || info.op != INFO_SECCOMP) {
    s->counts->unknown++;
    return;
  }
  if (!s->errnos && info.seccomp.ret_data == CLINUX_RUN_STRICT_DATA) {
    uint64_t nr = info.seccomp.nr & ~X32_BIT;
    s->out->strict_request = (nr == SYS_prctl || (info.arch == AUDIT_ARCH_I386 && nr == 172)) ? 1 : 2;
    s->out->strict_tid = w;
    kill_tracees(s);
    return;
  }
  int index = slot_index(info.arch, info.seccomp.nr);
  if (index >= 0)
    s->counts->calls[index]++;
  else
    s->counts->unknown++;
  if (s->pinned && asks_for_cpus(index)) unpin(s, w, 0);
  report_call(s, w, index, info.arch, info.seccomp.nr, info.seccomp.args);
  if (!s->errnos || info.seccomp.ret_data >= s->ncodes) return;
  int32_t e = s->errnos[info.seccomp.ret_data];
  struct clinux_trace_denials *denials = s->denials;
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

// A syscall entry or exit stop (two-stop tracing).
static void syscall_stop(struct session *s, pid_t w) {
  struct syscall_info info;
  memset(&info, 0, sizeof(info));
  long got = ptrace((enum __ptrace_request)TRACE_GET_SYSCALL_INFO, w, sizeof(info), &info);
  if (got > 0 && info.op == INFO_ENTRY) {
    int index = slot_index(info.arch, info.entry.nr);
    if (!s->started && w == s->pid && index >= 0 && (index == SYS_execve || index == SYS_execveat)) s->started = 1;
    struct thread_state *t = thread_find(&s->threads, w, 1);
    if (s->pinned && asks_for_cpus(index)) unpin(s, w, 0);
    if (s->started) {
      if (index >= 0)
        s->counts->calls[index]++;
      else
        s->counts->unknown++;
      report_call(s, w, index, info.arch, info.entry.nr, info.entry.args);
    }
    if (t) {
      t->index = s->started ? index : -1;
      if (s->timing && s->started) t->start = now_ns();
    }
  } else if (got > 0 && info.op == INFO_EXIT) {
    struct thread_state *t = thread_find(&s->threads, w, 0);
    if (t && t->index >= 0 && s->timing) {
      uint64_t now = now_ns();
      s->counts->nanoseconds[t->index] += now > t->start ? now - t->start : 0;
      if (info.exit.is_error || (info.exit.rval >= -4095 && info.exit.rval <= -1)) s->counts->errors[t->index]++;
    }
    if (t) t->index = -1;
  }
}

// A non-leader thread exec'd: it now has the leader's tid. Keep its call in progress.
static void exec_stop(struct session *s, pid_t w) {
  unsigned long former = 0;
  ptrace(PTRACE_GETEVENTMSG, w, 0, &former);
  if ((pid_t)former != w) {
    struct thread_state *old_state = thread_find(&s->threads, (pid_t)former, 0);
    int index = old_state ? old_state->index : -1;
    uint64_t start = old_state ? old_state->start : 0;
    thread_remove(&s->threads, (pid_t)former);
    struct thread_state *t = thread_find(&s->threads, w, 1);
    if (t) {
      t->index = index;
      t->start = start;
    }
  }
  if (!s->exec_reported && !s->attached && s->hooks && s->hooks->on_exec) {
    s->exec_reported = 1;
    s->hooks->on_exec(s->hooks->ctx, w);
  }
}

// Handles one wait(2) report of a tracee and restarts it. `first_stop` is called
// for a launched program's initial interrupt.
static void handle(struct session *s, pid_t w, int st, struct clinux_spawn *spawn, int *go_sent) {
  const enum __ptrace_request resume = s->seccomp ? PTRACE_CONT : PTRACE_SYSCALL;
  if (WIFEXITED(st) || WIFSIGNALED(st)) {
    thread_remove(&s->threads, w);
    if (w == s->pid) s->out->wait_status = st;
    return;
  }
  if (!WIFSTOPPED(st)) return;
  s->counts->stops++;
  int sig = WSTOPSIG(st);
  int event = (unsigned)st >> 16;
  if (s->killing) {  // a tracee not killed yet (new), or one stopped on its way out
    kill(w, SIGKILL);
    ptrace(PTRACE_CONT, w, 0, 0);
    return;
  }
  if (s->attached) thread_find(&s->threads, w, 1);
  if (sig == (SIGTRAP | 0x80) && event == 0) {
    syscall_stop(s, w);
    ptrace(resume, w, 0, 0);
  } else if (event == PTRACE_EVENT_SECCOMP) {
    seccomp_stop(s, w);
    ptrace(resume, w, 0, 0);
  } else if (event == PTRACE_EVENT_STOP) {
    if (spawn && w == s->pid && !*go_sent) {
      // The initial interrupt: let the child go on to execve, stopping at every call.
      ptrace(resume, w, 0, 0);
      clinux_spawn_release(spawn);
      *go_sent = 1;
    } else if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
      ptrace(PTRACE_LISTEN, w, 0, 0);  // group-stop: stay stopped until SIGCONT
    } else {
      ptrace(resume, w, 0, 0);  // a new tracee's first stop, or an interrupt
    }
  } else if (event == PTRACE_EVENT_EXEC) {
    exec_stop(s, w);
    ptrace(resume, w, 0, 0);
  } else if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_CLONE) {
    s->tracees++;
    unsigned long child = 0;
    // A one-stop recording knows every tracee too: a request for strict mode kills them all.
    int keep = s->attached || (s->seccomp && !s->errnos);
    if ((keep || s->pinned) && ptrace(PTRACE_GETEVENTMSG, w, 0, &child) == 0 && child) {
      if (keep) thread_find(&s->threads, (pid_t)child, 1);
      unpin(s, w, (pid_t)child);
    }
    ptrace(resume, w, 0, 0);
  } else if (event != 0) {
    ptrace(resume, w, 0, 0);
  } else {
    ptrace(resume, w, 0, sig);  // signal-delivery-stop: pass the signal on
  }
}

static const long trace_options = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
                                  PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT;

static int trace_spawned(const char *path, char *const argv[], char *const envp[], const void *prog, unsigned int len,
                         int no_new_privs, struct session *s) {
  struct clinux_trace_result *out = s->out;
  struct clinux_spawn spawn;
  int step = 0, error = 0;
  if (clinux_spawn_start(path, argv, envp, no_new_privs, prog, len, 0, &spawn, &step, &error) != 0) {
    out->failed_step = step;
    out->error = error;
    return -1;
  }
  pid_t pid = spawn.pid;
  out->pid = pid;
  s->pid = pid;
  s->tracees = 1;
  s->started = s->seccomp;  // the filter sees nothing before the program's execve
  long options = trace_options | PTRACE_O_EXITKILL;
  if (s->seccomp) options = (options & ~PTRACE_O_TRACESYSGOOD) | PTRACE_O_TRACESECCOMP;
  int st = 0;
  // Seize, then interrupt so the child is in a ptrace-stop and can be restarted
  // with PTRACE_SYSCALL before it execs: its execve is the first call counted.
  if (ptrace(PTRACE_SEIZE, pid, 0, options) != 0 || ptrace(PTRACE_INTERRUPT, pid, 0, 0) != 0) {
    out->failed_step = CLINUX_LAUNCH_STEP_TRACE;
    out->error = errno;
    clinux_spawn_abort(&spawn);
    clinux_spawn_end(&spawn);
    return -1;
  }
  clinux_spawn_forward_signals(&spawn);
  int go_sent = 0;
  for (;;) {
    pid_t w = waitpid(-1, &st, __WALL);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: every tracee has ended
    }
    handle(s, w, st, &spawn, &go_sent);
  }
  free(s->threads.items);
  out->tracees = s->tracees;
  clinux_spawn_end(&spawn);
  if (clinux_spawn_exec_status(&spawn, &step, &error) != 0) {
    out->failed_step = step;
    out->error = error;
    return -1;
  }
  return 0;
}

// Pins this thread to its CPU (as s->pin asks) before the fork, so that the child
// inherits it, traces the program, and gives this thread its CPUs back.
static int trace_run(const char *path, char *const argv[], char *const envp[], const void *prog, unsigned int len,
                     int no_new_privs, struct session *s) {
  memset(s->out, 0, sizeof(*s->out));
  int saved = s->pin != CLINUX_TRACE_PIN_NONE && sched_getaffinity(0, sizeof(s->cpus), &s->cpus) == 0;
  if (saved) {
    cpu_set_t one;
    CPU_ZERO(&one);
    int cpu = sched_getcpu();
    if (cpu >= 0) {
      CPU_SET(cpu, &one);
      s->pinned = sched_setaffinity(0, sizeof(one), &one) == 0;
    }
  }
  int rc = trace_spawned(path, argv, envp, prog, len, no_new_privs, s);
  if (saved) sched_setaffinity(0, sizeof(s->cpus), &s->cpus);
  return rc;
}

int clinux_trace(const char *path, char *const argv[], char *const envp[], int timing, int pin,
                 const struct clinux_trace_hooks *hooks, struct clinux_trace_counts *counts,
                 struct clinux_trace_result *out) {
  struct session s = {.timing = timing, .pin = pin, .hooks = hooks, .counts = counts, .out = out};
  return trace_run(path, argv, envp, NULL, 0, 0, &s);
}

int clinux_trace_seccomp(const char *path, char *const argv[], char *const envp[], const void *prog,
                         unsigned int len, int no_new_privs, const int32_t *errnos, unsigned int ncodes, int pin,
                         const struct clinux_trace_hooks *hooks, struct clinux_trace_counts *counts,
                         struct clinux_trace_denials *denials, struct clinux_trace_result *out) {
  struct session s = {.seccomp = 1,
                      .errnos = errnos,
                      .ncodes = ncodes,
                      .pin = pin,
                      .hooks = hooks,
                      .counts = counts,
                      .denials = denials,
                      .out = out};
  return trace_run(path, argv, envp, prog, len, no_new_privs, &s);
}

// Seizes every thread of `pid` and interrupts it, re-reading /proc/PID/task
// until no thread is new. Returns the threads seized, or -1 with errno.
static int seize_process(struct session *s, pid_t pid) {
  char dir[64];
  snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
  int seized = 0, first_error = 0;
  for (int round = 0; round < 100; round++) {
    DIR *d = opendir(dir);
    if (!d) {
      if (!seized) {
        if (errno == ENOENT) errno = ESRCH;  // no such process
        return -1;
      }
      break;
    }
    int fresh = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      pid_t tid = (pid_t)atoi(e->d_name);
      if (tid <= 0 || thread_find(&s->threads, tid, 0)) continue;
      if (ptrace(PTRACE_SEIZE, tid, 0, trace_options) != 0) {
        if (!first_error) first_error = errno;
        continue;
      }
      ptrace(PTRACE_INTERRUPT, tid, 0, 0);
      thread_find(&s->threads, tid, 1);
      seized++;
      fresh++;
    }
    closedir(d);
    if (!fresh) break;
  }
  if (!seized) {
    errno = first_error ? first_error : ESRCH;
    return -1;
  }
  s->tracees += seized;
  return seized;
}

// Interrupts every tracee; one that is gone (ESRCH: e.g. a zombie thread group
// leader) is dropped rather than waited for.
static void interrupt_all(struct session *s) {
  for (size_t i = 0; i < s->threads.count;) {
    if (ptrace(PTRACE_INTERRUPT, s->threads.items[i].tid, 0, 0) != 0 && errno == ESRCH) {
      s->threads.items[i] = s->threads.items[--s->threads.count];
      continue;
    }
    i++;
  }
}

// Interrupts and detaches every tracee; they run on as if never traced.
static void detach_all(struct session *s, sigset_t *waitset) {
  interrupt_all(s);
  struct timespec limit = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
  int idle = 0;
  while (s->threads.count > 0 && idle < 50) {
    int st = 0;
    pid_t w = waitpid(-1, &st, __WALL | WNOHANG);
    if (w < 0) break;
    if (w == 0) {
      siginfo_t info;
      if (sigtimedwait(waitset, &info, &limit) < 0) {
        idle++;
        interrupt_all(s);  // a tracee that never stopped is asked again
      }
      continue;
    }
    idle = 0;
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
      thread_remove(&s->threads, w);
      if (w == s->pid) s->out->wait_status = st;
      continue;
    }
    if (!WIFSTOPPED(st)) continue;
    int sig = WSTOPSIG(st);
    int event = (unsigned)st >> 16;
    if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_CLONE) {
      unsigned long child = 0;
      if (ptrace(PTRACE_GETEVENTMSG, w, 0, &child) == 0 && child) thread_find(&s->threads, (pid_t)child, 1);
    }
    // A signal-delivery-stop (event 0, not a syscall stop: TRACESYSGOOD marks those)
    // keeps its signal, SIGTRAP included; every other stop detaches with none.
    int deliver = (event == 0 && sig != (SIGTRAP | 0x80)) ? sig : 0;
    ptrace(PTRACE_DETACH, w, 0, deliver);
    thread_remove(&s->threads, w);
  }
}

int clinux_trace_attach(const int32_t *pids, unsigned int npids, int timing, const struct clinux_trace_hooks *hooks,
                        struct clinux_trace_counts *counts, struct clinux_trace_result *out, int *ended) {
  memset(out, 0, sizeof(*out));
  *ended = CLINUX_TRACE_ENDED;
  struct session s = {.timing = timing, .attached = 1, .started = 1, .hooks = hooks, .counts = counts, .out = out};
  sigset_t waitset, saved;
  sigemptyset(&waitset);
  sigaddset(&waitset, SIGCHLD);
  sigaddset(&waitset, SIGINT);
  sigaddset(&waitset, SIGTERM);
  sigaddset(&waitset, SIGHUP);
  sigprocmask(SIG_BLOCK, &waitset, &saved);
  int attached = 0;
  for (unsigned int i = 0; i < npids; i++) {
    if (seize_process(&s, pids[i]) < 0) {
      if (!out->error) {
        out->error = errno;
        out->pid = pids[i];
      }
      continue;
    }
    if (!attached) s.pid = pids[i];
    attached++;
  }
  if (!attached) {
    out->failed_step = CLINUX_LAUNCH_STEP_TRACE;
    free(s.threads.items);
    sigprocmask(SIG_SETMASK, &saved, NULL);
    return -1;
  }
  out->pid = s.pid;
  out->error = 0;
  for (;;) {
    int st = 0;
    pid_t w = waitpid(-1, &st, __WALL | WNOHANG);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: every tracee has ended
    }
    if (w == 0) {
      siginfo_t info;
      int sig = sigwaitinfo(&waitset, &info);
      if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
        detach_all(&s, &waitset);
        *ended = CLINUX_TRACE_DETACHED;
        break;
      }
      continue;
    }
    handle(&s, w, st, NULL, NULL);
  }
  free(s.threads.items);
  out->tracees = s.tracees;
  // Drop the SIGCHLDs this trace caused before unblocking.
  struct timespec zero = {0, 0};
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  while (sigtimedwait(&chld, NULL, &zero) > 0) {
  }
  sigprocmask(SIG_SETMASK, &saved, NULL);
  return 0;
}
