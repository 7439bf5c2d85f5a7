"""References: acquire_reference and release_reference, and what the strategy is told of each."""

from __future__ import annotations

from framework.strategy import Acquired, Released
from framework.verify.env import Env, Reject, reject
from framework.verify.regs import RT, scalar
from framework.verify.state import Ref, RefKind, State


def acquire(env: Env, st: State, pc: int, resource: str, slot: int | None = None) -> int:
    # kernel: acquire_reference; `slot`: the fp offset, in the current frame, of a resource that
    # lives on the stack (an iterator, a dynptr: insn_aux's meta.iter/meta.dynptr spi)
    rid = env.new_id()
    st.refs.append(Ref(RefKind.PTR, rid, pc, resource))
    env.state = env.strategy.on_acquire(env.state, Acquired(pc, env.subprog_of(pc), rid, resource, slot))
    # what this frame holds at once: the references acquired in its subprog and not yet released
    # (a caller's references live in the caller's frame; a resource table keeps them there)
    sub = st.cur.subprog
    held = sum(1 for r in st.refs if r.kind is RefKind.PTR and env.subprog_of(r.insn_idx) == sub)
    if held > env.peak_resources[sub]:
        env.peak_resources[sub] = held
    return rid


def release(env: Env, st: State, pc: int, ref_obj_id: int) -> Reject | None:
    # kernel: release_reference (every copy of the pointer becomes unusable)
    ref = st.ref(ref_obj_id)
    if ref is None:
        return reject(pc, f"release of unknown reference id={ref_obj_id}")
    st.refs = [r for r in st.refs if r.id != ref_obj_id]
    env.state = env.strategy.on_release(
        env.state, Released(pc, env.subprog_of(pc), ref_obj_id, ref.resource, ref.insn_idx)
    )
    # kernel: mark_reg_invalid (privileged: __mark_reg_unknown)
    st.map_regs(lambda r: scalar() if r.ref_obj_id == ref_obj_id and r.type not in (RT.ITER, RT.DYNPTR) else r)
    return None
