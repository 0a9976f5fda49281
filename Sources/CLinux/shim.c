#include "CLinux.h"
#include <string.h>
#include <sys/utsname.h>

int clinux_kernel_release(char *buf, size_t len) {
  struct utsname u;
  if (uname(&u) != 0) return -1;
  strncpy(buf, u.release, len - 1);
  buf[len - 1] = 0;
  return 0;
}
