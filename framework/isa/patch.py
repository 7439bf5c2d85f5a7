"""Patching BPF slots as the verifier does: bpf_patch_insn_data, verifier_remove_insns.

A patch replaces one instruction by a sequence (which may contain it) or by
nothing (removal). Jumps, BPF-to-BPF calls and ld_imm64 of a function in the
original instructions are retargeted as bpf_adj_branches does: a jump to a
patched instruction lands on its patch's first instruction; a jump to a
removed one lands on the next instruction kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind

__all__ = ["Insertion", "Patched", "To", "compose", "insertions", "patch"]


@dataclass(frozen=True, slots=True)
class To:
    """An inserted jump to an original pc (its offset is computed once the layout is known)."""

    insn: Insn
    target: int  # original pc


@dataclass(frozen=True, slots=True)
class Insertion:
    """Instructions a strategy inserts around the one at `pc` (jumps to `pc` land on `before`)."""

    pc: int
    before: tuple[Insn, ...] = ()
    after: tuple[Insn, ...] = ()


def insertions(before: Mapping[int, Sequence[Insn]], after: Mapping[int, Sequence[Insn]]) -> tuple[Insertion, ...]:
    """One `Insertion` per pc named in either map, in pc order."""
    pcs = sorted(before.keys() | after.keys())
    return tuple(Insertion(pc, tuple(before.get(pc, ())), tuple(after.get(pc, ()))) for pc in pcs)


# pc -> what replaces the instruction there (None: keep it)
Patcher = Callable[[int, Insn], Sequence[Insn | To] | None]


@dataclass(frozen=True, slots=True)
class Patched:
    """New slots and old pc -> new pc (len = old slots + 1: the end maps too)."""

    slots: Slots
    pc_map: tuple[int, ...]


def compose(first: Sequence[int], second: Sequence[int]) -> tuple[int, ...]:
    """The pc map of two patches applied in turn."""
    return tuple(second[p] for p in first)


def patch(slots: Slots, patcher: Patcher) -> Patched:
    """Apply `patcher` to every instruction; an empty list removes the instruction."""
    seqs: list[list[Insn | To | None]] = []
    pc_map: list[int] = []
    at = 0
    for pc, insn in enumerate(slots):
        pc_map.append(at)
        if insn is None:
            seqs.append([])  # emitted with its first slot
            continue
        repl = patcher(pc, insn)
        seq: list[Insn | To | None] = []
        for p in [insn] if repl is None else repl:
            seq.append(p)
            if isinstance(p, Insn) and p.kind is Kind.LD_IMM64:
                seq.append(None)
        seqs.append(seq)
        at += len(seq)
    pc_map.append(at)
    new: list[Insn | None] = []
    for pc, seq in enumerate(seqs):
        insn = slots[pc]
        for k, q in enumerate(seq):
            if isinstance(q, To):  # an inserted jump (or BPF-to-BPF call) to an original pc
                rel = pc_map[q.target] - (pc_map[pc] + k) - 1
                new.append(q.insn.replace(imm=rel) if q.insn.kind is Kind.CALL else q.insn.replace(off=rel))
            else:
                new.append(_retarget(q, pc, pc_map[pc] + k, pc_map) if q is not None and q is insn else q)
    return Patched(tuple(new), tuple(pc_map))


def _retarget(insn: Insn, old_pc: int, new_pc: int, pc_map: Sequence[int]) -> Insn:
    """bpf_adj_branches: keep the original instruction's target."""
    kind = insn.kind
    if kind in (Kind.JA, Kind.JCOND, Kind.MAY_GOTO):
        target = pc_map[insn.jump_target(old_pc)]
        if insn.spec.name == "gotol":
            return insn.replace(imm=target - new_pc - 1)
        return insn.replace(off=target - new_pc - 1)
    if (kind is Kind.CALL and insn.src == op.PSEUDO_CALL) or (kind is Kind.LD_IMM64 and insn.src == op.PSEUDO_FUNC):
        target = pc_map[insn.jump_target(old_pc)]
        return insn.replace(imm=target - new_pc - 1)
    return insn
