"""fixup_kfunc_call: the arguments the kernel patches into bpf_obj_new/obj_drop calls.

bpf_obj_new_impl(local_type_id, meta) becomes `r1 = size; r2 = meta ll; call`;
bpf_obj_drop_impl / bpf_percpu_obj_drop_impl / bpf_refcount_acquire_impl get
`r2 = meta ll` before the call; a list push gets `r3 = meta ll; r4 = node offset`, an rbtree add
the same in r5 and r4 (__fixup_collection_insert_kfunc). `meta` is the struct's btf_struct_meta (NULL when
the type has no special fields: bpf_refcount, lists, rbtrees, locks, kptrs).
The type at each call is the verifier's (`InsnAux.obj_type_id`: obj_new's
constant type argument, the dropped object's type), as insn_aux_data keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.insn import Insn, make
from framework.load.btf import Btf, Kind, parse_btf
from framework.platform.btf_fields import SPECIAL_FIELDS

__all__ = ["META_BASE", "KfuncFix", "kfunc_fixes"]

# a kernel-half address for btf_struct_meta pointers: emitted as movabs, as the kernel's are
META_BASE = 0xFFFF_8880_0BAD_0000
_NEW = ("bpf_obj_new_impl", "bpf_percpu_obj_new_impl")
_DROP = ("bpf_obj_drop_impl", "bpf_percpu_obj_drop_impl", "bpf_refcount_acquire_impl")
_INSERT = ("bpf_list_push_front_impl", "bpf_list_push_back_impl", "bpf_rbtree_add_impl")
_FIXED = frozenset(_NEW + _DROP + _INSERT)


@dataclass(frozen=True, slots=True)
class KfuncFix:
    """What fixup_kfunc_call inserts before one call, and the type id it stood for."""

    pc: int
    name: str
    type_id: int  # the local BTF type (obj_new's original r1); 0 when unknown
    size: int
    meta: int  # 0 for NULL
    node_off: int = 0  # a list push / rbtree add: the node field's offset

    def patch(self, insn: Insn) -> list[Insn]:
        """fixup_kfunc_call's insn_buf for this call."""
        if self.name in _INSERT:
            # kernel: __fixup_collection_insert_kfunc (rbtree_add's `less` moves both one register up)
            meta_reg, off_reg = (4, 5) if self.name == "bpf_rbtree_add_impl" else (3, 4)
            hi = (self.meta >> 32) & 0xFFFFFFFF
            meta_ld = make(op.LD | op.IMM | op.DW, meta_reg, 0, 0, self.meta & 0xFFFFFFFF, hi)
            return [meta_ld, make(op.ALU64 | op.MOV | op.K, off_reg, 0, 0, self.node_off), insn]
        meta = [make(op.LD | op.IMM | op.DW, 2, 0, 0, self.meta & 0xFFFFFFFF, (self.meta >> 32) & 0xFFFFFFFF)]
        if self.name in _NEW:
            return [make(op.ALU64 | op.MOV | op.K, 1, 0, 0, self.size), *meta, insn]
        return [*meta, insn]


def _has_meta(btf: Btf, type_id: int) -> bool:
    """btf_find_struct_meta: does the struct have fields the kernel tracks?"""
    t = btf.type(btf.skip_mods(type_id))
    if t.kind is not Kind.STRUCT:
        return False
    for m in t.members():
        mt = btf.type(btf.skip_mods(m.type))
        if btf.string(mt.name_off) in SPECIAL_FIELDS or mt.kind is Kind.TYPE_TAG:
            return True
        ref = btf.type(m.type)
        if ref.kind is Kind.PTR and btf.type(ref.type).kind is Kind.TYPE_TAG:  # __kptr
            return True
    return False


def kfunc_fixes(
    slots: Slots,
    kfuncs: Sequence[str],
    btf_bytes: bytes,
    types: Mapping[int, int],
    node_offs: Mapping[int, int] | None = None,
) -> dict[int, KfuncFix]:
    """Per call pc, what fixup_kfunc_call inserts (the obj_new/obj_drop family, list pushes and
    rbtree adds); `types` is the local type the verifier saw at each such call (insn_aux's
    obj_new_size / kptr_struct_meta), `node_offs` a push's node offset (insn_aux's node_off)."""
    btf = parse_btf(btf_bytes) if btf_bytes else None
    out: dict[int, KfuncFix] = {}
    for pc, insn in enumerate(slots):
        is_kfunc = insn is not None and insn.kind.value == "call" and insn.src == op.PSEUDO_KFUNC_CALL
        if (
            insn is None
            or not is_kfunc
            or not 0 <= insn.imm < len(kfuncs)
            or kfuncs[insn.imm] not in _NEW + _DROP + _INSERT
        ):
            continue
        name, t = kfuncs[insn.imm], types.get(pc, 0)
        meta = META_BASE + t if btf is not None and t and _has_meta(btf, t) else 0
        size = btf.size(t) if btf is not None and t and name in _NEW else 0
        out[pc] = KfuncFix(pc, name, t, size, meta, (node_offs or {}).get(pc, 0))
    return out
