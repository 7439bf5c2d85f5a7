"""`hybrid-spill`: Kumar Kartikeya Dwivedi's answer to the resource table (seed thread, 2024).

Where it comes from: the reply keeping the RFC's frame descriptors and spilling
only where they conflict: when two states put different resources (or a
resource and anything but NULL) in one slot or register at one throwing pc, the
resource is spilled right after the instruction that acquires it into an 8-byte
slot reserved for that acquire pc after the subprog's stack, zeroed on entry, and
dropped from the descriptors there, so they merge; the runtime reads those slots
too.

Costs in principle: a store after each conflicting acquire (and the slot cleared
at its release) on the happy path, zeroing on entry; 8 bytes of stack per
conflicting acquire pc, nothing elsewhere; metadata: the descriptors plus the
spill slots. Refuses: only what cannot be spilled (a dynptr or an iterator is an
object on the stack, not a pointer an 8-byte slot can hold), and, as the RFC, a
lost reference and lock, RCU, preempt and IRQ sections.

What it inserts (`rewrite`): at a subprog's entry, one zeroing store per slot it
reserves; after each spilled acquire, `*(u64 *)(r10 + slot) = r0`; before each
release that can release a spilled resource, the slot cleared (one store where the
release releases only that acquire's resource, else a compare of r1 with the slot
and a conditional clear, three instructions per candidate), so the runtime never
releases twice. A spilled resource released in another subprog than the one that
acquired it cannot be cleared through r10; such a program keeps the descriptors'
refusal. The runtime (hybrid_spill.c) is frame-descriptors' and, per frame, a read
of its subprog's slots.

Table encoding: the frame-descriptors table, then u32 spill-slot count and per
slot, in acquire-pc order, {u32 acquire pc; u16 subprog; s16 fp offset; u32 kind}
(12 bytes; kinds numbered as framework.kernel.kinds numbers them).
"""

from __future__ import annotations

import struct
from pathlib import Path

from framework.plugin_api import (
    Analysis,
    Fixed,
    Insertion,
    NativeImage,
    Plan,
    Program,
    Strategy,
    ThrowSite,
    hookimpl,
    insertions,
    interior_pointer,
    kind_id,
    own_stack,
)
from strategies.acquire_slots import AcquireSlot, released_elsewhere, slot_code
from strategies.frame_descriptors import (
    MERGE_FAILED,
    Descriptor,
    FrameDescriptors,
    decode,
    descriptors_of,
    merge_at,
    runtime_form,
)

SLOT_BYTES = 8
UNSPILLABLE = frozenset({"dynptr", "iter_num"})  # objects on the stack, not pointers
_SLOT = struct.Struct("<IHhI")
_RT_SLOT = struct.Struct("<HhB3x")  # hybrid_spill.c struct hs_slot


