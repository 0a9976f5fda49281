#!/usr/bin/python3
"""libseccomp-compile: compile an OCI `linux.seccomp` profile with libseccomp the way runc does.

A differential-testing / benchmarking oracle for syscage.  It replays what runc's
libcontainer (specconv.SetupSeccomp + seccomp.InitSeccomp/matchCall) does with the linked
libseccomp, minus runc's patchbpf ENOSYS stub, and prints libseccomp's BPF (or PFC).

Needs the libseccomp Python binding (Debian: python3-seccomp), so run it with
/usr/bin/python3.  See Scripts/libseccomp-compile.md for usage.

Exit codes: 0 ok; 2 bad input; 3 libseccomp rejected a rule (runc would fail; see
--keep-going); 4 valid input this libseccomp cannot express (e.g. an architecture it
does not know).
"""

import argparse
import errno as errno_names
import json
import os
import re
import statistics
import sys
import time

try:
    import seccomp
except ImportError:  # pragma: no cover - depends on the machine
    sys.stderr.write("libseccomp-compile: the libseccomp Python binding is missing "
                     "(apt-get install python3-seccomp; run with /usr/bin/python3)\n")
    sys.exit(2)

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_REJECTED = 3
EXIT_UNSUPPORTED = 4

EPERM = 1

# OCI / runc action names -> (kind, takes an errno/trace return code)
ACTIONS = {
    "SCMP_ACT_KILL": "kill_thread",
    "SCMP_ACT_KILL_THREAD": "kill_thread",
    "SCMP_ACT_KILL_PROCESS": "kill_process",
    "SCMP_ACT_TRAP": "trap",
    "SCMP_ACT_ERRNO": "errno",
    "SCMP_ACT_TRACE": "trace",
    "SCMP_ACT_ALLOW": "allow",
    "SCMP_ACT_LOG": "log",
    "SCMP_ACT_NOTIFY": "notify",
}

OPS = {
    "SCMP_CMP_NE": seccomp.NE,
    "SCMP_CMP_LT": seccomp.LT,
    "SCMP_CMP_LE": seccomp.LE,
    "SCMP_CMP_EQ": seccomp.EQ,
    "SCMP_CMP_GE": seccomp.GE,
    "SCMP_CMP_GT": seccomp.GT,
    "SCMP_CMP_MASKED_EQ": seccomp.MASKED_EQ,
}

# Architectures runc accepts (specconv / seccomp.ConvertStringToArch).  Those whose
# attribute is missing from this binding (e.g. LOONGARCH64 on 2.5.4) are "unsupported".
RUNC_ARCHES = ["X86", "X86_64", "X32", "ARM", "AARCH64", "MIPS", "MIPS64", "MIPS64N32",
               "MIPSEL", "MIPSEL64", "MIPSEL64N32", "PPC", "PPC64", "PPC64LE", "RISCV64",
               "S390", "S390X", "LOONGARCH64"]
# Valid in the OCI spec but not accepted by runc.
OTHER_OCI_ARCHES = ["PARISC", "PARISC64", "M68K", "SH", "SHEB"]

U64_MAX = (1 << 64) - 1


class BadInput(Exception):
    pass


class Unsupported(Exception):
    pass


class Rejected(Exception):
    pass


# --------------------------------------------------------------------------------------
# Profile parsing and validation (what runc's specconv + Go's encoding/json would reject)


def _uint(value, what, maximum=U64_MAX):
    # JSON numbers decoded into Go uint/uint64: no negatives, no fractions, no strings.
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput("%s must be an unsigned integer, got %r" % (what, value))
    if value < 0 or value > maximum:
        raise BadInput("%s out of range: %r" % (what, value))
    return value


def _action(name, errno_ret, what):
    """runc getAction(): returns a canonical (kind, code) pair; code is None unless
    ERRNO/TRACE, where it defaults to EPERM.  libseccomp-golang keeps the low 16 bits
    (SetReturnCode(int16(errnoRet)))."""
    if not isinstance(name, str) or name not in ACTIONS:
        raise BadInput("%s: invalid action %r" % (what, name))
    kind = ACTIONS[name]
    if kind in ("errno", "trace"):
        code = EPERM if errno_ret is None else (errno_ret & 0xFFFF)
        return (kind, code)
    return (kind, None)  # errnoRet is ignored by runc for other actions


