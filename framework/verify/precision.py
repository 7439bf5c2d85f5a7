"""Precision tracking: which scalars must match exactly for a state to be pruned.

A scalar is *precise* in a checkpoint when some decision after it depended on
its value (a branch the verifier could predict, a size, a pointer offset, a
return code). Only precise scalars are compared by range at NOT_EXACT
(regsafe); imprecise ones match any scalar. The kernel finds them by walking
back over what the path executed (__mark_chain_precision, backtrack_insn);
this module does the same over `State.history`, one (pc, aux) entry per
executed instruction since the state's checkpoint, where aux is the stack slot
a load or store touched (INSN_F_STACK_ACCESS) or the registers a branch linked
(INSN_F_LINKED_REGS). Where the walk meets something it does not follow, it
does what the kernel does on -ENOTSUPP: mark every scalar precise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from framework.isa import opcodes as op
from framework.isa.opcodes import Kind
from framework.verify.checkpoint import Checkpoint
from framework.verify.regs import RT
from framework.verify.stack import SPILL, Slot
from framework.verify.state import State

if TYPE_CHECKING:
    from framework.verify.env import Env

MAX_BACKEDGE_ITERS = 64  # kernel: MAX_BACKEDGE_ITERS (propagate_backedges)

# aux of a history entry: a stack access is (frameno, spi); a branch's linked registers are a
# tuple of (frameno, regno) with regno >= 0, or (frameno, -1 - spi) for a spilled copy
Linked = tuple[tuple[int, int], ...]


def stack_slot(aux: object) -> tuple[int, int] | None:
    """The (frameno, spi) a load, store or atomic touched, from a history entry's aux."""
    if isinstance(aux, tuple) and len(aux) == 2 and isinstance(aux[0], int) and isinstance(aux[1], int):
        return (aux[0], aux[1])
    return None


def _linked(aux: object) -> Linked:
    """The registers a branch linked, from a history entry's aux (empty for anything else)."""
    if isinstance(aux, tuple) and aux and isinstance(aux[0], tuple):
        return aux
    return ()


class _Unsupported(Exception):
    """backtrack_insn's -ENOTSUPP: fall back to marking every scalar precise."""


@dataclass
class Backtrack:
    """struct backtrack_state: registers and stack slots still wanted, per frame."""

    frame: int
    regs: dict[int, set[int]] = field(default_factory=dict)
    slots: dict[int, set[int]] = field(default_factory=dict)

    def empty(self) -> bool:
        return not any(self.regs.values()) and not any(self.slots.values())

    def r(self, fr: int | None = None) -> set[int]:
        return self.regs.setdefault(self.frame if fr is None else fr, set())

    def s(self, fr: int) -> set[int]:
        return self.slots.setdefault(fr, set())


def _sync_linked(bt: Backtrack, linked: Linked) -> None:
    # kernel: bt_sync_linked_regs (one linked register wanted: all of them)
    def wanted(fr: int, x: int) -> bool:
        return x in bt.r(fr) if x >= 0 else (-1 - x) in bt.s(fr)

    if any(wanted(fr, x) for fr, x in linked):
        for fr, x in linked:
            if x >= 0:
                bt.r(fr).add(x)
            else:
                bt.s(fr).add(-1 - x)


