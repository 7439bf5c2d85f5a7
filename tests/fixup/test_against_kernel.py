"""The fixup stage's LD_ABS/LD_IND and timed may_goto, JITed, against the running kernel's image.

Each program is loaded as a socket filter with BPF_PROG_LOAD, its JITed image read
back, and compared with `jit(stock_fixup(program))`: same function sizes, same x86
instructions (rel32 calls out of the image by opcode). Skips where bpf() is not permitted.
"""

from __future__ import annotations

import os

import pytest
from iced_x86 import Decoder
from jit.image_diff import kernel_return_thunk

from fixup.helpers import program
from framework.fixup import stock_fixup
from framework.isa.decode import encode
from framework.jit import SubprogSpec, jit
from framework.machine import StubResolver
from framework.oracle import bpf_syscall as sys_

SOCKET_FILTER = 1
PROGRAMS = {
    "ld_abs": ["r6 = r1", "r0 = *(u8 *)skb[12]", "r7 = r0", "r0 = *(u16 *)skb[12]", "r7 += r0",
               "r0 = *(u32 *)skb[r7 + 5]", "r0 += r7", "exit"],
    "may_goto": ["r0 = 0", "r1 = 0", "l:", "may_goto +3", "r0 += r1", "r1 += 1", "if r1 < 1000 goto l", "exit"],
    "may_goto_stack": ["r0 = 0", "*(u64 *)(r10 - 24) = r0", "l:", "may_goto +2", "r0 += 1", "goto l",
                       "r1 = *(u64 *)(r10 - 24)", "r0 += r1", "exit"],
}  # fmt: skip


def _instructions(code: bytes) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    for ins in Decoder(64, code):
        raw = code[ins.ip : ins.ip + ins.len]
        leaves = ins.len == 5 and raw[0] in (0xE8, 0xE9) and not 0 <= ins.near_branch_target < len(code)
        out.append((ins.code, raw[:1] if leaves else raw))
    return out


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_same_code_as_the_kernel(name: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("loading BPF programs needs root")
    prog = program(PROGRAMS[name], prog_type="socket_filter", kfuncs=())
    try:
        loaded = sys_.prog_load(sys_.ProgLoadAttr(SOCKET_FILTER, encode(prog.slots), name=name[:15], log_level=1))
    except OSError as exc:
        pytest.skip(f"bpf() not permitted here: {exc}")
    if loaded.fd is None:
        pytest.fail(f"the kernel refused {name}: {loaded.log[-400:]}")
    with loaded.fd as fd:
        info = sys_.prog_info(fd)
    fixed = stock_fixup(prog)
    subs = [SubprogSpec(s.name, s.start, s.end, s.is_exception_cb) for s in fixed.program.subprogs]
    thunk = kernel_return_thunk(info.jited_prog_insns)
    image = jit(fixed.program.slots, subs, stack_depths=fixed.stack_depths, resolver=StubResolver(), return_thunk=thunk)
    assert info.xlated_prog_len == 8 * len(fixed.program.slots)
    assert tuple(f.end - f.entry for f in image.frames) == tuple(info.jited_func_lens)
    assert _instructions(image.code) == _instructions(info.jited_prog_insns)
