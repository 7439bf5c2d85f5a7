"""Ask the live kernel which of the project's kfuncs each program type may call, and write the table.

For every program type framework.oracle.helper_probe loads (and each attach type of it listed
there), load `call <kfunc>; r0 = 0; exit` with the kfunc's vmlinux BTF id. The kernel's
`check_kfunc_call` looks the id up in the kfunc sets registered for the type
(`btf_kfunc_id_set_contains`) before it reads an argument, and refuses a kfunc no set gives with
`calling kernel function <name> is not allowed`; any other answer means the type has it.

    python -m framework.oracle.kfunc_probe            # rewrite framework/platform/kfunc_types.py
    python -m framework.oracle.kfunc_probe --check    # exit 1 if the live kernel disagrees

Types left out are helper_probe's (tracing, ext, lsm, struct_ops need a BTF target); for them
the verifier keeps the registration rule written in framework.verify.calls.
"""

from __future__ import annotations

import argparse
import platform
import struct
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from framework.oracle.bpf_syscall import ATTACH_TYPES, PROG_TYPES, ProgLoadAttr, prog_load
from framework.oracle.helper_probe import ATTACH_VARIANTS, BPF_F_SLEEPABLE
from framework.platform.kfuncs import KFUNCS, UNMERGED

__all__ = ["KfuncProbe", "probe", "render"]

NOT_ALLOWED = "calling kernel function {} is not allowed"  # check_kfunc_call (fetch_kfunc_meta: -EACCES)
PSEUDO_KFUNC_CALL = 2


@dataclass(frozen=True)
class KfuncProbe:
    kernel: str  # uname release and build
    allowed: dict[str, frozenset[str]]  # prog type -> the kfuncs some attach type of it may call


def _call(btf_id: int) -> bytes:
    # call <kfunc> (BPF_PSEUDO_KFUNC_CALL, off 0: vmlinux); r0 = 0; exit
    first = struct.pack("<BBhi", 0x85, PSEUDO_KFUNC_CALL << 4, 0, btf_id)
    return first + struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)


def _given(prog_type: str, attach: str | None, name: str, btf_id: int) -> bool:
    attr = ProgLoadAttr(
        PROG_TYPES[prog_type],
        _call(btf_id),
        expected_attach_type=ATTACH_TYPES[attach] if attach else 0,
        log_level=1,
        prog_flags=BPF_F_SLEEPABLE if prog_type == "syscall" else 0,
    )
    result = prog_load(attr)
    if result.fd is not None:
        result.fd.close()
        return True
    if not result.log:
        raise OSError(result.errno, f"{prog_type}/{attach or '-'}: kfunc {name} load failed without a log")
    return NOT_ALLOWED.format(name) not in result.log


def probe() -> KfuncProbe:
    from framework.load.btf import Kind
    from framework.oracle.vmlinux import vmlinux_btf

    btf = vmlinux_btf()
    ids: dict[str, int] = {}
    for name in sorted(set(KFUNCS) - UNMERGED):
        found = btf.find(name, Kind.FUNC)
        if found is None:
            raise LookupError(f"{name} is not a function in this kernel's BTF")
        ids[name] = found
    allowed = {
        prog_type: frozenset(n for n, i in ids.items() if any(_given(prog_type, a, n, i) for a in attaches))
        for prog_type, attaches in ATTACH_VARIANTS.items()
    }
    return KfuncProbe(f"{platform.release()} {platform.version()}", allowed)


def render(result: KfuncProbe) -> str:
    lines = [
        '"""Which kfuncs each program type may call, as the live kernel answered (generated: do not edit).',
        "",
        f"Kernel: {result.kernel}.",
        "Regenerate: python -m framework.oracle.kfunc_probe (as root, on the kernel to follow).",
        "A type absent here is judged by framework.verify.calls' registration rule.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        '__all__ = ["KERNEL", "KFUNC_TYPES"]',
        "",
        f'KERNEL = "{result.kernel}"',
        "",
        "# prog type -> the kfuncs (of framework.platform.kfuncs) a kfunc set registered for it gives",
        "# fmt: off",
        "KFUNC_TYPES: dict[str, frozenset[str]] = {",
    ]
    for prog_type, names in result.allowed.items():
        text = ", ".join(f'"{n}"' for n in sorted(names)) + "," if names else ""
        wrapped = textwrap.wrap(text, 108, initial_indent=" " * 12, subsequent_indent=" " * 12)
        lines += [f'    "{prog_type}": frozenset(  # {len(names)} kfuncs', "        {", *wrapped, "        }", "    ),"]
    lines += ["}", "# fmt: on", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m framework.oracle.kfunc_probe", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed table instead of writing it")
    ap.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "platform" / "kfunc_types.py")
    args = ap.parse_args(argv)
    result = probe()
    if args.check:
        from framework.platform.kfunc_types import KFUNC_TYPES

        differ = 0
        for t, names in result.allowed.items():
            old = KFUNC_TYPES.get(t, frozenset())
            if old != names:
                differ += 1
                print(f"{t}: kernel gives {sorted(names - old)} more, {sorted(old - names)} fewer")
        return 1 if differ else 0
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(render(result))
    tmp.replace(args.out)
    print(f"{args.out}: {len(result.allowed)} program types, kernel {result.kernel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