def _backtrack_insn(env: Env, pc: int, subseq: int, aux: object, bt: Backtrack) -> None:
    # kernel: backtrack_insn (what is wanted after pc becomes what is wanted before it)
    insn = env.insns[pc]
    k = insn.kind
    regs = bt.r()
    slot = stack_slot(aux)
    _sync_linked(bt, _linked(aux))
    if k is Kind.ALU:
        if insn.dst not in regs:
            return
        if insn.op == op.MOV:
            regs.discard(insn.dst)
            if insn.uses_reg_src and insn.src != 10:
                regs.add(insn.src)
        elif insn.uses_reg_src:
            if insn.src == 10:
                raise _Unsupported
            regs.add(insn.src)
        return
    if k in (Kind.NEG, Kind.END, Kind.JA, Kind.MAY_GOTO):
        return
    if k is Kind.LD_IMM64:
        regs.discard(insn.dst)
        return
    if k is Kind.LOAD:
        if insn.dst not in regs:
            return
        regs.discard(insn.dst)
        if slot is not None:
            bt.s(slot[0]).add(slot[1])
        return
    if k in (Kind.STORE_REG, Kind.STORE_IMM):
        if slot is None:
            return
        fr, spi = slot
        if spi not in bt.s(fr):
            return
        bt.s(fr).discard(spi)
        if k is Kind.STORE_REG:
            regs.add(insn.src)
        return
    if k is Kind.ATOMIC:
        slot_wanted = slot is not None and slot[1] in bt.s(slot[0])
        fetched = insn.imm & op.FETCH and (insn.src in regs or (insn.imm == op.CMPXCHG and 0 in regs))
        if slot_wanted or fetched:
            raise _Unsupported
        return
    if k is Kind.JCOND:
        if insn.uses_reg_src and (insn.dst in regs or insn.src in regs):
            regs.add(insn.dst)
            regs.add(insn.src)
        _sync_linked(bt, _linked(aux))
        return
    if k is Kind.EXIT:
        # backwards over an exit: into the callee's frame (R6-R9 and slots stay with the caller)
        if subseq in env.callback_calls:
            regs -= {0, 1, 2, 3, 4, 5}  # a callback's exit: R0-R5 are the helper's business
            r0 = False
        else:
            after_call = env.insns.get(subseq - 1)
            if after_call is None or after_call.kind is not Kind.CALL or after_call.src != op.PSEUDO_CALL:
                raise _Unsupported
            if regs & {1, 2, 3, 4, 5}:
                raise _Unsupported  # kernel: verifier_bug "backtracking exit unexpected regs"
            r0 = 0 in regs
            regs.discard(0)
        bt.frame += 1
        bt.r().clear()
        bt.s(bt.frame).clear()
        if r0:
            bt.r().add(0)
        return
    if k is Kind.CALL:
        entered = subseq != pc + 1
        if entered and (insn.src == op.PSEUDO_CALL or pc in env.callback_calls):
            # backwards over a call into a static subprog or a callback: out of the callee
            if regs - {1, 2, 3, 4, 5} or bt.s(bt.frame):
                raise _Unsupported  # kernel: verifier_bug "static subprog unexpected regs"
            args = set(regs) if insn.src == op.PSEUDO_CALL else set()  # a callback's R1-R5 are not
            regs.clear()  # the caller's registers: they come from the helper
            bt.frame -= 1
            bt.r().update(args)
            return
        if entered:
            raise _Unsupported
        regs.discard(0)
        if regs & {1, 2, 3, 4, 5}:
            raise _Unsupported  # kernel: verifier_bug "backtracking call unexpected regs"
        return
    if k is Kind.LD_PKT:
        if regs & {0, 1, 2, 3, 4, 5}:
            raise _Unsupported
        return
    raise _Unsupported


def _walk(env: Env, history: list[tuple[int, object]], bt: Backtrack, subseq: int, skip_last: bool) -> int:
    """Backtrack one state's history (newest first); the pc of its first entry, or -1 when done."""
    entries = history[:-1] if skip_last else history
    if skip_last and history:
        subseq = history[-1][0]
    for pc, aux in reversed(entries):
        _backtrack_insn(env, pc, subseq, aux, bt)
        if bt.empty():
            return -1
        subseq = pc
    return subseq