def _scmp_action(act):
    kind, code = act
    return {
        "kill_thread": lambda: seccomp.KILL,
        "kill_process": lambda: seccomp.KILL_PROCESS,
        "trap": lambda: seccomp.TRAP,
        "errno": lambda: seccomp.ERRNO(code),
        "trace": lambda: seccomp.TRACE(code),
        "allow": lambda: seccomp.ALLOW,
        "log": lambda: seccomp.LOG,
        "notify": lambda: seccomp.NOTIFY,
    }[kind]()


def _arch(name):
    if not isinstance(name, str) or not name.startswith("SCMP_ARCH_"):
        raise BadInput("invalid architecture %r" % (name,))
    short = name[len("SCMP_ARCH_"):]
    if short in RUNC_ARCHES:
        value = getattr(seccomp.Arch, short, None)
        if value is None:
            raise Unsupported("architecture %s is not known to this libseccomp" % name)
        return value
    if short in OTHER_OCI_ARCHES:
        raise Unsupported("architecture %s is not accepted by runc" % name)
    raise BadInput("invalid architecture %r" % (name,))


def parse_profile(doc):
    """Validate an OCI linux.seccomp object; returns a plan dict or None (disabled)."""
    if not isinstance(doc, dict):
        raise BadInput("profile must be a JSON object")
    warnings = []
    for key in ("archMap", "includes", "excludes"):
        if key in doc:
            warnings.append("field %r ignored: expand Docker profiles to OCI form first" % key)

    default_name = doc.get("defaultAction") or ""
    syscalls = doc.get("syscalls") or []
    if not isinstance(syscalls, list):
        raise BadInput("syscalls must be a list")
    if default_name == "" and not syscalls:
        return None  # runc: seccomp disabled

    def_errno = doc.get("defaultErrnoRet")
    if def_errno is not None:
        def_errno = _uint(def_errno, "defaultErrnoRet")
    default = _action(default_name, def_errno, "defaultAction")
    if default[0] == "notify":
        raise BadInput("SCMP_ACT_NOTIFY cannot be used as default action")

    arches = doc.get("architectures") or []
    if not isinstance(arches, list):
        raise BadInput("architectures must be a list")
    arch_values = [(a, _arch(a)) for a in arches]

    flags = doc.get("flags") or []
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise BadInput("flags must be a list of strings")

    calls = []  # flattened, one per name, in file order (runc configs.Syscall)
    for i, entry in enumerate(syscalls):
        what = "syscalls[%d]" % i
        if not isinstance(entry, dict):
            raise BadInput("%s must be an object" % what)
        if "name" in entry or "includes" in entry or "excludes" in entry:
            warnings.append("%s: name/includes/excludes ignored (not OCI form)" % what)
        err_ret = entry.get("errnoRet")
        if err_ret is not None:
            err_ret = _uint(err_ret, what + ".errnoRet")
        act = _action(entry.get("action"), err_ret, what + ".action")
        args = entry.get("args") or []
        if not isinstance(args, list):
            raise BadInput("%s.args must be a list" % what)
        conds = []
        for j, arg in enumerate(args):
            awhat = "%s.args[%d]" % (what, j)
            if not isinstance(arg, dict):
                raise BadInput(awhat + " must be an object")
            index = _uint(arg.get("index", 0), awhat + ".index")
            if index > 5:
                raise BadInput(awhat + ".index must be 0..5")
            op_name = arg.get("op")
            if op_name not in OPS:
                raise BadInput("%s: invalid operator %r" % (awhat, op_name))
            value = _uint(arg.get("value", 0), awhat + ".value")
            value_two = _uint(arg.get("valueTwo", 0), awhat + ".valueTwo")
            conds.append((index, OPS[op_name], value, value_two, op_name))
        names = entry.get("names") or []
        if not isinstance(names, list):
            raise BadInput("%s.names must be a list" % what)
        for name in names:
            if not isinstance(name, str):
                raise BadInput("%s: syscall names must be strings" % what)
            if name == "":
                raise BadInput("%s: empty string is not a valid syscall" % what)
            if act[0] == "notify" and name == "write":
                raise BadInput("SCMP_ACT_NOTIFY cannot be used for the write syscall")
            calls.append({"entry": i, "name": name, "action": act, "args": conds})

    return {"default": default, "arches": arch_values, "calls": calls,
            "flags": flags, "warnings": warnings}


