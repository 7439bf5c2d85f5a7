"""A slot per acquire pc, as hybrid-spill, resource-table-inline and landing-pads' cleanup
slots keep one: the code that keeps it right, shared by the three.

The slot sits in the acquiring subprog's frame (an fp offset). The inserted code zeroes
it on the subprog's entry, stores the acquired value right after the acquire, and clears
it before each release of what it holds, so nothing reads a stale value at a throw. A
release clears only slots of its own frame (r10 reaches no other): where it releases
only what one slot holds, one store; otherwise, per candidate slot, `r0 = slot; if r0 !=
r1 goto +1; slot = 0` (r0 is dead before the call, r1 holds the value released).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from framework.plugin_api import Insn, Program, make, op

__all__ = ["AcquireSlot", "fp_plus", "slot_code", "zero"]


@dataclass(frozen=True, slots=True)
class AcquireSlot:
    subprog: int  # the acquiring subprog, whose frame holds the slot
    off: int  # its fp offset
    address_of: int | None = None  # an iterator or dynptr: the fp offset of the object the slot keeps the address of


def zero(off: int) -> Insn:
    """`*(u64 *)(r10 + off) = 0`"""
    return make(op.ST | op.MEM | op.DW, 10, 0, off, 0)


def fp_plus(dst: int, off: int) -> list[Insn]:
    """`dst = r10; dst += off`"""
    return [make(op.ALU64 | op.MOV | op.X, dst, 10), make(op.ALU64 | op.ADD | op.K, dst, 0, 0, off & 0xFFFFFFFF)]


def _store(off: int, src: int) -> Insn:
    return make(op.STX | op.MEM | op.DW, 10, src, off)


def slot_code(
    program: Program,
    slots: Mapping[int, AcquireSlot],
    released_from: Mapping[int, Collection[int]],
    release_subprog: Mapping[int, int],
    node_offs: Mapping[int, int] | None = None,
) -> tuple[dict[int, list[Insn]], dict[int, list[Insn]]]:
    """(before, after): instructions to insert before and after original pcs, for `slots`
    (acquire pc -> slot); `released_from`: release pc -> the acquire pcs of what it releases;
    `node_offs`: acquire pc -> how far into its object the result points (a list pop's or an
    rbtree remove's node): the slot keeps the object's start, and NULL as NULL."""
    before: dict[int, list[Insn]] = {}
    after: dict[int, list[Insn]] = {}
    for pc, slot in sorted(slots.items()):
        before.setdefault(program.subprogs[slot.subprog].start, []).append(zero(slot.off))  # zeroed on entry
        node_off = (node_offs or {}).get(pc)
        if node_off:  # r1 = r0; if r1 == 0 goto +1; r1 -= node_off; *(slot) = r1 (r1-r5 are dead)
            after.setdefault(pc, []).extend(
                [
                    make(op.ALU64 | op.MOV | op.X, 1, 0),
                    make(op.JMP | op.JEQ | op.K, 1, 0, 1, 0),
                    make(op.ALU64 | op.ADD | op.K, 1, 0, 0, -node_off & 0xFFFFFFFF),
                    _store(slot.off, 1),
                ]
            )
        elif slot.address_of is None:
            after.setdefault(pc, []).append(_store(slot.off, 0))
        else:  # r1-r5 are dead after the call
            fp = [
                make(op.ALU64 | op.MOV | op.X, 1, 10),
                make(op.ALU64 | op.ADD | op.K, 1, 0, 0, slot.address_of & 0xFFFFFFFF),
            ]
            after.setdefault(pc, []).extend([*fp, _store(slot.off, 1)])
    for pc, sources in sorted(released_from.items()):
        mine = sorted(a for a in sources if a in slots and slots[a].subprog == release_subprog.get(pc))
        if len(mine) == 1 and set(sources) == set(mine):
            before.setdefault(pc, []).append(zero(slots[mine[0]].off))
            continue
        for a in mine:
            off = slots[a].off
            before.setdefault(pc, []).extend(
                [make(op.LDX | op.MEM | op.DW, 0, 10, off), make(op.JMP | op.JNE | op.X, 0, 1, 1), zero(off)]
            )
    return before, after
