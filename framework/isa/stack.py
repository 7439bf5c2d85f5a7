"""Stack depth per subprog by the kernel's rule, applied to the instructions.

The verifier's depth of a subprog is the deepest fp-relative byte an access reaches
(check_stack_access_within_bounds -> grow_stack_state, rounded up to 8): a load,
store or atomic through r10 or a pointer derived from it, at the offset it accesses.
Forming a pointer is not an access (`r1 = r10; r1 += -64; *(u64 *)(r1 + 8) = r2`
grows the frame to 56, not 64). Where the instructions alone cannot tell how far an
access reaches, the pointer's own offset stands for it: a pointer passed to a call
(a helper's memory argument starts there; a callee may write into its caller's frame
through it), stored to memory, or moved by a register of unknown value.
"""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.opcodes import Kind

__all__ = ["touched"]


def touched(slots: Slots, start: int, end: int) -> int:
    """The deepest fp-relative byte one subprog reaches (check_stack_access_within_bounds / grow_stack_state)."""
    deepest = 0
    fp_copies: dict[int, int] = {}  # register -> its offset from r10

    def offset_of(reg: int) -> int | None:
        return 0 if reg == 10 else fp_copies.get(reg)

    for pc in range(start, end):
        insn = slots[pc]
        if insn is None:
            continue
        k = insn.kind
        if k is Kind.ALU and insn.op == op.MOV and insn.alu64 and insn.uses_reg_src and insn.off == 0:
            src = offset_of(insn.src)
            if src is not None:
                fp_copies[insn.dst] = src
            else:
                fp_copies.pop(insn.dst, None)
            continue
        if k is Kind.ALU and insn.op in (op.ADD, op.SUB) and insn.alu64 and insn.dst in fp_copies:
            if not insn.uses_reg_src:
                fp_copies[insn.dst] += insn.imm if insn.op == op.ADD else -insn.imm
                continue
            # a variable offset: how far it reaches is the verifier's to know; the pointer's offset stands for it
            deepest = max(deepest, -fp_copies.pop(insn.dst))
            continue
        if k is Kind.ALU and insn.uses_reg_src and insn.src in fp_copies:
            deepest = max(deepest, -fp_copies[insn.src])  # scalar += pointer: as a variable offset
        loads = k is Kind.LOAD or (k is Kind.ATOMIC and insn.imm == op.LOAD_ACQ)
        base = insn.src if loads else insn.dst if k in (Kind.STORE_IMM, Kind.STORE_REG, Kind.ATOMIC) else None
        if base is not None and (at := offset_of(base)) is not None:
            deepest = max(deepest, -(insn.off + at))
        if k in (Kind.STORE_REG, Kind.ATOMIC) and not loads and insn.src in fp_copies:
            deepest = max(deepest, -fp_copies[insn.src])  # the pointer escapes into memory
        if insn.dst in fp_copies and k in (Kind.ALU, Kind.NEG, Kind.END, Kind.LOAD, Kind.LD_IMM64):
            fp_copies.pop(insn.dst, None)
        if k in (Kind.CALL, Kind.CALLX):
            for r in range(1, 6):  # a helper's memory argument starts at its pointer; a callee may reach through it
                if r in fp_copies:
                    deepest = max(deepest, -fp_copies[r])
            for r in range(6):
                fp_copies.pop(r, None)
    return (deepest + 7) & ~7
