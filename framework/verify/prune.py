"""State pruning at the kernel's checkpoints: states_equal (conservative: every scalar precise)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.verify.regs import RT, Reg
from framework.verify.stack import INVALID, Slot
from framework.verify.state import Frame, State

if TYPE_CHECKING:
    from framework.verify.env import Env


class IdMap:
    """check_ids: ids of the old state map one-to-one onto ids of the current state."""

    def __init__(self) -> None:
        self.fwd: dict[int, int] = {}
        self.back: dict[int, int] = {}

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


def regsafe(o: Reg, c: Reg, ids: IdMap, exact: bool = False) -> bool:
    # kernel: regsafe
    if o.type is RT.NOT_INIT:
        return True
    if exact:
        return o == c
    if o.type is not c.type:
        return False
    if o.type is RT.SCALAR:
        return _range_within(o, c)
    if o.flags != c.flags or o.maybe_null != c.maybe_null or o.off != c.off:
        return False
    if not _range_within(o, c) or not ids.check(o.id, c.id) or not ids.check(o.ref_obj_id, c.ref_obj_id):
        return False
    if o.type in (RT.PACKET, RT.PACKET_META):
        return o.range <= c.range
    if o.type is RT.STACK:
        return o.frameno == c.frameno
    if o.type is RT.ITER:
        return o.iter_active == c.iter_active
    return (o.map_index, o.mem_size, o.btf_name, o.subprog) == (c.map_index, c.mem_size, c.btf_name, c.subprog)


def stacksafe(o: Frame, c: Frame, ids: IdMap) -> bool:
    # kernel: stacksafe (an old STACK_INVALID byte matches anything; other bytes must agree)
    for spi, os in o.stack.items():
        cs = c.stack.get(spi, Slot())
        for i in range(8):
            ot = os.types[i]
            if ot == INVALID:
                continue
            if ot != cs.types[i]:
                return False
        special = os.spilled is not None and os.types[7] in ("r", "i", "d")
        if special and (cs.spilled is None or not regsafe(os.spilled, cs.spilled, ids)):  # type: ignore[arg-type]
            return False
    return True


def states_equal(old: State, cur: State, exact: bool = False) -> bool:
    # kernel: states_equal / func_states_equal / refsafe
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
    for fo, fc in zip(old.frames, cur.frames, strict=True):
        for i in range(11):
            if not regsafe(fo.regs[i], fc.regs[i], ids, exact):
                return False
        if not stacksafe(fo, fc, ids):
            return False
    return all(ro.kind is rc.kind and ids.check(ro.id, rc.id) for ro, rc in zip(old.refs, cur.refs, strict=True))


class Checkpoint:
    """A state kept at a prune point (struct bpf_verifier_state_list) and its live descendants."""

    __slots__ = ("branches", "fingerprint", "hit_cnt", "miss_cnt", "parent", "pc", "state")

    def __init__(self, state: State, parent: Checkpoint | None) -> None:
        self.state = state
        self.parent = parent
        self.branches = 1
        self.fingerprint = fingerprint(state)
        self.hit_cnt = 0
        self.miss_cnt = 0
        self.pc = state.pc


def fingerprint(st: State) -> int:
    """A hash equal for states that are exactly equal (the infinite-loop check compares these first)."""
    return hash(
        (
            tuple((tuple(f.regs), tuple(sorted(f.stack.items())), f.callsite) for f in st.frames),
            tuple(st.refs),
            st.active_locks,
            st.active_rcu_lock,
            st.active_preempt_locks,
            st.active_irq_id,
            st.may_goto_depth,
            st.callback_unroll_depth,
        )
    )


def path_done(env: Env, st: State) -> None:
    # kernel: update_branch_counts (a checkpoint whose paths are all done may prune others)
    c = st.parent
    while isinstance(c, Checkpoint):
        c.branches -= 1
        if c.branches > 0:
            break
        group = env.active.get(c.pc, {}).get(c.fingerprint, [])
        if c in group:
            group.remove(c)
            env.explored.setdefault(c.pc, []).append(c)
        c = c.parent
