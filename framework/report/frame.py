"""The results frame: one row per (program, strategy, case), its columns those of
framework.report.columns, made from each (program, strategy)'s `Costs`.

Rows are plain JSON values (they are what a stored result and `run --json` hold); `frame`
turns them into the pandas DataFrame every report reads, with nullable integer columns so
an empty figure stays empty, never 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from framework.measure import Costs
from framework.measure.costs import HappyPath, RunCase, ThrowCost
from framework.report.columns import COLUMNS, names

__all__ = ["About", "case_name", "case_rows", "frame", "plain", "to_rows"]


@dataclass(frozen=True, slots=True)
class About:
    """What a row says of its program, beside the strategy's figures."""

    object: str  # relative to the corpus
    object_sha256: str
    program: str
    family: str
    prog_type: str
    insns: int
    strategy_version: str


def case_name(input_name: str, throw_pc: int | None, hit: int) -> str:
    """`input` for a run as it goes; `input/throw@pc` when forced (`#n`: at its guard's n-th reach, n > 1)."""
    if throw_pc is None:
        return input_name
    return f"{input_name}/throw@{throw_pc}" + (f"#{hit}" if hit > 1 else "")


def _program_part(about: About, costs: Costs) -> dict[str, Any]:
    planned = costs.added_insns is not None
    return {
        "object": about.object,
        "object_sha256": about.object_sha256,
        "program": about.program,
        "family": about.family,
        "prog_type": about.prog_type,
        "insns": about.insns,
        "strategy": costs.strategy,
        "strategy_version": about.strategy_version,
        "stack_bytes": costs.deepest_chain if planned else None,
        "extra_stack_bytes": sum(costs.reserved_stack) if planned else None,
        "metadata_bytes": costs.metadata_bytes,
        "code_growth_insns": costs.added_insns,
        "jit_bytes": costs.jit_bytes,
        "stock_jit_bytes": costs.stock_jit_bytes,
    }


def _empty_run() -> dict[str, Any]:
    return {c.name: None for c in COLUMNS if c.per == "case"}


def _reason(run: RunCase) -> str | None:
    if run.verdict == "accepted":
        return None
    if run.check is not None and run.check.differences:
        return "; ".join(run.check.differences)
    if run.verdict == "timeout":
        declared = " (its manifest says the emulator cannot finish it)" if run.expected else ""
        return "stopped by the run's instruction or time limit" + declared
    if run.verdict == "unsupported":
        return "reached a service the emulated kernel does not model"
    return None


def _run_part(run: RunCase, happy: HappyPath | None, throw: ThrowCost | None) -> dict[str, Any]:
    row = _empty_run()
    ref = run.check.reference if run.check is not None else None
    row.update(
        case=case_name(run.input, run.throw_pc, run.hit),
        verdict=run.verdict,
        reason=_reason(run),
        throw_pc=run.throw_pc,
        retval=run.retval,
        reference_retval=ref.retval if ref is not None else None,
        agrees=run.agrees,
    )
    if not run.agrees:  # a disagreement is a verdict, never a figure
        return row
    row.update(
        frames_walked=ref.frames if ref is not None and ref.threw else None,
        held=sum(1 for h in ref.resources if h.by_unwinder) if ref is not None and ref.threw else None,
        released=run.released,
        leaked=run.leaked,
        double_released=run.double_released,
    )
    if happy is not None:
        row.update(
            happy_insns=happy.x86_insns,
            happy_extra_insns=happy.over_stock,
            x86_stack_bytes=happy.stack_high_water,
        )
    if throw is not None:
        row.update(
            throw_insns=throw.runtime,
            throw_walk_insns=throw.walk,
            throw_lookup_insns=throw.lookup,
            throw_release_insns=throw.release,
            throw_pad_insns=throw.pad,
            exception_cb_insns=throw.exception_cb,
            x86_stack_bytes=throw.stack_high_water,
        )
    return row


def case_rows(about: About, costs: Costs) -> list[dict[str, Any]]:
    """The rows of one (program, strategy): one per run, or one (case `verify`) when it did not run."""
    head = _program_part(about, costs)
    if not costs.runs:
        row = head | _empty_run()
        row.update(case="verify", verdict=costs.verdict, reason=costs.message)
        return [_ordered(row)]
    happy = {h.input: h for h in costs.happy}
    throws = {(t.input, t.throw_pc, t.hit): t for t in costs.throws}
    out = []
    for run in costs.runs:
        h = happy.get(run.input) if run.throw_pc is None else None
        t = throws.get((run.input, run.throw_pc, run.hit))
        out.append(_ordered(head | _run_part(run, h if t is None else None, t)))
    return out


def _ordered(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row.get(name) for name in names()}


def frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The results frame of `rows` (a stored result's), in the documented column order."""
    df = pd.DataFrame(list(rows), columns=list(names()))
    for col in COLUMNS:
        df[col.name] = df[col.name].astype(col.pandas_dtype)  # type: ignore[call-overload]
    return df


def to_rows(df: pd.DataFrame, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Back to JSON values: pandas' missing values as None, its integers as int."""
    records = df[list(columns or df.columns)].to_dict("records")
    return [{str(k): plain(v) for k, v in rec.items()} for rec in records]


def plain(v: Any) -> Any:
    """One value of the frame as JSON has it: a missing one None, numpy's numbers Python's."""
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    return v.item() if hasattr(v, "item") else v
