"""Stack depth per subprog by the kernel's rule, applied to the instructions.

check_stack_access / update_stack_depth record the deepest fp-relative byte a
subprog touches, directly or through an fp-derived pointer (a helper's memory
argument counts from where it points), rounded up to 8. Until the framework's
verifier lands, this stands in for its per-subprog stack depth.
"""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.opcodes import Kind

__all__ = ["touched"]


def touched(slots: Slots, start: int, end: int) -> int:
    """The deepest fp-relative byte one subprog touches (check_stack_access / update_stack_depth)."""
    deepest = 0
    fp_copies: dict[int, int] = {}  # register -> its offset from r10
    for pc in range(start, end):
        insn = slots[pc]
        if insn is None:
            continue
        k = insn.kind
        if k is Kind.ALU and insn.op == op.MOV and insn.alu64 and insn.uses_reg_src and insn.off == 0:
            if insn.src == 10:
                fp_copies[insn.dst] = 0
            elif insn.src in fp_copies:
                fp_copies[insn.dst] = fp_copies[insn.src]
            else:
                fp_copies.pop(insn.dst, None)
            continue
        if k is Kind.ALU and insn.op == op.ADD and insn.alu64 and not insn.uses_reg_src and insn.dst in fp_copies:
            fp_copies[insn.dst] += insn.imm
            deepest = max(deepest, -fp_copies[insn.dst])
            continue
        if k is Kind.LOAD and (insn.src == 10 or insn.src in fp_copies):
            deepest = max(deepest, -(insn.off + (0 if insn.src == 10 else fp_copies[insn.src])))
        elif k in (Kind.STORE_IMM, Kind.STORE_REG, Kind.ATOMIC) and (insn.dst == 10 or insn.dst in fp_copies):
            deepest = max(deepest, -(insn.off + (0 if insn.dst == 10 else fp_copies[insn.dst])))
        if insn.dst in fp_copies and k in (Kind.ALU, Kind.NEG, Kind.END, Kind.LOAD, Kind.LD_IMM64):
            fp_copies.pop(insn.dst, None)
        if k in (Kind.CALL, Kind.CALLX):
            for r in range(6):
                fp_copies.pop(r, None)
    return (deepest + 7) & ~7
