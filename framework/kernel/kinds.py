"""The resource kinds an unwinder can release, and the kernel function that releases each.

The RFC's bpf_cleanup_resource (PATCH 10/14) dispatches on a descriptor entry's
type: sockets to bpf_sk_release, ring-buffer memory to a discard, a ring-buffer
dynptr to discard_dynptr, MEM_ALLOC objects (per-CPU too) to obj_drop, other
PTR_TO_BTF_ID to the dtor kfunc registered for the BTF id with BPF_DTOR_CLEANUP
(PATCH 12: task, cgroup, cpumask, iterators). Every strategy's runtime names a
kind by its number here; the machine puts one release stub per kind in the
runtime's table, and the emulated kernel runs the very service the program
would have called, recorded as the unwinder's release.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "MAX_KINDS", "ReleaseKind", "kind_id", "release_kind"]


@dataclass(frozen=True, slots=True)
class ReleaseKind:
    id: int  # the number tables and runtimes use (0 is "nothing")
    name: str  # the verifier's resource kind (framework.verify: ThrowSite holdings)
    service: str  # "kfunc" or "helper"
    function: str  # the kfunc, or the helper without its bpf_ prefix
    by_address: bool  # the release takes the slot's address (iterators, dynptrs), not the value it holds


KINDS: tuple[ReleaseKind, ...] = (
    ReleaseKind(1, "obj", "kfunc", "bpf_obj_drop_impl", False),
    ReleaseKind(2, "percpu_obj", "kfunc", "bpf_percpu_obj_drop_impl", False),
    ReleaseKind(3, "ringbuf", "helper", "ringbuf_discard", False),
    ReleaseKind(4, "dynptr", "helper", "ringbuf_discard_dynptr", True),
    ReleaseKind(5, "socket", "helper", "sk_release", False),
    ReleaseKind(6, "task", "kfunc", "bpf_task_release", False),
    ReleaseKind(7, "cgroup", "kfunc", "bpf_cgroup_release", False),
    ReleaseKind(8, "cpumask", "kfunc", "bpf_cpumask_release", False),
    ReleaseKind(9, "iter_num", "kfunc", "bpf_iter_num_destroy", True),
)
MAX_KINDS = 16  # runtime.h BAKEOFF_MAX_KINDS
_BY_NAME = {k.name: k for k in KINDS}
_BY_ID = {k.id: k for k in KINDS}
assert all(0 < k.id < MAX_KINDS for k in KINDS)


def kind_id(name: str) -> int:
    """The number of the kind `name`; KeyError for a kind nothing can release."""
    return _BY_NAME[name].id


def release_kind(number: int) -> ReleaseKind | None:
    return _BY_ID.get(number)
