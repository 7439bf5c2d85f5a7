"""The kfuncs the project knows, with the flags Linux 6.18 registers them with.

One table, every stage reads it: the loader refuses a kfunc not listed here, the
verifier takes acquire/release/NULL behaviour from the flags, the emulated kernel
implements each by name. Flags are the kernel's `KF_*` (include/linux/btf.h), as
registered in kernel/bpf/helpers.c (`generic_btf_ids`, `common_btf_ids`) and
kernel/bpf/cpumask.c; `releases` names the kfunc that releases what an acquire
returns (the pairing the verifier enforces through reference ids).
"""

from __future__ import annotations

from dataclasses import dataclass

ACQUIRE = "KF_ACQUIRE"
RELEASE = "KF_RELEASE"
RET_NULL = "KF_RET_NULL"
RCU = "KF_RCU"
TRUSTED_ARGS = "KF_TRUSTED_ARGS"
ITER_NEW = "KF_ITER_NEW"
ITER_NEXT = "KF_ITER_NEXT"
ITER_DESTROY = "KF_ITER_DESTROY"
RCU_PROTECTED = "KF_RCU_PROTECTED"
DESTRUCTIVE = "KF_DESTRUCTIVE"


@dataclass(frozen=True, slots=True)
class KfuncSpec:
    name: str
    flags: frozenset[str]
    kind: str  # the resource kind it acquires or releases, or "" for none
    cite: str  # where Linux registers it
    released_by: str = ""  # for an acquire: the kfunc or helper that releases it
    nargs: int = 5  # parameters in its BTF prototype (the registers a call reads)


def _k(name: str, flags: tuple[str, ...], kind: str, cite: str, released_by: str = "") -> KfuncSpec:
    return KfuncSpec(name, frozenset(flags), kind, cite, released_by, NARGS[name])


# parameter counts of the kernel's prototypes (include/linux/bpf.h, kernel/bpf/helpers.c, cpumask.c)
NARGS = {
    "bpf_throw": 1,
    "bpf_unwind_resume": 0,
    "bpf_obj_new_impl": 2,
    "bpf_percpu_obj_new_impl": 2,
    "bpf_obj_drop_impl": 2,
    "bpf_percpu_obj_drop_impl": 2,
    "bpf_refcount_acquire_impl": 2,
    "bpf_task_from_pid": 1,
    "bpf_task_from_vpid": 1,
    "bpf_task_acquire": 1,
    "bpf_task_release": 1,
    "bpf_cgroup_acquire": 1,
    "bpf_cgroup_from_id": 1,
    "bpf_cgroup_ancestor": 2,
    "bpf_cgroup_release": 1,
    "bpf_iter_num_new": 3,
    "bpf_iter_num_next": 1,
    "bpf_iter_num_destroy": 1,
    "bpf_rcu_read_lock": 0,
    "bpf_rcu_read_unlock": 0,
    "bpf_preempt_disable": 0,
    "bpf_preempt_enable": 0,
    "bpf_local_irq_save": 1,
    "bpf_local_irq_restore": 1,
    "bpf_dynptr_size": 1,
    "bpf_list_push_front_impl": 4,
    "bpf_list_push_back_impl": 4,
    "bpf_list_pop_front": 1,
    "bpf_list_pop_back": 1,
    "bpf_list_front": 1,
    "bpf_list_back": 1,
    "bpf_rbtree_add_impl": 5,
    "bpf_rbtree_remove": 2,
    "bpf_rbtree_first": 1,
    "bpf_rbtree_root": 1,
    "bpf_rbtree_left": 2,
    "bpf_rbtree_right": 2,
    "bpf_cpumask_create": 0,
    "bpf_cpumask_release": 1,
}


_GENERIC = "kernel/bpf/helpers.c generic_btf_ids"
_COMMON = "kernel/bpf/helpers.c common_btf_ids"

