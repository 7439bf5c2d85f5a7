"""Arithmetic on pointers: adjust_ptr_min_max_vals and check_reg_sane_offset (Linux 6.18).

A pointer plus or minus a scalar keeps its type and moves its offset (a constant in `off`, a
variable part in its range); two pointers may only be subtracted; offsets past the kernel's
bounds refuse the program with its messages. framework.verify.ops hands the pointer cases here.
"""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.verify import arith
from framework.verify import scalar as sc
from framework.verify.env import Env, Outcome, Reject, reject
from framework.verify.precision import mark_chain_precision
from framework.verify.regs import RT, Reg, scalar, type_str
from framework.verify.state import State

_OPNAME = {code: o.symbol for code, o in op.ALU_OPERATORS.items()}  # kernel: bpf_alu_string


def pointer_alu(env: Env, st: State, pc: int, insn: Insn, dst: Reg, src: Reg) -> Outcome:
    # kernel: adjust_reg_min_max_vals
    regs = st.cur.regs
    opc = insn.op
    if dst.is_pointer and src.is_pointer:
        # kernel: "Combining two pointers by any ALU op yields an arbitrary scalar": only a
        # subtraction is allowed (env->allow_ptr_leaks), in either width, and leaves any 64-bit value
        if opc == op.SUB:
            regs[insn.dst] = scalar()
            return pc + 1
        return reject(pc, f"R{insn.dst} pointer {_OPNAME[opc]} pointer prohibited")
    if insn.uses_reg_src:
        # kernel: adjust_reg_min_max_vals, pointer += scalar (the offset is part of the pointer)
        mark_chain_precision(env, st, insn.src if dst.is_pointer else insn.dst)
    ptr, off_reg = (dst, src) if dst.is_pointer else (src, dst)
    return _adjust_ptr(env, st, pc, insn, ptr, off_reg, not dst.is_pointer)


def _sane_offset(pc: int, r: Reg, tname: str) -> Reject | None:
    # kernel: check_reg_sane_offset
    v = r.var
    if v.is_const and not -BPF_MAX_VAR_OFF < sc.s64(v.var_off.value) < BPF_MAX_VAR_OFF:
        return reject(pc, f"math between {tname} pointer and {sc.s64(v.var_off.value)} is not allowed")
    if not -BPF_MAX_VAR_OFF < r.off < BPF_MAX_VAR_OFF:
        return reject(pc, f"{tname} pointer offset {r.off} is not allowed")
    if v.smin == sc.S64_MIN:
        return reject(pc, f"math between {tname} pointer and register with unbounded min value is not allowed")
    if not -BPF_MAX_VAR_OFF < v.smin < BPF_MAX_VAR_OFF:
        return reject(pc, f"value {v.smin} makes {tname} pointer be out of bounds")
    return None


BPF_MAX_VAR_OFF = 1 << 29  # kernel: BPF_MAX_VAR_OFF
# kernel: adjust_ptr_min_max_vals, the base types arithmetic may move (CONST_PTR_TO_MAP: only += 0)
_MOVABLE = {RT.CTX, RT.MAP_VALUE, RT.MAP_KEY, RT.STACK, RT.PACKET_META, RT.PACKET, RT.BTF_ID, RT.MEM, RT.FUNC}


def _adjust_ptr(env: Env, st: State, pc: int, insn: Insn, ptr: Reg, off_reg: Reg, off_is_dst: bool) -> Outcome:
    # kernel: adjust_ptr_min_max_vals, in its order: the width, NULL, the pointer's type, sane
    # offsets, then what the operator allows
    regs = st.cur.regs
    opc = insn.op
    v = off_reg.var
    known = v.is_const
    if not insn.alu64:
        # kernel: 32-bit ALU ops on pointers produce (meaningless) scalars: a subtraction only
        if opc == op.SUB:
            regs[insn.dst] = scalar()
            return pc + 1
        return reject(pc, f"R{insn.dst} 32-bit pointer arithmetic prohibited")
    tname = type_str(ptr)
    if ptr.maybe_null:
        return reject(pc, f"R{insn.dst} pointer arithmetic on {tname} prohibited, null-check it first")
    if ptr.type not in _MOVABLE and not (ptr.type is RT.MAP_PTR and known and v.var_off.value == 0 and opc == op.ADD):
        return reject(pc, f"R{insn.dst} pointer arithmetic on {tname} prohibited")
    err = _sane_offset(pc, off_reg, tname) or _sane_offset(pc, ptr, tname)
    if err:
        return err
    if opc == op.SUB:
        if off_is_dst:
            return reject(pc, f"R{insn.dst} tried to subtract pointer from scalar")
        if ptr.type is RT.STACK:
            # kernel: JITs might not be able to deal with subtraction from the frame pointer
            return reject(pc, f"R{insn.dst} subtraction from stack pointer prohibited")
    elif opc in (op.AND, op.OR, op.XOR):
        return reject(pc, f"R{insn.dst} bitwise operator {_OPNAME[opc]} on pointer prohibited")
    elif opc != op.ADD:
        return reject(pc, f"R{insn.dst} pointer arithmetic with {_OPNAME[opc]} operator prohibited")
    if known:
        delta = sc.s64(v.var_off.value)
        off = ptr.off + (delta if opc == op.ADD else -delta)
        if -(1 << 31) <= off < 1 << 31:  # kernel: the fixed offset stays an s32
            regs[insn.dst] = ptr.with_(off=off)
            return pc + 1
    new = ptr.with_(var=arith.alu(opc, ptr.var, v, True))
    if ptr.type in (RT.PACKET, RT.PACKET_META):
        # a new variable offset starts a new id; what was added may leave the known range
        new = new.with_(id=env.new_id(), range=0 if opc == op.ADD or v.smin < 0 else ptr.range)
    err = _sane_offset(pc, new, tname)  # kernel: check_reg_sane_offset on the result
    if err:
        return err
    regs[insn.dst] = new
    return pc + 1
