"""Ask the live kernel which helpers each program type may call, and write the answer as a table.

For every program type the kernel lets root load without a BTF target, and every attach type
that changes its helper list, load `call N; r0 = 0; exit` for each helper id N. The kernel's
`check_helper_call` asks the type's `get_func_proto` first and refuses a helper it does not
give with `program of this type cannot use helper bpf_<name>#<N>`; any other answer (an
argument error, or acceptance) means the type has the helper. A helper counts as given to a
type when some attach type of it is given it, so the table only refuses what the kernel
refuses under every attach type.

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


def _call(fid: int) -> bytes:
    # call fid; r0 = 0; exit
    return b"".join(struct.pack("<BBhi", code, 0, 0, imm) for code, imm in ((0x85, fid), (0xB7, 0), (0x95, 0)))


def _given(prog_type: str, attach: str | None, fid: int) -> bool:
    spec = ProgLoadAttr(
        prog_type=PROG_TYPES[prog_type],
        insns=_call(fid),
        expected_attach_type=ATTACH_TYPES[attach] if attach else 0,
        log_level=1,
        prog_flags=BPF_F_SLEEPABLE if prog_type == "syscall" else 0,
    )
    result = prog_load(spec)
    if result.fd is not None:
        result.fd.close()
        return True
    if not result.log:
        raise OSError(result.errno, f"{prog_type}/{attach or '-'}: helper {fid} load failed without a log")
    return REFUSAL not in result.log


def probe() -> HelperProbe:
    allowed: dict[str, frozenset[int]] = {}
    for prog_type, attaches in ATTACH_VARIANTS.items():
        ids = {fid for fid in range(1, len(HELPER_NAMES)) if any(_given(prog_type, a, fid) for a in attaches)}
        allowed[prog_type] = frozenset(ids)
    return HelperProbe(f"{platform.release()} {platform.version()}", allowed)


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
        '__all__ = ["HELPER_TYPES", "KERNEL"]',
        "",
        f'KERNEL = "{result.kernel}"',
        "",
        "# prog type -> helper ids its get_func_proto gives under some attach type",
        "# fmt: off",
        "HELPER_TYPES: dict[str, frozenset[int]] = {",
    ]
    for prog_type, ids in result.allowed.items():
        lines.append(f'    "{prog_type}": frozenset(  # {len(ids)} helpers')
        lines.append("        {")
        lines += textwrap.wrap(
            ", ".join(map(str, sorted(ids))) + ",", 108, initial_indent=" " * 12, subsequent_indent=" " * 12
        )
        lines.append("        }")
        lines.append("    ),")
    lines += ["}", "# fmt: on", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m framework.oracle.helper_probe", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed table instead of writing it")
    ap.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "platform" / "helper_types.py")
    args = ap.parse_args(argv)
    result = probe()
    if args.check:
        from framework.platform.helper_types import HELPER_TYPES

        differ = [t for t, ids in result.allowed.items() if HELPER_TYPES.get(t) != ids]
        for t in differ:
            old = HELPER_TYPES.get(t, frozenset())
            print(f"{t}: kernel gives {sorted(result.allowed[t] - old)} more, {sorted(old - result.allowed[t])} fewer")
        return 1 if differ else 0
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(render(result))
    tmp.replace(args.out)
    print(f"{args.out}: {len(result.allowed)} program types, kernel {result.kernel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
