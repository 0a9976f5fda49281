#define _GNU_SOURCE
#include "clinux_run.h"

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

static volatile pid_t forward_to = 0;

static void forward_signal(int sig, siginfo_t *info, void *ctx) {
  (void)ctx;
  // Signals from the terminal (SI_KERNEL) reach the program's process group
  // directly; forward only what another process sent to us.
  if (info && info->si_code == SI_KERNEL) return;
  pid_t p = forward_to;
  if (p > 0) kill(p, sig);
}

static const int forwarded[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

static void child_fail(int fd, int step) {
  int msg[2] = {step, errno};
  ssize_t ignored = write(fd, msg, sizeof(msg));
  (void)ignored;
  _exit(127);
}

int clinux_run(const char *path, char *const argv[], char *const envp[],
               const void *prog, unsigned int len, unsigned int flags,
               int no_new_privs, int trace, struct clinux_run_result *out) {
  memset(out, 0, sizeof(*out));
  int errpipe[2], gopipe[2];
  if (pipe2(errpipe, O_CLOEXEC) != 0) {
    out->failed_step = CLINUX_RUN_STEP_PIPE;
    out->error = errno;
    return -1;
  }
  if (pipe2(gopipe, O_CLOEXEC) != 0) {
    out->failed_step = CLINUX_RUN_STEP_PIPE;
    out->error = errno;
    close(errpipe[0]);
    close(errpipe[1]);
    return -1;
  }
  struct sigaction old[NFORWARDED];
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = forward_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigset_t all, saved;
  sigfillset(&all);
  // Block signals around fork so the child starts with none pending from us.
  sigprocmask(SIG_SETMASK, &all, &saved);
  pid_t pid = fork();
  if (pid == 0) {
    close(errpipe[0]);
    close(gopipe[1]);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    char go;
    while (read(gopipe[0], &go, 1) < 0 && errno == EINTR) {
    }
    close(gopipe[0]);
    if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(errpipe[1], CLINUX_RUN_STEP_NO_NEW_PRIVS);
    if (len > 0) {
      struct sock_fprog fprog = {.len = (unsigned short)len, .filter = (struct sock_filter *)prog};
      long rc = flags ? syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog)
                      : prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
      if (rc != 0) child_fail(errpipe[1], CLINUX_RUN_STEP_FILTER);
    }
    execve(path, argv, envp);
    child_fail(errpipe[1], CLINUX_RUN_STEP_EXEC);
  }
  if (pid < 0) {
    out->failed_step = CLINUX_RUN_STEP_FORK;
    out->error = errno;
    sigprocmask(SIG_SETMASK, &saved, NULL);
    close(errpipe[0]);
    close(errpipe[1]);
    close(gopipe[0]);
    close(gopipe[1]);
    return -1;
  }
  out->pid = pid;
  forward_to = pid;
  for (size_t i = 0; i < NFORWARDED; i++) sigaction(forwarded[i], &sa, &old[i]);
  // Forwarded signals must reach the handler even if our caller blocked them.
  sigset_t waiting = saved;
  for (size_t i = 0; i < NFORWARDED; i++) sigdelset(&waiting, forwarded[i]);
  sigprocmask(SIG_SETMASK, &waiting, NULL);
  close(errpipe[1]);
  close(gopipe[0]);
  int traced = 0;
  if (trace) {
    if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACEEXIT | PTRACE_O_TRACECLONE) == 0) traced = 1;
  }
  ssize_t ignored = write(gopipe[1], "g", 1);
  (void)ignored;
  close(gopipe[1]);
  int msg[2];
  ssize_t n;
  do {
    n = read(errpipe[0], msg, sizeof(msg));
  } while (n < 0 && errno == EINTR);
  close(errpipe[0]);
  int failed = (n == (ssize_t)sizeof(msg));
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
    if (!WIFSTOPPED(st) || !traced) continue;
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
          }
        }
#endif
      }
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
  forward_to = 0;
  for (size_t i = 0; i < NFORWARDED; i++) sigaction(forwarded[i], &old[i], NULL);
  sigprocmask(SIG_SETMASK, &saved, NULL);
  if (failed) {
    out->failed_step = msg[0];
    out->error = msg[1];
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
