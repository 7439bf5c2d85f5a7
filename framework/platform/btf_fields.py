"""The special struct types btf_parse_fields tracks in a local object or map value (besides
kptrs), by name: the verifier, the fixup stage and the emulated kernel read this one table."""

from __future__ import annotations

__all__ = [
    "LIST_HEAD",
    "LIST_NODE",
    "RB_NODE",
    "RB_ROOT",
    "REFCOUNT",
    "SPECIAL_FIELDS",
    "SPIN_LOCK",
    "TIMER",
]

LIST_HEAD, LIST_NODE, RB_ROOT, RB_NODE = "bpf_list_head", "bpf_list_node", "bpf_rb_root", "bpf_rb_node"
SPIN_LOCK, REFCOUNT, TIMER = "bpf_spin_lock", "bpf_refcount", "bpf_timer"
SPECIAL_FIELDS = (SPIN_LOCK, REFCOUNT, LIST_HEAD, LIST_NODE, RB_ROOT, RB_NODE, TIMER)  # kernel: btf_parse_fields
