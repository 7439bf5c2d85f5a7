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

import struct
from dataclasses import dataclass, field
from pathlib import Path

from framework.plugin_api import (
    KINDS,
    Analysis,
    Fixed,
    NativeImage,
    Nullness,
    Plan,
    Program,
    Strategy,
    ThrowSite,
    hookimpl,
    interior_pointer,
    kind_id,
    location_name,
    release_kind,
)

MERGE_FAILED = "frame_desc: merge: failed to merge old and new frame desc entry"  # RFC patch 05

RELEASABLE = {k.name: k for k in KINDS}  # what bpf_cleanup_resource can release (RFC PATCH 10, 12)
_HEAD = struct.Struct("<I")
_DESC = struct.Struct("<IHH")
_ENTRY = struct.Struct("<BBhI")
_RT_HEAD = struct.Struct("<II")  # frame_descriptors.c struct fd_table
_RT_DESC = struct.Struct("<QIHH")  # struct fd_desc
LOC_STACK, LOC_REG, LOC_SLOT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Entry:
    """struct bpf_frame_desc_reg_entry: one location the runtime releases."""

    at: int  # as Holding.at: 6..9 a register, below 0 an fp offset
    kind: str
    btf_id: int
    acquired_at: int = field(default=-1, compare=False)  # the acquiring pc (not encoded)

    @property
    def location(self) -> str:
        return location_name(self.at)

    def encode(self) -> bytes:
        return _ENTRY.pack(LOC_REG if self.at > 0 else LOC_STACK, kind_id(self.kind), self.at, self.btf_id)


@dataclass(frozen=True, slots=True)
class Descriptor:
    """struct bpf_frame_desc: what one frame holds at one pc, merged over every path to it."""

    pc: int
    subprog: int
    entries: tuple[Entry, ...]
    nulls: frozenset[int]  # locations (as Holding.at) NULL on every path so far (a pointer may still merge in)

    def encode(self) -> bytes:
        body = b"".join(e.encode() for e in sorted(self.entries, key=lambda e: e.location))
        return _DESC.pack(self.pc, self.subprog, len(self.entries)) + body


def descriptors_of(site: ThrowSite, acquired: dict[int, int] | None = None) -> list[Descriptor]:
    """The descriptor each frame of one path gives: the throwing frame at the throw, callers at their
    calls (hybrid-spill, Kumar's reply, starts from the same descriptors)."""
    out = []
    released: set[int] = set()
    for i, frame in enumerate(site.frames):
        pc = site.pc if i == 0 else site.frames[i - 1].callsite
        entries = []
        for h in frame.holdings:
            if h.state is Nullness.INVALID or h.ref_id in released:
                continue  # released already, or a second copy of a reference another entry covers
            released.add(h.ref_id)
            entries.append(Entry(h.at, h.kind, h.btf_id, (acquired or {}).get(h.ref_id, -1)))
        out.append(Descriptor(pc, frame.subprog, tuple(entries), frozenset(frame.nulls)))
    return out


def decode(metadata: bytes) -> tuple[list[tuple[int, int, list[tuple[int, int, int, int]]]], int]:
    """The table's (pc, subprog, entries) in order, and the bytes it took; entries as
    (location kind, resource kind, offset or register, BTF id)."""
    (count,) = _HEAD.unpack_from(metadata, 0)
    at, out = _HEAD.size, []
    for _ in range(count):
        pc, subprog, n = _DESC.unpack_from(metadata, at)
        at += _DESC.size
        entries = [_ENTRY.unpack_from(metadata, at + _ENTRY.size * i) for i in range(n)]
        at += _ENTRY.size * n
        out.append((pc, subprog, entries))
    return out, at


def runtime_form(
    descriptors: list[tuple[int, int, list[tuple[int, int, int, int]]]], fixed: Fixed, image: NativeImage
) -> bytes:
    """frame_descriptors.c's layout: descriptors by return address, a stack entry of a kind that
    lives in its slot (iterators, dynptrs) marked as released through the slot's address."""
    placed = sorted((image.base + image.return_offset(fixed.pc_map[pc]), sub, ents) for pc, sub, ents in descriptors)
    heads: list[bytes] = []
    body: list[bytes] = []
    for ret, sub, ents in placed:
        heads.append(_RT_DESC.pack(ret, len(body), len(ents), sub))
        for loc, kind, where, btf in ents:
            released = release_kind(kind)
            assert released is not None, kind
            body.append(_ENTRY.pack(LOC_SLOT if loc == LOC_STACK and released.by_address else loc, kind, where, btf))
    return _RT_HEAD.pack(len(placed), len(body)) + b"".join(heads) + b"".join(body)


