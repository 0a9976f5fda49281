#include "clinux_run.h"
#include "clinux_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

#ifndef PTRACE_EVENT_SECCOMP
#define PTRACE_EVENT_SECCOMP 7
#endif
#ifndef PTRACE_O_TRACESECCOMP
#define PTRACE_O_TRACESECCOMP (1 << PTRACE_EVENT_SECCOMP)
#endif

#if defined(__x86_64__)
// A seccomp stop: the strict-mode detector's (note the request, let the call run: the
// kernel refuses it), or a TRACE of the program's own filter, which without a tracer
// fails with ENOSYS: it still does.
static void seccomp_stop(pid_t w, struct clinux_run_result *out) {
  struct {
    uint8_t op, pad[3];
    uint32_t arch;
    uint64_t ip, sp;
    uint64_t nr;
    uint64_t args[6];
    uint32_t ret_data;
  } info;
  memset(&info, 0, sizeof(info));
  long got = ptrace((enum __ptrace_request)0x420e /* PTRACE_GET_SYSCALL_INFO */, w, sizeof(info), &info);
  if (got > 0 && info.op == 3 /* SECCOMP */ && info.ret_data == CLINUX_RUN_STRICT_DATA) {
    if (!out->strict_request) {
      uint64_t nr = info.nr & ~0x40000000ULL;
      out->strict_request = (nr == 157 || nr == 172) ? 1 : 2;  // prctl (x86_64/x32, ia32), else seccomp
      out->strict_tid = w;
    }
    return;
  }
  struct user_regs_struct regs;
  if (ptrace(PTRACE_GETREGS, w, 0, &regs) == 0) {
    regs.orig_rax = (unsigned long long)-1;
    regs.rax = (unsigned long long)(-(long long)ENOSYS);
    ptrace(PTRACE_SETREGS, w, 0, &regs);
  }
}
#endif

int clinux_run(const char *path, char *const argv[], char *const envp[],
               const void *prog, unsigned int len, unsigned int flags,
               int no_new_privs, int trace, struct clinux_run_result *out) {
  return clinux_run_stacked(path, argv, envp, NULL, 0, prog, len, flags, no_new_privs, trace, out);
}

int clinux_run_stacked(const char *path, char *const argv[], char *const envp[], const void *detector,
                       unsigned int detector_len, const void *prog, unsigned int len, unsigned int flags,
                       int no_new_privs, int trace, struct clinux_run_result *out) {
  memset(out, 0, sizeof(*out));
  struct clinux_spawn spawn;
  int step = 0, error = 0;
  if (clinux_spawn_start_stacked(path, argv, envp, no_new_privs, detector, detector_len, prog, len, flags, &spawn,
                                 &step, &error) != 0) {
    out->failed_step = step;
    out->error = error;
    return -1;
  }
  pid_t pid = spawn.pid;
  out->pid = pid;
  clinux_spawn_forward_signals(&spawn);
  int traced = 0;
  if (trace) {
    long options = PTRACE_O_TRACEEXIT | PTRACE_O_TRACECLONE | (detector_len ? PTRACE_O_TRACESECCOMP : 0);
    if (ptrace(PTRACE_SEIZE, pid, 0, options) == 0) traced = 1;
  }
  // A TRACE detector only with a tracer to stop at (without one its calls would fail with
  // ENOSYS); untraced, the caller's detector returns LOG, read from the audit log.
  out->detector = detector_len > 0 && (traced || !trace);
  clinux_spawn_release_with(&spawn, out->detector ? CLINUX_SPAWN_GO_STACKED : CLINUX_SPAWN_GO);
  int failed = clinux_spawn_exec_status(&spawn, &step, &error) != 0;
  for (;;) {
    int st;
    pid_t w = waitpid(-1, &st, __WALL);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
      if (w == pid) {
        out->wait_status = st;
        break;
      }
      continue;
    }
    if (!WIFSTOPPED(st)) continue;
    if (!traced) {
      // Untraced, the program may still have made us its tracer (PTRACE_TRACEME): let it go,
      // with the signal it stopped at (not the SIGTRAP of its next execve).
      int stop = WSTOPSIG(st);
      ptrace(PTRACE_DETACH, w, 0, stop == SIGTRAP ? 0 : stop);
      continue;
    }
    int sig = WSTOPSIG(st);
    int event = (unsigned)st >> 16;
    if (event == PTRACE_EVENT_EXIT) {
      unsigned long status = 0;
      ptrace(PTRACE_GETEVENTMSG, w, 0, &status);
      int es = (int)status;
      if (WIFSIGNALED(es) && WTERMSIG(es) == SIGSYS) {
#if defined(__x86_64__)
        struct user_regs_struct regs;
        if (ptrace(PTRACE_GETREGS, w, 0, &regs) == 0 && (long)regs.orig_rax != -1) {
          // seccomp rolls the registers back to the syscall's entry: rax == orig_rax.
          int at_entry = regs.rax == regs.orig_rax;
          if (!out->seccomp_kill || (at_entry && out->seccomp_kill == 2)) {
            out->seccomp_kill = at_entry ? 1 : 2;
            out->nr = (int64_t)regs.orig_rax;
            out->arch = regs.cs == 0x23 ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64;
            // int 0x80 from 64-bit code keeps a 64-bit cs: ask the kernel for the call's arch.
            struct {
              uint8_t op, pad[3];
              uint32_t arch;
              uint64_t ip, sp;
              uint64_t rest[8];
            } info;
            memset(&info, 0, sizeof(info));
            if (ptrace((enum __ptrace_request)0x420e /* PTRACE_GET_SYSCALL_INFO */, w, sizeof(info), &info) > 0 && info.arch)
              out->arch = info.arch;
            out->tid = w;
            // The arguments as the filter saw them (entry registers, kept at the kill).
            if (out->arch == AUDIT_ARCH_I386) {
              uint64_t a[6] = {regs.rbx, regs.rcx, regs.rdx, regs.rsi, regs.rdi, regs.rbp};
              for (int i = 0; i < 6; i++) out->args[i] = (uint32_t)a[i];
            } else {
              uint64_t a[6] = {regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9};
              memcpy(out->args, a, sizeof(a));
            }
          }
        }
#endif
      }
      ptrace(PTRACE_CONT, w, 0, 0);
    } else if (event == PTRACE_EVENT_SECCOMP) {
#if defined(__x86_64__)
      seccomp_stop(w, out);
#endif
      ptrace(PTRACE_CONT, w, 0, 0);
    } else if (event == PTRACE_EVENT_STOP) {
      if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
        ptrace(PTRACE_LISTEN, w, 0, 0);
      else
        ptrace(PTRACE_CONT, w, 0, 0);
    } else if (event != 0) {
      ptrace(PTRACE_CONT, w, 0, 0);
    } else {
      ptrace(PTRACE_CONT, w, 0, sig);  // signal-delivery-stop: pass the signal on
    }
  }
  clinux_spawn_end(&spawn);
  if (failed) {
    out->failed_step = step;
    out->error = error;
    return -1;
  }
  return 0;
}

long clinux_seccomp_install(const void *prog, unsigned int len, unsigned int flags) {
  struct sock_fprog fprog = {.len = (unsigned short)len, .filter = (struct sock_filter *)prog};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
}

int clinux_set_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }

int clinux_seccomp_strict(void) { return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL); }

void clinux_exit_thread(int status) {
  for (;;) syscall(SYS_exit, status);
}
