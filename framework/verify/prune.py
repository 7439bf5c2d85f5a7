"""State pruning at the kernel's checkpoints: where they are (mark_prune_points), is_state_visited
and states_equal, and loops (SCC visits)."""

from __future__ import annotations

from dataclasses import dataclass, field

from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind
from framework.verify import kfunc_calls, timers
from framework.verify.checkpoint import Checkpoint, fingerprint
from framework.verify.env import Env
from framework.verify.precision import linked_regs, propagate_precision
from framework.verify.regs import RT, Reg, scalar
from framework.verify.stack import DYNPTR, EMPTY, INVALID, ITER, MISC, SPILL, ZERO, Slot, slot_index
from framework.verify.state import Frame, State


class IdMap:
    """check_ids: ids of the old state map one-to-one onto ids of the current state."""

    def __init__(self) -> None:
        self.fwd: dict[int, int] = {}
        self.back: dict[int, int] = {}
        self.tmp = 0

    def fresh(self) -> int:
        # kernel: idmap->tmp_id_gen (negative here, so never equal to a real id)
        self.tmp -= 1
        return self.tmp

    def check(self, old: int, cur: int) -> bool:
        if not old and not cur:
            return True
        if not old or not cur:
            return False
        if self.fwd.get(old, cur) != cur or self.back.get(cur, old) != old:
            return False
        self.fwd[old] = cur
        self.back[cur] = old
        return True


def _range_within(o: Reg, c: Reg) -> bool:
    # kernel: range_within + tnum_in
    a, b = o.var, c.var
    return (
        a.smin <= b.smin
        and b.smax <= a.smax
        and a.umin <= b.umin
        and b.umax <= a.umax
        and a.s32_min <= b.s32_min
        and b.s32_max <= a.s32_max
        and a.u32_min <= b.u32_min
        and b.u32_max <= a.u32_max
        and a.var_off.includes(b.var_off)
    )


# enum exact_level
NOT_EXACT, RANGE_WITHIN, EXACT = 0, 1, 2


def _regs_exact(o: Reg, c: Reg, ids: IdMap) -> bool:
    # kernel: regs_exact (every field before `id`, then the ids through the map; never `precise`)
    bare = {"id": 0, "ref_obj_id": 0, "precise": False}
    return o.with_(**bare) == c.with_(**bare) and ids.check(o.id, c.id) and ids.check(o.ref_obj_id, c.ref_obj_id)


def regsafe(o: Reg, c: Reg, ids: IdMap, exact: int = NOT_EXACT) -> bool:
    # kernel: regsafe
    if o.type is RT.NOT_INIT and (exact == NOT_EXACT or c.type is RT.NOT_INIT):
        return True
    if exact == EXACT:
        return _regs_exact(o, c, ids)
    if o.type is not c.type:
        return False
    if o.type is RT.SCALAR:
        if not o.precise and exact == NOT_EXACT:
            return True
        # kernel: check_scalar_ids (an old id must map one-to-one; a current id of 0 is fresh)
        if o.id and not ids.check(o.id, c.id or ids.fresh()):
            return False
        return _range_within(o, c)
    if o.flags != c.flags or o.maybe_null != c.maybe_null or o.off != c.off:
        return False
    if not _range_within(o, c) or not ids.check(o.id, c.id) or not ids.check(o.ref_obj_id, c.ref_obj_id):
        return False
    if o.type in (RT.PACKET, RT.PACKET_META):
        return o.range <= c.range
    if o.type is RT.STACK:
        return o.frameno == c.frameno
    return (o.map_index, o.mem_size, o.btf_name, o.subprog) == (c.map_index, c.mem_size, c.btf_name, c.subprog)


_UNBOUND = scalar()


def _scalar_for_stack(s: Slot) -> Reg | None:
    # kernel: scalar_reg_for_stack (a spilled scalar, or eight MISC bytes read as an unbound scalar)
    if s.types[7] == SPILL and s.spilled is not None and s.spilled.type is RT.SCALAR:
        return s.spilled
    if s.types == MISC * 8:
        return _UNBOUND
    return None


def _special_safe(o: Reg, c: Reg, ids: IdMap) -> bool:
    # kernel: stacksafe, STACK_ITER / STACK_DYNPTR (iter.depth is ignored)
    bare = {"ref_obj_id": 0, "id": 0, "iter_depth": 0, "precise": False}
    return o.with_(**bare) == c.with_(**bare) and ids.check(o.ref_obj_id, c.ref_obj_id)


def stacksafe(env: Env, o: Frame, c: Frame, ids: IdMap, exact: int) -> bool:
    # kernel: stacksafe
    for spi, os in o.stack.items():
        cs = c.stack.get(spi, EMPTY)
        if exact != NOT_EXACT and os.types != cs.types:
            return False
        o_reg = c_reg = None
        for i in range(8):
            ot, ct = os.types[i], cs.types[i]
            if ot == INVALID or (env.allow_uninit_stack and ot == MISC):
                continue
            if o_reg is None:
                o_reg, c_reg = _scalar_for_stack(os), _scalar_for_stack(cs)
                if o_reg is not None and c_reg is not None:
                    if not regsafe(o_reg, c_reg, ids, exact):
                        return False
                    break
                o_reg = _UNBOUND  # looked once: not a scalar pair
            if ot == MISC and ct == ZERO:
                continue
            if ot != ct:
                return False
        else:
            t = os.types[7]
            if t == SPILL:
                if os.spilled is None or cs.spilled is None or not regsafe(os.spilled, cs.spilled, ids, exact):
                    return False
            elif (
                t in (ITER, DYNPTR)
                and os.spilled is not None
                and (cs.spilled is None or not _special_safe(os.spilled, cs.spilled, ids))
            ):
                return False
    return True


