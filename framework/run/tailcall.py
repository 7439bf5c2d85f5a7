"""The linked view a run with tail calls executes: the caller's code with each program its
prog arrays hold beside it (framework.load.prog_array names them).

One slot array: the caller first, then each target's slots, its subprogs moved with it,
its ld_imm64 map references and kfunc calls remapped by name to the linked program's
(one object's programs share their maps, as libbpf creates them). An `Image` is where one
program's main starts and which exception callback is its own: a tail call starts the
target's image on the calling frame, and a throw in it unwinds only to that frame.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.load.prog_array import ProgArraySlot, targets
from framework.load.program import MapDef, Program, Subprog
from framework.platform.tailcall import MAX_TAIL_CALL_CNT

__all__ = ["MAX_TAIL_CALL_CNT", "Image", "Linked", "ProgArray", "link"]

_MAP_REFS = (op.PSEUDO_MAP_IDX, op.PSEUDO_MAP_FD, op.PSEUDO_MAP_IDX_VALUE, op.PSEUDO_MAP_VALUE)


@dataclass(frozen=True, slots=True)
class Image:
    """One program of the linked view: its main at `start`, its own exception callback."""

    name: str
    start: int
    exception_cb: Subprog | None = None

    @classmethod
    def of(cls, program: Program, shift: int = 0) -> Image:
        cb = program.exception_cb
        main = program.subprogs[0].start if program.subprogs else 0
        return cls(
            program.name,
            main + shift,
            dataclasses.replace(cb, start=cb.start + shift, end=cb.end + shift) if cb else None,
        )


@dataclass(frozen=True, slots=True)
class ProgArray:
    """A prog array as a run sees it: its size and the image each filled slot holds."""

    max_entries: int
    slots: Mapping[int, Image]

    def target(self, index: int, count: int) -> Image | None:
        """What bpf_tail_call starts, the chain's count at `count`: nothing when index >=
        max_entries, the count is at MAX_TAIL_CALL_CNT or the slot is empty (the x86-64 JIT's
        emit_bpf_tail_call_indirect: each of those falls through)."""
        if index >= self.max_entries or count >= MAX_TAIL_CALL_CNT:
            return None
        return self.slots.get(index)


@dataclass(frozen=True, slots=True)
class Linked:
    """The caller and its tail-call targets as one program, and each prog array's contents."""

    program: Program  # the caller's name, maps and kfuncs first; the targets' code after its own
    images: tuple[Image, ...]  # the caller first
    arrays: Mapping[str, ProgArray]  # every prog_array map of the linked program, by name
    # each target as a program of its own (the JIT's view: each is loaded and JITed alone), its map
    # and kfunc indices the linked program's, as one object's programs share its maps
    targets: tuple[Program, ...] = ()


def link(program: Program, slots: Sequence[ProgArraySlot] = ()) -> Linked:
    """`program` with the programs `slots` name beside it (itself where a slot names it)."""
    found = targets(program, slots)
    maps: list[MapDef] = list(program.maps)
    kfuncs: list[str] = list(program.kfuncs)
    code: list[Insn | None] = list(program.slots)
    subprogs: list[Subprog] = list(program.subprogs)
    images = {program.name: Image.of(program)}
    own: list[tuple[Program, tuple[Insn | None, ...]]] = []
    for name, target in found.items():
        if name in images:
            continue
        shift = len(code)
        remapped = tuple(_remap(insn, target, maps, kfuncs) for insn in target.slots)
        own.append((target, remapped))
        code += remapped
        subprogs += [dataclasses.replace(s, start=s.start + shift, end=s.end + shift) for s in target.subprogs]
        images[name] = Image.of(target, shift)
    linked = dataclasses.replace(
        program, slots=tuple(code), subprogs=tuple(subprogs), maps=tuple(maps), kfuncs=tuple(kfuncs)
    )
    arrays = {
        m.name: ProgArray(m.max_entries, {s.index: images[s.program] for s in slots if s.map == m.name})
        for m in maps
        if m.map_type == "prog_array"
    }
    alone = tuple(dataclasses.replace(t, slots=s, maps=tuple(maps), kfuncs=tuple(kfuncs)) for t, s in own)
    return Linked(linked, tuple(images.values()), arrays, alone)


def _remap(insn: Insn | None, target: Program, maps: list[MapDef], kfuncs: list[str]) -> Insn | None:
    """A target's instruction with its map and kfunc indices made the linked program's."""
    if insn is None:
        return None
    if insn.kind is op.Kind.LD_IMM64 and insn.src in _MAP_REFS:
        mdef = target.maps[insn.imm]
        names = [m.name for m in maps]
        if mdef.name not in names:
            maps.append(mdef)
            names.append(mdef.name)
        return insn.replace(imm=names.index(mdef.name))
    if insn.kind is op.Kind.CALL and insn.src == op.PSEUDO_KFUNC_CALL:
        name = target.kfuncs[insn.imm]
        if name not in kfuncs:
            kfuncs.append(name)
        return insn.replace(imm=kfuncs.index(name))
    return insn
