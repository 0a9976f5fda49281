# Prints, for every syscall name read on stdin and every arch libseccomp knows,
# "arch name number" as libseccomp's resolve_syscall gives it ("-" when it fails).
import sys
import seccomp

ARCHES = ["X86", "X86_64", "X32", "ARM", "AARCH64", "MIPS", "MIPS64", "MIPS64N32",
          "MIPSEL", "MIPSEL64", "MIPSEL64N32", "PARISC", "PARISC64", "PPC", "PPC64",
          "PPC64LE", "RISCV64", "S390", "S390X"]
names = sys.stdin.read().split()
out = []
for a in ARCHES:
    arch = getattr(seccomp.Arch, a, None)
    if arch is None:
        continue
    for n in names:
        try:
            num = seccomp.resolve_syscall(arch, n)
        except Exception:
            num = "-"
        out.append("%s %s %s" % (a, n, num))
print("\n".join(out))