def frame_insn(st: State, i: int) -> int:
    # kernel: frame_insn_idx (an outer frame stands at its callee's call site)
    return st.pc if i == len(st.frames) - 1 else st.frames[i + 1].callsite


def live_at(env: Env, st: State, i: int) -> int:
    """live_regs_before at frame i's instruction (every register where the pc is unknown)."""
    return env.live.get(frame_insn(st, i), 0x3FF)


def states_equal(env: Env, old: State, cur: State, exact: int = NOT_EXACT) -> bool:
    # kernel: states_equal / func_states_equal (only registers live at the frame's insn) / refsafe
    if len(old.frames) != len(cur.frames):
        return False
    if (old.active_locks, old.active_rcu_lock, old.active_preempt_locks, old.active_irq_id) != (
        cur.active_locks,
        cur.active_rcu_lock,
        cur.active_preempt_locks,
        cur.active_irq_id,
    ):
        return False
    if len(old.refs) != len(cur.refs):
        return False
    ids = IdMap()
    for fo, fc in zip(old.frames, cur.frames, strict=True):
        if fo.callsite != fc.callsite:
            return False
    for i, (fo, fc) in enumerate(zip(old.frames, cur.frames, strict=True)):
        live = live_at(env, old, i)
        for r in range(10):
            if live >> r & 1 and not regsafe(fo.regs[r], fc.regs[r], ids, exact):
                return False
        if not stacksafe(env, fo, fc, ids, exact):
            return False
    return all(
        ro.kind is rc.kind and ro.ptr == rc.ptr and ids.check(ro.id, rc.id)
        for ro, rc in zip(old.refs, cur.refs, strict=True)
    )


# ---------------------------------------------------------------- loops: SCC visits and backedges


@dataclass
class SccVisit:
    """struct bpf_scc_visit: the first checkpoint that entered a loop on one call chain, and the
    states pruned against a checkpoint whose precision marks were not final yet."""

    entry: Checkpoint | None = None
    backedges: list[tuple[Checkpoint, State]] = field(default_factory=list)


def scc_callchain(env: Env, st: State) -> tuple[tuple[int, ...], int] | None:
    # kernel: compute_scc_callchain (call sites up to the first frame standing in a loop)
    sites: list[int] = []
    for i in range(len(st.frames)):
        pc = frame_insn(st, i)
        scc = env.scc.get(pc, 0)
        if scc:
            return tuple(sites), scc
        if i == len(st.frames) - 1:
            return None
        sites.append(pc)
    return None


def maybe_enter_scc(env: Env, cp: Checkpoint) -> None:
    # kernel: maybe_enter_scc
    chain = scc_callchain(env, cp.state)
    if chain is None:
        return
    visit = env.scc_visits.setdefault(chain, SccVisit())
    if visit.entry is None:
        visit.entry = cp


def incomplete_read_marks(env: Env, cp: Checkpoint) -> bool:
    # kernel: incomplete_read_marks (a loop whose backedges still wait for precision)
    chain = scc_callchain(env, cp.state)
    visit = env.scc_visits.get(chain) if chain is not None else None
    return visit is not None and bool(visit.backedges)


def add_backedge(env: Env, cp: Checkpoint, cur: State) -> None:
    # kernel: add_scc_backedge
    chain = scc_callchain(env, cp.state)
    if chain is None:
        return
    env.scc_visits.setdefault(chain, SccVisit()).backedges.append((cp, cur))


def _maybe_exit_scc(env: Env, cp: Checkpoint) -> None:
    # kernel: maybe_exit_scc -> propagate_backedges (until the marks stop changing)
    from framework.verify.precision import MAX_BACKEDGE_ITERS, mark_all_precise, propagate_precision

    chain = scc_callchain(env, cp.state)
    visit = env.scc_visits.get(chain) if chain is not None else None
    if visit is None or visit.entry is not cp:
        return
    visit.entry = None
    for _ in range(MAX_BACKEDGE_ITERS):
        changed = False
        for old, cur in visit.backedges:
            changed |= propagate_precision(env, old.state, cur, live_masks(env, old.state))
        if not changed:
            break
    else:
        for _old, cur in visit.backedges:
            mark_all_precise(cur)
    visit.backedges.clear()


def live_masks(env: Env, st: State) -> dict[int, int]:
    return {i: live_at(env, st, i) for i in range(len(st.frames))}


def path_done(env: Env, st: State) -> None:
    # kernel: update_branch_counts (a checkpoint whose paths are all done may prune others)
    c = st.parent
    while isinstance(c, Checkpoint):
        c.branches -= 1
        if c.branches > 0:
            break
        _maybe_exit_scc(env, c)
        group = env.active.get(c.pc, {}).get(c.fingerprint, [])
        if c in group:
            group.remove(c)
            env.explored.setdefault(c.pc, []).append(c)
        c = c.parent


# ---------------------------------------------------------------- checkpoints


def mark_prune_points(env: Env) -> None:
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
            if insn.src == op.PSEUDO_KFUNC_CALL and kfunc_calls.kfunc_name(env, insn) == "bpf_iter_num_next":
                env.prune_points.add(pc)
                env.force_checkpoints.add(pc)
            if insn.src == 0 and insn.imm == timers.TIMER_SET_CALLBACK:
                env.prune_points.add(pc)  # is_async_callback_calling_insn: checked before a new async state
            kfunc = kfunc_calls.kfunc_name(env, insn) if insn.src == op.PSEUDO_KFUNC_CALL else ""
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
    slot, _frame, _spi = kfunc_calls.iter_slot(st)
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


def history_aux(st: State, insn: Insn) -> object:
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
