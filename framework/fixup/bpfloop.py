"""optimize_bpf_loop / inline_bpf_loop: bpf_loop calls the kernel inlines into a BPF loop.

A call of bpf_loop the verifier found fit (flags, r4, the constant 0 and one
callback, r2, on every path: update_loop_inline_state, recorded in
`InsnAux.loop_callback`) is replaced by a loop that calls the callback directly
(a BPF-to-BPF call), r6-r8 spilled to three slots below the subprog's stack.
"""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.insn import Insn, make
from framework.isa.patch import To

__all__ = ["BPF_FUNC_LOOP", "inline_bpf_loop"]

BPF_FUNC_LOOP = 181
BPF_MAX_LOOPS = 8 * 1024 * 1024
E2BIG = 7


def inline_bpf_loop(callback: int, stack_base: int) -> list[Insn | To]:
    """inline_bpf_loop: the 19 instructions replacing the call (`stack_base` = -(depth + extra))."""
    r6, r7, r8 = stack_base, stack_base + 8, stack_base + 16
    return [
        make(op.JMP | op.JLE | op.K, 1, 0, 2, BPF_MAX_LOOPS),
        make(op.ALU | op.MOV | op.K, 0, 0, 0, -E2BIG),
        make(op.JMP | op.JA, 0, 0, 16),
        make(op.STX | op.MEM | op.DW, 10, 6, r6),
        make(op.STX | op.MEM | op.DW, 10, 7, r7),
        make(op.STX | op.MEM | op.DW, 10, 8, r8),
        make(op.ALU64 | op.MOV | op.X, 6, 1),
        make(op.ALU | op.MOV | op.K, 7, 0, 0, 0),
        make(op.ALU64 | op.MOV | op.X, 8, 3),
        make(op.JMP | op.JGE | op.X, 7, 6, 5),
        make(op.ALU64 | op.MOV | op.X, 1, 7),
        make(op.ALU64 | op.MOV | op.X, 2, 8),
        To(make(op.JMP | op.CALL, 0, op.PSEUDO_CALL, 0, 0), callback),
        make(op.ALU64 | op.ADD | op.K, 7, 0, 0, 1),
        make(op.JMP | op.JEQ | op.K, 0, 0, -6, 0),
        make(op.ALU64 | op.MOV | op.X, 0, 7),
        make(op.LDX | op.MEM | op.DW, 6, 10, r6),
        make(op.LDX | op.MEM | op.DW, 7, 10, r7),
        make(op.LDX | op.MEM | op.DW, 8, 10, r8),
    ]
