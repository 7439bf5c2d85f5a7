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
from dataclasses import dataclass, field, replace
from pathlib import Path

from framework.plugin_api import (
    Acquired,
    Analysis,
    Fixed,
    Ledger,
    NativeImage,
    Plan,
    Prepared,
    Program,
    Refused,
    Released,
    Strategy,
    Survey,
    ThrowSite,
    hookimpl,
    insertions,
    interior_pointer,
    kind_id,
    own_stack,
)
from strategies.acquire_slots import AcquireSlot, slot_code
from strategies.descriptors import (
    MERGE_FAILED,
    Descriptor,
    Table,
    covered,
    decode,
    descriptors_of,
    encode,
    merge_at,
    releasable,
    runtime_form,
)

SLOT_BYTES = 8
UNSPILLABLE = frozenset({"dynptr", "iter_num"})  # objects on the stack, not pointers
_SLOT = struct.Struct("<IHhI")
_RT_SLOT = struct.Struct("<HhB3x")  # hybrid_spill.c struct hs_slot


@dataclass(frozen=True)
class Spills:
    """hybrid-spill's state: the descriptors so far, the acquire pcs whose resource goes to a
    reserved slot, and the acquire and release sites (for the slots' stores and clears)."""

    table: Table = field(default_factory=Table)
    spilled: frozenset[int] = frozenset()
    ledger: Ledger = field(default_factory=Ledger)

    def uncleared(self) -> set[int]:
        """Spilled acquire pcs some release in another subprog releases (its slot is out of r10's reach)."""
        return self.ledger.elsewhere() & self.spilled

    def drop_spilled(self, d: Descriptor) -> Descriptor:
        """What went to a spill slot is no longer in the descriptors."""
        kept = tuple(e for e in d.entries if e.acquired_at not in self.spilled)
        return Descriptor(d.pc, d.subprog, kept, d.nulls)

    def reserved(self, subprog: int) -> int:
        """Bytes of the subprog's spill slots."""
        return SLOT_BYTES * sum(1 for pc in self.spilled if self.ledger.acquire_subprog.get(pc) == subprog)

    def slots(self, depths: tuple[int, ...]) -> list[tuple[int, int, int]]:
        """(acquire pc, subprog, fp offset) of each reserved slot, after the verifier's own stack."""
        out, used = [], dict.fromkeys(range(len(depths)), 0)
        for pc in sorted(self.spilled):
            sub = self.ledger.acquire_subprog[pc]
            used[sub] += SLOT_BYTES
            out.append((pc, sub, -(depths[sub] + used[sub])))
        return out


class HybridSpill(Strategy):
    name = "hybrid-spill"
    version = "1"
    summary = "Kumar's reply: frame descriptors, spilling into a reserved slot only where they would conflict."
    runtime = Path(__file__).with_suffix(".c")

    def prepare(self, program: Program, survey: Survey | None = None) -> Prepared:
        return Prepared(program, Spills())

    def on_acquire(self, state: Spills, event: Acquired) -> Spills:
        return replace(state, ledger=state.ledger.acquired(event))

    def on_release(self, state: Spills, event: Released) -> Spills:
        return replace(state, ledger=state.ledger.released(event))

    def releases_on_throw(self, state: Spills, site: ThrowSite) -> bool:
        # a spilled resource sits in its reserved slot whatever the program did with it; a spill
        # slot a release elsewhere could not clear would be released twice
        found = covered(site) | {r.id for r in site.refs if r.acquired_at in state.spilled}
        return releasable(site, found) and not state.uncleared()

    def on_throw(self, state: Spills, site: ThrowSite) -> Spills | Refused:
        refused = interior_pointer(site)
        if refused:
            return Refused(refused)
        for desc in descriptors_of(site):
            desc = state.drop_spilled(desc)
            old = state.table.descriptors.get(desc.pc)
            while old is not None:
                got = merge_at(old, desc)
                if isinstance(got, Descriptor):
                    desc = got
                    break
                # the conflict: spill what each side holds there, right after it was acquired
                held = [e for e in (*old.entries, *desc.entries) if e.location == got]
                if not held or any(e.kind in UNSPILLABLE or e.acquired_at < 0 for e in held):
                    return Refused(MERGE_FAILED)
                state = replace(state, spilled=state.spilled | {e.acquired_at for e in held})
                old, desc = state.drop_spilled(old), state.drop_spilled(desc)
            state = replace(state, table=state.table.put(desc))
        return state

    def reserved_stack(self, state: Spills, subprog: int, peak: int) -> int:
        return state.reserved(subprog)

    def rewrite(self, program: Program, analysis: Analysis, state: Spills) -> Plan:
        extra = tuple(state.reserved(i) for i in range(len(analysis.stack_depth)))
        slots = state.slots(own_stack(program))
        descriptors = [state.drop_spilled(d) for d in state.table.in_order()]
        blob = encode(descriptors) + struct.pack("<I", len(slots))
        blob += b"".join(_SLOT.pack(pc, sub, off, kind_id(state.ledger.kind(pc))) for pc, sub, off in slots)
        notes = tuple(f"spill after pc {pc} (subprog {sub}) into fp{off}" for pc, sub, off in slots)
        node_offs = {pc: n for pc, _, _ in slots if (n := analysis.record.at(pc).node_off)}
        spill_slots = {pc: AcquireSlot(sub, off) for pc, sub, off in slots}
        led = state.ledger
        inserts = insertions(*slot_code(program, spill_slots, led.released_from, led.release_subprog, node_offs))
        return Plan(
            self.name,
            metadata=blob,
            extra_stack=extra,
            added_insns=sum(len(i.before) + len(i.after) for i in inserts),
            notes=notes,
            inserts=inserts,
        )

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
