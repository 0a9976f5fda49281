#include "clinux_run.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

long clinux_seccomp_install(const void *prog, unsigned int len, unsigned int flags) {
  struct sock_fprog fprog = {.len = (unsigned short)len, .filter = (struct sock_filter *)prog};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
}

int clinux_set_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }

int clinux_seccomp_strict(void) { return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL); }

void clinux_exit_thread(int status) {
  for (;;) syscall(SYS_exit, status);
}