# --------------------------------------------------------------------------------------
# Compilation (runc InitSeccomp + matchCall)

_ERRNO_RE = re.compile(r"errno = (-?\d+)")


def _describe_error(exc):
    m = _ERRNO_RE.search(str(exc))
    if m:
        rc = int(m.group(1))
        name = errno_names.errorcode.get(-rc, "E?")
        return "%s (%d)" % (name, rc), rc
    return "%s: %s" % (type(exc).__name__, exc), None


def compile_filter(plan, opts, report):
    """Build the libseccomp filter.  Fills `report`; raises Rejected on an add_rule error
    unless opts.keep_going."""
    default = plan["default"]
    filt = seccomp.SyscallFilter(_scmp_action(default))

    # Without the native arch (--no-native) it goes first: libseccomp cannot hold ABIs of
    # both byte orders in one filter, so adding big-endian ABIs next to x86_64 fails.
    if opts.no_native and plan["arches"]:
        listed = {v for _, v in plan["arches"]}
        native = seccomp.system_arch()
        if native >= 1 << 31:  # system_arch() is unsigned, Arch.* constants are signed
            native -= 1 << 32
        if native not in listed and filt.exist_arch(native):
            filt.remove_arch(native)
    # Extra architectures: libseccomp-golang's AddArch is a no-op for an arch already in
    # the filter (the native one, seccomp_init adds it); python-seccomp raises EEXIST.
    for name, value in plan["arches"]:
        if not filt.exist_arch(value):
            filt.add_arch(value)

    # Binary tree when more than 32 (flattened) syscalls, as runc.
    level = opts.optimize if opts.optimize else (2 if len(plan["calls"]) > 32 else 1)
    if level != 1:
        filt.set_attr(seccomp.Attr.CTL_OPTIMIZE, level)
    filt.set_attr(seccomp.Attr.CTL_NNP, 0)
    if opts.badarch is not None:
        filt.set_attr(seccomp.Attr.ACT_BADARCH, opts.badarch)

    skipped_unknown = []
    skipped_default = []
    rejected = []
    rules = 0
    for call in plan["calls"]:
        name = call["name"]
        if call["action"] == default:
            skipped_default.append(name)  # runc: redundant rule, silently skipped
            continue
        nr = seccomp.resolve_syscall(seccomp.Arch.NATIVE, name)
        if nr == -1:  # __NR_SCMP_ERROR: GetSyscallFromName fails -> runc skips
            skipped_unknown.append(name)
            continue
        action = _scmp_action(call["action"])
        conds = call["args"]
        counts = [0] * 6
        for c in conds:
            counts[c[0]] += 1
        if not conds:
            groups = [[]]
        elif max(counts) > 1:
            groups = [[c] for c in conds]  # runc: one rule per condition (OR)
        else:
            groups = [conds]  # one rule, conditions AND-ed
        for group in groups:
            sargs = [seccomp.Arg(c[0], c[1], c[2], c[3]) for c in group]
            try:
                filt.add_rule(action, nr, *sargs)
                rules += 1
            except (RuntimeError, ValueError, OverflowError) as exc:
                desc, rc = _describe_error(exc)
                rejected.append({
                    "name": name,
                    "error": desc,
                    "errno": rc,
                    "entry": call["entry"],
                    "args": [{"index": c[0], "op": c[4], "value": c[2], "valueTwo": c[3]}
                             for c in group],
                })
                if not opts.keep_going:
                    report.update(_report_fields(plan, level, skipped_unknown,
                                                 skipped_default, rejected, rules))
                    raise Rejected("libseccomp rejected a rule for %s: %s" % (name, desc))
    report.update(_report_fields(plan, level, skipped_unknown, skipped_default,
                                 rejected, rules))
    return filt