def merge_at(old: Descriptor, new: Descriptor) -> Descriptor | str:
    """RFC patch 05: identical entries merge, NULL merges with a pointer; else the location that cannot."""
    a = {e.at: e for e in old.entries}
    b = {e.at: e for e in new.entries}
    merged = []
    for at in sorted(a.keys() | b.keys(), key=location_name):  # the log's order: fp-16, fp-8, r6, ...
        loc = location_name(at)
        if at in a and at in b:
            if a[at] != b[at]:
                return loc  # two kinds (or two BTF types) in one place
            merged.append(a[at])
        elif at in a:
            if at not in new.nulls:
                return loc  # a resource on one path, a scalar or garbage on the other
            merged.append(a[at])
        else:
            if at not in old.nulls:
                return loc
            merged.append(b[at])
    return Descriptor(old.pc, old.subprog, tuple(merged), old.nulls & new.nulls)


def merge(old: Descriptor, new: Descriptor) -> Descriptor | None:
    """`merge_at`, None where the descriptors cannot merge."""
    got = merge_at(old, new)
    return got if isinstance(got, Descriptor) else None


class FrameDescriptors(Strategy):
    name = "frame-descriptors"
    version = "1"
    summary = "RFC 2024: per throwing pc and frame, the slots and r6-r9 holding resources; released by kind."
    runtime = Path(__file__).with_suffix(".c")

    def __init__(self) -> None:
        self.table: dict[int, Descriptor] = {}
        self.acquired: dict[int, int] = {}  # reference id -> the pc that acquired it

    def prepare(self, program: Program) -> Program:
        self.table = {}  # one verification at a time: prepare starts it
        self.acquired = {}
        return program

    def on_acquire(self, pc: int, subprog: int, ref_id: int, kind: str, slot: int | None = None) -> None:
        self.acquired[ref_id] = pc

    def covered(self, site: ThrowSite) -> set[int]:
        """The references the runtime will find at this throw: those a slot or r6-r9 holds."""
        return {h.ref_id for f in site.frames for h in f.holdings if h.state is not Nullness.INVALID}

    def releases_on_throw(self, site: ThrowSite) -> bool:
        # RFC patch 11: what a descriptor covers is released, so it is no leak; a reference no
        # slot or callee-saved register holds is still one ("Unreleased reference")
        return set(site.refs) <= self.covered(site) and all(
            h.kind in RELEASABLE for f in site.frames for h in f.holdings
        )

    def on_throw(self, site: ThrowSite) -> str | None:
        refused = interior_pointer(site)
        if refused:
            return refused
        for desc in descriptors_of(site):
            old = self.table.get(desc.pc)
            if old is None:
                self.table[desc.pc] = desc
                continue
            merged = merge(old, desc)
            if merged is None:
                return MERGE_FAILED
            self.table[desc.pc] = merged
        return None

    def descriptors(self) -> list[Descriptor]:
        """The table's descriptors in pc order, as the runtime gets them."""
        return [d for _, d in sorted(self.table.items())]

    def encode(self) -> bytes:
        """The descriptor table, as the module docstring lays it out."""
        descs = self.descriptors()
        return _HEAD.pack(len(descs)) + b"".join(d.encode() for d in descs)

    def runtime_table(self, plan: Plan, fixed: Fixed, image: NativeImage, address: int) -> bytes:
        """frame_descriptors.c's table, from the plan's metadata alone: each pc becomes the
        return address of its call once JITed (RFC PATCH 09/14), through the fixup stage's
        pc map (descriptor pcs follow patched instructions, PATCH 06/14)."""
        return runtime_form(decode(plan.metadata)[0], fixed, image)

    def rewrite(self, program: Program, analysis: Analysis) -> Plan:
        notes = tuple(
            f"pc {d.pc} (subprog {d.subprog}): " + (", ".join(f"{e.location}={e.kind}" for e in d.entries) or "nothing")
            for d in self.descriptors()
        )
        return Plan(
            self.name,
            metadata=self.encode(),
            extra_stack=(0,) * len(analysis.stack_depth),
            added_insns=0,
            notes=notes,
        )


@hookimpl
def register_strategies() -> list[Strategy]:
    return [FrameDescriptors()]
