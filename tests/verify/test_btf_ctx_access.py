"""btf_ctx_access and btf_struct_walk held to the live kernel through struct_ops programs.

This kernel refuses every BPF_PROG_TYPE_TRACING load before verifying it (tests/verify/cases/
tracing_args.toml says so), but tcp_congestion_ops programs (BPF_PROG_TYPE_STRUCT_OPS, loaded,
never registered) read their context through the same btf_ctx_access (bpf_tcp_ca_is_valid_access
-> bpf_tracing_btf_ctx_access, the same range, write and alignment checks as
tracing_prog_is_valid_access) and their `struct tcp_sock` argument through the same
btf_struct_walk. Every (offset, size) of each member's context and a sample of loads through its
socket must get the kernel's verdict and message from framework.verify.tracing and btf_access.
"""

from __future__ import annotations

import random
import types

import pytest

from framework.isa import opcodes as op
from framework.isa.decode import encode
from framework.isa.insn import Insn, make
from framework.load.btf import Kind
from framework.load.core import vmlinux_btf
from framework.oracle.check import available
from framework.verify.btf_access import Unmodelled, struct_access
from framework.verify.env import Reject
from framework.verify.regs import RT, Reg
from framework.verify.tracing import Target, ctx_load

_SIZES = {1: op.B, 2: op.H, 4: op.W, 8: op.DW}
# members bpf_tcp_ca_check_member lets a program implement, with different prototypes
MEMBERS = ("ssthresh", "cong_avoid", "set_state", "cwnd_event", "pkts_acked", "cong_control", "undo_cwnd")


def _struct_ops_load(member: int, insns: list[Insn]) -> tuple[bool, list[str]]:
    from framework.oracle import bpf_syscall as sys_

    btf = vmlinux_btf()
    assert btf is not None
    spec = sys_.ProgLoadAttr(
        prog_type=sys_.PROG_TYPES["struct_ops"],
        insns=encode(tuple(insns)),
        license="GPL",
        name="ctx",
        expected_attach_type=member,  # the member's index in struct tcp_congestion_ops
        attach_btf_id=btf.find("tcp_congestion_ops", Kind.STRUCT) or 0,
        log_level=2,  # at level 1 an accepted path's log lines are not kept
    )
    result = sys_.prog_load(spec)
    if result.fd is not None:
        result.fd.close()
    return result.fd is not None, result.log.splitlines()


def _live() -> None:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    if vmlinux_btf() is None:
        pytest.skip("no /sys/kernel/btf/vmlinux")


def _exit0() -> list[Insn]:
    return [make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0), make(op.JMP | op.EXIT)]


@pytest.mark.kernel
@pytest.mark.parametrize("member", MEMBERS)
def test_every_context_access_as_the_kernel(member: str) -> None:
    _live()
    btf = vmlinux_btf()
    assert btf is not None
    members = btf.type(btf.find("tcp_congestion_ops", Kind.STRUCT) or 0).members()
    index = [btf.string(m.name_off) for m in members].index(member)
    proto = btf.skip_mods(btf.type(btf.skip_mods(members[index].type)).type)
    target = Target(member, 0, proto)
    differ = []
    for off in range(-8, 104, 4):
        for size in (1, 2, 4, 8):
            ok, log = _struct_ops_load(index, [make(op.LDX | op.MEM | _SIZES[size], 2, 1, off, 0), *_exit0()])
            env = types.SimpleNamespace(
                program=types.SimpleNamespace(expected_attach_type=None), log=[], new_id=lambda: 1, cur_pc=0
            )
            ours = ctx_load(env, target, 0, off, size, False)  # type: ignore[arg-type]
            refused = isinstance(ours, Reject)
            said = [*env.log, *(ours.lines if refused else ())]  # what btf_ctx_access logs, and the refusal
            if refused == ok or not all(line in log for line in said):
                differ.append((off, size, ok, log[-4:], ours.lines if refused else "accepted"))
    assert not differ, differ


@pytest.mark.kernel
def test_loads_through_a_tcp_sock_as_the_kernel() -> None:
    _live()
    btf = vmlinux_btf()
    assert btf is not None
    tcp_sock = btf.find("tcp_sock", Kind.STRUCT) or 0
    ptr = Reg(RT.BTF_ID, btf_name="tcp_sock", btf_id=tcp_sock)
    members = btf.type(btf.find("tcp_congestion_ops", Kind.STRUCT) or 0).members()
    index = [btf.string(m.name_off) for m in members].index("ssthresh")
    rnd, differ, compared = random.Random(6), [], 0
    for _ in range(150):
        size, off = rnd.choice((1, 2, 4, 8)), rnd.randrange(btf.type(tcp_sock).size + 16)
        ours = struct_access(btf, ptr, off, size)
        if isinstance(ours, Unmodelled) or (isinstance(ours, Reg) and ours.type is RT.BTF_ID):
            continue  # a pointer member of a trusted argument: walked by tables the project lacks
        loads = [make(op.LDX | op.MEM | op.DW, 2, 1, 0, 0), make(op.LDX | op.MEM | _SIZES[size], 0, 2, off, 0)]
        ok, log = _struct_ops_load(index, [*loads, *_exit0()])
        compared += 1
        if ok != isinstance(ours, Reg) or (not ok and ours not in log):
            differ.append((off, size, ok, log[-3:], ours))
    assert compared > 100 and not differ, differ
