"""A state kept at a prune point, and the hash that finds an exact repeat of it.

struct bpf_verifier_state_list's entry: the state, its parent in the path, the branches still
being explored below it, and the hit and miss counts is_state_visited keeps. Pruning
(framework.verify.prune), precision (framework.verify.precision) and the iterator and callback
loops (find_prev_entry) walk these chains.
"""

from __future__ import annotations

from framework.verify.regs import RT, Reg, scalar
from framework.verify.stack import Slot
from framework.verify.state import State


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


def _bare(r: Reg) -> Reg:
    return r.with_(precise=False) if r.precise else r


def fingerprint(st: State) -> int:
    """A hash equal for states that are exactly equal, precision aside (the infinite-loop prefilter)."""
    return hash(
        (
            tuple(
                (
                    tuple(_bare(r) for r in f.regs),
                    tuple(
                        (spi, s.types, _bare(s.spilled) if s.spilled else None) for spi, s in sorted(f.stack.items())
                    ),
                    f.callsite,
                )
                for f in st.frames
            ),
            tuple(st.refs),
            st.active_locks,
            st.active_rcu_lock,
            st.active_preempt_locks,
            st.active_irq_id,
            st.may_goto_depth,
            st.callback_unroll_depth,
        )
    )


def prev_entry(st: State, pc: int, include_parent: bool = False) -> State | None:
    # kernel: find_prev_entry (the checkpoint of the previous iteration at this iter_next)
    c = st.parent if include_parent else getattr(st.parent, "parent", None)
    while isinstance(c, Checkpoint):
        if c.state.pc == pc and len(c.state.frames) == len(st.frames):
            return c.state
        c = c.parent
    return None


def widen_imprecise_scalars(old: State, cur: State) -> None:
    # kernel: widen_imprecise_scalars / maybe_widen_reg (an imprecise scalar that changed between
    # iterations becomes unknown; precise ones, which decided something, keep their value)
    def widen(o: Reg | None, c: Reg) -> Reg:
        if o is None or o.type is not RT.SCALAR or c.type is not RT.SCALAR or o.precise or c.precise:
            return c
        return c if o.var == c.var else scalar()

    for fo, fc in zip(old.frames, cur.frames, strict=False):
        fc.regs = [widen(o, c) for o, c in zip(fo.regs, fc.regs, strict=True)]
        for spi, slot in list(fc.stack.items()):
            os = fo.stack.get(spi)
            if slot.spilled is not None and slot.types[7] == "r" and os is not None:
                fc.stack[spi] = Slot(slot.types, widen(os.spilled, slot.spilled))
