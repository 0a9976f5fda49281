#ifndef CTESTSUPPORT_H
#define CTESTSUPPORT_H
// C the tests need and the product does not: facts read from the kernel's headers.
#include <stdint.h>

/// The kernel header's AUDIT_ARCH_* value for an arch short name ("x86_64",
/// "mipsel64n32", ...), or 0 when the header has none. For tests of the Arch table.
uint32_t ctest_header_audit_arch(const char *name);

#endif
