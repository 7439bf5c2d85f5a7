"""The emulated kernel's lists and rbtrees of local objects (kernel/bpf/helpers.c, the graph kfuncs).

A root (bpf_list_head, bpf_rb_root in a map value or an object) is kept as the ordered list of
the node addresses it holds; each node remembers its owner, as bpf_list_node_kern.owner and
bpf_rb_node_kern.owner do. A push or an add takes the program's reference to the object (the
ledger records its release: the collection owns the object now, nothing leaks); a pop or a
remove gives a new reference back. The rbtree is kept sorted by the program's `less` callback,
called as the kernel's __bpf_rbtree_add calls it (less(new, existing)), by a binary search over
the sorted nodes: O(log n) callbacks per add, as the tree's descent makes, though not always the
same count or the same pairs as a red-black tree of the same keys would. bpf_rbtree_root, _left
and _right expose the tree's shape, which this model does not keep: they are not emulated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from framework.kernel.api import Engine, KernelFault, NotEmulated
from framework.kernel.registry import EINVAL, kfunc_service, neg_errno

if TYPE_CHECKING:
    from framework.kernel.services import EmulatedKernel


def _object_of(k: EmulatedKernel, node: int) -> int:
    """The base of the allocated object holding `node` (the kernel's `node - off`)."""
    for base, alloc in k._allocs.items():
        if base <= node < base + len(alloc.region.data):
            return base
    raise KernelFault(f"0x{node:x} is not inside an object from bpf_obj_new")


def _hand_over(k: EmulatedKernel, root: int, node: int, e: Engine, by: str) -> int:
    """The program's reference goes to the collection, or is dropped when the node has an owner."""
    base = _object_of(k, node)
    if node in k.graph_owner:
        # kernel: __bpf_list_add / __bpf_rbtree_add: a node already in a collection is dropped, -EINVAL
        k._drop_obj("obj", base, e, by)
        return -1
    k._release("obj", base, e, by)
    k.graph_owner[node] = root
    return base


@kfunc_service("bpf_list_push_front_impl", "bpf_list_push_back_impl")
def _list_push(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    head, node, by = a[0], a[1], k.current_kfunc
    if _hand_over(k, head, node, e, by) < 0:
        return neg_errno(EINVAL)
    nodes = k.graphs.setdefault(head, [])
    if by == "bpf_list_push_front_impl":
        nodes.insert(0, node)
    else:
        nodes.append(node)
    return 0


def _take(k: EmulatedKernel, root: int, node: int, e: Engine, by: str) -> int:
    """`node` leaves its collection and comes back to the program as an owning reference."""
    k.graphs[root].remove(node)
    del k.graph_owner[node]
    k._acquire("obj", _object_of(k, node), e, by)
    return node


@kfunc_service("bpf_list_pop_front", "bpf_list_pop_back")
def _list_pop(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    nodes = k.graphs.get(a[0], [])
    if not nodes:
        return 0
    front = k.current_kfunc == "bpf_list_pop_front"
    return _take(k, a[0], nodes[0] if front else nodes[-1], e, k.current_kfunc)


@kfunc_service("bpf_list_front", "bpf_list_back")
def _list_peek(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    nodes = k.graphs.get(a[0], [])
    if not nodes:
        return 0
    return nodes[0] if k.current_kfunc == "bpf_list_front" else nodes[-1]


@kfunc_service("bpf_rbtree_add_impl")
def _rbtree_add(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    root, node, less = a[0], a[1], a[2]
    if _hand_over(k, root, node, e, "bpf_rbtree_add_impl") < 0:
        return neg_errno(EINVAL)
    nodes = k.graphs.setdefault(root, [])
    lo, hi = 0, len(nodes)
    while lo < hi:  # an equal key goes right of the nodes already there, as the kernel's descent
        mid = (lo + hi) // 2
        if e.invoke(less, (node, nodes[mid], 0, 0, 0)) & 0xFF:
            hi = mid
        else:
            lo = mid + 1
    nodes.insert(lo, node)
    return 0


@kfunc_service("bpf_rbtree_first")
def _rbtree_first(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    nodes = k.graphs.get(a[0], [])
    return nodes[0] if nodes else 0


@kfunc_service("bpf_rbtree_remove")
def _rbtree_remove(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_rbtree_remove (NULL unless the node is in this tree)
    if k.graph_owner.get(a[1]) != a[0]:
        return 0
    return _take(k, a[0], a[1], e, "bpf_rbtree_remove")


@kfunc_service("bpf_rbtree_root", "bpf_rbtree_left", "bpf_rbtree_right")
def _rbtree_shape(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    raise NotEmulated(f"kfunc {k.current_kfunc} is not emulated: the model keeps an rbtree's order, not its shape")
