"""`resource-table`: Eduard Zingerman's runtime resource table (reply to the RFC, March 14, 2024).

Where it comes from: the seed thread's reply proposing, instead of static
descriptors, that each subprog keep at the end of its stack a region of 16-byte
records (pointer, type) for the resources it holds at once, zeroed on entry;
"after each acquire call, insert a kfunc call that would add resource reference
to the table; after each release call, insert a kfunc call that would remove" it;
at throw time the runtime walks every frame's region and runs the destructors.

What it inserts (`rewrite`, applied before the kernel's own fixups, "after main
verification pass"): at a holding subprog's entry, 2 stores per record (zeroing);
after each acquire, `r1 = r10; r1 += region; r2 = value; r3 = kind; r4 = r0;
r5 = records; call bakeoff_rt_push` (value is r0, or the slot's address for an
iterator or dynptr: one more instruction; `r2 += -off` for a list pop or rbtree
remove, whose result points at the node field inside the object); before each
release, `call bakeoff_rt_pop` with the released value in r1 already (the value is
gone after the release, so the removal comes first; the pop keeps R1-R5); before a
list push or rbtree add, which hands the object to the collection, `r0 = node
offset; call bakeoff_rt_pop_node` (the node argument is R2, inside the object). Both run in the
strategy's C runtime (resource_table.c), counted as the happy path's `record`.

Costs in principle: those instructions and calls on the happy path; 16 bytes of
stack per peak simultaneous resource per subprog (Kumar's objection: "the sum of
all subprogs in a call chain"); 4 bytes of table per subprog; a throw pays the walk
and a scan of each frame's region. Refuses: nothing beyond stock except that a throw
no longer leaks (every reference has a record wherever it is kept); the region counts
against the 512-byte limits, so a program that fits only without it is refused with
the kernel's `combined stack size of N calls is X. Too large`; an iterator or dynptr
living in a caller's frame gets no record, and a throw holding one stays a leak.
Lock, RCU, preempt and IRQ sections stay refused, as in the RFC. A callee that returns
an acquired pointer to its caller leaves the record in its own (dead) region; the corpus has
no such program. The variant with inline stores into a slot fixed per acquire site is
`resource-table-inline` (resource_table_inline.py), measured beside this one.
"""

from __future__ import annotations

import struct
from pathlib import Path

from framework.plugin_api import (
    RELEASABLE,
    Analysis,
    Fixed,
    Insn,
    Ledger,
    NativeImage,
    Plan,
    Program,
    RecordsResources,
    Strategy,
    call_kfunc,
    hookimpl,
    insertions,
    kind_id,
    make,
    mov_imm,
    mov_reg,
    op,
    own_stack,
)
from strategies.acquire_slots import fp_plus, zero

RECORD_BYTES = 16  # the mail's record: the resource and its type
PUSH, POP, POP_NODE = "bakeoff_rt_push", "bakeoff_rt_pop", "bakeoff_rt_pop_node"  # resource_table.c
_SUB = struct.Struct("<hH")


class ResourceTable(RecordsResources):
    name = "resource-table"
    version = "1"
    summary = "Eduard's reply: 16 bytes per peak resource per subprog, records pushed and removed; walked at a throw."
    runtime = Path(__file__).with_suffix(".c")

    # the state is RecordsResources': the Ledger of acquire and release sites

    def reserved_stack(self, state: Ledger, subprog: int, peak: int) -> int:
        return RECORD_BYTES * peak

    def rewrite(self, program: Program, analysis: Analysis, state: Ledger) -> Plan:
        subs = program.subprogs
        peaks = dict(enumerate(analysis.peak_resources))
        push, pop, pop_node = len(program.kfuncs), len(program.kfuncs) + 1, len(program.kfuncs) + 2  # appended
        region = {i: -(d + RECORD_BYTES * peaks.get(i, 0)) for i, d in enumerate(own_stack(program))}
        before: dict[int, list[Insn]] = {}
        after: dict[int, list[Insn]] = {}
        for i, sub in enumerate(subs):
            n = peaks.get(i, 0)
            if n:  # zeroed on entry
                before.setdefault(sub.start, []).extend(zero(region[i] + 8 * k) for k in range(2 * n))
        for pc, (kind, slot) in sorted(state.acquires.items()):
            i = next(k for k, s in enumerate(subs) if s.start <= pc < s.end)
            value = fp_plus(2, slot) if slot is not None and RELEASABLE[kind].by_address else [mov_reg(2, 0)]
            node_off = analysis.record.at(pc).node_off
            if node_off:  # a pop or a remove returns the node inside the object: record the object
                value.append(make(op.ALU64 | op.ADD | op.K, 2, 0, 0, -node_off & 0xFFFFFFFF))
            after.setdefault(pc, []).extend(
                [
                    *fp_plus(1, region[i]),
                    *value,
                    mov_imm(3, kind_id(kind)),
                    mov_reg(4, 0),
                    mov_imm(5, peaks.get(i, 0)),
                    call_kfunc(push),
                ]
            )
        for pc in sorted(state.released_from):
            node_off = analysis.record.at(pc).node_off
            if node_off is None:
                before.setdefault(pc, []).append(call_kfunc(pop))
            else:  # a push or an add: the object goes to the collection, R2 points node_off into it
                before.setdefault(pc, []).extend([mov_imm(0, node_off), call_kfunc(pop_node)])
        inserts = insertions(before, after)
        table = struct.pack("<I", len(subs)) + b"".join(
            _SUB.pack(region[i] if peaks.get(i) else 0, peaks.get(i, 0)) for i in range(len(subs))
        )
        notes = tuple(f"{s.name}: {peaks[i]} record(s) at fp{region[i]}" for i, s in enumerate(subs) if peaks.get(i))
        return Plan(
            self.name,
            metadata=table,
            extra_stack=tuple(RECORD_BYTES * peaks.get(i, 0) for i in range(len(analysis.stack_depth))),
            added_insns=sum(len(x.before) + len(x.after) for x in inserts),
            notes=notes,
            inserts=inserts,
            kfuncs=(PUSH, POP, POP_NODE),
        )

    def runtime_table(self, plan: Plan, fixed: Fixed, image: NativeImage, address: int) -> bytes:
        """The plan's table as it is: region offsets are frame-relative, nothing to relocate."""
        return plan.metadata


@hookimpl
def register_strategies() -> list[Strategy]:
    return [ResourceTable()]
