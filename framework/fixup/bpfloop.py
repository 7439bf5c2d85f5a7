"""optimize_bpf_loop / inline_bpf_loop: bpf_loop calls the kernel inlines into a BPF loop.

A call of bpf_loop whose flags (r4) are the constant 0 and whose callback (r2)
is one known function is replaced by a loop that calls the callback directly
(a BPF-to-BPF call), r6-r8 spilled to three slots below the subprog's stack.
The verifier decides `fit` from what it tracked at every visit of the call;
here the constants are read from the call's basic block (ld_imm64 of a function
into r2, `r4 = 0`).
"""

from __future__ import annotations

from framework.fixup.patch import To
from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.insn import Insn, make
from framework.isa.opcodes import Kind

__all__ = ["BPF_FUNC_LOOP", "inline_bpf_loop", "inline_target"]

BPF_FUNC_LOOP = 181
BPF_MAX_LOOPS = 8 * 1024 * 1024
E2BIG = 7


def _last_write(slots: Slots, pc: int, reg: int) -> Insn | None:
    """The instruction that last wrote `reg` before `pc`, within the call's basic block."""
    for at in range(pc - 1, -1, -1):
        insn = slots[at]
        if insn is None:
            continue
        if insn.kind in (Kind.JA, Kind.JCOND, Kind.EXIT, Kind.CALL, Kind.MAY_GOTO):
            return None
        writes = insn.kind in (Kind.ALU, Kind.NEG, Kind.END, Kind.LD_IMM64, Kind.LOAD)
        if writes and insn.dst == reg:
            return insn
    return None


def inline_target(slots: Slots, pc: int) -> int | None:
    """update_loop_inline_state: the callback's start when this bpf_loop call fits inlining."""
    insn = slots[pc]
    if insn is None or insn.kind is not Kind.CALL or insn.src != op.CALL_HELPER or insn.imm != BPF_FUNC_LOOP:
        return None
    flags, func = _last_write(slots, pc, 4), _last_write(slots, pc, 2)
    flags_zero = flags is not None and flags.kind is Kind.ALU and flags.op == op.MOV
    flags_zero = flags_zero and flags is not None and not flags.uses_reg_src and flags.imm == 0
    if not flags_zero or func is None or func.kind is not Kind.LD_IMM64 or func.src != op.PSEUDO_FUNC:
        return None
    at = next(a for a in range(pc - 1, -1, -1) if slots[a] is func)
    return func.jump_target(at)


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
