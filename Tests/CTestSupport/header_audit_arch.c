#include "CTestSupport.h"
#include <string.h>

#include <linux/audit.h>
#include <linux/elf-em.h>

uint32_t ctest_header_audit_arch(const char *name) {
  static const struct { const char *name; uint32_t value; } table[] = {
    {"x86", AUDIT_ARCH_I386}, {"x86_64", AUDIT_ARCH_X86_64}, {"x32", AUDIT_ARCH_X86_64},
    {"arm", AUDIT_ARCH_ARM}, {"aarch64", AUDIT_ARCH_AARCH64},
#ifdef AUDIT_ARCH_LOONGARCH64
    {"loongarch64", AUDIT_ARCH_LOONGARCH64},
#endif
    {"m68k", AUDIT_ARCH_M68K}, {"mips", AUDIT_ARCH_MIPS}, {"mipsel", AUDIT_ARCH_MIPSEL},
    {"mips64", AUDIT_ARCH_MIPS64}, {"mipsel64", AUDIT_ARCH_MIPSEL64},
    {"mips64n32", AUDIT_ARCH_MIPS64N32}, {"mipsel64n32", AUDIT_ARCH_MIPSEL64N32},
    {"parisc", AUDIT_ARCH_PARISC}, {"parisc64", AUDIT_ARCH_PARISC64}, {"ppc", AUDIT_ARCH_PPC},
    {"ppc64", AUDIT_ARCH_PPC64}, {"ppc64le", AUDIT_ARCH_PPC64LE}, {"riscv64", AUDIT_ARCH_RISCV64},
    {"s390", AUDIT_ARCH_S390}, {"s390x", AUDIT_ARCH_S390X}, {"sh", AUDIT_ARCH_SHEL},
    {"sheb", AUDIT_ARCH_SH},
  };
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (strcmp(table[i].name, name) == 0) return table[i].value;
  return 0;
}
