"""framework.pipeline: the one driver verifies each (program, strategy) once and carries its artifacts."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from framework import pipeline
from framework.load.corpus import corpus_entries, manifests
from framework.plugins import get_strategy

ENTRIES = {e.program.name: e for m in manifests() for e in corpus_entries(m)}


def _counted(name: str) -> tuple[object, dict[str, int]]:
    """A fresh instance of the strategy, its `prepare` and verifier-end hook counted."""
    strategy = get_strategy(name)
    calls = {"prepare": 0, "reserved_stack": 0}
    prepare, reserved = strategy.prepare, strategy.reserved_stack

    def counted_prepare(program, survey=None):  # type: ignore[no-untyped-def]
        calls["prepare"] += 1
        return prepare(program, survey)

    def counted_reserved(state, subprog, peak):  # type: ignore[no-untyped-def]
        calls["reserved_stack"] += int(subprog == 0)  # asked once per subprog, at the verifier's end
        return reserved(state, subprog, peak)

    strategy.prepare, strategy.reserved_stack = counted_prepare, counted_reserved  # type: ignore[method-assign]
    return strategy, calls


@pytest.mark.parametrize(
    ("name", "program"),
    [
        ("stock", "throw_static"),
        ("resource-table", "ctx_held"),
        ("frame-descriptors", "ctx_held"),
        ("landing-pads", "four_frames"),
        ("resource-table-inline", "four_frames"),
    ],
)
def test_measure_verifies_once(name: str, program: str) -> None:
    entry = ENTRIES[program]
    strategy, calls = _counted(name)
    costs = pipeline.measure(entry.program, strategy, entry.inputs)  # type: ignore[arg-type]
    assert costs.runs, "the program has runs to measure"
    assert calls == {"prepare": 1, "reserved_stack": 1}


def test_artifacts_are_frozen_and_carry_what_later_stages_read() -> None:
    entry = ENTRIES["ctx_held"]
    verified = pipeline.verify(entry.program, get_strategy("resource-table"))
    planned = pipeline.plan(verified)
    assert planned.verified is verified and planned.plan.strategy == "resource-table"
    assert planned.fixed.program.name == entry.program.name
    with pytest.raises(FrozenInstanceError):
        planned.plan = None  # type: ignore[misc]
    runs = pipeline.exercise(planned, entry.inputs)
    assert runs and all(r.check is None or r.check.agrees for r in runs)


def test_a_refused_program_has_no_plan() -> None:
    refused = next(
        e for e in ENTRIES.values() if e.spec.get("expect", {}).get("stock", {}).get("verdict") == "rejected"
    )
    verified = pipeline.verify(refused.program, get_strategy("stock"))
    assert not verified.accepted
    with pytest.raises(ValueError, match="refused under stock"):
        pipeline.plan(verified)


def test_one_run_is_the_exercised_run() -> None:
    entry = ENTRIES["ctx_held"]
    planned = pipeline.plan(pipeline.verify(entry.program, get_strategy("frame-descriptors")))
    alone = pipeline.run(planned, entry.inputs[0])
    first = pipeline.exercise(planned, entry.inputs[:1], forced=False)[0].result
    assert (alone.retval, alone.threw, alone.x86_insns, alone.released_by_unwinder) == (
        first.retval,
        first.threw,
        first.x86_insns,
        first.released_by_unwinder,
    )
    assert alone.x86_split is not None and alone.x86_split.total == alone.x86_insns
