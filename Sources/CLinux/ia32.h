#ifndef CLINUX_IA32_H
#define CLINUX_IA32_H
// Private to CLinux (and included by Benchmarks/CBench): an ia32 syscall made from 64-bit code through `int $0x80`.
#include <stdint.h>

#if defined(__x86_64__)
// nr in eax, arguments in ebx, ecx, edx, esi, edi, ebp (all 64 bits of each register
// as given: the filter sees them). rbp may be the frame pointer, so it is saved on the
// stack, below the 128-byte red zone the caller may be using, and restored after.
static inline long clinux_int80(long nr, const uint64_t *a) {
  long ret;
  uint64_t a5 = a[5];
  __asm__ volatile(
      "sub $128, %%rsp\n\t"
      "push %%rbp\n\t"
      "mov %[a5], %%rbp\n\t"
      "int $0x80\n\t"
      "pop %%rbp\n\t"
      "add $128, %%rsp"
      : "=a"(ret)
      : "0"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4]), [a5] "r"(a5)
      : "r8", "r9", "r10", "r11", "memory", "cc");
  return (long)(int)ret;  // a 32-bit call returns in eax
}
#endif

#endif
