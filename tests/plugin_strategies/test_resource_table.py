"""`resource-table` (Eduard Zingerman's reply): its verdicts, the stack it reserves, what it inserts."""

from __future__ import annotations

import pytest

from framework import pipeline
from framework.fixup import stock_fixup
from framework.isa import opcodes as op
from framework.isa.opcodes import Kind
from framework.load.corpus import CorpusEntry
from framework.plugins import get_strategy
from framework.strategy import Ledger
from framework.verify import Analysis, verify
from strategies.resource_table import POP, POP_NODE, PUSH, RECORD_BYTES, ResourceTable

from .corpus import ENTRIES, verified


def _run(entry: CorpusEntry) -> tuple[Ledger, pipeline.Verified, Analysis]:
    ledger, v = verified(ResourceTable(), entry.program)
    assert isinstance(ledger, Ledger)
    return ledger, v, v.analysis


STOCK_ACCEPTED = [e for e in ENTRIES if e.spec["kernel"]["verdict"] == "accepted"]


@pytest.mark.parametrize("entry", STOCK_ACCEPTED, ids=lambda e: e.program.name)
def test_sixteen_bytes_per_peak_resource_per_subprog(entry: CorpusEntry) -> None:
    ledger, v, analysis = _run(entry)
    kernel = entry.spec["kernel"]["stack_depth"]
    stock = verify(entry.program, log_level=0)
    reserved = [RECORD_BYTES * p for p in stock.peak_resources]
    # the verifier's depth is the kernel's, plus exactly the table's region
    rt = ResourceTable()
    assert [rt.reserved_stack(ledger, i, p) for i, p in enumerate(analysis.peak_resources)] == reserved
    if analysis.accepted:
        grown = list(analysis.stack_depth)
        assert grown[: len(reserved)] == [k + r for k, r in zip(kernel, reserved, strict=False)]
        extra = pipeline.plan(v).plan.extra_stack
        assert extra[: len(reserved)] == tuple(reserved) and set(extra[len(reserved) :]) <= {0}


def test_a_caller_does_not_reserve_for_its_callees() -> None:
    # three_frames: one resource per frame, so one record per subprog, not a running total
    entry = next(e for e in ENTRIES if e.program.name == "three_frames")
    _, _, analysis = _run(entry)
    assert analysis.accepted
    assert list(analysis.peak_resources[:3]) == [1, 1, 1]


def _jitted(entry: CorpusEntry, strategy: ResourceTable | None) -> tuple[int, ...]:
    """The JIT's frame sizes for the program, with the strategy's insertions or as stock runs it."""
    if strategy is None:
        return stock_fixup(entry.program).stack_depths
    return pipeline.plan(pipeline.verify(entry.program, strategy)).fixed.stack_depths


@pytest.mark.parametrize("entry", STOCK_ACCEPTED, ids=lambda e: e.program.name)
def test_the_jited_frames_grow_by_the_region_alone(entry: CorpusEntry) -> None:
    # the records sit right below the subprog's own stack: the JIT's frame grows by 16 x peak, no more
    _, _, analysis = _run(entry)
    if not analysis.accepted:
        return
    stock = _jitted(entry, None)
    mine = _jitted(entry, ResourceTable())
    peaks = [*analysis.peak_resources, 0][: len(stock)]
    assert [m - s for m, s in zip(mine, stock, strict=True)] == [RECORD_BYTES * p for p in peaks]


def test_what_it_inserts_per_acquire_release_and_record() -> None:
    # ringbuf_record_clean: one reserve, a discard on each of two paths, one record in main
    entry = next(e for e in ENTRIES if e.program.name == "ringbuf_record_clean")
    ledger, v, analysis = _run(entry)
    made = pipeline.plan(v).plan
    assert len(ledger.acquires) == 1 and len(ledger.released_from) == 2 and analysis.peak_resources[0] == 1
    # 2 zeroing stores + 7 after the acquire (region, value, kind, r0, count, call) + a pop per release
    assert made.added_insns == 2 + 7 + 2
    assert made.kfuncs == (PUSH, POP, POP_NODE) and made.metadata_bytes == 4 + 4 * len(entry.program.subprogs)
    pops = {i.pc for i in made.inserts if i.before and i.before[-1].imm == len(entry.program.kfuncs) + 1}
    assert pops == set(ledger.released_from)  # the removal comes before the release, while r1 still holds the value


def test_a_list_element_is_recorded_as_the_object_it_is_inside() -> None:
    """list_pop_throw: bpf_list_pop_front returns the node field (off 8 in struct item), and a
    push takes it; the record must hold the object's start, which bpf_obj_drop takes: `r2 += -8`
    after the pop's acquire, `r0 = 8; call bakeoff_rt_pop_node` before each push."""
    entry = next(e for e in ENTRIES if e.program.name == "list_pop_throw")
    _, v, analysis = _run(entry)
    assert analysis.accepted
    made = pipeline.plan(v).plan
    pop_node = len(entry.program.kfuncs) + 2
    names = entry.program.kfuncs
    pushes = {
        pc
        for pc, i in entry.program.insns()
        if i.kind is Kind.CALL and i.src == op.PSEUDO_KFUNC_CALL and names[i.imm] == "bpf_list_push_back_impl"
    }
    pops = {
        pc
        for pc, i in entry.program.insns()
        if i.kind is Kind.CALL and i.src == op.PSEUDO_KFUNC_CALL and names[i.imm] == "bpf_list_pop_front"
    }
    assert pushes and pops
    before = {i.pc: i.before for i in made.inserts if i.before}
    after = {i.pc: i.after for i in made.inserts if i.after}
    for pc in pushes:
        assert [(x.dst, x.imm) for x in before[pc]] == [(0, 8), (0, pop_node)]
    for pc in pops:
        assert any(x.dst == 2 and x.imm in (-8, 0xFFFFFFF8) for x in after[pc])


def test_happy_path_cost_is_the_pushes_and_removals() -> None:
    """On the hand-cleaned twin (nothing thrown while held) the strategy's extra instructions are
    its insertions and the runtime's push and pop; stock runs the same program without them."""
    entry = next(e for e in ENTRIES if e.program.name == "ringbuf_record_clean")
    run_input = next(i for i in entry.inputs if i.name == "ipv4_tcp")
    mine = pipeline.run(pipeline.plan(pipeline.verify(entry.program, ResourceTable())), run_input)
    stock = pipeline.run(pipeline.plan(pipeline.verify(entry.program, get_strategy("stock"))), run_input)
    assert not mine.threw and not stock.threw and mine.retval == stock.retval
    assert mine.x86_split.record > 0 and stock.x86_split.record == 0
    assert mine.x86_split.program > stock.x86_split.program


def test_registered_like_any_plugin() -> None:
    assert isinstance(get_strategy("resource-table"), ResourceTable)
