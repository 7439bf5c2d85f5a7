"""ALU, ld_imm64 and jumps on the abstract state (check_alu_op, check_ld_imm, check_cond_jmp_op)."""

from __future__ import annotations

import functools

from framework.isa import opcodes as op
from framework.isa import semantics
from framework.isa.insn import Insn, sign32
from framework.isa.opcodes import Kind
from framework.load.program import Linkage
from framework.verify import arith, branches, graph, reserved
from framework.verify.env import Env, Outcome, Reject, reject, unsupported
from framework.verify.pointer_arith import pointer_alu
from framework.verify.precision import mark_chain_precision
from framework.verify.regs import MEM_ALLOC, PTR_TRUSTED, RT, Reg, const, scalar
from framework.verify.scalar import Scalar
from framework.verify.state import State


def read_reg(st: State, pc: int, regno: int) -> Reg | Reject:
    # kernel: check_reg_arg (SRC_OP)
    r = st.cur.regs[regno]
    if r.type is RT.NOT_INIT:
        return reject(pc, f"R{regno} !read_ok")
    return r


MAX_BPF_REG = 11  # kernel: MAX_BPF_REG (r0-r10)


def _operand_checks(insn: Insn) -> list[tuple[int, bool]]:
    """(regno, read) in the order the kernel's check_reg_arg calls reach them for `insn`:
    read (SRC_OP) operands must be initialised, written (DST_OP) ones may not be r10."""
    k, src, dst = insn.kind, insn.src, insn.dst
    if k in (Kind.NEG, Kind.END):
        return [(dst, True), (dst, False)]  # kernel: check_alu_op, BPF_NEG / BPF_END
    if k is Kind.ALU:
        first = [(src, True)] if insn.uses_reg_src else []
        return first + ([(dst, False)] if insn.op == op.MOV else [(dst, True), (dst, False)])
    if k is Kind.LOAD:
        return [(src, True), (dst, False)]  # kernel: check_load_mem
    if k is Kind.STORE_REG:
        return [(src, True), (dst, True)]  # kernel: check_store_reg
    if k is Kind.STORE_IMM:
        return [(dst, True)]
    if k is Kind.ATOMIC:
        if insn.imm == op.LOAD_ACQ:
            return [(src, True), (dst, False)]  # kernel: check_atomic_load -> check_load_mem
        return [(src, True), (dst, True)]  # kernel: check_atomic_rmw / check_atomic_store
    if k is Kind.JCOND:  # kernel: check_cond_jmp_op (an imm beside a register source is refused first)
        return [(dst, True)] + ([(src, True)] if insn.uses_reg_src and not insn.imm else [])
    if k is Kind.LD_IMM64:
        return [(dst, False)]  # kernel: check_ld_imm
    if k is Kind.LD_PKT and insn.code & 0xE0 == op.IND:
        return [(6, True), (src, True)]  # kernel: check_ld_abs (R6 first)
    return []


def invalid_register(st: State, insn: Insn) -> int | None:
    """The register above r10 the kernel would refuse first, if any ("R%d is invalid")."""
    # kernel: __check_reg_arg (regno >= MAX_BPF_REG), reached in check order: an earlier operand
    # that is unreadable (or r10 written) fails first, as its own check says
    for regno, read in _operand_checks(insn):
        if regno >= MAX_BPF_REG:
            return regno
        if (read and st.cur.regs[regno].type is RT.NOT_INIT) or (not read and regno == 10):
            return None
    return None


ADDR_SPACE_CAST = 1  # uapi bpf.h BPF_ADDR_SPACE_CAST: the off of alu64 mov_x that casts


