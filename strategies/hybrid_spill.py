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

Built so far: the verifier's side (which acquire pcs spill, what the descriptors
keep), the reserved stack and the table. The rewrite that inserts the stores and
the runtime are not built yet (`Plan.added_insns` is None, `runtime` is None).

Table encoding: the frame-descriptors table, then u32 spill-slot count and per
slot, in acquire-pc order, {u32 acquire pc; u16 subprog; s16 fp offset} (8 bytes).
"""

from __future__ import annotations

import struct

from framework import hookimpl
from framework.load.program import Program
from framework.plan import Plan
from framework.strategy import Strategy
from framework.verify.result import Analysis, ThrowSite
from strategies.frame_descriptors import MERGE_FAILED, Descriptor, FrameDescriptors, _frame_descriptors, merge_at

SLOT_BYTES = 8
UNSPILLABLE = frozenset({"dynptr", "iter_num"})  # objects on the stack, not pointers
_SLOT = struct.Struct("<IHh")


class HybridSpill(FrameDescriptors):
    name = "hybrid-spill"
    version = "0"
    summary = "Kumar's reply: frame descriptors, spilling into a reserved slot only where they would conflict."

    def __init__(self) -> None:
        super().__init__()
        self.spilled: set[int] = set()  # acquire pcs whose resource goes to a reserved slot
        self.acquire_subprog: dict[int, int] = {}
        self.depths: dict[int, int] = {}

    def prepare(self, program: Program) -> Program:
        self.spilled = set()
        self.acquire_subprog = {}
        return super().prepare(program)

    def on_acquire(self, pc: int, subprog: int, ref_id: int, kind: str) -> None:
        super().on_acquire(pc, subprog, ref_id, kind)
        self.acquire_subprog[pc] = subprog

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
        for desc in _frame_descriptors(site, self.acquired):
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
        own = tuple(d - e for d, e in zip(analysis.stack_depth, extra, strict=False))
        slots = self.slots(own)
        blob = self.encode() + struct.pack("<I", len(slots)) + b"".join(_SLOT.pack(*s) for s in slots)
        notes = tuple(f"spill after pc {pc} (subprog {sub}) into fp{off}" for pc, sub, off in slots)
        # nothing spilled: nothing inserted; otherwise the stores are not built yet
        added = None if self.spilled else 0
        return Plan(self.name, metadata=blob, extra_stack=extra, added_insns=added, notes=notes)


@hookimpl
def register_strategies() -> list[Strategy]:
    return [HybridSpill()]
