#!/usr/bin/python3
"""The reference side of the seccomp differential test (src/linux/seccomp_diff.rs).

Reads one JSON object on stdin: {"profiles": [linux.seccomp...], "natives": [arch per profile],
"tables": {arch: [names]}}. A profile whose native arch is not the host's is compiled as on that
arch's kernel: the host arch removed from the filter, that one added first (seccomp_arch_remove,
seccomp_arch_add), and names resolved with it, as runc on that arch.
Compiles each profile with libseccomp (Debian's python3-seccomp) the way runc 1.1 does
(libcontainer/seccomp: getAction, matchCall), exports the BPF program
(seccomp_export_bpf) and writes one JSON object on stdout:
  {"profiles": [{"bpf": [[code, jt, jf, k], ...]} | {"rejected": why}],
   "tables": {arch: {name: nr or null}}}.
Deliberate difference, set here: the bad-arch action is KILL_PROCESS, as carrack (runc
leaves libseccomp's default, KILL_THREAD).
"""
import json
import os
import struct
import sys
import tempfile

import seccomp as S

ARCHES = {
    "SCMP_ARCH_X86_64": S.Arch.X86_64,
    "SCMP_ARCH_X86": S.Arch.X86,
    "SCMP_ARCH_X32": S.Arch.X32,
    "SCMP_ARCH_AARCH64": S.Arch.AARCH64,
    "SCMP_ARCH_ARM": S.Arch.ARM,
    "SCMP_ARCH_PPC64LE": S.Arch.PPC64LE,
    "SCMP_ARCH_S390X": S.Arch.S390X,
    "SCMP_ARCH_RISCV64": S.Arch.RISCV64,
}
OPS = {
    "SCMP_CMP_EQ": S.EQ,
    "SCMP_CMP_NE": S.NE,
    "SCMP_CMP_GT": S.GT,
    "SCMP_CMP_GE": S.GE,
    "SCMP_CMP_LT": S.LT,
    "SCMP_CMP_LE": S.LE,
    "SCMP_CMP_MASKED_EQ": S.MASKED_EQ,
}
EPERM = 1


def action(name, errno):
    """runc's getAction."""
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return S.KILL
    if name == "SCMP_ACT_KILL_PROCESS":
        return S.KILL_PROCESS
    if name == "SCMP_ACT_ERRNO":
        return S.ERRNO(EPERM if errno is None else errno)
    if name == "SCMP_ACT_TRACE":
        return S.TRACE(EPERM if errno is None else errno)
    return {"SCMP_ACT_TRAP": S.TRAP, "SCMP_ACT_ALLOW": S.ALLOW, "SCMP_ACT_LOG": S.LOG,
            "SCMP_ACT_NOTIFY": S.NOTIFY}[name]


def resolve(arch, name):
    try:
        nr = S.resolve_syscall(arch, name)
    except Exception:
        return None
    return nr if nr >= 0 else None  # negative: libseccomp's pseudo number (not on this arch)


def compile_profile(p, native):
    default = action(p["defaultAction"], p.get("defaultErrnoRet"))
    try:
        f = S.SyscallFilter(default)
    except Exception as e:
        return {"rejected": f"defaultAction {p['defaultAction']}: {e}"}
    f.set_attr(S.Attr.ACT_BADARCH, S.KILL_PROCESS)
    f.set_attr(S.Attr.CTL_NNP, 0)
    native = ARCHES[native]
    if (native & 0xffffffff) != (S.system_arch() & 0xffffffff):
        f.add_arch(native)
        f.remove_arch(S.Arch.NATIVE)
    else:
        native = S.Arch.NATIVE
    for a in p.get("architectures") or []:
        try:
            f.add_arch(ARCHES[a])
        except Exception:
            pass  # already there (the native arch)
    for sc in p.get("syscalls") or []:
        act = action(sc["action"], sc.get("errnoRet"))
        if act == default:
            continue  # runc: a rule with the default action is redundant
        conds = [S.Arg(a["index"], OPS[a["op"]], a.get("value", 0), a.get("valueTwo", 0))
                 for a in sc.get("args") or []]
        indexes = [a["index"] for a in sc.get("args") or []]
        split = len(set(indexes)) < len(indexes)
        for name in sc["names"]:
            try:
                # -1 (__NR_SCMP_ERROR): unknown; a pseudo number (<= -10000) is fine for add_rule
                if S.resolve_syscall(native, name) == -1:
                    continue  # runc: unknown to libseccomp, skipped
            except Exception:
                continue
            try:
                if not conds:
                    f.add_rule(act, name)
                elif split:
                    for c in conds:
                        f.add_rule(act, name, c)
                else:
                    f.add_rule(act, name, *conds)
            except Exception as e:
                return {"rejected": f"{name}: {e}"}
    with tempfile.TemporaryFile() as t:
        f.export_bpf(t)
        t.seek(0)
        raw = t.read()
    bpf = [list(struct.unpack_from("<HBBI", raw, i)) for i in range(0, len(raw), 8)]
    return {"bpf": bpf}


def main():
    req = json.load(sys.stdin)
    natives = req.get("natives") or ["SCMP_ARCH_X86_64"] * len(req["profiles"])
    out = {"profiles": [compile_profile(p, n) for p, n in zip(req["profiles"], natives)],
           "tables": {}}
    for a, names in req.get("tables", {}).items():
        out["tables"][a] = {n: resolve(ARCHES[a], n) for n in names}
    json.dump(out, sys.stdout)


main()
