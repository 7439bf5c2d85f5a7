"""Which kfuncs each program type may call, as the live kernel answered (generated: do not edit).

Kernel: 6.18.44-fc-v1300 #1 SMP PREEMPT_DYNAMIC @0.
Regenerate: python -m framework.oracle.kfunc_probe (as root, on the kernel to follow).
A type absent here is judged by framework.verify.calls' registration rule.
"""

from __future__ import annotations

__all__ = ["KERNEL", "KFUNC_TYPES"]

KERNEL = "6.18.44-fc-v1300 #1 SMP PREEMPT_DYNAMIC @0"

# prog type -> the kfuncs (of framework.platform.kfuncs) a kfunc set registered for it gives
# fmt: off
KFUNC_TYPES: dict[str, frozenset[str]] = {
    "socket_filter": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "kprobe": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "sched_cls": frozenset(  # 36 kfuncs
        {
            "bpf_cgroup_acquire", "bpf_cgroup_ancestor", "bpf_cgroup_from_id", "bpf_cgroup_release",
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_list_back", "bpf_list_front", "bpf_list_pop_back", "bpf_list_pop_front",
            "bpf_list_push_back_impl", "bpf_list_push_front_impl", "bpf_local_irq_restore",
            "bpf_local_irq_save", "bpf_obj_drop_impl", "bpf_obj_new_impl", "bpf_percpu_obj_drop_impl",
            "bpf_percpu_obj_new_impl", "bpf_preempt_disable", "bpf_preempt_enable", "bpf_rbtree_add_impl",
            "bpf_rbtree_first", "bpf_rbtree_left", "bpf_rbtree_remove", "bpf_rbtree_right",
            "bpf_rbtree_root", "bpf_rcu_read_lock", "bpf_rcu_read_unlock", "bpf_refcount_acquire_impl",
            "bpf_task_acquire", "bpf_task_from_pid", "bpf_task_from_vpid", "bpf_task_release", "bpf_throw",
        }
    ),
    "sched_act": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "tracepoint": frozenset(  # 38 kfuncs
        {
            "bpf_cgroup_acquire", "bpf_cgroup_ancestor", "bpf_cgroup_from_id", "bpf_cgroup_release",
            "bpf_cpumask_create", "bpf_cpumask_release", "bpf_dynptr_size", "bpf_iter_num_destroy",
            "bpf_iter_num_new", "bpf_iter_num_next", "bpf_list_back", "bpf_list_front", "bpf_list_pop_back",
            "bpf_list_pop_front", "bpf_list_push_back_impl", "bpf_list_push_front_impl",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_obj_drop_impl", "bpf_obj_new_impl",
            "bpf_percpu_obj_drop_impl", "bpf_percpu_obj_new_impl", "bpf_preempt_disable",
            "bpf_preempt_enable", "bpf_rbtree_add_impl", "bpf_rbtree_first", "bpf_rbtree_left",
            "bpf_rbtree_remove", "bpf_rbtree_right", "bpf_rbtree_root", "bpf_rcu_read_lock",
            "bpf_rcu_read_unlock", "bpf_refcount_acquire_impl", "bpf_task_acquire", "bpf_task_from_pid",
            "bpf_task_from_vpid", "bpf_task_release", "bpf_throw",
        }
    ),
    "xdp": frozenset(  # 36 kfuncs
        {
            "bpf_cgroup_acquire", "bpf_cgroup_ancestor", "bpf_cgroup_from_id", "bpf_cgroup_release",
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_list_back", "bpf_list_front", "bpf_list_pop_back", "bpf_list_pop_front",
            "bpf_list_push_back_impl", "bpf_list_push_front_impl", "bpf_local_irq_restore",
            "bpf_local_irq_save", "bpf_obj_drop_impl", "bpf_obj_new_impl", "bpf_percpu_obj_drop_impl",
            "bpf_percpu_obj_new_impl", "bpf_preempt_disable", "bpf_preempt_enable", "bpf_rbtree_add_impl",
            "bpf_rbtree_first", "bpf_rbtree_left", "bpf_rbtree_remove", "bpf_rbtree_right",
            "bpf_rbtree_root", "bpf_rcu_read_lock", "bpf_rcu_read_unlock", "bpf_refcount_acquire_impl",
            "bpf_task_acquire", "bpf_task_from_pid", "bpf_task_from_vpid", "bpf_task_release", "bpf_throw",
        }
    ),
    "perf_event": frozenset(  # 38 kfuncs
        {
            "bpf_cgroup_acquire", "bpf_cgroup_ancestor", "bpf_cgroup_from_id", "bpf_cgroup_release",
            "bpf_cpumask_create", "bpf_cpumask_release", "bpf_dynptr_size", "bpf_iter_num_destroy",
            "bpf_iter_num_new", "bpf_iter_num_next", "bpf_list_back", "bpf_list_front", "bpf_list_pop_back",
            "bpf_list_pop_front", "bpf_list_push_back_impl", "bpf_list_push_front_impl",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_obj_drop_impl", "bpf_obj_new_impl",
            "bpf_percpu_obj_drop_impl", "bpf_percpu_obj_new_impl", "bpf_preempt_disable",
            "bpf_preempt_enable", "bpf_rbtree_add_impl", "bpf_rbtree_first", "bpf_rbtree_left",
            "bpf_rbtree_remove", "bpf_rbtree_right", "bpf_rbtree_root", "bpf_rcu_read_lock",
            "bpf_rcu_read_unlock", "bpf_refcount_acquire_impl", "bpf_task_acquire", "bpf_task_from_pid",
            "bpf_task_from_vpid", "bpf_task_release", "bpf_throw",
        }
    ),
    "cgroup_skb": frozenset(  # 36 kfuncs
        {
            "bpf_cgroup_acquire", "bpf_cgroup_ancestor", "bpf_cgroup_from_id", "bpf_cgroup_release",
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_list_back", "bpf_list_front", "bpf_list_pop_back", "bpf_list_pop_front",
            "bpf_list_push_back_impl", "bpf_list_push_front_impl", "bpf_local_irq_restore",
            "bpf_local_irq_save", "bpf_obj_drop_impl", "bpf_obj_new_impl", "bpf_percpu_obj_drop_impl",
            "bpf_percpu_obj_new_impl", "bpf_preempt_disable", "bpf_preempt_enable", "bpf_rbtree_add_impl",
            "bpf_rbtree_first", "bpf_rbtree_left", "bpf_rbtree_remove", "bpf_rbtree_right",
            "bpf_rbtree_root", "bpf_rcu_read_lock", "bpf_rcu_read_unlock", "bpf_refcount_acquire_impl",
            "bpf_task_acquire", "bpf_task_from_pid", "bpf_task_from_vpid", "bpf_task_release", "bpf_throw",
        }
    ),
    "cgroup_sock": frozenset(  # 36 kfuncs
        {
            "bpf_cgroup_acquire", "bpf_cgroup_ancestor", "bpf_cgroup_from_id", "bpf_cgroup_release",
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_list_back", "bpf_list_front", "bpf_list_pop_back", "bpf_list_pop_front",
            "bpf_list_push_back_impl", "bpf_list_push_front_impl", "bpf_local_irq_restore",
            "bpf_local_irq_save", "bpf_obj_drop_impl", "bpf_obj_new_impl", "bpf_percpu_obj_drop_impl",
            "bpf_percpu_obj_new_impl", "bpf_preempt_disable", "bpf_preempt_enable", "bpf_rbtree_add_impl",
            "bpf_rbtree_first", "bpf_rbtree_left", "bpf_rbtree_remove", "bpf_rbtree_right",
            "bpf_rbtree_root", "bpf_rcu_read_lock", "bpf_rcu_read_unlock", "bpf_refcount_acquire_impl",
            "bpf_task_acquire", "bpf_task_from_pid", "bpf_task_from_vpid", "bpf_task_release", "bpf_throw",
        }
    ),
    "lwt_in": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "lwt_out": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "lwt_xmit": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "sock_ops": frozenset(  # 36 kfuncs
        {
            "bpf_cgroup_acquire", "bpf_cgroup_ancestor", "bpf_cgroup_from_id", "bpf_cgroup_release",
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_list_back", "bpf_list_front", "bpf_list_pop_back", "bpf_list_pop_front",
            "bpf_list_push_back_impl", "bpf_list_push_front_impl", "bpf_local_irq_restore",
            "bpf_local_irq_save", "bpf_obj_drop_impl", "bpf_obj_new_impl", "bpf_percpu_obj_drop_impl",
            "bpf_percpu_obj_new_impl", "bpf_preempt_disable", "bpf_preempt_enable", "bpf_rbtree_add_impl",
            "bpf_rbtree_first", "bpf_rbtree_left", "bpf_rbtree_remove", "bpf_rbtree_right",
            "bpf_rbtree_root", "bpf_rcu_read_lock", "bpf_rcu_read_unlock", "bpf_refcount_acquire_impl",
            "bpf_task_acquire", "bpf_task_from_pid", "bpf_task_from_vpid", "bpf_task_release", "bpf_throw",
        }
    ),
    "sk_skb": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "cgroup_device": frozenset(  # 36 kfuncs
        {
            "bpf_cgroup_acquire", "bpf_cgroup_ancestor", "bpf_cgroup_from_id", "bpf_cgroup_release",
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_list_back", "bpf_list_front", "bpf_list_pop_back", "bpf_list_pop_front",
            "bpf_list_push_back_impl", "bpf_list_push_front_impl", "bpf_local_irq_restore",
            "bpf_local_irq_save", "bpf_obj_drop_impl", "bpf_obj_new_impl", "bpf_percpu_obj_drop_impl",
            "bpf_percpu_obj_new_impl", "bpf_preempt_disable", "bpf_preempt_enable", "bpf_rbtree_add_impl",
            "bpf_rbtree_first", "bpf_rbtree_left", "bpf_rbtree_remove", "bpf_rbtree_right",
            "bpf_rbtree_root", "bpf_rcu_read_lock", "bpf_rcu_read_unlock", "bpf_refcount_acquire_impl",
            "bpf_task_acquire", "bpf_task_from_pid", "bpf_task_from_vpid", "bpf_task_release", "bpf_throw",
        }
    ),
    "sk_msg": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "raw_tracepoint": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "cgroup_sock_addr": frozenset(  # 36 kfuncs
        {
            "bpf_cgroup_acquire", "bpf_cgroup_ancestor", "bpf_cgroup_from_id", "bpf_cgroup_release",
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_list_back", "bpf_list_front", "bpf_list_pop_back", "bpf_list_pop_front",
            "bpf_list_push_back_impl", "bpf_list_push_front_impl", "bpf_local_irq_restore",
            "bpf_local_irq_save", "bpf_obj_drop_impl", "bpf_obj_new_impl", "bpf_percpu_obj_drop_impl",
            "bpf_percpu_obj_new_impl", "bpf_preempt_disable", "bpf_preempt_enable", "bpf_rbtree_add_impl",
            "bpf_rbtree_first", "bpf_rbtree_left", "bpf_rbtree_remove", "bpf_rbtree_right",
            "bpf_rbtree_root", "bpf_rcu_read_lock", "bpf_rcu_read_unlock", "bpf_refcount_acquire_impl",
            "bpf_task_acquire", "bpf_task_from_pid", "bpf_task_from_vpid", "bpf_task_release", "bpf_throw",
        }
    ),
    "lwt_seg6local": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "sk_reuseport": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "flow_dissector": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "cgroup_sysctl": frozenset(  # 36 kfuncs
        {
            "bpf_cgroup_acquire", "bpf_cgroup_ancestor", "bpf_cgroup_from_id", "bpf_cgroup_release",
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_list_back", "bpf_list_front", "bpf_list_pop_back", "bpf_list_pop_front",
            "bpf_list_push_back_impl", "bpf_list_push_front_impl", "bpf_local_irq_restore",
            "bpf_local_irq_save", "bpf_obj_drop_impl", "bpf_obj_new_impl", "bpf_percpu_obj_drop_impl",
            "bpf_percpu_obj_new_impl", "bpf_preempt_disable", "bpf_preempt_enable", "bpf_rbtree_add_impl",
            "bpf_rbtree_first", "bpf_rbtree_left", "bpf_rbtree_remove", "bpf_rbtree_right",
            "bpf_rbtree_root", "bpf_rcu_read_lock", "bpf_rcu_read_unlock", "bpf_refcount_acquire_impl",
            "bpf_task_acquire", "bpf_task_from_pid", "bpf_task_from_vpid", "bpf_task_release", "bpf_throw",
        }
    ),
    "raw_tracepoint_writable": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "cgroup_sockopt": frozenset(  # 36 kfuncs
        {
            "bpf_cgroup_acquire", "bpf_cgroup_ancestor", "bpf_cgroup_from_id", "bpf_cgroup_release",
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_list_back", "bpf_list_front", "bpf_list_pop_back", "bpf_list_pop_front",
            "bpf_list_push_back_impl", "bpf_list_push_front_impl", "bpf_local_irq_restore",
            "bpf_local_irq_save", "bpf_obj_drop_impl", "bpf_obj_new_impl", "bpf_percpu_obj_drop_impl",
            "bpf_percpu_obj_new_impl", "bpf_preempt_disable", "bpf_preempt_enable", "bpf_rbtree_add_impl",
            "bpf_rbtree_first", "bpf_rbtree_left", "bpf_rbtree_remove", "bpf_rbtree_right",
            "bpf_rbtree_root", "bpf_rcu_read_lock", "bpf_rcu_read_unlock", "bpf_refcount_acquire_impl",
            "bpf_task_acquire", "bpf_task_from_pid", "bpf_task_from_vpid", "bpf_task_release", "bpf_throw",
        }
    ),
    "sk_lookup": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
    "syscall": frozenset(  # 38 kfuncs
        {
            "bpf_cgroup_acquire", "bpf_cgroup_ancestor", "bpf_cgroup_from_id", "bpf_cgroup_release",
            "bpf_cpumask_create", "bpf_cpumask_release", "bpf_dynptr_size", "bpf_iter_num_destroy",
            "bpf_iter_num_new", "bpf_iter_num_next", "bpf_list_back", "bpf_list_front", "bpf_list_pop_back",
            "bpf_list_pop_front", "bpf_list_push_back_impl", "bpf_list_push_front_impl",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_obj_drop_impl", "bpf_obj_new_impl",
            "bpf_percpu_obj_drop_impl", "bpf_percpu_obj_new_impl", "bpf_preempt_disable",
            "bpf_preempt_enable", "bpf_rbtree_add_impl", "bpf_rbtree_first", "bpf_rbtree_left",
            "bpf_rbtree_remove", "bpf_rbtree_right", "bpf_rbtree_root", "bpf_rcu_read_lock",
            "bpf_rcu_read_unlock", "bpf_refcount_acquire_impl", "bpf_task_acquire", "bpf_task_from_pid",
            "bpf_task_from_vpid", "bpf_task_release", "bpf_throw",
        }
    ),
    "netfilter": frozenset(  # 10 kfuncs
        {
            "bpf_dynptr_size", "bpf_iter_num_destroy", "bpf_iter_num_new", "bpf_iter_num_next",
            "bpf_local_irq_restore", "bpf_local_irq_save", "bpf_preempt_disable", "bpf_preempt_enable",
            "bpf_rcu_read_lock", "bpf_rcu_read_unlock",
        }
    ),
}
# fmt: on
