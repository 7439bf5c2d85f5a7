"""Ask the live kernel which helpers each program type may call, and write the answer as a table.

For every program type the kernel lets root load without a BTF target, and every attach type
that changes its helper list, load `call N; r0 = 0; exit` for each helper id N. The kernel's
`check_helper_call` asks the type's `get_func_proto` first and refuses a helper it does not
give with `program of this type cannot use helper bpf_<name>#<N>`; any other answer (an
argument error, or acceptance) means the type has the helper. A helper counts as given to a
type when some attach type of it is given it, so the table only refuses what the kernel
refuses under every attach type.

Each helper a type is given is loaded once more under a non-GPL license: `check_helper_call`
refuses a `gpl_only` prototype with `cannot call GPL-restricted function from non-GPL compatible
program` before any argument, so the table also says which of a type's helpers are GPL-only.

    python -m framework.oracle.helper_probe            # rewrite framework/platform/helper_types.py
    python -m framework.oracle.helper_probe --check    # exit 1 if the live kernel disagrees

Types left out: lirc_mode2 (needs a target device), tracing, ext, lsm, struct_ops (need a BTF
target), so the table says nothing for them and the verifier falls back to its own rules.
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
from framework.platform.helpers import HELPER_NAMES

__all__ = ["ATTACH_VARIANTS", "HelperProbe", "probe", "render"]

REFUSAL = "program of this type cannot use helper"  # check_helper_call, after get_func_proto
GPL_REFUSAL = "cannot call GPL-restricted function from non-GPL compatible program"  # check_helper_call
BPF_F_SLEEPABLE = 1 << 4  # uapi; syscall programs must be sleepable (bpf_prog_load_check_attach)

# prog type -> the expected attach types whose func_proto lists differ (None: the type's default)
ATTACH_VARIANTS: dict[str, tuple[str | None, ...]] = {
    "socket_filter": (None,),
    "kprobe": (None, "trace_kprobe_multi"),
    "sched_cls": (None,),
    "sched_act": (None,),
    "tracepoint": (None,),
    "xdp": (None, "xdp_devmap", "xdp_cpumap"),
    "perf_event": (None,),
    "cgroup_skb": ("cgroup_inet_ingress", "cgroup_inet_egress"),
    "cgroup_sock": (
        "cgroup_inet_sock_create",
        "cgroup_inet_sock_release",
        "cgroup_inet4_post_bind",
        "cgroup_inet6_post_bind",
    ),
    "lwt_in": (None,),
    "lwt_out": (None,),
    "lwt_xmit": (None,),
    "sock_ops": (None,),
    "sk_skb": ("sk_skb_stream_parser", "sk_skb_stream_verdict", "sk_skb_verdict"),
    "cgroup_device": (None,),
    "sk_msg": (None,),
    "raw_tracepoint": (None,),
    "cgroup_sock_addr": (
        "cgroup_inet4_bind",
        "cgroup_inet6_bind",
        "cgroup_inet4_connect",
        "cgroup_inet6_connect",
        "cgroup_udp4_sendmsg",
        "cgroup_udp6_sendmsg",
        "cgroup_udp4_recvmsg",
        "cgroup_udp6_recvmsg",
        "cgroup_inet4_getpeername",
        "cgroup_inet6_getpeername",
        "cgroup_inet4_getsockname",
        "cgroup_inet6_getsockname",
    ),
    "lwt_seg6local": (None,),
    "sk_reuseport": ("sk_reuseport_select", "sk_reuseport_select_or_migrate"),
    "flow_dissector": (None,),
    "cgroup_sysctl": (None,),
    "raw_tracepoint_writable": (None,),
    "cgroup_sockopt": ("cgroup_getsockopt", "cgroup_setsockopt"),
    "sk_lookup": ("sk_lookup",),
    "syscall": (None,),
    "netfilter": ("netfilter",),
}


@dataclass(frozen=True)
class HelperProbe:
    kernel: str  # uname release and build
    allowed: dict[str, frozenset[int]]  # prog type -> helper ids it may call
    gpl_only: dict[str, frozenset[int]]  # prog type -> those of them whose prototype is gpl_only


def _call(fid: int) -> bytes:
    # call fid; r0 = 0; exit
    return b"".join(struct.pack("<BBhi", code, 0, 0, imm) for code, imm in ((0x85, fid), (0xB7, 0), (0x95, 0)))


def _load(prog_type: str, attach: str | None, fid: int, license: str) -> str | None:
    """None when `call fid` loads, else the verifier log."""
    spec = ProgLoadAttr(
        prog_type=PROG_TYPES[prog_type],
        insns=_call(fid),
        license=license,
        expected_attach_type=ATTACH_TYPES[attach] if attach else 0,
        log_level=1,
        prog_flags=BPF_F_SLEEPABLE if prog_type == "syscall" else 0,
    )
    result = prog_load(spec)
    if result.fd is not None:
        result.fd.close()
        return None
    if not result.log:
        raise OSError(result.errno, f"{prog_type}/{attach or '-'}: helper {fid} load failed without a log")
    return result.log


def _given(prog_type: str, attach: str | None, fid: int) -> bool:
    log = _load(prog_type, attach, fid, "GPL")
    return log is None or REFUSAL not in log


def _gpl_only(prog_type: str, attach: str | None, fid: int) -> bool:
    log = _load(prog_type, attach, fid, "Proprietary")
    return log is not None and GPL_REFUSAL in log


def probe() -> HelperProbe:
    allowed: dict[str, frozenset[int]] = {}
    gpl_only: dict[str, frozenset[int]] = {}
    for prog_type, attaches in ATTACH_VARIANTS.items():
        given = {(a, fid) for fid in range(1, len(HELPER_NAMES)) for a in attaches if _given(prog_type, a, fid)}
        allowed[prog_type] = frozenset(fid for _, fid in given)
        gpl_only[prog_type] = frozenset(fid for a, fid in given if _gpl_only(prog_type, a, fid))
    return HelperProbe(f"{platform.release()} {platform.version()}", allowed, gpl_only)


def _entry(prog_type: str, ids: frozenset[int]) -> list[str]:
    text = ", ".join(map(str, sorted(ids))) + "," if ids else ""
    wrapped = textwrap.wrap(text, 108, initial_indent=" " * 12, subsequent_indent=" " * 12)
    return [f'    "{prog_type}": frozenset(  # {len(ids)} helpers', "        {", *wrapped, "        }", "    ),"]


def render(result: HelperProbe) -> str:
    lines = [
        '"""Which helpers each program type may call, as the live kernel answered (generated: do not edit).',
        "",
        f"Kernel: {result.kernel}.",
        "Regenerate: python -m framework.oracle.helper_probe (as root, on the kernel to follow).",
        "A type absent here is not judged by this table (see framework/oracle/helper_probe.py).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        '__all__ = ["HELPER_GPL_ONLY", "HELPER_TYPES", "KERNEL"]',
        "",
        f'KERNEL = "{result.kernel}"',
        "",
        "# prog type -> helper ids its get_func_proto gives under some attach type",
        "# fmt: off",
        "HELPER_TYPES: dict[str, frozenset[int]] = {",
    ]
    for prog_type, ids in result.allowed.items():
        lines += _entry(prog_type, ids)
    lines += [
        "}",
        "",
        "# prog type -> those of its helpers whose bpf_func_proto is gpl_only (refused to a non-GPL program)",
        "HELPER_GPL_ONLY: dict[str, frozenset[int]] = {",
    ]
    for prog_type, ids in result.gpl_only.items():
        lines += _entry(prog_type, ids)
    lines += ["}", "# fmt: on", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m framework.oracle.helper_probe", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed table instead of writing it")
    ap.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "platform" / "helper_types.py")
    args = ap.parse_args(argv)
    result = probe()
    if args.check:
        from framework.platform.helper_types import HELPER_GPL_ONLY, HELPER_TYPES

        differ = 0
        for what, table, live in (
            ("gives", HELPER_TYPES, result.allowed),
            ("holds GPL-only", HELPER_GPL_ONLY, result.gpl_only),
        ):
            for t, ids in live.items():
                old = table.get(t, frozenset())
                if old != ids:
                    differ += 1
                    print(f"{t}: kernel {what} {sorted(ids - old)} more, {sorted(old - ids)} fewer")
        return 1 if differ else 0
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(render(result))
    tmp.replace(args.out)
    print(f"{args.out}: {len(result.allowed)} program types, kernel {result.kernel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
