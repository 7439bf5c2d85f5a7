"""Kfunc calls: which program types may call each, argument checks, acquire/release, and the
open-coded iterators (check_kfunc_call, process_iter_next_call), as Linux 6.18 checks them."""

from __future__ import annotations

from framework.isa.insn import Insn
from framework.platform.kfunc_types import KFUNC_TYPES
from framework.platform.kfuncs import ACQUIRE, KFUNCS, RELEASE, RET_NULL, UNMERGED, VOID
from framework.verify import graph, memory
from framework.verify.aux import record_obj_type
from framework.verify.calls import clobber_caller_saved, dynptr_at
from framework.verify.checkpoint import prev_entry, widen_imprecise_scalars
from framework.verify.env import Env, Outcome, Reject, reject, unsupported
from framework.verify.precision import mark_chain_precision
from framework.verify.refs import acquire, release
from framework.verify.regs import (
    MEM_ALLOC,
    MEM_PERCPU,
    MEM_RDONLY,
    NON_OWN_REF,
    NOT_INIT,
    RT,
    Reg,
    const,
    scalar,
)
from framework.verify.stack import ITER, SLOT_SIZE, Slot, slot_index
from framework.verify.state import Frame, Ref, RefKind, State

_STRUCT = {"task": "task_struct", "cgroup": "cgroup", "cpumask": "bpf_cpumask"}


# kernel: register_btf_kfunc_id_set calls in kernel/bpf/helpers.c and kernel/bpf/cpumask.c
_GENERIC_TYPES = {"tracing", "sched_cls", "sched_act", "xdp", "struct_ops", "syscall", "cgroup_skb", "netfilter", "lsm"}
_CPUMASK_TYPES = {"tracing", "lsm", "struct_ops", "syscall"}


def kfunc_allowed(prog_type: str, name: str) -> bool:
    # kernel: fetch_kfunc_meta -> btf_kfunc_id_set_contains: the live kernel's answer per type
    # (framework.platform.kfunc_types); the landing-pad series' kfuncs go where bpf_throw goes
    spec = KFUNCS.get(name)
    if spec is None:
        return False
    if prog_type in KFUNC_TYPES:
        return (name if name not in UNMERGED else "bpf_throw") in KFUNC_TYPES[prog_type]
    # the types the probe cannot load without a BTF target: the registrations in helpers.c, cpumask.c
    if "common_btf_ids" in spec.cite:
        return True
    if "cpumask" in spec.cite:
        return prog_type in _CPUMASK_TYPES
    return prog_type in _GENERIC_TYPES


def kfunc_name(env: Env, insn: Insn) -> str:
    kf = env.program.kfuncs
    return kf[insn.imm] if 0 <= insn.imm < len(kf) else f"kfunc#{insn.imm}"


def _local_type(env: Env, type_id: int) -> tuple[str, int]:
    try:
        btf = env.parsed_btf()
        return btf.name(type_id), btf.size(type_id)
    except Exception:
        return "", 0


