"""`hybrid-spill` (Kumar's reply): descriptors, spilling only where they would conflict."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from framework import pipeline
from framework.fixup import fixup_planned
from framework.load.corpus import CorpusEntry
from framework.plan import own_stack
from framework.plugins import get_strategy
from strategies.frame_descriptors import FrameDescriptors
from strategies.hybrid_spill import SLOT_BYTES, HybridSpill, Spills
from strategies.resource_table import ResourceTable

from .corpus import ENTRIES, verified
from .test_frame_descriptors import RFC_ASM, _asm


def _run(entry: CorpusEntry) -> tuple[Spills, pipeline.Verified]:
    hs, v = verified(HybridSpill(), entry.program)
    assert isinstance(hs, Spills)
    return hs, v


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.program.name)
def test_eight_bytes_per_conflicting_acquire_and_nothing_elsewhere(entry: CorpusEntry) -> None:
    hs, v = _run(entry)
    analysis = v.analysis
    if not analysis.accepted:
        return
    fd_v = pipeline.verify(entry.program, FrameDescriptors())
    fd_analysis = fd_v.analysis
    made = pipeline.plan(v).plan
    subprog = hs.ledger.acquire_subprog
    per_sub = [sum(1 for pc in hs.spilled if subprog[pc] == i) for i in range(len(made.extra_stack))]
    assert list(made.extra_stack) == [SLOT_BYTES * n for n in per_sub]
    if fd_analysis.accepted:
        # where descriptors do not conflict, hybrid-spill is frame-descriptors: no spill, the same table
        assert not hs.spilled and set(made.extra_stack) <= {0}
        assert made.metadata == pipeline.plan(fd_v).plan.metadata + struct.pack("<I", 0)
        assert list(analysis.stack_depth) == list(fd_analysis.stack_depth)
    else:
        assert hs.spilled  # it accepts what descriptors refuse only by spilling
        # the refused run's depths stop at its own subprogs (no hidden callback appended)
        mine = list(analysis.stack_depth)[: len(fd_analysis.stack_depth)]
        assert mine == [d + SLOT_BYTES * n for d, n in zip(fd_analysis.stack_depth, per_sub, strict=False)]


def test_spill_slots_sit_after_the_subprogs_own_stack() -> None:
    entry = next(e for e in ENTRIES if e.program.name == "two_kinds")
    hs, v = _run(entry)
    made = pipeline.plan(v).plan
    own = entry.spec["kernel"]["stack_depth"][0]
    offsets = sorted(off for _, _, off in hs.slots(own_stack(entry.program)))
    assert offsets == [-(own + SLOT_BYTES * (i + 1)) for i in reversed(range(len(hs.spilled)))]
    (count,) = struct.unpack_from("<I", made.metadata, len(made.metadata) - 4 - 12 * len(hs.spilled))
    assert count == len(hs.spilled)
    # per slot: a zeroing store on entry and the spill after its acquire; each release clears
    releases = sum(1 for sources in hs.ledger.released_from.values() if sources & hs.spilled)
    assert made.added_insns is not None and made.added_insns >= 2 * len(hs.spilled) + releases
    fd = FrameDescriptors()
    assert fixup_planned(made, entry.program).stack_depths[0] == own + SLOT_BYTES * len(hs.spilled)
    assert fd.runtime is not None and HybridSpill.runtime is not None


def test_no_spill_no_insertion() -> None:
    entry = next(e for e in ENTRIES if e.program.name == "null_or_obj")
    hs, v = _run(entry)
    made = pipeline.plan(v).plan
    assert v.accepted and not hs.spilled and made.added_insns == 0 and made.inserts == ()


def test_registered_like_any_plugin() -> None:
    assert isinstance(get_strategy("hybrid-spill"), HybridSpill)


@pytest.mark.parametrize("name", ["reject_slot_with_invalid_vs_ptr", "reference_in_r6", "reject_with_reference"])
def test_rfc_asm_scenarios_under_the_replies(tmp_path: Path, name: str) -> None:
    # the descriptors' refusal of an invalid-vs-pointer register goes away with a spill (and
    # the resource table has a record anyway); a reference no place holds stays a leak only
    # for descriptors: the table and the spill slot hold it
    body = next(c[1] for c in RFC_ASM if c[0] == name)
    for strategy, verdict in ((HybridSpill(), "accepted"), (ResourceTable(), "accepted")):
        program = _asm(tmp_path, name, body)
        got = pipeline.verify(program, strategy).analysis
        expected = "rejected" if name == "reject_with_reference" and isinstance(strategy, HybridSpill) else verdict
        assert got.verdict.value == expected, (strategy.name, got.message)
