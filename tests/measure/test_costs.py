"""The cost invariants of issue 7, measured (framework.measure) on every corpus program.

- frame-descriptors adds nothing to stock's happy path: no instruction, no JIT byte;
- resource-table adds 16 bytes per peak resource per subprog, and pays on the happy path
  wherever it records something;
- hybrid-spill adds 8 bytes per conflicting acquire pc and nothing where nothing conflicts;
- at a throw, whatever the unwinder released cost release instructions, for every strategy.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from framework import pipeline
from framework.load.corpus import CorpusEntry, corpus_entries, manifests
from framework.measure import Costs
from framework.pipeline import measure
from framework.plugins import get_strategy
from framework.run.result import TIMEOUT_S

ENTRIES = [e for m in manifests() for e in corpus_entries(m)]
BY_NAME = {e.program.name: e for e in ENTRIES}


def _costs(entry: CorpusEntry, name: str) -> Costs:
    limit = entry.time_limit_s or TIMEOUT_S
    return measure(
        entry.program, get_strategy(name), entry.inputs, hits=entry.force_hits, timeout_s=limit,
        unsupported=entry.unsupported,
    )  # fmt: skip


def _as_declared(entry: CorpusEntry, c: Costs) -> tuple[str, tuple[str, ...]]:
    """The verdict and problems of `c` once the runs the manifest expects to time out (its `timeout`
    inputs, unforced) are set aside, after checking they did: those are the only timeouts allowed."""
    stopped = [r for r in c.runs if r.input in entry.timeout_inputs and r.throw_pc is None]
    assert all(r.verdict == "timeout" for r in stopped), (c.strategy, stopped)
    heads = tuple(f"{name}, throw pc None: " for name in entry.timeout_inputs)
    problems = tuple(p for p in c.problems if not p.startswith(heads))
    others = [r for r in c.runs if r not in stopped]
    verdict = "accepted" if c.verdict == "timeout" and all(r.verdict == "accepted" for r in others) else c.verdict
    return verdict, problems


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.program.name)
def test_cost_invariants(entry: CorpusEntry) -> None:
    measured = [_costs(entry, n) for n in ("frame-descriptors", "resource-table", "hybrid-spill")]
    if entry.unsupported is not None:  # every run stops where the manifest says: nothing is measured
        for c in measured:
            assert c.problems == () and c.runs and all(r.verdict == "unsupported" and r.expected for r in c.runs)
            assert c.unsupported == len(c.runs) and not c.happy and not c.throws
        return
    declared = [_as_declared(entry, c) for c in measured]
    fd, rt, hs = (replace(c, verdict=v) for c, (v, _) in zip(measured, declared, strict=True))
    for _, problems in declared:
        assert problems == ()
    for c in (fd, rt, hs):
        for t in c.throws:
            assert t.released == 0 or t.release > 0, (c.strategy, t)  # a NULL entry costs a check, releases nothing
    if fd.verdict == "accepted":
        assert fd.added_insns == 0 and fd.jit_bytes == fd.stock_jit_bytes and set(fd.reserved_stack) <= {0}
        assert fd.happy and all(h.over_stock == 0 and h.record == 0 for h in fd.happy)
    if rt.verdict == "accepted":
        table = get_strategy("resource-table")
        peaks = pipeline.verify(entry.program, table).analysis.peak_resources
        assert list(rt.reserved_stack[: len(peaks)]) == [16 * p for p in peaks]
        if any(peaks):
            assert rt.jit_bytes is not None and rt.stock_jit_bytes is not None and rt.jit_bytes > rt.stock_jit_bytes
            zeroing_only = all(h.record == 0 for h in rt.happy)  # a path that acquires nothing still zeroes
            assert all(h.over_stock > 0 for h in rt.happy) or zeroing_only
    if hs.verdict == "accepted":
        spilled = sum(hs.reserved_stack) // 8
        if fd.verdict == "accepted":  # nothing conflicts: frame-descriptors exactly
            assert spilled == 0 and hs.happy == fd.happy and hs.jit_bytes == hs.stock_jit_bytes
        else:
            assert spilled > 0 and hs.added_insns is not None and hs.added_insns > 0


def test_a_resource_table_pays_per_acquire_and_release_on_the_happy_path() -> None:
    # four_regs_clean: four objects acquired and dropped with no throw on the way
    rt = _costs(BY_NAME["four_regs_clean"], "resource-table")
    fd = _costs(BY_NAME["four_regs_clean"], "frame-descriptors")
    (h,) = [h for h in rt.happy]
    assert h.record > 0 and h.over_stock > h.record  # the inserted BPF runs too, beside the runtime's push/pop
    assert all(x.over_stock == 0 for x in fd.happy)


def test_throw_time_is_split_and_grows_with_what_is_held() -> None:
    # the same four-frame chain, holding four resources or none, under frame-descriptors
    held = _costs(BY_NAME["four_frames"], "frame-descriptors").throws[0]
    clean = _costs(BY_NAME["four_frames_clean"], "frame-descriptors").throws[0]
    stock = _costs(BY_NAME["four_frames_clean"], "stock").throws[0]
    assert held.released == 4 and clean.released == 0 and stock.released == 0
    assert held.release > 0 and clean.release == 0 and stock.lookup == stock.release == 0
    assert held.walk >= stock.walk and held.lookup > 0  # one walk; the descriptors' lookups on top
    # the runtime's frames sit below the program's: a throw reaches deeper than a return
    happy = _costs(BY_NAME["four_frames_clean"], "stock").happy[0]
    assert held.stack_high_water > happy.stack_high_water > 0


def test_rejected_programs_carry_only_the_verdict() -> None:
    c = _costs(BY_NAME["fifty_objs"], "resource-table")
    assert c.verdict == "rejected" and c.message is not None and "Too large" in c.message
    assert c.happy == () and c.throws == () and c.metadata_bytes is None