def check_kfunc_call(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_kfunc_call (bpf_throw is handled by the caller)
    name = kfunc_name(env, insn)
    spec = KFUNCS.get(name)
    if spec is None:  # analyzer._step_call refused it as unsupported
        raise AssertionError(name)
    regs = st.cur.regs
    flags = spec.flags
    result: Reg = scalar()
    if name in ("bpf_obj_new_impl", "bpf_percpu_obj_new_impl"):
        tid = regs[1]
        if not env.program.btf:
            return reject(pc, "bpf_obj_new/bpf_percpu_obj_new requires prog BTF")
        if not tid.is_const:
            return reject(pc, "bpf_obj_new/bpf_percpu_obj_new requires prog BTF")
        mark_chain_precision(env, st, 1)  # kernel: check_kfunc_args, a __k argument is precise
        tname, tsize = _local_type(env, tid.const)
        record_obj_type(env, pc, tid.const)
        extra = {MEM_PERCPU} if "percpu" in name else set()
        result = Reg(RT.BTF_ID, flags=frozenset({MEM_ALLOC} | extra), btf_name=tname, btf_id=tid.const, mem_size=tsize)
    elif name in graph.LIST_API or name in graph.RBTREE_API:
        got = graph.check_graph_kfunc(env, st, pc, name)
        if isinstance(got, Reject):
            return got
        result = got
        if RET_NULL in flags and ACQUIRE not in flags:  # kernel: check_kfunc_call, is_kfunc_ret_null
            result = result.with_(maybe_null=True, id=env.new_id())
    elif spec.kind in ("task", "cgroup", "cpumask") and ACQUIRE in flags:
        # kernel: check_kfunc_call, an acquired pointer is plain PTR_TO_BTF_ID (its ref makes it trusted)
        result = Reg(RT.BTF_ID, btf_name=_STRUCT[spec.kind])
    elif name == "bpf_refcount_acquire_impl":
        # kernel: check_kfunc_args, KF_ARG_PTR_TO_REFCOUNTED_KPTR (after the KF_RCU NULL check)
        r = regs[1]
        if r.maybe_null or (r.is_const and r.const == 0):
            return reject(pc, "Possibly NULL pointer passed to trusted arg0")
        if r.type is not RT.BTF_ID or MEM_ALLOC not in r.flags:  # type_is_ptr_alloc_obj
            return reject(pc, "arg#0 is neither owning or non-owning ref")
        if graph.reg_record(env, r).refcount_off < 0:
            return reject(pc, "arg#0 doesn't point to a type with bpf_refcount field")
        record_obj_type(env, pc, r.btf_id)
        # kernel: check_kfunc_call, an owning PTR_TO_BTF_ID | MEM_ALLOC of the argument's type;
        # is_kfunc_ret_null: it may be NULL only when the argument was a non-owning reference
        # (an owning one holds the count above zero)
        result = Reg(RT.BTF_ID, flags=frozenset({MEM_ALLOC}), btf_name=r.btf_name, btf_id=r.btf_id, mem_size=r.mem_size)
        if NON_OWN_REF not in r.flags:
            flags = flags - {RET_NULL}
    elif RELEASE in flags:
        r = regs[1]
        if r.type is RT.NOT_INIT:
            return reject(pc, "R1 !read_ok")
        if r.maybe_null or (r.is_const and r.const == 0):
            return reject(pc, "Possibly NULL pointer passed to trusted arg0")
        want = _STRUCT.get(spec.kind, "")
        if r.type is not RT.BTF_ID:
            if not want:
                return reject(pc, "R1 must be referenced or trusted")
            return reject(pc, f"arg#0 pointer type STRUCT {want} must point to scalar, or struct with scalar")
        if want and r.btf_name != want:
            return reject(
                pc,
                f"kernel function {name} args#0 expected pointer to STRUCT {want} "
                f"but R1 has a pointer to STRUCT {r.btf_name}",
            )
        if not want and (MEM_ALLOC not in r.flags or (MEM_PERCPU in r.flags) != (spec.kind == "percpu_obj")):
            other = "bpf_percpu_obj_drop_impl" if MEM_PERCPU in r.flags else "bpf_obj_drop_impl"
            return reject(pc, f"arg#0 expected for {other}()")
        if not r.ref_obj_id:
            return reject(pc, f"release kernel function {name} expects refcounted PTR_TO_BTF_ID")
        if r.off:
            return reject(pc, "R1 must have zero offset when passed to release func or trusted arg to kfunc")
        if MEM_ALLOC in r.flags:  # kernel: check_kfunc_call, obj_drop's kptr_struct_meta
            record_obj_type(env, pc, r.btf_id)
        err = release(env, st, pc, r.ref_obj_id)
        if err:
            return err
    elif name == "bpf_iter_num_new":
        err = _iter_new(env, st, pc)
        if err:
            return err
    elif name == "bpf_iter_num_next":
        return _iter_next(env, st, pc)
    elif name == "bpf_iter_num_destroy":
        slot, frame, spi = iter_slot(st)
        if slot is None:
            return reject(pc, "expected an initialized iter_num as arg #0")
        frame.stack[spi] = Slot()
        assert slot.spilled is not None
        err = release(env, st, pc, slot.spilled.ref_obj_id)
        if err:
            return err
    elif name == "bpf_dynptr_size":
        # kernel: check_kfunc_args, KF_ARG_PTR_TO_DYNPTR of a const dynptr (process_dynptr_func);
        # the __u32 result is an unknown scalar (mark_btf_func_reg_size narrows no bound)
        if dynptr_at(st, 1) is None:
            return reject(pc, "Expected an initialized dynptr as arg #0")
    elif name == "bpf_local_irq_save":
        r = regs[1]
        if r.type is not RT.STACK:
            return reject(pc, "arg#0 expected pointer to an irq flag on stack")
        if st.active_irq_id:
            pass
        rid = env.new_id()
        st.refs.append(Ref(RefKind.IRQ, rid, pc, "irq"))
        st.active_irq_id = rid
        memory.grow(env, st.frames[r.frameno], r.off)
        st.frames[r.frameno].stack[slot_index(r.off)] = Slot("f" * 8, Reg(RT.SCALAR, ref_obj_id=0, id=rid))
    elif name == "bpf_local_irq_restore":
        r = regs[1]
        slot = st.frames[r.frameno].stack.get(slot_index(r.off)) if r.type is RT.STACK else None
        if slot is None or slot.types[0] != "f":
            return reject(pc, "expected an initialized irq flag as arg#0")
        st.frames[r.frameno].stack[slot_index(r.off)] = Slot()
        st.refs = [x for x in st.refs if x.kind is not RefKind.IRQ or x.id != st.active_irq_id]
        irqs = [x for x in st.refs if x.kind is RefKind.IRQ]
        st.active_irq_id = irqs[-1].id if irqs else 0
    elif name == "bpf_rcu_read_lock":
        st.active_rcu_lock += 1
    elif name == "bpf_rcu_read_unlock":
        if not st.active_rcu_lock:
            return reject(pc, f"unmatched rcu read unlock (kernel function {name})")
        st.active_rcu_lock -= 1
    elif name == "bpf_preempt_disable":
        st.active_preempt_locks += 1
    elif name == "bpf_preempt_enable":
        if not st.active_preempt_locks:
            return reject(pc, f"unmatched attempt to enable preemption (kernel function {name})")
        st.active_preempt_locks -= 1
    else:
        return unsupported(pc, "kfunc", name, "its BTF prototype and flags in the kfunc table and its semantics")
    if ACQUIRE in flags:
        if RET_NULL in flags:
            result = result.with_(maybe_null=True, id=env.new_id())
        rid = acquire(env, st, pc, spec.kind)
        # kernel: check_kfunc_call, is_kfunc_acquire: a NULL-able result's id becomes the ref's id
        result = result.with_(ref_obj_id=rid, id=rid if RET_NULL in flags else result.id)
    clobber_caller_saved(st)
    st.cur.regs[0] = NOT_INIT if name in VOID else result  # release() may have replaced the list
    return pc + 1


def iter_slot(st: State) -> tuple[Slot | None, Frame, int]:
    r = st.cur.regs[1]
    frame = st.frames[r.frameno] if r.type is RT.STACK else st.cur
    spi = slot_index(r.off) if r.type is RT.STACK else -1
    slot = frame.stack.get(spi)
    if r.type is not RT.STACK or slot is None or slot.types[0] != ITER or slot.spilled is None:
        return None, frame, spi
    return slot, frame, spi


def _iter_new(env: Env, st: State, pc: int) -> Reject | None:
    # kernel: process_iter_arg (MEM_UNINIT) -> mark_stack_slots_iter
    r = st.cur.regs[1]
    if r.type is not RT.STACK:
        return reject(pc, "arg#0 expected pointer to an iterator on stack")
    if r.off % SLOT_SIZE:
        return reject(pc, f"cannot pass in iter at an offset={r.off}")
    err = memory.stack_bounds(env, st, pc, 1, r.off, 8, "write to")
    if err:
        return err
    frame = st.frames[r.frameno]
    memory.grow(env, frame, r.off)
    spi = slot_index(r.off)
    old = frame.stack.get(spi)
    if old is not None and old.types[0] == ITER:
        return reject(pc, "expected uninitialized iter_num as arg #0")
    rid = acquire(env, st, pc, "iter_num", r.off if r.frameno == st.curframe else None)
    frame.stack[spi] = Slot(ITER * 8, Reg(RT.ITER, ref_obj_id=rid, iter_active=True, iter_depth=0))
    return None


def _iter_next(env: Env, st: State, pc: int) -> Outcome:
    # kernel: process_iter_next_call
    slot, frame, spi = iter_slot(st)
    if slot is None or slot.spilled is None:
        return reject(pc, "expected an initialized iter_num as arg #0")
    it = slot.spilled
    if it.iter_active:
        queued = st.copy()
        qf = queued.frames[frame.frameno]
        qf.stack[spi] = Slot(ITER * 8, it.with_(iter_depth=it.iter_depth + 1))
        clobber_caller_saved(queued)
        # kernel: the KF_RET_NULL result keeps its id and the iterator's ref_obj_id
        queued.cur.regs[0] = Reg(
            RT.MEM, flags=frozenset({MEM_RDONLY}), mem_size=4, id=env.new_id(), ref_obj_id=it.ref_obj_id
        )
        queued.pc = pc + 1
        prev = prev_entry(st, pc)
        if prev is not None:
            widen_imprecise_scalars(prev, queued)
        env.push(queued)
    frame.stack[spi] = Slot(ITER * 8, it.with_(iter_active=False))
    clobber_caller_saved(st)
    st.cur.regs[0] = const(0)
    return pc + 1
