"""Exits and throws: check_resource_leak, process_bpf_exit_full for bpf_throw, and `ThrowSite`s;
with a `.bpf_cleanup` table, the edges from covered calls into their landing pads."""

from __future__ import annotations

from framework.strategy import Refused
from framework.verify.env import STOP, Env, Outcome, Reject, reject
from framework.verify.regs import MEM_ALLOC, NOT_INIT, RT, Reg
from framework.verify.result import FrameHoldings, Holding, Nullness, Reference, ThrowSite
from framework.verify.stack import SLOT_SIZE, SPILL, ZERO
from framework.verify.state import Ref, RefKind, State


def check_resource_leak(
    env: Env, st: State, pc: int, exception_exit: bool, check_lock: bool, prefix: str, site: ThrowSite | None = None
) -> Reject | None:
    # kernel: check_resource_leak
    if check_lock and st.active_locks:
        return reject(pc, f"{prefix} cannot be used inside bpf_spin_lock-ed region")
    # kernel: check_reference_leak (a normal exit from a subprog keeps the caller's references)
    strategy_releases = exception_exit and site is not None and env.strategy.releases_on_throw(env.state, site)
    if (exception_exit or st.curframe == 0) and not strategy_releases:
        lines = [f"Unreleased reference id={r.id} alloc_insn={r.insn_idx}" for r in st.refs if r.kind is RefKind.PTR]
        if lines:
            return reject(pc, *lines, f"{prefix} would lead to reference leak")
    if check_lock and st.active_irq_id:
        return reject(pc, f"{prefix} cannot be used inside bpf_local_irq_save-ed region")
    if check_lock and st.active_rcu_lock:
        return reject(pc, f"{prefix} cannot be used inside bpf_rcu_read_lock-ed region")
    if check_lock and st.active_preempt_locks:
        return reject(pc, f"{prefix} cannot be used inside bpf_preempt_disable-ed region")
    return None


def _nullness(r: Reg, live: bool) -> Nullness:
    if not live:
        return Nullness.INVALID
    if r.maybe_null:
        return Nullness.MAYBE_NULL
    return Nullness.POINTER


def _interior(r: Reg) -> int:
    # a local object's pointer past its start: a list pop's or rbtree remove's node (mark_reg_graph_node)
    return r.off if r.type is RT.BTF_ID and MEM_ALLOC in r.flags else 0


def _holding(at: int, r: Reg, live: dict[int, Ref]) -> Holding:
    ref = live.get(r.ref_obj_id)
    kind = ref.resource if ref is not None else r.type.value
    acquired_at = ref.insn_idx if ref is not None else -1
    return Holding(at, kind, r.btf_id, r.ref_obj_id, _nullness(r, ref is not None), _interior(r), acquired_at)


def throw_site(env: Env, st: State, pc: int, via_global: bool) -> ThrowSite:
    """Per frame, innermost first: every slot or callee-saved register holding a resource."""
    live = {r.id: r for r in st.refs if r.kind is RefKind.PTR}
    frames = []
    for f in reversed(st.frames):
        held: list[Holding] = []
        nulls: list[int] = []
        for spi in sorted(f.stack):
            s = f.stack[spi]
            r = s.spilled
            if s.types == ZERO * SLOT_SIZE or (
                s.types == SPILL * SLOT_SIZE and r is not None and r.is_const and not r.const
            ):
                nulls.append(-(spi + 1) * SLOT_SIZE)
                continue
            if r is None or not r.ref_obj_id:
                continue
            held.append(_holding(-(spi + 1) * SLOT_SIZE, r, live))
        regnos = (6, 7, 8, 9) if f is not st.cur else (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
        for i in regnos:
            if i < 6 and f is st.cur:
                continue
            r = f.regs[i]
            if r.is_const and not r.const:
                nulls.append(i)
            if r.ref_obj_id and r.type is not RT.SCALAR:
                held.append(_holding(i, r, live))
        frames.append(FrameHoldings(f.subprog, f.callsite, tuple(held), tuple(nulls)))
    refs = tuple(Reference(rid, live[rid].insn_idx, live[rid].resource) for rid in sorted(live))
    return ThrowSite(pc, tuple(frames), via_global, refs)


def process_throw(env: Env, st: State, pc: int, via_global: bool = False) -> Outcome:
    """An exception exit at pc: from every frame at once, no prepare_func_exit."""
    # kernel: check_kfunc_call (bpf_throw) -> process_bpf_exit_full(exception_exit=true)
    env.seen_exception = True
    site = throw_site(env, st, pc, via_global)
    got = env.strategy.on_throw(env.state, site)
    if isinstance(got, Refused):
        return reject(pc, got.message)
    env.state = got
    for i, old in enumerate(env.throw_sites):
        if old.pc == pc and old.via_global == via_global:
            merged = env.strategy.merge_throw_sites(old, site)
            if isinstance(merged, str):
                return reject(pc, merged)
            env.throw_sites[i] = merged
            break
    else:
        env.throw_sites.append(site)
    err = check_resource_leak(env, st, pc, True, True, "bpf_throw", site)
    if err:
        return err
    return STOP


def _pad(env: Env, pc: int) -> int | None:
    for c in env.program.cleanup:
        if c.begin <= pc < c.end:
            return c.pad
    return None


def unwind(env: Env, st: State, pc: int, via_global: bool = False) -> Outcome:
    """An exception at the call at `pc`: into the landing pad of the innermost frame that has one
    for its call (the landing-pad series' edges from covered call sites to their pads), frames
    without one left as an exception leaves them; past main, the exception exit."""
    while True:
        pad = _pad(env, pc)
        if pad is not None:
            for regno in range(6):  # the call's clobbers, as on return; R6-R9 and the stack are the frame's
                st.cur.regs[regno] = NOT_INIT
            return pad
        if st.curframe == 0:
            return process_throw(env, st, pc, via_global)
        pc = st.cur.callsite
        st.frames.pop()


def unwind_resume(env: Env, st: State, pc: int) -> Outcome:
    """bpf_unwind_resume, a pad's last call: on to the caller's pad, or the exception exit from main."""
    if st.curframe == 0:
        return process_throw(env, st, pc)
    callsite = st.cur.callsite
    st.frames.pop()
    return unwind(env, st, callsite)