KFUNCS: dict[str, KfuncSpec] = {
    s.name: s
    for s in (
        # bpf_throw never returns; the verifier ends the path (check_kfunc_call, is_bpf_throw_kfunc).
        _k("bpf_throw", (), "", _GENERIC),
        # a landing pad's last call: unwinding goes on to the caller's pad (the 2026 landing-pad
        # series, eddyz87/bpf kernel/bpf/exception.c; in no released kernel)
        _k("bpf_unwind_resume", (), "", "kernel/bpf/exception.c (landing-pad series, unmerged)"),
        _k("bpf_obj_new_impl", (ACQUIRE, RET_NULL), "obj", _GENERIC, "bpf_obj_drop_impl"),
        _k("bpf_percpu_obj_new_impl", (ACQUIRE, RET_NULL), "percpu_obj", _GENERIC, "bpf_percpu_obj_drop_impl"),
        _k("bpf_obj_drop_impl", (RELEASE,), "obj", _GENERIC),
        _k("bpf_percpu_obj_drop_impl", (RELEASE,), "percpu_obj", _GENERIC),
        _k("bpf_refcount_acquire_impl", (ACQUIRE, RET_NULL, RCU), "obj", _GENERIC, "bpf_obj_drop_impl"),
        # lists and rbtrees of local objects (framework.verify.graph): a push or an add hands the
        # object to the collection, a pop or a remove hands it back as an owning reference
        _k("bpf_list_push_front_impl", (), "", _GENERIC),
        _k("bpf_list_push_back_impl", (), "", _GENERIC),
        _k("bpf_list_pop_front", (ACQUIRE, RET_NULL), "obj", _GENERIC, "bpf_obj_drop_impl"),
        _k("bpf_list_pop_back", (ACQUIRE, RET_NULL), "obj", _GENERIC, "bpf_obj_drop_impl"),
        _k("bpf_list_front", (RET_NULL,), "", _GENERIC),
        _k("bpf_list_back", (RET_NULL,), "", _GENERIC),
        _k("bpf_rbtree_add_impl", (), "", _GENERIC),
        _k("bpf_rbtree_remove", (ACQUIRE, RET_NULL), "obj", _GENERIC, "bpf_obj_drop_impl"),
        _k("bpf_rbtree_first", (RET_NULL,), "", _GENERIC),
        _k("bpf_rbtree_root", (RET_NULL,), "", _GENERIC),
        _k("bpf_rbtree_left", (RET_NULL,), "", _GENERIC),
        _k("bpf_rbtree_right", (RET_NULL,), "", _GENERIC),
        _k("bpf_task_from_pid", (ACQUIRE, RET_NULL), "task", _GENERIC, "bpf_task_release"),
        _k("bpf_task_from_vpid", (ACQUIRE, RET_NULL), "task", _GENERIC, "bpf_task_release"),
        _k("bpf_task_acquire", (ACQUIRE, RCU, RET_NULL), "task", _GENERIC, "bpf_task_release"),
        _k("bpf_task_release", (RELEASE,), "task", _GENERIC),
        _k("bpf_cgroup_acquire", (ACQUIRE, RCU, RET_NULL), "cgroup", _GENERIC, "bpf_cgroup_release"),
        _k("bpf_cgroup_from_id", (ACQUIRE, RET_NULL), "cgroup", _GENERIC, "bpf_cgroup_release"),
        _k("bpf_cgroup_ancestor", (ACQUIRE, RCU, RET_NULL), "cgroup", _GENERIC, "bpf_cgroup_release"),
        _k("bpf_cgroup_release", (RELEASE,), "cgroup", _GENERIC),
        _k("bpf_iter_num_new", (ITER_NEW,), "iter_num", _COMMON, "bpf_iter_num_destroy"),
        _k("bpf_iter_num_next", (ITER_NEXT, RET_NULL), "iter_num", _COMMON),
        _k("bpf_iter_num_destroy", (ITER_DESTROY,), "iter_num", _COMMON),
        _k("bpf_rcu_read_lock", (), "rcu", _COMMON),
        _k("bpf_rcu_read_unlock", (), "rcu", _COMMON),
        _k("bpf_preempt_disable", (), "preempt", _COMMON),
        _k("bpf_preempt_enable", (), "preempt", _COMMON),
        _k("bpf_local_irq_save", (), "irq", _COMMON),
        _k("bpf_local_irq_restore", (), "irq", _COMMON),
        _k("bpf_dynptr_size", (), "", _COMMON),
        _k(
            "bpf_cpumask_create",
            (ACQUIRE, RET_NULL),
            "cpumask",
            "kernel/bpf/cpumask.c cpumask_kfunc_btf_ids",
            "bpf_cpumask_release",
        ),
        _k("bpf_cpumask_release", (RELEASE,), "cpumask", "kernel/bpf/cpumask.c cpumask_kfunc_btf_ids"),
    )
}


# kfuncs whose prototype returns void: R0 is left uninitialised after the call (check_kfunc_call)
VOID = frozenset(
    {
        "bpf_throw",
        "bpf_unwind_resume",
        "bpf_obj_drop_impl",
        "bpf_percpu_obj_drop_impl",
        "bpf_task_release",
        "bpf_cgroup_release",
        "bpf_iter_num_destroy",
        "bpf_rcu_read_lock",
        "bpf_rcu_read_unlock",
        "bpf_preempt_disable",
        "bpf_preempt_enable",
        "bpf_local_irq_save",
        "bpf_local_irq_restore",
        "bpf_cpumask_release",
    }
)


# kfuncs of the landing-pad series, in no released kernel (the live kernel has no BTF for them)
UNMERGED = frozenset({"bpf_unwind_resume"})


def is_known(name: str) -> bool:
    return name in KFUNCS
