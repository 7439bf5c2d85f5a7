"""`resource-table` (Eduard Zingerman's reply): its verdicts and the stack it reserves."""

from __future__ import annotations

import pytest

from framework.load.corpus import CorpusEntry
from framework.plan import plan
from framework.plugins import get_strategy
from framework.verify import Analysis, verify
from strategies.resource_table import RECORD_BYTES, ResourceTable

from .corpus import ENTRIES, verified


def _run(entry: CorpusEntry) -> tuple[ResourceTable, Analysis]:
    return verified(ResourceTable(), entry.program)


STOCK_ACCEPTED = [e for e in ENTRIES if e.spec["kernel"]["verdict"] == "accepted"]


@pytest.mark.parametrize("entry", STOCK_ACCEPTED, ids=lambda e: e.program.name)
def test_sixteen_bytes_per_peak_resource_per_subprog(entry: CorpusEntry) -> None:
    rt, analysis = _run(entry)
    kernel = entry.spec["kernel"]["stack_depth"]
    stock = verify(entry.program, log_level=0)
    reserved = [RECORD_BYTES * p for p in stock.peak_resources]
    # the verifier's depth is the kernel's, plus exactly the table's region
    assert [rt.reserved_stack(i) for i in range(len(reserved))] == reserved
    if analysis.accepted:
        grown = list(analysis.stack_depth)
        assert grown[: len(reserved)] == [k + r for k, r in zip(kernel, reserved, strict=False)]
        extra = plan(rt, entry.program, analysis).extra_stack
        assert extra[: len(reserved)] == tuple(reserved) and set(extra[len(reserved) :]) <= {0}


def test_a_caller_does_not_reserve_for_its_callees() -> None:
    # three_frames: one resource per frame, so one record per subprog, not a running total
    entry = next(e for e in ENTRIES if e.program.name == "three_frames")
    rt, analysis = _run(entry)
    assert analysis.accepted
    assert [rt.peaks[i] for i in range(3)] == [1, 1, 1]


def test_the_insertions_are_not_claimed_before_they_are_built() -> None:
    entry = next(e for e in ENTRIES if e.program.name == "ringbuf_record")
    rt, analysis = _run(entry)
    made = plan(rt, entry.program, analysis)
    assert made.added_insns is None and rt.runtime is None and made.metadata_bytes == 0


def test_registered_like_any_plugin() -> None:
    assert isinstance(get_strategy("resource-table"), ResourceTable)