def _dedup(names):
    seen = set()
    out = []
    for n in names:
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out


def _report_fields(plan, level, skipped_unknown, skipped_default, rejected, rules):
    return {
        "optimize": level,
        "syscalls_flattened": len(plan["calls"]),
        "rules_added": rules,
        "skipped_unknown": _dedup(skipped_unknown),
        "skipped_default_action": _dedup(skipped_default),
        "rejected": rejected,
    }


class MemFile:
    """A memfd to hand libseccomp's export functions a real file descriptor."""

    def __init__(self):
        self.fd = os.memfd_create("libseccomp-export", os.MFD_CLOEXEC)
        self.file = os.fdopen(self.fd, "w+b", buffering=0)

    def reset(self):
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)

    def read(self):
        os.lseek(self.fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def export(filt, mem, pfc):
    mem.reset()
    if pfc:
        filt.export_pfc(mem.file)
    else:
        filt.export_bpf(mem.file)
    return mem.read()


# --------------------------------------------------------------------------------------
# Command line

BADARCH = {
    "kill": seccomp.KILL, "kill-thread": seccomp.KILL, "kill-process": seccomp.KILL_PROCESS,
    "trap": seccomp.TRAP, "allow": seccomp.ALLOW, "log": seccomp.LOG,
}


def parse_badarch(text):
    t = text.strip().lower().replace("_", "-")
    if t.startswith("scmp-act-"):
        t = t[len("scmp-act-"):]
    if t in BADARCH:
        return BADARCH[t]
    m = re.fullmatch(r"(errno|trace)(?:[:=(](\d+)\)?)?", t)
    if m:
        code = int(m.group(2)) if m.group(2) else EPERM
        return (seccomp.ERRNO if m.group(1) == "errno" else seccomp.TRACE)(code & 0xFFFF)
    raise argparse.ArgumentTypeError(
        "unknown action %r (kill-process, kill-thread, trap, errno[:N], trace[:N], log, allow)"
        % text)


def build_parser():
    p = argparse.ArgumentParser(
        prog="libseccomp-compile.py",
        description="Compile an OCI linux.seccomp profile with libseccomp exactly as runc "
                    "does (without runc's ENOSYS stub) and print the BPF or PFC.")
    p.add_argument("profile", nargs="?", default="-",
                   help="OCI linux.seccomp JSON file (default: stdin)")
    p.add_argument("-o", "--output", help="write BPF/PFC here instead of stdout")
    p.add_argument("--pfc", action="store_true", help="print libseccomp's PFC text instead of BPF")
    p.add_argument("--optimize", type=int, choices=(1, 2),
                   help="force SCMP_FLTATR_CTL_OPTIMIZE (default: 2 if >32 names, as runc)")
    p.add_argument("--badarch", type=parse_badarch, default=None,
                   help="bad-architecture action (default: libseccomp's kill-thread)")
    p.add_argument("--no-native", action="store_true",
                   help="remove the host's native arch unless listed (runc never does this)")
    p.add_argument("--report", metavar="FILE",
                   help="write a JSON report (skipped/rejected names, optimize level, ...)")
    p.add_argument("--keep-going", action="store_true",
                   help="record rules libseccomp rejects and continue (runc would fail)")
    p.add_argument("--time", type=int, metavar="N",
                   help="compile+export N times; print {\"median_us\": ..., \"runs\": N}")
    return p


def write_report(path, report):
    if not path:
        return
    data = json.dumps(report, indent=2, sort_keys=True) + "\n"
    if path == "-":
        sys.stderr.write(data)
    else:
        with open(path, "w") as fh:
            fh.write(data)


def main(argv=None):
    opts = build_parser().parse_args(argv)
    if opts.time is not None and opts.time < 1:
        sys.stderr.write("libseccomp-compile: --time needs N >= 1\n")
        return EXIT_BAD_INPUT

    report = {"libseccomp": "%d.%d.%d" % _libseccomp_version(), "api": seccomp.get_api()}
    try:
        if opts.profile == "-":
            text = sys.stdin.buffer.read()
        else:
            with open(opts.profile, "rb") as fh:
                text = fh.read()
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise BadInput("invalid JSON: %s" % exc)
        plan = parse_profile(doc)
    except BadInput as exc:
        sys.stderr.write("libseccomp-compile: bad input: %s\n" % exc)
        report["error"] = "bad input: %s" % exc
        write_report(opts.report, report)
        return EXIT_BAD_INPUT
    except Unsupported as exc:
        sys.stderr.write("libseccomp-compile: unsupported: %s\n" % exc)
        report["error"] = "unsupported: %s" % exc
        write_report(opts.report, report)
        return EXIT_UNSUPPORTED
    except OSError as exc:
        sys.stderr.write("libseccomp-compile: %s\n" % exc)
        return EXIT_BAD_INPUT

    if plan is None:
        # runc: no defaultAction and no syscalls -> seccomp disabled, no filter at all.
        report["disabled"] = True
        write_report(opts.report, report)
        if opts.time is not None:
            print(json.dumps({"median_us": 0, "runs": 0, "disabled": True}))
        return EXIT_OK

    for w in plan["warnings"]:
        sys.stderr.write("libseccomp-compile: warning: %s\n" % w)
    report["warnings"] = plan["warnings"]
    report["flags_ignored"] = plan["flags"]

    mem = MemFile()
    try:
        if opts.time is not None:
            samples = []
            for _ in range(opts.time):
                mem.reset()
                run_report = {}
                t0 = time.perf_counter_ns()
                filt = compile_filter(plan, opts, run_report)
                if opts.pfc:
                    filt.export_pfc(mem.file)
                else:
                    filt.export_bpf(mem.file)
                t1 = time.perf_counter_ns()
                samples.append((t1 - t0) / 1000.0)
                del filt
            out = mem.read()
            report.update(run_report)
            _size_fields(report, out, opts.pfc)
            write_report(opts.report, report)
            print(json.dumps({
                "median_us": round(statistics.median(samples), 1),
                "runs": opts.time,
                "min_us": round(min(samples), 1),
                "max_us": round(max(samples), 1),
                "optimize": report["optimize"],
            }))
            return EXIT_OK

        filt = compile_filter(plan, opts, report)
        out = export(filt, mem, opts.pfc)
    except Rejected as exc:
        sys.stderr.write("libseccomp-compile: %s\n" % exc)
        write_report(opts.report, report)
        return EXIT_REJECTED
    except (RuntimeError, ValueError, OverflowError) as exc:
        # Arch/attribute/export failures of libseccomp itself.
        desc, _ = _describe_error(exc)
        sys.stderr.write("libseccomp-compile: libseccomp failed: %s\n" % desc)
        report["error"] = "libseccomp failed: %s" % desc
        write_report(opts.report, report)
        return EXIT_REJECTED

    _size_fields(report, out, opts.pfc)
    write_report(opts.report, report)
    if opts.output:
        with open(opts.output, "wb") as fh:
            fh.write(out)
    else:
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
    return EXIT_OK


def _size_fields(report, out, pfc):
    if pfc:
        report["pfc_bytes"] = len(out)
    else:
        report["bpf_bytes"] = len(out)
        report["instructions"] = len(out) // 8


def _libseccomp_version():
    # The 2.5.4 binding has no version call; read it from the shared library if we can.
    try:
        import ctypes
        import ctypes.util

        lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")

        class Version(ctypes.Structure):
            _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint),
                        ("micro", ctypes.c_uint)]

        lib.seccomp_version.restype = ctypes.POINTER(Version)
        v = lib.seccomp_version().contents
        return (v.major, v.minor, v.micro)
    except Exception:
        return (0, 0, 0)


if __name__ == "__main__":
    sys.exit(main())