def _mov_reserved(env: Env, insn: Insn) -> str | None:
    """What check_alu_op refuses of a register mov's off and imm, before it reads the source."""
    if insn.alu64 and insn.off == ADDR_SPACE_CAST:
        if insn.imm not in (1, 1 << 16):
            # kernel: check_alu_op (BPF_ADDR_SPACE_CAST)
            return "addr_space_cast insn can only convert between address space 1 and 0"
        if not any(m.map_type == "arena" for m in env.program.maps):
            return "addr_space_cast insn can only be used in a program that has an associated arena"
        return "addr_space_cast: arena pointers are not modelled by this verifier"
    if insn.imm:
        return "BPF_MOV uses reserved fields"  # kernel: check_alu_op (BPF_MOV, BPF_X, imm != 0)
    return None


def step_alu(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_alu_op
    regs = st.cur.regs
    is64 = insn.alu64
    opc = insn.op
    if opc == op.MOV and insn.uses_reg_src:
        refused = _mov_reserved(env, insn)
        if refused is not None:
            return reject(pc, refused)
    if insn.uses_reg_src:
        src = read_reg(st, pc, insn.src)
        if isinstance(src, Reject):
            return src
    else:
        src = _const_reg(sign32(insn.imm))
    if opc == op.MOV:
        if insn.dst == 10:
            return reject(pc, "frame pointer is read only")
        if src.type is RT.SCALAR:
            link = 0
            if insn.uses_reg_src and not src.is_const and _value_fits(src, is64, insn.off):
                # kernel: assign_scalar_id_before_mov (copies share an id; a refinement reaches all)
                if not src.id:
                    src = src.with_(id=env.new_id())
                    regs[insn.src] = src
                link = src.id
            regs[insn.dst] = Reg(
                RT.SCALAR, arith.alu(op.MOV, Scalar.const(0), src.var, is64, off=insn.off), id=link, precise=src.precise
            )
        elif is64 and insn.off == 0:
            regs[insn.dst] = src  # copy_register_state
        else:
            regs[insn.dst] = scalar(Scalar.unknown32() if not is64 else Scalar.unknown())
        return pc + 1
    dst = read_reg(st, pc, insn.dst)
    if isinstance(dst, Reject):
        return dst
    if not insn.uses_reg_src and opc != op.NEG:
        # kernel: check_alu_op, on the immediate before the destination is checked
        if opc in (op.DIV, op.MOD) and insn.imm == 0:
            return reject(pc, "div by zero")
        if opc in (op.LSH, op.RSH, op.ARSH) and not 0 <= insn.imm < (64 if is64 else 32):
            return reject(pc, f"invalid shift {insn.imm}")
    if insn.dst == 10:
        return reject(pc, "frame pointer is read only")
    if opc == op.NEG:
        # kernel: check_alu_op, BPF_NEG: root may negate a pointer (allow_ptr_leaks): check_reg_arg
        # (DST_OP) leaves an unknown scalar
        regs[insn.dst] = scalar() if dst.is_pointer else scalar(arith.neg(dst.var, is64))
        return pc + 1
    if dst.type is RT.SCALAR and src.type is RT.SCALAR:
        folded = _fold(opc, dst, src, is64, insn.off)
        regs[insn.dst] = folded if folded is not None else scalar(arith.alu(opc, dst.var, src.var, is64, off=insn.off))
        return pc + 1
    return pointer_alu(env, st, pc, insn, dst, src)


def _value_fits(src: Reg, is64: bool, off: int) -> bool:
    # kernel: check_alu_op, BPF_MOV: a copy is linked only when it keeps the value unchanged
    if off:
        return src.var.umax < (1 << (off - 1))  # movsx: no sign extension happens
    return is64 or src.var.umax.bit_length() <= 32  # mov32: get_reg_width(src) <= 32


# the operators whose constant operands give a constant the scalar domain agrees with, computed by
# the instruction set's own semantics (framework.isa.semantics)
_FOLD = frozenset({op.ADD, op.SUB, op.MUL, op.AND, op.OR, op.XOR})


@functools.lru_cache(maxsize=4096)
def _const_reg(value: int) -> Reg:
    return const(value)


def _fold(opc: int, dst: Reg, src: Reg, is64: bool, off: int) -> Reg | None:
    """Constant operands give a constant (what the scalar domain computes, without its cost)."""
    if off or opc not in _FOLD or not (dst.var.is_const and src.var.is_const):
        return None
    a, b = dst.var.var_off.value, src.var.var_off.value
    if is64:
        return _const_reg(semantics.alu(opc, a, b, 64) & semantics.MASK64)
    return _const_reg(semantics.alu(opc, a & semantics.MASK32, b & semantics.MASK32, 32) & semantics.MASK32)


def step_neg(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    return step_alu(env, st, pc, insn)


def step_end(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_alu_op, BPF_END
    dst = read_reg(st, pc, insn.dst)
    if isinstance(dst, Reject):
        return dst
    if insn.dst == 10:
        return reject(pc, "frame pointer is read only")  # kernel: check_reg_arg (DST_OP)
    if dst.is_pointer:
        # kernel: check_alu_op, BPF_END: root may swap a pointer's bytes (allow_ptr_leaks): check_reg_arg
        # (DST_OP) leaves an unknown scalar
        st.cur.regs[insn.dst] = scalar()
        return pc + 1
    st.cur.regs[insn.dst] = scalar(arith.alu(op.END, dst.var, None, insn.alu64, off=insn.off, imm=insn.imm))
    return pc + 1


def resolve_ld_imm64(env: Env, insn: Insn) -> str | None:
    """What resolve_pseudo_ldimm64 refuses of a map reference, before the walk."""
    # kernel: resolve_pseudo_ldimm64
    if insn.kind is not Kind.LD_IMM64:
        return None
    if insn.src in (op.PSEUDO_MAP_FD, op.PSEUDO_MAP_IDX) and insn.imm_hi:
        return "unrecognized bpf_ld_imm64 insn"
    maps = (op.PSEUDO_MAP_FD, op.PSEUDO_MAP_IDX, op.PSEUDO_MAP_VALUE, op.PSEUDO_MAP_IDX_VALUE)
    if insn.src in maps and 0 <= insn.imm < len(env.program.maps):
        from framework.verify.timers import timer_map_refusal

        refused = timer_map_refusal(env, insn.imm)  # kernel: __add_used_map -> check_map_prog_compatibility
        if refused:
            return refused
    if insn.src not in (op.PSEUDO_MAP_VALUE, op.PSEUDO_MAP_IDX_VALUE) or not 0 <= insn.imm < len(env.program.maps):
        return None
    m, off = env.program.maps[insn.imm], insn.imm_hi & 0xFFFFFFFF
    if m.map_type != "array":  # the model's maps: only an array has map_direct_value_addr
        return "no direct value access support for this map type"
    if m.max_entries != 1 or off >= m.value_size:  # kernel: array_map_direct_value_addr
        return f"invalid access to map value pointer, value_size={m.value_size} off={off}"
    return None


def step_ld_imm64(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_ld_imm
    regs = st.cur.regs
    if insn.src == 0:
        regs[insn.dst] = const(insn.imm64)
    elif insn.src in (op.PSEUDO_MAP_IDX, op.PSEUDO_MAP_FD):
        regs[insn.dst] = Reg(RT.MAP_PTR, map_index=insn.imm)
    elif insn.src in (op.PSEUDO_MAP_IDX_VALUE, op.PSEUDO_MAP_VALUE):
        regs[insn.dst] = Reg(RT.MAP_VALUE, map_index=insn.imm, off=insn.imm_hi)
    elif insn.src == op.PSEUDO_FUNC:
        # kernel: check_ld_imm, BPF_PSEUDO_FUNC: a callback needs the program's func_info, and is static
        target = insn.jump_target(pc)
        subprog = env.subprog_of(target)
        if not env.program.func_info:
            return reject(pc, "missing btf func_info")
        if env.program.subprogs[subprog].linkage is not Linkage.STATIC:
            return reject(pc, "callback function not static")
        regs[insn.dst] = Reg(RT.FUNC, subprog=subprog)
    else:
        # kernel: check_ld_imm, BPF_PSEUDO_BTF_ID (a ksym variable's address, typed by vmlinux BTF)
        return unsupported(pc, "instruction", f"ld_imm64 src={insn.src}", "typed ksym variables from vmlinux BTF")
    return pc + 2


def step_ja(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    return insn.jump_target(pc)


def step_may_goto(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_cond_jmp_op, BPF_JCOND: the fall-through (the loop goes on) is queued one
    # may_goto deeper; this path takes the jump (the counter ran out)
    from framework.verify.checkpoint import prev_entry, widen_imprecise_scalars

    if insn.off:
        # kernel: do_misc_fixups gives the subprog its count and timestamp slots for each may_goto
        # left; opt_remove_nops has dropped `may_goto +0` before it
        env.may_goto_seen.add(env.subprog_of(pc))
    queued = st.copy()
    queued.pc = pc + 1
    queued.may_goto_depth += 1
    prev = prev_entry(st, pc)
    if prev is not None:
        widen_imprecise_scalars(prev, queued)
    env.push(queued)
    return insn.jump_target(pc)


_NEVER_NULL = (RT.SOCKET, RT.MAP_VALUE, RT.MAP_KEY, RT.MAP_PTR, RT.MEM)
_TRUSTED_MODIFIERS = frozenset({MEM_ALLOC, PTR_TRUSTED})  # kernel: BPF_REG_TRUSTED_MODIFIERS


def _not_null(r: Reg) -> bool:
    # kernel: reg_not_null (the stack, context and packet pointers are not on its list)
    if not r.is_pointer or r.maybe_null:
        return False
    if r.type is RT.BTF_ID:
        # kernel: is_trusted_reg (referenced, or only trusted modifiers and at least one)
        return bool(r.ref_obj_id) or (bool(r.flags & _TRUSTED_MODIFIERS) and r.flags <= _TRUSTED_MODIFIERS)
    return r.type in _NEVER_NULL


def _pointer_taken(dst: Reg, src: Reg, opc: int, jmp32: bool) -> bool | None:
    # kernel: is_branch_taken, a pointer against a constant: only a never-NULL pointer against 0
    ptr, const_ = (dst, src) if src.is_const else (src, dst)
    if not const_.is_const or not _not_null(ptr):
        return None
    if const_.const & (0xFFFFFFFF if jmp32 else (1 << 64) - 1):
        return None
    return {op.JEQ: False, op.JNE: True}.get(opc)


def _null_edge(r: Reg, is_null: bool) -> Reg:
    # kernel: mark_ptr_or_null_reg
    if is_null:
        return const(0)
    # kernel: mark_ptr_or_null_reg ("Other types like PTR_TO_SOCKET don't need id")
    return r.with_(maybe_null=False, id=0)


def mark_ptr_or_null(env: Env, st: State, rid: int, is_null: bool) -> None:
    # kernel: mark_ptr_or_null_regs (and release of a NULL reference)
    releases = False

    def fix(r: Reg) -> Reg:
        nonlocal releases
        if r.is_pointer and r.maybe_null and r.id == rid:
            # kernel: only the acquired pointer itself (ref_obj_id == id) releases on NULL, not a
            # pointer derived from it (bpf_sk_fullsock, bpf_tcp_sock) that shares the parent's ref
            releases = releases or r.ref_obj_id == rid
            if not is_null and graph.may_point_to_spin_lock(env, r):
                return r.with_(maybe_null=False)  # kernel: mark_ptr_or_null_reg keeps a lock holder's id
            return _null_edge(r, is_null)
        return r

    st.map_regs(fix)
    if is_null and releases:
        st.refs = [r for r in st.refs if r.id != rid]


def _good_pkt_pointers(st: State, ptr: Reg, right_open: bool) -> None:
    # kernel: find_good_pkt_pointers (every packet pointer with ptr's id learns the range)
    if ptr.off < 0 or (ptr.off == 0 and right_open):
        return
    if ptr.var.umax > MAX_PACKET_OFF or ptr.var.umax + ptr.off > MAX_PACKET_OFF:
        return
    new_range = ptr.off + (1 if right_open else 0)

    def fix(r: Reg) -> Reg:
        if r.type is ptr.type and r.id == ptr.id and r.range < new_range:
            return r.with_(range=new_range)
        return r

    st.map_regs(fix)


def _mark_pkt_end(st: State, regno: int, right_open: bool) -> None:
    # kernel: mark_pkt_end (pkt > pkt_end: BEYOND_PKT_END; pkt >= pkt_end: AT_PKT_END)
    r = st.cur.regs[regno]
    if r.type is RT.PACKET:
        st.cur.regs[regno] = r.with_(range=BEYOND_PKT_END if right_open else AT_PKT_END)


def step_jcond(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_cond_jmp_op
    dst = read_reg(st, pc, insn.dst)
    if isinstance(dst, Reject):
        return dst
    refused = reserved.jcond(insn)
    if refused:
        return reject(pc, refused)
    if insn.uses_reg_src:
        src = read_reg(st, pc, insn.src)
        if isinstance(src, Reject):
            return src
    else:
        src = const(sign32(insn.imm) if not insn.jmp32 else insn.imm & 0xFFFFFFFF)
    target = insn.jump_target(pc)
    opc = insn.op
    if dst.is_pointer or src.is_pointer:
        return _pointer_compare(env, st, pc, insn, dst, src, target)
    taken, fall = branches.refine(
        opc, dst.var, src.var, insn.jmp32, same_reg=insn.uses_reg_src and insn.src == insn.dst
    )
    if taken is None and fall is None:
        return pc + 1
    if taken is None or fall is None:
        # kernel: check_cond_jmp_op, a predicted branch rests on the operands' values
        mark_chain_precision(env, st, insn.dst)
        if insn.uses_reg_src:
            mark_chain_precision(env, st, insn.src)
    if taken is None:
        assert fall is not None
        _apply(st, insn, fall)
        return pc + 1
    if fall is None:
        _apply(st, insn, taken)
        return target
    other = st.copy()
    _apply(other, insn, taken)
    other.pc = target
    env.push(other)
    _apply(st, insn, fall)
    return pc + 1


def _apply(st: State, insn: Insn, edge: tuple[Scalar, Scalar]) -> None:
    regs = st.cur.regs
    regs[insn.dst] = regs[insn.dst].with_(var=edge[0])
    if insn.uses_reg_src:
        regs[insn.src] = regs[insn.src].with_(var=edge[1])
    # kernel: sync_linked_regs (every copy with the same id, in every frame, learns the bounds)
    for regno in (insn.dst, insn.src) if insn.uses_reg_src else (insn.dst,):
        r = regs[regno]
        if r.type is RT.SCALAR and r.id:
            st.map_regs(functools.partial(_sync_linked, r.id, r.var))


def _sync_linked(rid: int, var: Scalar, x: Reg) -> Reg:
    return x.with_(var=var) if x.type is RT.SCALAR and x.id == rid else x


_FLIP = {op.JGT: op.JLT, op.JLT: op.JGT, op.JGE: op.JLE, op.JLE: op.JGE, op.JEQ: op.JEQ, op.JNE: op.JNE}
MAX_PACKET_OFF = 0xFFFF  # kernel: MAX_PACKET_OFF
AT_PKT_END, BEYOND_PKT_END = -1, -2  # kernel: enum { AT_PKT_END = -1, BEYOND_PKT_END = -2 }
_PACKETS = (RT.PACKET, RT.PACKET_META, RT.PACKET_END)  # kernel: reg_is_pkt_pointer_any


def _pkt_taken(dst: Reg, src: Reg, opc: int) -> bool | None:
    # kernel: is_pkt_ptr_branch_taken
    if src.type is RT.PACKET_END:
        pkt = dst
    elif dst.type is RT.PACKET_END:
        pkt, opc = src, _FLIP.get(opc, opc)
    else:
        return None
    if pkt.range >= 0:
        return None
    if opc in (op.JLE, op.JGT) and pkt.range == BEYOND_PKT_END:
        return opc == op.JGT
    if opc in (op.JLT, op.JGE) and pkt.range in (AT_PKT_END, BEYOND_PKT_END):
        return opc == op.JGE
    return None


def _init_pkt(r: Reg) -> bool:
    # kernel: reg_is_init_pkt_pointer(reg, PTR_TO_PACKET)
    return r.type is RT.PACKET and r.off == 0 and r.var.is_const and r.var.var_off.value == 0


def _match_pkt(this: State, other: State, insn: Insn, dst: Reg, src: Reg) -> None:
    # kernel: try_match_pkt_pointers (this: the fall-through, other: the jump)
    fwd = (dst.type is RT.PACKET and src.type is RT.PACKET_END) or (dst.type is RT.PACKET_META and _init_pkt(src))
    back = (dst.type is RT.PACKET_END and src.type is RT.PACKET) or (_init_pkt(dst) and src.type is RT.PACKET_META)
    opc = insn.op
    # (branch that learns the range, right_open, branch that is past the end, right_open) per op
    table = {
        op.JGT: ((this, False, other, True), (other, True, this, False)),
        op.JLT: ((other, True, this, False), (this, False, other, True)),
        op.JGE: ((this, True, other, False), (other, False, this, True)),
        op.JLE: ((other, False, this, True), (this, True, other, False)),
    }
    if opc not in table or not (fwd or back):
        return
    good, good_open, end, end_open = table[opc][0 if fwd else 1]
    ptr, regno = (dst, insn.dst) if fwd else (src, insn.src)
    _good_pkt_pointers(good, ptr, good_open)
    _mark_pkt_end(end, regno, end_open)


def _pointer_compare(env: Env, st: State, pc: int, insn: Insn, dst: Reg, src: Reg, target: int) -> Outcome:
    # kernel: check_cond_jmp_op with a pointer operand: is_branch_taken, then (64-bit compares
    # only) the NULL lifting of two pointers, the NULL check, try_match_pkt_pointers
    opc, packets = insn.op, dst.type in _PACKETS and src.type in _PACKETS
    taken = (
        (_pkt_taken(dst, src, opc) if not insn.jmp32 else None)
        if packets
        else _pointer_taken(dst, src, opc, insn.jmp32)
    )
    if taken is not None:
        # kernel: check_cond_jmp_op, a predicted branch rests on the scalar operand's value
        for regno, r in ((insn.dst, dst), (insn.src, src)) if insn.uses_reg_src else ((insn.dst, dst),):
            if not r.is_pointer:
                mark_chain_precision(env, st, regno)
        return target if taken else pc + 1
    other = st.copy()
    other.pc = target
    if not insn.jmp32 and opc in (op.JEQ, op.JNE):
        if (
            dst.is_pointer
            and src.is_pointer
            and dst.maybe_null != src.maybe_null
            and RT.BTF_ID not in (dst.type, src.type)
        ):
            # kernel: check_cond_jmp_op, "if one pointer register is compared to another pointer
            # register check if PTR_MAYBE_NULL could be lifted" (in the branch where they are equal)
            equal = other if opc == op.JEQ else st
            regno = insn.src if src.maybe_null else insn.dst
            equal.cur.regs[regno] = equal.cur.regs[regno].with_(maybe_null=False)
        if dst.is_pointer and dst.maybe_null and src.is_const and src.const == 0:
            # kernel: check_cond_jmp_op, "detect if R == 0 where R is returned from bpf_map_lookup_elem()"
            mark_ptr_or_null(env, other, dst.id, is_null=(opc == op.JEQ))
            mark_ptr_or_null(env, st, dst.id, is_null=(opc == op.JNE))
    if packets and not insn.jmp32:
        _match_pkt(st, other, insn, dst, src)
    env.push(other)
    return pc + 1
