"""Conditional jumps on scalars: is_branch_taken and reg_set_min_max (Linux 6.18).

`branch_taken` decides a jump when the operands' ranges do; `refine` gives each edge's
operands narrowed by the comparison (regs_refine_cond_op), as kernel/bpf/verifier.c does.
"""

from __future__ import annotations

from framework.isa.opcodes import JEQ, JGE, JGT, JLE, JLT, JNE, JSET, JSGE, JSGT, JSLE, JSLT
from framework.verify.scalar import (
    JSET_FALSE,
    RegBounds,
    Scalar,
    reg_bounds_sanity_check,
    reg_bounds_sync,
    s32,
    s64,
    u32,
    u64,
)
from framework.verify.tnum import U32, U64, Tnum

# ---------------------------------------------------------------------------
# conditional jumps
# ---------------------------------------------------------------------------


def branch_taken(op: int, a: Scalar, b: Scalar, is_jmp32: bool, *, same_reg: bool = False) -> bool | None:
    """True/False when the jump `if a <op> b` is decided, None when both edges are possible.

    `same_reg` says that both operands are the same register (`if r1 > r1`).
    """
    # kernel: is_scalar_branch_taken
    if is_jmp32:
        t1, t2 = a.var_off.subreg(), b.var_off.subreg()
        umin1, umax1, smin1, smax1 = a.u32_min, a.u32_max, a.s32_min, a.s32_max
        umin2, umax2, smin2, smax2 = b.u32_min, b.u32_max, b.s32_min, b.s32_max
    else:
        t1, t2 = a.var_off, b.var_off
        umin1, umax1, smin1, smax1 = a.umin, a.umax, a.smin, a.smax
        umin2, umax2, smin2, smax2 = b.umin, b.umax, b.smin, b.smax

    if same_reg:
        if op in (JGE, JLE, JSGE, JSLE, JEQ):
            return True
        if op in (JGT, JLT, JSGT, JSLT, JNE):
            return False
        if op == JSET:
            if t1.is_const:
                return t1.value != 0
            return None if smin1 <= 0 <= smax1 else True
        return None

    if op in (JEQ, JNE):
        eq = op == JEQ
        if t1.is_const and t2.is_const:
            return (t1.value == t2.value) == eq
        if umin1 > umax2 or umax1 < umin2 or smin1 > smax2 or smax1 < smin2:
            return not eq
        if not is_jmp32 and (
            a.u32_min > b.u32_max or a.u32_max < b.u32_min or a.s32_min > b.s32_max or a.s32_max < b.s32_min
        ):
            return not eq
        return None
    if op == JSET:
        if not _is_reg_const(b, is_jmp32):
            a, b, t1, t2 = b, a, t2, t1
        if not _is_reg_const(b, is_jmp32):
            return None
        if (~t1.mask & t1.value) & t2.value:
            return True
        if not ((t1.mask | t1.value) & t2.value):
            return False
        return None
    decided = {
        JGT: (umin1 > umax2, umax1 <= umin2),
        JSGT: (smin1 > smax2, smax1 <= smin2),
        JLT: (umax1 < umin2, umin1 >= umax2),
        JSLT: (smax1 < smin2, smin1 >= smax2),
        JGE: (umin1 >= umax2, umax1 < umin2),
        JSGE: (smin1 >= smax2, smax1 < smin2),
        JLE: (umax1 <= umin2, umin1 > umax2),
        JSLE: (smax1 <= smin2, smin1 > smax2),
    }.get(op)
    if decided is None:
        raise ValueError(f"not a conditional jump op: {op:#x}")
    if decided[0]:
        return True
    if decided[1]:
        return False
    return None


def _is_reg_const(r: Scalar, is_jmp32: bool) -> bool:
    # kernel: is_reg_const
    return r.var_off.subreg_is_const if is_jmp32 else r.var_off.is_const


def _reg_const_value(r: RegBounds, is_jmp32: bool) -> int:
    # kernel: reg_const_value
    return r.var_off.value & U32 if is_jmp32 else r.var_off.value


def _rev_opcode(op: int) -> int:
    # kernel: rev_opcode
    return {
        JEQ: JNE,
        JNE: JEQ,
        JSET: JSET_FALSE,
        JSET_FALSE: JSET,
        JGE: JLT,
        JLT: JGE,
        JGT: JLE,
        JLE: JGT,
        JSGE: JSLT,
        JSLT: JSGE,
        JSGT: JSLE,
        JSLE: JSGT,
    }[op]


def _flip_opcode(op: int) -> int:
    # kernel: flip_opcode
    return {JGT: JLT, JLT: JGT, JGE: JLE, JLE: JGE, JSGT: JSLT, JSLT: JSGT, JSGE: JSLE, JSLE: JSGE}.get(op, op)


