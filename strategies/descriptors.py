"""Frame descriptors as the RFC (Kumar Kartikeya Dwivedi, Feb 2024) builds them: what each frame
holds at a throwing pc, merged over every path (RFC PATCH 05/14), encoded, decoded and laid out
for the runtime by return address (PATCH 09/14). Shared by `frame-descriptors` and
`hybrid-spill` (which drops its spilled resources from them); the encoding is
frame_descriptors.py's docstring's.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from framework.plugin_api import (
    RELEASABLE,
    Fixed,
    NativeImage,
    Nullness,
    ThrowSite,
    kind_id,
    location_name,
    release_kind,
)

MERGE_FAILED = "frame_desc: merge: failed to merge old and new frame desc entry"  # RFC patch 05

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


def descriptors_of(site: ThrowSite) -> list[Descriptor]:
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
            entries.append(Entry(h.at, h.kind, h.btf_id, h.acquired_at))
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


@dataclass(frozen=True)
class Table:
    """frame-descriptors' state: the descriptor of each pc so far, merged over every path to it."""

    descriptors: Mapping[int, Descriptor] = field(default_factory=lambda: MappingProxyType({}))

    def put(self, desc: Descriptor) -> Table:
        return Table(MappingProxyType({**self.descriptors, desc.pc: desc}))

    def in_order(self) -> list[Descriptor]:
        """The descriptors in pc order, as the runtime gets them."""
        return [d for _, d in sorted(self.descriptors.items())]


def encode(descriptors: list[Descriptor]) -> bytes:
    """The descriptor table, as the module docstring lays it out."""
    return _HEAD.pack(len(descriptors)) + b"".join(d.encode() for d in descriptors)


def covered(site: ThrowSite) -> set[int]:
    """The references the runtime will find at this throw: those a slot or r6-r9 holds."""
    return {h.ref_id for f in site.frames for h in f.holdings if h.state is not Nullness.INVALID}


def releasable(site: ThrowSite, found: set[int]) -> bool:
    """RFC patch 11: what a descriptor covers is released, so it is no leak; a reference no slot
    or callee-saved register holds is still one ("Unreleased reference")."""
    held = all(h.kind in RELEASABLE for f in site.frames for h in f.holdings)
    return {r.id for r in site.refs} <= found and held
