"""Allocated objects, tasks, cgroups, cpumasks, locks and sections, bpf_loop and the numeric iterator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from framework.kernel.api import Engine
from framework.kernel.objects import ROOT_CGROUP_ID
from framework.kernel.registry import E2BIG, EINVAL, KFUNCS, as_s32, helper_service, kfunc_service, neg_errno

if TYPE_CHECKING:
    from framework.kernel.services import EmulatedKernel


BPF_MAX_LOOPS = 8 * 1024 * 1024  # bpf_loop's and bpf_iter_num_new's limit


@helper_service("loop")
def _loop(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel/bpf/bpf_iter.c bpf_loop: callback(i, ctx); a nonzero return stops after i + 1
    nr, flags = a[0] & 0xFFFFFFFF, a[3]
    if flags:
        return neg_errno(EINVAL)
    if nr > BPF_MAX_LOOPS:
        return neg_errno(E2BIG)
    for i in range(nr):
        if e.invoke(a[1], (i, a[2], 0, 0, 0)):
            return i + 1
    return nr


@helper_service("spin_lock")
def _spin_lock(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k.memory.store(a[0], 4, 1)
    k._acquire("spin_lock", a[0], e, "bpf_spin_lock")
    return 0


@helper_service("spin_unlock")
def _spin_unlock(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k.memory.store(a[0], 4, 0)
    k._release("spin_lock", a[0], e, "bpf_spin_unlock")
    return 0


def _section(kind: str, enter: str, leave: str) -> None:
    """A nesting section (RCU read side, preemption off): each level is one ledger entry."""

    def on_enter(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
        k._acquire(kind, 0, e, enter)
        return 0

    def on_leave(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
        k._release(kind, 0, e, leave)
        return 0

    KFUNCS[enter] = on_enter
    KFUNCS[leave] = on_leave


_section("rcu", "bpf_rcu_read_lock", "bpf_rcu_read_unlock")
_section("preempt", "bpf_preempt_disable", "bpf_preempt_enable")


@kfunc_service("bpf_local_irq_save")
def _irq_save(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k.memory.store(a[0], 8, 0x246)  # the saved flags (IF set), opaque to the program
    k._acquire("irq", a[0], e, "bpf_local_irq_save")
    return 0


@kfunc_service("bpf_local_irq_restore")
def _irq_restore(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._release("irq", a[0], e, "bpf_local_irq_restore")
    return 0


@kfunc_service("bpf_obj_new_impl")
def _obj_new(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return k._new_obj("obj", a[0] & 0xFFFFFFFF, e, "bpf_obj_new_impl")


@kfunc_service("bpf_percpu_obj_new_impl")
def _percpu_obj_new(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return k._new_obj("percpu_obj", a[0] & 0xFFFFFFFF, e, "bpf_percpu_obj_new_impl")


@kfunc_service("bpf_obj_drop_impl")
def _obj_drop(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return k._drop_obj("obj", a[0], e, "bpf_obj_drop_impl")


@kfunc_service("bpf_percpu_obj_drop_impl")
def _percpu_obj_drop(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return k._drop_obj("percpu_obj", a[0], e, "bpf_percpu_obj_drop_impl")


@kfunc_service("bpf_refcount_acquire_impl")
def _refcount_acquire(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # refcount_inc_not_zero: NULL once the object is gone
    alloc = k._allocs.get(a[0])
    if alloc is None or alloc.refs == 0:
        gone = [r for r in k.ledger.resources if r.kind == "obj" and r.handle == a[0]]
        if gone:
            k.ledger.use(gone[-1], e.pc, "bpf_refcount_acquire_impl")
        return 0
    alloc.refs += 1
    k._acquire("obj", a[0], e, "bpf_refcount_acquire_impl")
    return a[0]


@kfunc_service("bpf_task_from_pid", "bpf_task_from_vpid")
def _task_from_pid(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    task = k.objects.find_task(as_s32(a[0]))
    if task is None:
        return 0
    k._acquire("task", task.addr, e, "bpf_task_from_pid")
    return task.addr


@kfunc_service("bpf_task_acquire")
def _task_acquire(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._acquire("task", a[0], e, "bpf_task_acquire")
    return a[0]


@kfunc_service("bpf_task_release")
def _task_release(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._release("task", a[0], e, "bpf_task_release")
    return 0


@kfunc_service("bpf_cgroup_from_id")
def _cgroup_from_id(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    cgrp = k.objects.cgroups.get(a[0])
    if cgrp is None:
        return 0
    k._acquire("cgroup", cgrp.addr, e, "bpf_cgroup_from_id")
    return cgrp.addr


@kfunc_service("bpf_cgroup_acquire")
def _cgroup_acquire(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._acquire("cgroup", a[0], e, "bpf_cgroup_acquire")
    return a[0]


@kfunc_service("bpf_cgroup_ancestor")
def _cgroup_ancestor(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # every declared cgroup is a child of the root: level 0 is the root, its own level is itself
    cgrp = k.objects.by_address(a[0])
    level = as_s32(a[1])
    if cgrp is None or cgrp.kind != "cgroup":
        return 0
    own_level = int.from_bytes(k.memory.read(a[0] + _cgroup_level_offset(), 4), "little", signed=True)
    if level == own_level:
        target = cgrp
    elif level == 0:
        target = k.objects.cgroups[ROOT_CGROUP_ID]
    else:
        return 0
    k._acquire("cgroup", target.addr, e, "bpf_cgroup_ancestor")
    return target.addr


def _cgroup_level_offset() -> int:
    from framework.kernel.objects import cgroup_layout

    return cgroup_layout()[0]


@kfunc_service("bpf_cgroup_release")
def _cgroup_release(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._release("cgroup", a[0], e, "bpf_cgroup_release")
    return 0


@kfunc_service("bpf_cpumask_create")
def _cpumask_create(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    region = k.memory.map("cpumask", "object", bytes(16))
    region.resource = k._acquire("cpumask", region.base, e, "bpf_cpumask_create").id
    return region.base


@kfunc_service("bpf_cpumask_release")
def _cpumask_release(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._release("cpumask", a[0], e, "bpf_cpumask_release")
    return 0


@kfunc_service("bpf_iter_num_new")
def _iter_num_new(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # struct bpf_iter_num_kern { int cur; int end; }: cur starts one before `start`
    it, start, end = a[0], as_s32(a[1]), as_s32(a[2])
    k._acquire("iter_num", it, e, "bpf_iter_num_new")  # destroy is due even when new fails
    if start > end:
        k.memory.write(it, bytes(8))
        return neg_errno(EINVAL)
    if end - start > BPF_MAX_LOOPS:
        k.memory.write(it, bytes(8))
        return neg_errno(E2BIG)
    k.memory.write(it, (start - 1).to_bytes(4, "little", signed=True) + end.to_bytes(4, "little", signed=True))
    return 0


@kfunc_service("bpf_iter_num_next")
def _iter_num_next(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    raw = k.memory.read(a[0], 8)
    cur, end = int.from_bytes(raw[0:4], "little", signed=True), int.from_bytes(raw[4:8], "little", signed=True)
    if cur + 1 >= end:
        k.memory.write(a[0], bytes(8))
        return 0
    k.memory.write(a[0], (cur + 1).to_bytes(4, "little", signed=True))
    return a[0]  # &s->cur


@kfunc_service("bpf_iter_num_destroy")
def _iter_num_destroy(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k.memory.write(a[0], bytes(8))
    k._release("iter_num", a[0], e, "bpf_iter_num_destroy")
    return 0