def _regs_refine_cond_op(r1: RegBounds, r2: RegBounds, op: int, is_jmp32: bool) -> None:
    # kernel: regs_refine_cond_op
    if op in (JGE, JGT, JSGE, JSGT):
        op = _flip_opcode(op)
        r1, r2 = r2, r1
    if op == JEQ:
        if is_jmp32:
            r1.u32_min = max(r1.u32_min, r2.u32_min)
            r1.u32_max = min(r1.u32_max, r2.u32_max)
            r1.s32_min = max(r1.s32_min, r2.s32_min)
            r1.s32_max = min(r1.s32_max, r2.s32_max)
            r2.u32_min, r2.u32_max, r2.s32_min, r2.s32_max = r1.u32_min, r1.u32_max, r1.s32_min, r1.s32_max
            t = r1.var_off.subreg().intersect(r2.var_off.subreg())
            r1.var_off = r1.var_off.with_subreg(t)
            r2.var_off = r2.var_off.with_subreg(t)
        else:
            r1.umin = max(r1.umin, r2.umin)
            r1.umax = min(r1.umax, r2.umax)
            r1.smin = max(r1.smin, r2.smin)
            r1.smax = min(r1.smax, r2.smax)
            r2.umin, r2.umax, r2.smin, r2.smax = r1.umin, r1.umax, r1.smin, r1.smax
            r1.var_off = r1.var_off.intersect(r2.var_off)
            r2.var_off = r1.var_off
    elif op == JNE:
        if not _reg_is_const(r2, is_jmp32):
            r1, r2 = r2, r1
        if not _reg_is_const(r2, is_jmp32):
            return
        val = _reg_const_value(r2, is_jmp32)
        if is_jmp32:
            if r1.u32_min == u32(val):
                r1.u32_min = u32(r1.u32_min + 1)
            if r1.u32_max == u32(val):
                r1.u32_max = u32(r1.u32_max - 1)
            if r1.s32_min == s32(val):
                r1.s32_min = s32(r1.s32_min + 1)
            if r1.s32_max == s32(val):
                r1.s32_max = s32(r1.s32_max - 1)
        else:
            if r1.umin == val:
                r1.umin = u64(r1.umin + 1)
            if r1.umax == val:
                r1.umax = u64(r1.umax - 1)
            if r1.smin == s64(val):
                r1.smin = s64(r1.smin + 1)
            if r1.smax == s64(val):
                r1.smax = s64(r1.smax - 1)
    elif op == JSET:
        if not _reg_is_const(r2, is_jmp32):
            r1, r2 = r2, r1
        if not _reg_is_const(r2, is_jmp32):
            return
        val = _reg_const_value(r2, is_jmp32)
        if val == 0 or val & (val - 1):  # only a single bit teaches something
            return
        if is_jmp32:
            r1.var_off = r1.var_off.with_subreg(r1.var_off.subreg().or_(Tnum.const(val)))
        else:
            r1.var_off = r1.var_off.or_(Tnum.const(val))
    elif op == JSET_FALSE:
        if not _reg_is_const(r2, is_jmp32):
            r1, r2 = r2, r1
        if not _reg_is_const(r2, is_jmp32):
            return
        val = _reg_const_value(r2, is_jmp32)
        r1.mark_unbounded()
        if is_jmp32:
            r1.var_off = r1.var_off.with_subreg(r1.var_off.subreg().and_(Tnum.const(~val & U32)))
        else:
            r1.var_off = r1.var_off.and_(Tnum.const(~val & U64))
    elif op == JLE:
        if is_jmp32:
            r1.u32_max = min(r1.u32_max, r2.u32_max)
            r2.u32_min = max(r1.u32_min, r2.u32_min)
        else:
            r1.umax = min(r1.umax, r2.umax)
            r2.umin = max(r1.umin, r2.umin)
    elif op == JLT:
        if is_jmp32:
            r1.u32_max = min(r1.u32_max, u32(r2.u32_max - 1))
            r2.u32_min = max(u32(r1.u32_min + 1), r2.u32_min)
        else:
            r1.umax = min(r1.umax, u64(r2.umax - 1))
            r2.umin = max(u64(r1.umin + 1), r2.umin)
    elif op == JSLE:
        if is_jmp32:
            r1.s32_max = min(r1.s32_max, r2.s32_max)
            r2.s32_min = max(r1.s32_min, r2.s32_min)
        else:
            r1.smax = min(r1.smax, r2.smax)
            r2.smin = max(r1.smin, r2.smin)
    elif op == JSLT:
        if is_jmp32:
            r1.s32_max = min(r1.s32_max, s32(r2.s32_max - 1))
            r2.s32_min = max(s32(r1.s32_min + 1), r2.s32_min)
        else:
            r1.smax = min(r1.smax, s64(r2.smax - 1))
            r2.smin = max(s64(r1.smin + 1), r2.smin)


def _reg_is_const(r: RegBounds, is_jmp32: bool) -> bool:
    # kernel: is_reg_const
    return r.var_off.subreg_is_const if is_jmp32 else r.var_off.is_const


Edge = tuple[Scalar, Scalar] | None


def refine(op: int, a: Scalar, b: Scalar, is_jmp32: bool, *, same_reg: bool = False) -> tuple[Edge, Edge]:
    """The operands as the verifier knows them on the (taken, fall-through) edges of `if a <op> b`.

    An edge the verifier does not explore (is_branch_taken decided the other way)
    is None. Otherwise both edges are refined as reg_set_min_max does, and a
    refinement that breaks the range invariants forgets the ranges (keeping
    var_off), as reg_bounds_sanity_check does outside the selftests.
    """
    pred = branch_taken(op, a, b, is_jmp32, same_reg=same_reg)
    if pred is True:
        return (a, b), None
    if pred is False:
        return None, (a, b)
    if same_reg:
        # kernel: reg_set_min_max skips refining a register against itself
        return (a, b), (a, b)
    # kernel: reg_set_min_max
    edges: list[tuple[Scalar, Scalar]] = []
    for edge_op in (op, _rev_opcode(op)):
        r1, r2 = RegBounds.of(a), RegBounds.of(b)
        _regs_refine_cond_op(r1, r2, edge_op, is_jmp32)
        reg_bounds_sync(r1)
        reg_bounds_sync(r2)
        reg_bounds_sanity_check(r1)
        reg_bounds_sanity_check(r2)
        edges.append((r1.freeze(), r2.freeze()))
    return edges[0], edges[1]
