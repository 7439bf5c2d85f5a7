"""do_misc_fixups' map_gen_lookup for array maps: bpf_map_lookup_elem inlined.

When the verifier saw one map at the call on every path (record_func_map,
`InsnAux.map_index`) and it is a plain `array` (not an inner map), the call becomes array_map_gen_lookup's
instructions: r1 += offsetof(struct bpf_array, value); r0 = index; bounds check
against max_entries (no index mask: bypass_spec_v1 for root); scale by the
element size; r0 += r1; or r0 = 0. The engine then gives such a map's ld_imm64
an address `ARRAY_VALUE_OFFSET` below its first element.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.insn import Insn, make
from framework.isa.opcodes import Kind
from framework.load.program import MapDef

__all__ = ["ARRAY_VALUE_OFFSET", "array_lookup_patch", "inlined_lookups"]

ARRAY_VALUE_OFFSET = 0x138  # offsetof(struct bpf_array, value), Linux 6.18.44 x86-64
BPF_FUNC_MAP_LOOKUP_ELEM = 1
BPF_F_INNER_MAP = 1 << 12


def inlined_lookups(slots: Slots, maps: Sequence[MapDef], map_at: Mapping[int, int]) -> dict[int, MapDef]:
    """Per call pc, the array map whose lookup the kernel inlines there (`map_at`: the map the
    verifier saw at each map helper call, -1 where paths passed different maps)."""
    out = {}
    for pc, idx in map_at.items():
        insn = slots[pc]
        if insn is None or insn.kind is not Kind.CALL or insn.src != op.CALL_HELPER:
            continue
        if insn.imm != BPF_FUNC_MAP_LOOKUP_ELEM or not 0 <= idx < len(maps):
            continue  # a poisoned map_ptr_state (-1) is not inlined
        mdef = maps[idx]
        if mdef.map_type == "array" and not mdef.flags & BPF_F_INNER_MAP:
            out[pc] = mdef
    return out


def array_lookup_patch(mdef: MapDef) -> list[Insn]:
    """array_map_gen_lookup (map->bypass_spec_v1: no index mask)."""
    elem = (mdef.value_size + 7) // 8 * 8
    scale = (
        make(op.ALU64 | op.LSH | op.K, 0, 0, 0, elem.bit_length() - 1)
        if elem & (elem - 1) == 0
        else make(op.ALU64 | op.MUL | op.K, 0, 0, 0, elem)
    )
    return [
        make(op.ALU64 | op.ADD | op.K, 1, 0, 0, ARRAY_VALUE_OFFSET),
        make(op.LDX | op.MEM | op.W, 0, 2, 0),
        make(op.JMP | op.JGE | op.K, 0, 0, 3, mdef.max_entries),
        scale,
        make(op.ALU64 | op.ADD | op.X, 0, 1),
        make(op.JMP | op.JA, 0, 0, 1),
        make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0),
    ]
