"""do_check: the worklist walk over every path, with checkpoints, exits, throws and calls."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from framework.errors import Coord
from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.isa.kernel_syntax import format_insn
from framework.isa.opcodes import Kind
from framework.load.program import Program
from framework.platform.helpers import HELPER_NARGS
from framework.platform.kfuncs import KFUNCS
from framework.strategy import Strategy
from framework.verify import calls, frames, ops, reserved, timers
from framework.verify.aux import collect, save_ptr_type
from framework.verify.cfg import check_abnormal_return, check_cfg, check_subprogs, find_exception_callback
from framework.verify.checkpoint import Checkpoint, fingerprint
from framework.verify.env import COMPLEXITY_LIMIT_INSNS, STOP, Env, Outcome, Reject, Stop, reject, unsupported
from framework.verify.globals_ import arg_types, might_throw
from framework.verify.graph import GRAPH_API
from framework.verify.liveness import live_before, loops
from framework.verify.log import frame_state, insn_state, state_line, stats_line
from framework.verify.memory import check_mem_access
from framework.verify.precision import linked_regs, mark_chain_precision, propagate_precision, stack_slot
from framework.verify.prune import (
    EXACT,
    NOT_EXACT,
    RANGE_WITHIN,
    add_backedge,
    incomplete_read_marks,
    live_masks,
    maybe_enter_scc,
    path_done,
    states_equal,
)
from framework.verify.regs import RT, Reg, scalar, type_str
from framework.verify.reserved import reserved_fields
from framework.verify.result import Analysis, Verdict, VerifierRecord
from framework.verify.retcode import check_return_code, return_range
from framework.verify.scalar import coerce_to_size
from framework.verify.stack import Slot, slot_index
from framework.verify.stackdepth import check_max_stack_depth
from framework.verify.state import Frame, State, entry_frame
from framework.verify.throw import check_resource_leak, process_throw, unwind, unwind_resume
from framework.verify.tracing import attach_target

Step = Callable[[Env, State, int, Insn], Outcome]


# ---------------------------------------------------------------- one step per Kind


def _step_load(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_load_mem
    base = ops.read_reg(st, pc, insn.src)
    if isinstance(base, Reject):
        return base
    if insn.dst == 10:
        return reject(pc, "frame pointer is read only")  # check_reg_arg(dst, DST_OP_NO_MARK), before the access
    res = check_mem_access(env, st, pc, insn.src, insn.off, insn.size, False, None, None)
    if isinstance(res, Reject):
        return res
    assert isinstance(res, Reg)
    if insn.code & 0xE0 == op.MEMSX and insn.size < 8 and res.type is RT.SCALAR and base.type is not RT.STACK:
        # kernel: check_mem_access, coerce_reg_to_size_sx after any sign-extending load (the stack's: stack_read)
        res = res.with_(var=coerce_to_size(res.var, insn.size, signed=True))
    st.cur.regs[insn.dst] = res
    return save_ptr_type(env, pc, base, True) or pc + 1


def _step_store_reg(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_store_reg
    val = ops.read_reg(st, pc, insn.src)
    if isinstance(val, Reject):
        return val
    base = ops.read_reg(st, pc, insn.dst)
    if isinstance(base, Reject):
        return base
    if base.type is RT.STACK and (base.off + insn.off) % 8 and val.is_const and val.const == 0:
        # kernel: check_stack_write_fixed_off, a misaligned zero becomes STACK_ZERO, which
        # backtracking cannot follow, so the register is marked precise here
        mark_chain_precision(env, st, insn.src)
    res = check_mem_access(env, st, pc, insn.dst, insn.off, insn.size, True, val, None)
    return res if isinstance(res, Reject) else save_ptr_type(env, pc, base, False) or pc + 1


def _step_store_imm(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_mem_access from do_check_insn (BPF_ST)
    base = ops.read_reg(st, pc, insn.dst)
    if isinstance(base, Reject):
        return base
    res = check_mem_access(env, st, pc, insn.dst, insn.off, insn.size, True, None, insn.imm)
    return res if isinstance(res, Reject) else save_ptr_type(env, pc, base, False) or pc + 1


def _step_atomic(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_atomic (dispatch on imm)
    if insn.imm == op.LOAD_ACQ:
        return _atomic_load(env, st, pc, insn)
    if insn.imm == op.STORE_REL:
        return _atomic_store(env, st, pc, insn)
    return _atomic_rmw(env, st, pc, insn)


def _atomic_rmw(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_atomic_rmw (read, then write, through dst; aligned on every pointer type)
    for regno in (insn.src, insn.dst, *((0,) if insn.imm == op.CMPXCHG else ())):
        r = ops.read_reg(st, pc, regno)
        if isinstance(r, Reject):
            return r
    ptr = st.cur.regs[insn.dst]
    if not _atomic_ptr_type_ok(ptr):
        return reject(pc, f"BPF_ATOMIC stores into R{insn.dst} {type_str(ptr)} is not allowed")
    load_reg = (0 if insn.imm == op.CMPXCHG else insn.src) if insn.imm & op.FETCH else -1
    if load_reg == 10:
        return reject(pc, "frame pointer is read only")
    if load_reg >= 0:
        # kernel: check_reg_arg(load_reg, DST_OP) marks it unknown before the access (which may be through it)
        st.cur.regs[load_reg] = scalar()
    res = check_mem_access(env, st, pc, insn.dst, insn.off, insn.size, False, None, None, strict=True)
    if isinstance(res, Reject):
        return res
    if load_reg >= 0:
        assert isinstance(res, Reg)
        st.cur.regs[load_reg] = res  # the second check_mem_access, BPF_READ into load_reg
    res2 = check_mem_access(env, st, pc, insn.dst, insn.off, insn.size, True, scalar(), None, strict=True)
    if isinstance(res2, Reject):
        return res2
    return pc + 1


def _atomic_load(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_atomic_load: atomic_ptr_type_ok of src, then check_load_mem (strict alignment)
    base = ops.read_reg(st, pc, insn.src)
    if isinstance(base, Reject):
        return base
    if not _atomic_ptr_type_ok(base):
        return reject(pc, f"BPF_ATOMIC loads from R{insn.src} {type_str(base)} is not allowed")
    if insn.dst == 10:
        return reject(pc, "frame pointer is read only")  # check_load_mem, before the access
    res = check_mem_access(env, st, pc, insn.src, insn.off, insn.size, False, None, None, strict=True)
    if isinstance(res, Reject):
        return res
    assert isinstance(res, Reg)
    st.cur.regs[insn.dst] = res
    return save_ptr_type(env, pc, base, True) or pc + 1


def _atomic_store(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_atomic_store: check_store_reg (strict alignment), then atomic_ptr_type_ok of dst
    val = ops.read_reg(st, pc, insn.src)
    if isinstance(val, Reject):
        return val
    base = ops.read_reg(st, pc, insn.dst)
    if isinstance(base, Reject):
        return base
    res = check_mem_access(env, st, pc, insn.dst, insn.off, insn.size, True, val, None, strict=True)
    if isinstance(res, Reject):
        return res
    if not _atomic_ptr_type_ok(base):
        return reject(pc, f"BPF_ATOMIC stores into R{insn.dst} {type_str(base)} is not allowed")
    return save_ptr_type(env, pc, base, False) or pc + 1


def _atomic_ptr_type_ok(ptr: Reg) -> bool:
    # kernel: atomic_ptr_type_ok (ctx, packet and socket pointers refused; the model has no
    # flow keys or arena pointers)
    return ptr.type not in (RT.CTX, RT.PACKET, RT.PACKET_META, RT.SOCKET)


def _step_ld_pkt(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_ld_abs
    if st.cur.regs[6].type is not RT.CTX:
        return reject(pc, "at the time of BPF_LD_ABS|IND R6 != pointer to skb")
    err = check_resource_leak(env, st, pc, False, True, "BPF_LD_[ABS|IND]")
    if err:
        return err
    if insn.code & 0xE0 == op.IND:  # BPF_IND only: in class LD the 0x08 bit is BPF_H's size, not BPF_X
        r = ops.read_reg(st, pc, insn.src)
        if isinstance(r, Reject):
            return r
    calls.clobber_caller_saved(st)
    st.cur.regs[0] = scalar()
    return pc + 1


def _step_callx(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    return reject(pc, f"unknown opcode {insn.code:02x}")


def _step_call(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: do_check_insn, BPF_CALL
    if st.active_locks:
        unlock = insn.src == 0 and insn.imm == calls.SPIN_UNLOCK
        # kernel: kfunc_spin_allowed (the graph kfuncs)
        kfunc_ok = insn.src == op.PSEUDO_KFUNC_CALL and insn.off == 0 and calls.kfunc_name(env, insn) in GRAPH_API
        if (insn.src == 0 and not unlock) or (insn.src == op.PSEUDO_KFUNC_CALL and not kfunc_ok):
            return reject(pc, "function calls are not allowed while holding a lock")
    if insn.src == op.PSEUDO_CALL:
        return frames.check_func_call(env, st, pc, insn.jump_target(pc))
    if insn.src == op.PSEUDO_KFUNC_CALL:
        name = calls.kfunc_name(env, insn)
        if name not in KFUNCS:  # the kernel would find it in vmlinux BTF; the project has only its table
            return unsupported(pc, "kfunc", name, "its BTF prototype and flags in the kfunc table and its semantics")
        if not calls.kfunc_allowed(env.program.prog_type, name):
            return reject(pc, f"calling kernel function {name} is not allowed")
        if name == "bpf_throw":
            return _bpf_throw(env, st, pc)
        if name == "bpf_unwind_resume":
            return unwind_resume(env, st, pc)
        return calls.check_kfunc_call(env, st, pc, insn)
    out = calls.check_helper_call(env, st, pc, insn)
    if insn.imm == calls.TAIL_CALL and st.curframe and isinstance(out, int):
        # kernel: a tail call in a subprog returns from it when it succeeds (the hidden exit
        # visit_tailcall_insn adds): the failed call's path is pushed, this one leaves the
        # subprog now with whatever the target returned
        fallthrough = st.copy()
        fallthrough.pc = out
        env.push(fallthrough)
        st.cur.regs[0] = scalar()
        return frames.prepare_func_exit(env, st, pc)
    return out


def _bpf_throw(env: Env, st: State, pc: int) -> Outcome:
    # kernel: check_kfunc_call, is_bpf_throw_kfunc
    env.throws_reached.add(pc)
    r1 = st.cur.regs[1]
    if r1.type is RT.NOT_INIT:
        return reject(pc, "R1 !read_ok")
    if env.exception_cb < 0 and st.frames[0].in_async_cb:
        # kernel: check_return_code(env, BPF_REG_1, "R1"), frame 0 an async callback's
        err = timers.check_async_return(env, st, pc, 1)
        if err:
            return err
    elif env.exception_cb < 0:
        # kernel: check_return_code(env, BPF_REG_1, "R1")
        _mark_return(env, st, 1)
        err = check_return_code(env.program.prog_type, pc, r1, "R1", attach=env.program.expected_attach_type)
        if err:
            return err
    return unwind(env, st, pc) if env.program.cleanup else process_throw(env, st, pc)


def _mark_return(env: Env, st: State, regno: int) -> None:
    # kernel: check_return_code (a restricted return value is checked by range: precise)
    if return_range(env.program.prog_type, env.program.expected_attach_type) is not None:
        mark_chain_precision(env, st, regno)


def _step_exit(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: process_bpf_exit_full
    err = check_resource_leak(env, st, pc, False, st.curframe == 0, "BPF_EXIT instruction in main prog")
    if err:
        return err
    if st.curframe:
        return frames.prepare_func_exit(env, st, pc)
    r0 = st.cur.regs[0]
    if r0.type is RT.NOT_INIT:
        return reject(pc, "R0 !read_ok")
    # kernel: check_return_code
    if st.cur.in_async_cb:  # frame->in_async_callback_fn: its callback_ret_range
        return timers.check_async_return(env, st, pc, 0) or STOP
    if st.cur.subprog and not st.cur.in_exception_cb and r0.type is not RT.SCALAR:
        return reject(pc, f"At subprogram exit the register R0 is not a scalar value ({r0.type.value})")
    if st.cur.subprog == 0 or st.cur.in_exception_cb:
        _mark_return(env, st, 0)
        err = check_return_code(env.program.prog_type, pc, r0, "R0", attach=env.program.expected_attach_type)
        if err:
            return err
    return STOP


STEPS: dict[Kind, Step] = {
    Kind.ALU: ops.step_alu,
    Kind.NEG: ops.step_neg,
    Kind.END: ops.step_end,
    Kind.JA: ops.step_ja,
    Kind.JCOND: ops.step_jcond,
    Kind.MAY_GOTO: ops.step_may_goto,
    Kind.CALL: _step_call,
    Kind.CALLX: _step_callx,
    Kind.EXIT: _step_exit,
    Kind.LD_IMM64: ops.step_ld_imm64,
    Kind.LD_PKT: _step_ld_pkt,
    Kind.LOAD: _step_load,
    Kind.STORE_IMM: _step_store_imm,
    Kind.STORE_REG: _step_store_reg,
    Kind.ATOMIC: _step_atomic,
}


# ---------------------------------------------------------------- checkpoints


def _mark_prune_points(env: Env) -> None:
    # kernel: visit_insn (mark_prune_point, mark_force_checkpoint)
    for pc, insn in env.insns.items():
        if insn.kind is Kind.JCOND:
            env.prune_points.add(pc)
            env.prune_points.add(insn.jump_target(pc))  # push_insn(BRANCH) marks the target
        elif insn.kind is Kind.MAY_GOTO:
            env.prune_points.add(pc)
            env.prune_points.add(insn.jump_target(pc))
            env.force_checkpoints.add(pc)
            env.may_goto_pcs.add(pc)
        elif insn.kind is Kind.JA:
            env.prune_points.add(insn.jump_target(pc))
        elif insn.kind is Kind.CALL:
            env.prune_points.add(pc + 1)
            if insn.src == op.PSEUDO_CALL:
                env.prune_points.add(pc)
            if insn.src == op.PSEUDO_KFUNC_CALL and calls.kfunc_name(env, insn) == "bpf_iter_num_next":
                env.prune_points.add(pc)
                env.force_checkpoints.add(pc)
            if insn.src == 0 and insn.imm == timers.TIMER_SET_CALLBACK:
                env.prune_points.add(pc)  # is_async_callback_calling_insn: checked before a new async state
            kfunc = calls.kfunc_name(env, insn) if insn.src == op.PSEUDO_KFUNC_CALL else ""
            # is_sync_callback_calling_insn: bpf_loop, bpf_for_each_map_elem, bpf_rbtree_add
            if (insn.src == 0 and insn.imm in (181, 164)) or kfunc == "bpf_rbtree_add_impl":
                env.prune_points.add(pc)
                env.callback_calls.add(pc)
                env.force_checkpoints.add(pc)


def _iter_depths_differ(old: State, cur: State) -> bool:
    # kernel: iter_active_depths_differ
    for fo, fc in zip(old.frames, cur.frames, strict=False):
        for spi, s in fo.stack.items():
            c = fc.stack.get(spi)
            if s.spilled is None or s.spilled.type is not RT.ITER or not s.spilled.iter_active:
                continue
            if c is None or c.spilled is None or c.spilled.iter_depth != s.spilled.iter_depth:
                return True
    return False


def _iter_active_at_r1(st: State) -> bool:
    slot, _frame, _spi = calls._iter_slot(st)
    return slot is not None and slot.spilled is not None and slot.spilled.iter_active


def _hit(env: Env, cp: Checkpoint, st: State, loop: bool) -> bool:
    # kernel: is_state_visited, hit: (precision of the pruning state flows into this path's past;
    # in a loop whose marks may still grow, the path is kept as a backedge for later)
    cp.hit_cnt += 1
    propagate_precision(env, cp.state, st, live_masks(env, cp.state))
    if loop:
        add_backedge(env, cp, st)
    return True


def is_state_visited(env: Env, st: State, pc: int) -> bool:
    # kernel: is_state_visited. Checkpoints still being explored (branches > 0) are kept apart,
    # keyed by an exact fingerprint, so the infinite-loop check is a lookup.
    force = pc in env.force_checkpoints
    add = force or (
        env.jmps_processed - env.prev_jmps_processed >= 2 and env.insn_processed - env.prev_insn_processed >= 8
    )
    active = env.active.get(pc, {})
    if active:
        inf_loop_check = True
        if pc in env.may_goto_pcs:
            # kernel: is_state_visited, a may_goto hits only a state one may_goto shallower or
            # deeper, and falls through to the infinite-loop check (2b2efe1937ca)
            for group in active.values():
                for cp in group:
                    if cp.state.may_goto_depth != st.may_goto_depth and states_equal(env, cp.state, st, RANGE_WITHIN):
                        return _hit(env, cp, st, True)
        elif force or pc in env.callback_calls:
            # kernel: is_state_visited, is_iter_next_insn and bpf_calls_callback: goto skip_inf_loop_check
            inf_loop_check = False
            for group in active.values():
                for cp in group:
                    if (pc in env.callback_calls or _iter_active_at_r1(st)) and states_equal(
                        env, cp.state, st, RANGE_WITHIN
                    ):
                        return _hit(env, cp, st, True)
        if inf_loop_check:
            fp = fingerprint(st)
            for cp in active.get(fp, ()):
                if not _iter_depths_differ(cp.state, st) and states_equal(env, cp.state, st, EXACT):
                    env.loop_at = pc
                    return True
        # kernel: skip_inf_loop_check (inside a loop, checkpoints are added sparingly)
        if env.jmps_processed - env.prev_jmps_processed < 20 and env.insn_processed - env.prev_insn_processed < 100:
            add = force
    kept = env.explored.get(pc, [])
    for cp in list(kept):
        loop = incomplete_read_marks(env, cp)
        if states_equal(env, cp.state, st, RANGE_WITHIN if loop else NOT_EXACT):
            return _hit(env, cp, st, loop)
        # kernel: is_state_visited drops states that keep missing
        cp.miss_cnt += 1
        if cp.miss_cnt > cp.hit_cnt * 3 + 3:
            kept.remove(cp)
            env.cur_states -= 1
    if not add:
        return False
    cp = Checkpoint(st.copy(), st.parent if isinstance(st.parent, Checkpoint) else None)
    cp.state.parent = None
    cp.pc = pc
    env.active.setdefault(pc, {}).setdefault(cp.fingerprint, []).append(cp)
    maybe_enter_scc(env, cp)
    st.parent = cp
    st.history = []
    # kernel: mark_all_scalars_imprecise (precision is found again for the path after a checkpoint)
    st.map_regs(lambda r: r.with_(precise=False) if r.precise else r)
    env.total_states += 1
    env.cur_states += 1
    env.peak_states = max(env.peak_states, env.cur_states)
    here = len(env.explored.get(pc, [])) + sum(len(g) for g in env.active[pc].values())
    env.max_states_per_insn = max(env.max_states_per_insn, here)
    env.prev_jmps_processed = env.jmps_processed
    env.prev_insn_processed = env.insn_processed
    return False


def _history_aux(st: State, insn: Insn) -> object:
    """What backtracking needs beside the pc: the stack slot touched, or the registers a branch links."""
    k = insn.kind
    if k in (Kind.LOAD, Kind.STORE_IMM, Kind.STORE_REG, Kind.ATOMIC):
        base = st.cur.regs[insn.src if k is Kind.LOAD else insn.dst]
        if base.type is RT.STACK and base.var.is_const and base.var.var_off.value == 0:
            return (base.frameno, slot_index(base.off + insn.off))
        return None
    if k is Kind.JCOND:
        regs = st.cur.regs
        # registers past R10 are refused by the step that follows (check_reg_arg: "R%d is invalid")
        linked = (insn.dst, insn.src) if insn.uses_reg_src else (insn.dst,)
        ids = {regs[n].id for n in linked if n < len(regs)}
        ids.discard(0)
        if ids and any(regs[x].type is RT.SCALAR for x in (insn.dst, insn.src) if x < len(regs)):
            return linked_regs(st, ids) or None
    return None


# ---------------------------------------------------------------- do_check


def _call_name(env: Env) -> Callable[[Insn], str | None]:
    def name(insn: Insn) -> str | None:
        if insn.src == op.PSEUDO_KFUNC_CALL:
            return calls.kfunc_name(env, insn)
        return None

    return name


def _call_args(env: Env) -> Callable[[Insn], int | None]:
    def nargs(insn: Insn) -> int | None:
        if insn.src == op.PSEUDO_KFUNC_CALL:
            spec = KFUNCS.get(calls.kfunc_name(env, insn))
            return spec.nargs if spec else None
        if insn.src == 0:
            return HELPER_NARGS.get(insn.imm)
        return None  # a subprog: its BTF prototype is not consulted here

    return nargs


_SCRATCH_ALL = set(range(11))


def _scratched(insn: Insn) -> set[int]:
    """The registers check_reg_arg marks for `insn` (mark_reg_scratched)."""
    k = insn.kind
    if k in (Kind.ALU, Kind.JCOND):
        return {insn.dst, insn.src} if insn.uses_reg_src else {insn.dst}
    if k in (Kind.NEG, Kind.END, Kind.LD_IMM64, Kind.STORE_IMM):
        return {insn.dst}
    if k in (Kind.LOAD, Kind.STORE_REG):
        return {insn.dst, insn.src}
    if k is Kind.ATOMIC:
        return {insn.dst, insn.src, 0} if insn.imm == op.CMPXCHG else {insn.dst, insn.src}
    if k is Kind.CALL:
        return {0, 1, 2, 3, 4, 5}  # the arguments, then every caller-saved register
    if k is Kind.LD_PKT:
        return {0, 1, 2, 3, 4, 5, 6, insn.src}
    if k is Kind.EXIT:
        return {0}
    return set()


def _written(old: object, new: Slot) -> bool:
    """The step wrote this slot (mark_stack_slot_scratched), rather than a release invalidating
    a spilled copy of what it freed (mark_reg_invalid, which marks nothing)."""
    if not isinstance(old, Slot):
        return True
    if old == new:
        return False
    invalidated = (
        old.types == new.types
        and old.spilled is not None
        and old.spilled.is_pointer
        and new.spilled is not None
        and new.spilled.type is RT.SCALAR
    )
    return not invalidated


def _log_step(env: Env, st: State, pc: int, insn: Insn, before: Frame, slots: Mapping[int, object]) -> None:
    """What the level-2 log shows of one step: the touched registers and slots, call and return blocks."""
    maps = env.program.maps
    if st.cur is not before:
        if insn.kind is Kind.EXIT or before.frameno > st.cur.frameno:
            # kernel: prepare_func_exit (at an exit, or a subprog's tail call)
            env.log.append("returning from callee:")
            env.log.append(frame_state(st, before, maps))
            env.log.append(f"to caller at {st.pc}:")
            env.log.append(frame_state(st, st.cur, maps))
            if insn.kind is Kind.CALL:  # a tail call's return: the caller's next line shows R0 alone
                env.last_insn_line = -1
                env.scratched_regs, env.scratched_slots = {0}, set()
                return
        elif insn.kind is Kind.CALL:
            # kernel: check_func_call
            env.log.append("caller:")
            env.log.append(frame_state(st, before, maps))
            env.log.append("callee:")
            env.log.append(frame_state(st, st.cur, maps))
        env.last_insn_line = -1
        env.scratched_regs = set(_SCRATCH_ALL)
        env.scratched_slots = set(st.cur.stack)
        return
    env.scratched_regs |= _scratched(insn)
    if insn.kind is not Kind.JCOND:  # a branch refines spilled copies without marking their slots
        env.scratched_slots |= {spi for spi, slot in st.cur.stack.items() if _written(slots.get(spi), slot)}
    slot = stack_slot(st.history[-1][1]) if st.history else None
    if slot is not None and slot[0] == st.curframe:
        env.scratched_slots.add(slot[1])  # a load from the stack marks the slot it read
    if insn.kind is Kind.JCOND:
        insn_state(env, st, pc)  # kernel: check_cond_jmp_op prints the state itself


def do_check(env: Env, start: State) -> Reject | None:
    """Walk every path from `start` (do_check_common's loop)."""
    st: State | None = start
    namer = _call_name(env)
    logging = env.log_level >= 2
    popped = False
    if logging:
        env.scratched_regs = set(_SCRATCH_ALL)
        env.scratched_slots = set(start.cur.stack)
        env.last_insn_line = -1
    while True:
        if st is None:
            if not env.worklist:
                return None
            st = env.worklist.pop()
            popped = True
        pc = st.pc
        # kernel: do_check counts the instruction before is_state_visited may prune it
        env.insn_processed += 1
        if env.insn_processed > COMPLEXITY_LIMIT_INSNS:
            return reject(pc, f"BPF program is too large. Processed {env.insn_processed} insn")
        if pc in env.prune_points and is_state_visited(env, st, pc):
            if env.loop_at >= 0:
                return reject(pc, f"infinite loop detected at insn {pc}")
            if logging:
                env.log.extend(("", f"from {st.from_pc} to {pc}: safe") if popped else (f"{pc}: safe",))
                env.last_insn_line = -1
            path_done(env, st)
            st, popped = None, False
            continue
        if logging and popped:
            # kernel: do_check, do_print_state after pop_stack
            env.log.extend(("", f"from {st.from_pc} to {pc}:{state_line(env, st)}"))
            env.scratched_regs = set(_SCRATCH_ALL)
            env.scratched_slots = set(st.cur.stack)
            env.last_insn_line = -1
        popped = False
        env.seen.add(pc)  # kernel: do_check, insn_aux_data[insn_idx].seen
        insn = env.insns.get(pc)
        if insn is None:
            return reject(pc, f"invalid insn idx {pc} insn_cnt {len(env.program.slots)}")
        if insn.kind in (Kind.JA, Kind.JCOND, Kind.CALL, Kind.EXIT):
            env.jmps_processed += 1
        refused = reserved.ld_pkt_program_type(insn, env.program.prog_type) or reserved_fields(insn)
        bad = None if refused else ops.invalid_register(st, insn)
        if bad is None and refused is None:
            st.history.append((pc, _history_aux(st, insn)))
        if logging:
            if env.scratched_regs or env.scratched_slots:
                insn_state(env, st, pc)
            env.log.append(f"{pc}: {format_insn(insn, call_name=namer)}")
            env.last_insn_line = len(env.log) - 1
            before, slots = st.cur, dict(st.cur.stack)
        if refused is not None:
            return reject(pc, refused)
        if bad is not None:
            return reject(pc, f"R{bad} is invalid")  # kernel: check_reg_arg (regno >= MAX_BPF_REG)
        env.cur_pc = pc
        out = STEPS[insn.kind](env, st, pc, insn)
        if isinstance(out, Reject):
            return out
        if isinstance(out, Stop):
            path_done(env, st)
            st = None
            continue
        st.pc = out
        if logging:
            _log_step(env, st, pc, insn, before, slots)


def _initial(env: Env, subprog: int) -> State:
    # kernel: do_check_common (init_func_state and the arguments of a main prog or global func)
    frame = entry_frame(0, subprog)
    if subprog == 0:
        frame.regs[1] = Reg(RT.CTX)
    elif subprog == env.exception_cb:
        frame.regs[1] = scalar()
        frame.in_exception_cb = True
    else:
        for i, kind in enumerate(arg_types(env, subprog), start=1):
            if kind == "ctx":
                frame.regs[i] = Reg(RT.CTX)
            elif kind == "scalar":
                frame.regs[i] = scalar()
            else:
                frame.regs[i] = Reg(RT.MEM, maybe_null=True, id=env.new_id())
    st = State([frame])
    st.pc = env.program.subprogs[subprog].start
    return st


def _verify_all(env: Env) -> Reject | None:
    # kernel: do_check_main, then do_check_subprogs (global subprogs lazily, the exception callback)
    err = do_check(env, _initial(env, 0))
    if err:
        return err
    done: set[int] = set()
    while True:
        todo = [s for s in env.global_called if s not in done]
        if env.exception_cb >= 0 and env.exception_cb not in done:
            todo.append(env.exception_cb)
        if not todo:
            return None
        sub = todo[0]
        done.add(sub)
        name = env.program.subprogs[sub].name
        env.log.append(f"Validating {name}() func#{sub}...")
        if sub == env.exception_cb and arg_types(env, sub) != ["scalar"]:
            # kernel: do_check_common, checked as the callback's own verification starts
            return reject(env.program.subprogs[sub].start, "exception cb only supports single integer argument")
        env.explored.clear()
        env.active.clear()
        env.scc_visits.clear()
        env.worklist.clear()
        err = do_check(env, _initial(env, sub))
        if err:
            return err
        env.log.append(f"Func#{sub} ('{name}') is safe for any args that match its prototype")


def _precheck(env: Env) -> Reject | None:
    # kernel: bpf_check, in its order: add_subprog_and_kfunc (call targets, the exception callback),
    # check_subprogs, resolve_pseudo_ldimm64 (reserved load fields, ld_imm64's second slot,
    # opcodes), check_cfg, check_btf_info (check_abnormal_return), check_attach_btf_id
    for pc, insn in env.insns.items():
        local = insn.src == op.PSEUDO_CALL if insn.kind is Kind.CALL else insn.src == op.PSEUDO_FUNC
        if insn.kind in (Kind.CALL, Kind.LD_IMM64) and local:
            target = insn.jump_target(pc)
            if not 0 <= target < len(env.program.slots):
                return reject(pc, "call to invalid destination")  # add_subprog
    found = find_exception_callback(env)
    if isinstance(found, Reject):
        return found
    if found >= 0:
        env.exception_cb = found
    return (
        check_subprogs(env)
        or _resolve_pseudo_ldimm64(env)
        or check_cfg(env)
        or check_abnormal_return(env)  # kernel: check_btf_info -> check_btf_func
        or _check_attach_btf_id(env)  # kernel: check_attach_btf_id, after check_btf_info
    )


def _check_attach_btf_id(env: Env) -> Reject | None:
    # kernel: check_attach_btf_id (after check_cfg and check_btf_info): a tracing program's target
    found = attach_target(env)
    if isinstance(found, Reject):
        return found
    env.attach_target = found
    return None


def _resolve_pseudo_ldimm64(env: Env) -> Reject | None:
    for pc, insn in env.insns.items():
        refused = reserved.load(insn) or reserved.second_slot(insn) or ops.resolve_ld_imm64(env, insn)
        if refused:
            return reject(pc, refused)
        if insn.kind is Kind.CALLX:
            return reject(pc, f"unknown opcode {insn.code:02x}")  # kernel: bpf_opcode_in_insntable
    return None


# kernel messages printed without a trailing newline: the log runs each into the line after it
UNTERMINATED = frozenset({"expected prog array map for tail call"})  # record_func_key


def _run_on(lines: list[str], tail: list[str]) -> list[str]:
    if lines and lines[-1] in UNTERMINATED:
        return [*lines[:-1], lines[-1] + tail[0], *tail[1:]]
    return lines + tail


def verify(program: Program, strategy: Strategy | None = None, *, log_level: int = 2) -> Analysis:
    """Verify `program` as Linux 6.18.44 would (with the May 2026 global-throw fix), hooks inside.

    At `log_level` 2 (the default) the log holds every instruction and the state it leaves,
    as BPF_LOG_LEVEL2 prints it; below 2 only the rejection and the statistics are kept.
    """
    strategy = strategy or Strategy()
    started = time.perf_counter()
    insns = dict(program.insns())
    env = Env(program, strategy, insns, log_level=log_level)
    if log_level >= 2:
        # kernel: check_subprogs at BPF_LOG_LEVEL2
        env.log.extend(f"func#{i} @{sub.start}" for i, sub in enumerate(program.subprogs))
    env.stack_depth = [0] * len(program.subprogs)
    env.peak_resources = [0] * len(program.subprogs)
    cb = program.exception_cb
    env.exception_cb = program.subprogs.index(cb) if cb is not None else -1
    env.might_throw = might_throw(env)
    pads = {pc: c.pad for c in program.cleanup for pc in range(c.begin, c.end)}
    env.live = live_before(insns, _call_args(env), pads)
    env.scc = loops(insns)
    _mark_prune_points(env)
    err = _precheck(env)
    if err is None:
        err = _verify_all(env)
    for sub, peak in enumerate(env.peak_resources):
        strategy.on_peak_resources(sub, peak)
    if err is None:
        # the strategy's reserved stack counts against the limits (a resource table's region)
        for sub in range(len(env.stack_depth)):
            env.stack_depth[sub] += strategy.reserved_stack(sub)
        err = check_max_stack_depth(env)
    if err is None and env.unconvertible_pc >= 0:
        # kernel: convert_ctx_accesses, after the walk: a converter that emitted nothing
        err = reject(env.unconvertible_pc, "verifier bug: error during ctx access conversion (0)")
    depth = list(env.stack_depth)
    if err is None:
        # kernel: optimize_bpf_loop (do_misc_fixups) gives an inlined bpf_loop's caller 3 more slots
        for sub in sorted({env.subprog_of(pc) for pc, (_cb, fit) in env.loop_inline.items() if fit}):
            depth[sub] = (depth[sub] + 7) // 8 * 8 + 3 * 8
        for sub in sorted(env.may_goto_seen):
            # kernel: do_misc_fixups, timed may_goto keeps its count and timestamp in 16 bytes
            depth[sub] = (depth[sub] + 7) // 8 * 8 + 16
    if err is None and env.seen_exception and env.exception_cb < 0:
        depth.append(0)  # do_misc_fixups: the hidden default exception callback
    usec = int((time.perf_counter() - started) * 1e6)
    log1: list[str] = []
    if err is not None:
        failing = env.insns.get(err.pc)
        if failing is not None and env.insn_processed:
            log1.append(f"{err.pc}: {format_insn(failing, call_name=_call_name(env))}")
        log1.extend(err.lines)
        env.log.extend(err.lines)
    tail = [
        f"verification time {usec} usec",
        "stack depth " + "+".join(str(d) for d in depth),
        stats_line(env),
    ]
    log2 = _run_on(env.log, tail)
    log1 = _run_on(log1, tail)
    coord = Coord(program.source, program.section, err.pc) if err is not None else None
    return Analysis(
        program=program.name,
        strategy=strategy.name,
        verdict=Verdict.ACCEPTED if err is None else Verdict.UNSUPPORTED if err.missing else Verdict.REJECTED,
        message=err.message if err else None,
        coord=coord,
        log1=tuple(log1),
        log2=tuple(log2),
        stack_depth=tuple(depth),
        insns_processed=env.insn_processed,
        verification_usec=usec,
        throw_sites=tuple(env.throw_sites),
        peak_resources=tuple(env.peak_resources),
        deepest_chain=env.deepest_chain,
        throws_reached=frozenset(env.throws_reached),
        record=VerifierRecord(
            collect(env, len(program.slots)),
            env.tstamp_type_access,
            frozenset(env.seen),
            err is None,
            frozenset(program.subprogs[i].name for i in env.tail_call_reachable if i < len(program.subprogs)),
        ),
        stats=tail[-1],
        missing=err.missing if err is not None else None,
    )