class HybridSpill(FrameDescriptors):
    name = "hybrid-spill"
    version = "1"
    summary = "Kumar's reply: frame descriptors, spilling into a reserved slot only where they would conflict."
    runtime = Path(__file__).with_suffix(".c")

    def __init__(self) -> None:
        super().__init__()
        self.spilled: set[int] = set()  # acquire pcs whose resource goes to a reserved slot
        self.acquire_subprog: dict[int, int] = {}
        self.acquire_kind: dict[int, str] = {}
        self.released_from: dict[int, set[int]] = {}  # release pc -> the acquire pcs of what it releases
        self.release_subprog: dict[int, int] = {}

    def prepare(self, program: Program) -> Program:
        self.spilled = set()
        self.acquire_subprog = {}
        self.acquire_kind = {}
        self.released_from = {}
        self.release_subprog = {}
        return super().prepare(program)

    def on_acquire(self, pc: int, subprog: int, ref_id: int, kind: str, slot: int | None = None) -> None:
        super().on_acquire(pc, subprog, ref_id, kind, slot)
        self.acquire_subprog[pc] = subprog
        self.acquire_kind[pc] = kind

    def on_release(self, pc: int, subprog: int, ref_id: int, kind: str) -> None:
        self.released_from.setdefault(pc, set()).add(self.acquired.get(ref_id, -1))
        self.release_subprog[pc] = subprog

    def releases_on_throw(self, site: ThrowSite) -> bool:
        # a spill slot a release elsewhere could not clear would be released twice
        return super().releases_on_throw(site) and not self._uncleared()

    def _uncleared(self) -> set[int]:
        """Spilled acquire pcs some release in another subprog releases (its slot is out of r10's reach)."""
        return released_elsewhere(self.released_from, self.acquire_subprog, self.release_subprog) & self.spilled

    def _drop_spilled(self, d: Descriptor) -> Descriptor:
        kept = tuple(e for e in d.entries if e.acquired_at not in self.spilled)
        return Descriptor(d.pc, d.subprog, kept, d.nulls)

    def covered(self, site: ThrowSite) -> set[int]:
        # a spilled resource sits in its reserved slot whatever the program did with it
        return super().covered(site) | {rid for rid, pc in self.acquired.items() if pc in self.spilled}

    def descriptors(self) -> list[Descriptor]:
        # what went to a spill slot is no longer in the descriptors
        return [self._drop_spilled(d) for d in super().descriptors()]

    def on_throw(self, site: ThrowSite) -> str | None:
        refused = interior_pointer(site)
        if refused:
            return refused
        for desc in descriptors_of(site, self.acquired):
            desc = self._drop_spilled(desc)
            old = self.table.get(desc.pc)
            while old is not None:
                got = merge_at(old, desc)
                if isinstance(got, Descriptor):
                    desc = got
                    break
                # the conflict: spill what each side holds there, right after it was acquired
                held = [e for e in (*old.entries, *desc.entries) if e.location == got]
                if not held or any(e.kind in UNSPILLABLE or e.acquired_at < 0 for e in held):
                    return MERGE_FAILED
                self.spilled |= {e.acquired_at for e in held}
                old, desc = self._drop_spilled(old), self._drop_spilled(desc)
            self.table[desc.pc] = desc
        return None

    def reserved_stack(self, subprog: int) -> int:
        return SLOT_BYTES * sum(1 for pc in self.spilled if self.acquire_subprog.get(pc) == subprog)

    def slots(self, depths: tuple[int, ...]) -> list[tuple[int, int, int]]:
        """(acquire pc, subprog, fp offset) of each reserved slot, after the verifier's own stack."""
        out, used = [], dict.fromkeys(range(len(depths)), 0)
        for pc in sorted(self.spilled):
            sub = self.acquire_subprog[pc]
            used[sub] += SLOT_BYTES
            out.append((pc, sub, -(depths[sub] + used[sub])))
        return out

    def rewrite(self, program: Program, analysis: Analysis) -> Plan:
        extra = tuple(self.reserved_stack(i) for i in range(len(analysis.stack_depth)))
        slots = self.slots(own_stack(program))
        blob = self.encode() + struct.pack("<I", len(slots))
        blob += b"".join(_SLOT.pack(pc, sub, off, kind_id(self.acquire_kind[pc])) for pc, sub, off in slots)
        notes = tuple(f"spill after pc {pc} (subprog {sub}) into fp{off}" for pc, sub, off in slots)
        node_offs = {pc: n for pc, _, _ in slots if (n := analysis.record.at(pc).node_off)}
        inserts = self._inserts(program, {pc: off for pc, _, off in slots}, node_offs)
        return Plan(
            self.name,
            metadata=blob,
            extra_stack=extra,
            added_insns=sum(len(i.before) + len(i.after) for i in inserts),
            notes=notes,
            inserts=inserts,
        )

    def _inserts(self, program: Program, slot_of: dict[int, int], node_offs: dict[int, int]) -> tuple[Insertion, ...]:
        slots = {pc: AcquireSlot(self.acquire_subprog[pc], off) for pc, off in slot_of.items()}
        return insertions(*slot_code(program, slots, self.released_from, self.release_subprog, node_offs))

    def runtime_table(self, plan: Plan, fixed: Fixed, image: NativeImage, address: int) -> bytes:
        """frame-descriptors' runtime table, then the spill slots (hybrid_spill.c), from the metadata."""
        descriptors, at = decode(plan.metadata)
        (count,) = struct.unpack_from("<I", plan.metadata, at)
        slots = [_SLOT.unpack_from(plan.metadata, at + 4 + _SLOT.size * i) for i in range(count)]
        spills = b"".join(_RT_SLOT.pack(sub, off, kind) for _, sub, off, kind in slots)
        return runtime_form(descriptors, fixed, image) + struct.pack("<I", count) + spills


@hookimpl
def register_strategies() -> list[Strategy]:
    return [HybridSpill()]
