"""`frame-descriptors`: the RFC "Exceptions - Resource Cleanup" (Kumar Kartikeya Dwivedi, Feb 2024).

Where it comes from: RFC PATCH 05/14 (frame descriptors), 07 (the bpf_throw
trampoline that spills R6-R9), 10 (the x86 runtime cleanup) and 11 (a throw no
longer leaks what a descriptor covers); kernel-semantics.md 3.1 and 2.5.

At every throwing point the verifier records, for the throwing frame (keyed by
the throw's pc) and for every caller (keyed by its call instruction's pc), the
8-byte stack slots and callee-saved registers R6-R9 that hold a resource, with
its kind and BTF id. Two states at one pc merge: identical entries merge, NULL
merges with a pointer, anything else refuses with the RFC's message
`frame_desc: merge: failed to merge old and new frame desc entry`. At throw time
the runtime walks the frames, looks each return address up, and releases by kind.

Costs in principle: nothing on the happy path and no extra stack; metadata is the
descriptor table (encoding below); a throw pays the walk, one lookup per frame and
the releases. Refuses: a slot or register that holds different resources, or a
resource on one path and a scalar, other pointer or uninitialised value on another,
at one pc; and, as stock does, a throw that would lose a reference no slot or
callee-saved register holds (the RFC's reject_with_reference), or a throw inside a
lock, RCU, preempt or IRQ section (the RFC left those as verification errors).

Table encoding (little-endian): u32 descriptor count, then per descriptor, in pc
order, a header {u32 pc; u16 subprog; u16 entry count} and its entries, each 8
bytes {u8 location kind (0 stack slot, 1 register); u8 resource kind;
s16 fp offset or register number; u32 BTF id}, kinds numbered as
framework.kernel.kinds numbers them. The pc is the BPF instruction
index; the JIT maps it to a native offset (RFC patch 09). One entry per reference:
where a reference sits in several places on one path, the first (innermost frame,
stack before registers) is the one released.
"""

from __future__ import annotations

from pathlib import Path

from framework.plugin_api import (
    Analysis,
    Fixed,
    NativeImage,
    Plan,
    Prepared,
    Program,
    Refused,
    Strategy,
    Survey,
    ThrowSite,
    hookimpl,
    interior_pointer,
)
from strategies.descriptors import (
    MERGE_FAILED,
    Table,
    covered,
    decode,
    descriptors_of,
    encode,
    merge,
    releasable,
    runtime_form,
)


class FrameDescriptors(Strategy):
    name = "frame-descriptors"
    version = "1"
    summary = "RFC 2024: per throwing pc and frame, the slots and r6-r9 holding resources; released by kind."
    runtime = Path(__file__).with_suffix(".c")

    def prepare(self, program: Program, survey: Survey | None = None) -> Prepared:
        return Prepared(program, Table())

    def releases_on_throw(self, state: Table, site: ThrowSite) -> bool:
        return releasable(site, covered(site))

    def on_throw(self, state: Table, site: ThrowSite) -> Table | Refused:
        refused = interior_pointer(site)
        if refused:
            return Refused(refused)
        for desc in descriptors_of(site):
            old = state.descriptors.get(desc.pc)
            merged = desc if old is None else merge(old, desc)
            if merged is None:
                return Refused(MERGE_FAILED)
            state = state.put(merged)
        return state

    def runtime_table(self, plan: Plan, fixed: Fixed, image: NativeImage, address: int) -> bytes:
        """frame_descriptors.c's table, from the plan's metadata alone: each pc becomes the
        return address of its call once JITed (RFC PATCH 09/14), through the fixup stage's
        pc map (descriptor pcs follow patched instructions, PATCH 06/14)."""
        return runtime_form(decode(plan.metadata)[0], fixed, image)

    def rewrite(self, program: Program, analysis: Analysis, state: Table) -> Plan:
        descriptors = state.in_order()
        notes = tuple(
            f"pc {d.pc} (subprog {d.subprog}): " + (", ".join(f"{e.location}={e.kind}" for e in d.entries) or "nothing")
            for d in descriptors
        )
        return Plan(
            self.name,
            metadata=encode(descriptors),
            extra_stack=(0,) * len(analysis.stack_depth),
            added_insns=0,
            notes=notes,
        )


@hookimpl
def register_strategies() -> list[Strategy]:
    return [FrameDescriptors()]
