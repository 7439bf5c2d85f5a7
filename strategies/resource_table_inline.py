"""`resource-table-inline`: Eduard Zingerman's resource table with inline stores (reply to the RFC, March 14, 2024).

Where it comes from: the same mail as `resource-table` (per subprog a region at
the end of its stack, zeroed on entry, walked at a throw), in the variant the
issue names, "with inline stores into a slot fixed per acquire site": the
verifier knows every acquire pc and the subprog it runs in, so instead of a
runtime call that finds a free record, each acquire site owns one 8-byte slot
fixed at rewrite time, and the kind, static per site, stays in the table.

What it inserts (`rewrite`, applied before the kernel's own fixups): at a
subprog's entry, one zeroing store per slot; after each acquire, `*(u64 *)(r10 +
site) = r0` (for an iterator or dynptr, whose release takes its address:
`r1 = r10; r1 += slot; *(u64 *)(r10 + site) = r1`, r1-r5 being dead after the
call); before each release, the slot cleared: `*(u64 *)(r10 + site) = 0` where
the release pc releases only references of one site, else, per candidate site,
`r0 = *(u64 *)(r10 + site); if r0 != r1 goto +1; *(u64 *)(r10 + site) = 0` (r0
is dead before the call, r1 holds the released value or address). No runtime
call on the happy path: nothing in `record`. At a throw the runtime
(resource_table_inline.c) walks the frames and, per frame, releases by kind each
nonzero slot of its subprog's sites.

Costs in principle: one store per acquire (three instructions for a
by-address kind), one store (or three instructions per candidate site) per
release, one zeroing store per site at entry; 8 bytes of stack per acquire site
per subprog, counted against the 512-byte limits (a site costs its slot even
where two sites are never live together, where `resource-table` reserves per
peak of resources held at once); a throw pays the walk and a scan of the sites
per frame; 12 bytes of metadata per site (8 in the runtime's table);
the survey (below) is one more verification of the program, shared with landing-pads.

Refuses (the stock leak refusal, "bpf_throw would lead to reference leak": the
throw holds a reference the slots do not account for):
- a reference released in another subprog than its acquire site: that release
  cannot clear the slot through r10, so the site gets no slot at all (a stale one
  would be released twice) and a throw holding one of its references leaks it.
  Which sites these are must be known at every throw, also at one the verifier
  explores before that release: `prepare` reads them from the program's survey, a
  verification beforehand that refuses no throw (framework.verify.survey; the kernel
  would check after its main pass; it is not in the verification time figure);
- an iterator or dynptr that lives in a caller's frame (no slot in its own);
- a throw holding two references of one acquire site (the site executed again
  while its previous reference is held: the second store overwrote the slot), or
  a reference whose acquiring subprog has no frame in the throw's chain.
Not detected: the strategy's state is per program, not per path, so a site executed
again while its previous reference is held is seen only if a throw holds both;
when one of the two is released first (which clears the slot) and the program
then throws holding the other, it is accepted and that reference leaks at the
throw (tests/plugin_strategies/test_resource_table_inline.py shows one).
Lock, RCU, preempt and IRQ sections stay refused, as in the RFC.

Table encoding (metadata): u32 site count, then per site, in acquire-pc order,
{u32 acquire pc; u16 subprog; s16 fp offset; u32 kind} (12 bytes; kinds numbered
as framework.kernel.kinds numbers them). The runtime reads it as u32 count, then
per site {u16 subprog; s16 fp offset; u8 kind; 3 pad} (8 bytes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from pathlib import Path

from framework.plugin_api import (
    RELEASABLE,
    Acquired,
    Analysis,
    Fixed,
    Insertion,
    Ledger,
    NativeImage,
    Plan,
    Prepared,
    Program,
    Released,
    Strategy,
    Survey,
    ThrowSite,
    hookimpl,
    insertions,
    kind_id,
    own_stack,
)
from strategies.acquire_slots import AcquireSlot, slot_code

SLOT_BYTES = 8
_SITE = struct.Struct("<IHhI")
_RT_SITE = struct.Struct("<HhB3x")  # resource_table_inline.c struct rti_site


@dataclass(frozen=True)
class Sites:
    """resource-table-inline's state: the acquire and release sites so far, and the acquire pcs the
    survey found no slot can serve (released in another subprog, or followed by no record)."""

    ledger: Ledger = field(default_factory=Ledger)
    dropped: frozenset[int] = frozenset()

    def unslotted(self) -> set[int]:
        """Acquire pcs without a slot: dropped beforehand, or found so (out of r10's reach, untracked)."""
        return set(self.dropped) | self.ledger.elsewhere() | self.ledger.untracked()

    def unaccounted(self, site: ThrowSite) -> list[int]:
        """Acquire pcs (-1: unknown) of the references `site` holds that no slot accounts for: a site
        without a slot, a second reference of one site, a site whose subprog has no frame at the throw."""
        frames = {f.subprog for f in site.frames}
        pcs = [r.acquired_at for r in site.refs]
        return [
            pc
            for k, pc in enumerate(pcs)
            if pc < 0 or pc in self.dropped or pc in pcs[:k] or self.ledger.acquire_subprog[pc] not in frames
        ]

    def sites(self) -> list[int]:
        """The acquire pcs that own a slot, in pc order."""
        out = self.unslotted()
        return sorted(pc for pc in self.ledger.shapes if pc not in out)

    def reserved(self, subprog: int) -> int:
        """Bytes of the subprog's slots."""
        return SLOT_BYTES * sum(1 for pc in self.sites() if self.ledger.acquire_subprog[pc] == subprog)

    def slots(self, program: Program) -> dict[int, int]:
        """Acquire pc -> fp offset of its slot: per subprog, in pc order, right below its own stack."""
        own, used = own_stack(program), dict.fromkeys(range(len(program.subprogs)), 0)
        out = {}
        for pc in self.sites():
            sub = self.ledger.acquire_subprog[pc]
            used[sub] += SLOT_BYTES
            out[pc] = -(own[sub] + used[sub])
        return out


class ResourceTableInline(Strategy):
    name = "resource-table-inline"
    version = "1"
    summary = "Eduard's reply, inline variant: an 8-byte slot per acquire site, stored and cleared inline."
    runtime = Path(__file__).with_suffix(".c")
    surveys = True  # which sites get no slot must be known at every throw (the module docstring)

    def prepare(self, program: Program, survey: Survey | None = None) -> Prepared:
        dropped = survey.ledger.elsewhere() | survey.ledger.untracked() if survey is not None else set()
        return Prepared(program, Sites(dropped=frozenset(dropped)))

    def on_acquire(self, state: Sites, event: Acquired) -> Sites:
        return replace(state, ledger=state.ledger.acquired(event))

    def on_release(self, state: Sites, event: Released) -> Sites:
        return replace(state, ledger=state.ledger.released(event))

    def releases_on_throw(self, state: Sites, site: ThrowSite) -> bool:
        return not state.unaccounted(site)

    def reserved_stack(self, state: Sites, subprog: int, peak: int) -> int:
        return state.reserved(subprog)

    def rewrite(self, program: Program, analysis: Analysis, state: Sites) -> Plan:
        led = state.ledger
        slot_of = state.slots(program)
        slots = {}
        for pc, off in slot_of.items():
            kind, at = led.shapes[pc][0]  # as first seen there
            by_address = RELEASABLE[kind].by_address and at is not None
            slots[pc] = AcquireSlot(led.acquire_subprog[pc], off, at if by_address else None)
        node_offs = {pc: n for pc in slots if (n := analysis.record.at(pc).node_off)}
        before, after = slot_code(program, slots, led.released_from, led.release_subprog, node_offs)
        inserts: tuple[Insertion, ...] = insertions(before, after)
        table = struct.pack("<I", len(slot_of)) + b"".join(
            _SITE.pack(pc, led.acquire_subprog[pc], off, kind_id(led.kind(pc))) for pc, off in slot_of.items()
        )
        subs = program.subprogs
        notes = tuple(
            f"{subs[led.acquire_subprog[pc]].name}: acquire at pc {pc} ({led.kind(pc)}) in fp{off}"
            for pc, off in slot_of.items()
        )
        return Plan(
            self.name,
            metadata=table,
            extra_stack=tuple(state.reserved(i) for i in range(len(analysis.stack_depth))),
            added_insns=sum(len(x.before) + len(x.after) for x in inserts),
            notes=notes,
            inserts=inserts,
        )

    def runtime_table(self, plan: Plan, fixed: Fixed, image: NativeImage, address: int) -> bytes:
        """The sites as resource_table_inline.c reads them, from the metadata (offsets are frame-relative)."""
        (count,) = struct.unpack_from("<I", plan.metadata)
        sites = [_SITE.unpack_from(plan.metadata, 4 + _SITE.size * i) for i in range(count)]
        return struct.pack("<I", count) + b"".join(_RT_SITE.pack(sub, off, kind) for _, sub, off, kind in sites)


@hookimpl
def register_strategies() -> list[Strategy]:
    return [ResourceTableInline()]