def _mark_in(st: State, bt: Backtrack) -> bool:
    """Mark what bt wants as precise in a checkpoint's state; drop what already was (and non-scalars)."""
    changed = False
    for fr in range(bt.frame, -1, -1):
        if fr >= len(st.frames):
            raise _Unsupported
        frame = st.frames[fr]
        for regno in sorted(bt.r(fr)):
            r = frame.regs[regno]
            if r.type is not RT.SCALAR or r.precise:
                bt.r(fr).discard(regno)
                continue
            frame.regs[regno] = r.with_(precise=True)
            changed = True
        for spi in sorted(bt.s(fr)):
            slot = frame.stack.get(spi)
            sp = slot.spilled if slot is not None else None
            if slot is None or sp is None or slot.types[7] != SPILL or sp.type is not RT.SCALAR or sp.precise:
                bt.s(fr).discard(spi)
                continue
            frame.stack[spi] = Slot(slot.types, sp.with_(precise=True))
            changed = True
    return changed


def _chain(env: Env, st: State, bt: Backtrack, skip_last: bool) -> bool:
    # kernel: __mark_chain_precision
    changed = False
    try:
        subseq = _walk(env, st.history, bt, -1, skip_last)
        cp = st.parent
        while subseq >= 0 and isinstance(cp, Checkpoint):
            if len(cp.state.frames) != bt.frame + 1:
                raise _Unsupported
            changed |= _mark_in(cp.state, bt)
            if bt.empty():
                break
            subseq = _walk(env, cp.state.history, bt, subseq, False)
            cp = cp.parent
    except _Unsupported:
        changed |= mark_all_precise(st)
    return changed


def mark_all_precise(st: State) -> bool:
    # kernel: mark_all_scalars_precise (every checkpoint of this path; not the current state)
    changed = False
    cp = st.parent
    while isinstance(cp, Checkpoint):
        for f in cp.state.frames:
            for i, r in enumerate(f.regs):
                if r.type is RT.SCALAR and not r.precise:
                    f.regs[i] = r.with_(precise=True)
                    changed = True
            for spi, s in list(f.stack.items()):
                if s.spilled is not None and s.spilled.type is RT.SCALAR and not s.spilled.precise:
                    f.stack[spi] = Slot(s.types, s.spilled.with_(precise=True))
                    changed = True
        cp = cp.parent
    return changed


def mark_chain_precision(env: Env, st: State, regno: int) -> None:
    """The value of `regno` in the current frame decides something at the current instruction."""
    r = st.cur.regs[regno]
    if r.type is not RT.SCALAR or regno == 10:
        return
    bt = Backtrack(st.curframe)
    bt.r().add(regno)
    _chain(env, st, bt, skip_last=True)


def mark_slot_precision(env: Env, st: State, frameno: int, spi: int) -> None:
    """The spilled scalar at (frameno, spi) decides something at the current instruction."""
    bt = Backtrack(st.curframe)
    bt.s(frameno).add(spi)
    _chain(env, st, bt, skip_last=True)


def propagate_precision(env: Env, old: State, cur: State, live: dict[int, int], skip_last: bool = False) -> bool:
    # kernel: propagate_precision (what was precise in the state that pruned cur is precise in cur's past)
    bt = Backtrack(cur.curframe)
    for fr, f in enumerate(old.frames):
        mask = live.get(fr, 0x3FF)
        for i, r in enumerate(f.regs[:10]):
            if r.type is RT.SCALAR and r.precise and mask >> i & 1:
                bt.r(fr).add(i)
        for spi, s in f.stack.items():
            if s.spilled is not None and s.types[7] == SPILL and s.spilled.type is RT.SCALAR and s.spilled.precise:
                bt.s(fr).add(spi)
    if bt.empty():
        return False
    return _chain(env, cur, bt, skip_last)


def linked_regs(st: State, ids: set[int]) -> Linked:
    """collect_linked_regs: every scalar copy, in every frame, sharing one of `ids`."""
    out: list[tuple[int, int]] = []
    for fr, f in enumerate(st.frames):
        for i, r in enumerate(f.regs):
            if r.type is RT.SCALAR and r.id in ids:
                out.append((fr, i))
        for spi, s in f.stack.items():
            if s.spilled is not None and s.types[7] == SPILL and s.spilled.type is RT.SCALAR and s.spilled.id in ids:
                out.append((fr, -1 - spi))
    return tuple(out) if len(out) > 1 else ()
