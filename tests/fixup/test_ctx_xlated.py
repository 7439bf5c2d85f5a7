"""The fixup stage's `__sk_buff` conversions are the live kernel's, instruction for instruction.

For each skb program type, one program makes every read the type's is_valid_access allows (each
offset and size) and every write, and is loaded with BPF_PROG_LOAD; the kernel's translated
instructions (bpf_prog_info's xlated_prog_insns: convert_ctx_accesses' output) must be the fixup
stage's. The one named difference is the socket fields' second load (framework.fixup.ctx): it
reads the emulated socket's struct bpf_sock layout where the kernel reads struct sock_common, so
the kernel's offset (from the running kernel's BTF) is compared with the one the layout maps to.
"""

from __future__ import annotations

import os

import pytest

from fixup.helpers import program
from framework.fixup import stock_fixup
from framework.isa import opcodes as op
from framework.isa.decode import decode_at, encode
from framework.isa.insn import Insn
from framework.oracle import bpf_syscall as sys_
from framework.platform.contexts import skb_access
from framework.platform.skb import SK_BUFF_SIZE, SOCK_VIEW, sock_field_at

TYPES = {"sched_cls": 3, "socket_filter": 1, "cgroup_skb": 8}  # enum bpf_prog_type
_TY = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
# the struct sock_common member each socket field's second load reads (bpf_convert_ctx_access)
SOCK_COMMON = {
    "family": "skc_family",
    "remote_ip4": "skc_daddr",
    "local_ip4": "skc_rcv_saddr",
    "remote_ip6": "skc_v6_daddr",
    "local_ip6": "skc_v6_rcv_saddr",
    "remote_port": "skc_dport",
    "local_port": "skc_num",
}


def _accesses(prog_type: str) -> list[str]:
    lines = ["r2 = 7"]
    for off in range(SK_BUFF_SIZE):
        for size in (1, 2, 4, 8):
            if skb_access(prog_type, off, size, False) is not None:
                lines.append(f"r3 = *({_TY[size]} *)(r1 + {off})")
            if skb_access(prog_type, off, size, True) is not None:
                lines += [f"*({_TY[size]} *)(r1 + {off}) = r2", f"*({_TY[size]} *)(r1 + {off}) = 9"]
    return [*lines, "r0 = 0", "exit"]


def _sock_common_offsets() -> dict[int, int]:
    """bpf_sock offset (SOCK_VIEW) -> the struct sock_common offset the kernel reads there."""
    from framework.load.btf import Kind
    from framework.oracle.vmlinux import VMLINUX_BTF, vmlinux_btf

    if not VMLINUX_BTF.is_file():
        pytest.skip("no /sys/kernel/btf/vmlinux")
    btf = vmlinux_btf()
    tid = btf.find("sock_common", Kind.STRUCT)
    assert tid is not None

    def offset(member: str, t: int = tid, base: int = 0) -> int | None:
        for m in btf.type(t).members():
            at = base + m.bit_offset // 8
            if btf.string(m.name_off) == member:
                return at
            inner = btf.skip_mods(m.type)
            if not btf.string(m.name_off) and btf.kind(inner) in (Kind.STRUCT, Kind.UNION):
                found = offset(member, inner, at)
                if found is not None:
                    return found
        return None

    out = {}
    for name, member in SOCK_COMMON.items():
        theirs = offset(member)
        assert theirs is not None, member
        ours = SOCK_VIEW[name][0]
        for word in range(0, 16 if name.endswith("ip6") else 4, 4):
            out[ours + word] = theirs + word
    return out


def _as_kernel_reads(ours: list[Insn], sock: dict[int, int]) -> list[Insn]:
    out: list[Insn] = []
    for insn in ours:
        prev = out[-1] if out else None
        sk_load = prev is not None and prev.code == op.LDX | op.MEM | op.DW and prev.off == 24 and prev.src == 1
        if sk_load and prev is not None and insn.kind.value == "load" and insn.src == prev.dst:
            insn = insn.replace(off=sock[insn.off])  # the load through skb->sk: the kernel's offset
        out.append(insn)
    return out


@pytest.mark.kernel
@pytest.mark.parametrize("prog_type", sorted(TYPES))
def test_conversions_are_the_kernels(prog_type: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("loading BPF programs needs root")
    prog = program(_accesses(prog_type), prog_type=prog_type, kfuncs=())
    try:
        loaded = sys_.prog_load(sys_.ProgLoadAttr(TYPES[prog_type], encode(prog.slots), name="ctx", log_level=1))
    except OSError as exc:
        pytest.skip(f"bpf() not permitted here: {exc}")
    assert loaded.fd is not None, loaded.log[-400:]
    with loaded.fd as fd:
        xlated = sys_.prog_info(fd).xlated_prog_insns
    theirs = [decode_at(xlated, at, 12) for at in range(0, len(xlated), 8)]
    ours = [i for i in stock_fixup(prog).program.slots if i is not None]
    if any(sock_field_at(off) for off in range(SK_BUFF_SIZE) if skb_access(prog_type, off, 4, False)):
        ours = _as_kernel_reads(ours, _sock_common_offsets())
    assert len(ours) == len(theirs)
    for pc, (mine, kernel) in enumerate(zip(ours, theirs, strict=True)):
        assert mine == kernel, f"pc {pc}: ours {mine}, the kernel's {kernel}"
