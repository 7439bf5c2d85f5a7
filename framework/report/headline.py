"""The headline: per strategy, what it accepts and what it costs, from the results frame alone.

Space: programs accepted and refused, stack bytes added (median and worst over the accepted;
`>512`: programs stock accepts that the strategy's stack pushes past MAX_BPF_STACK, refused
for it), metadata bytes and code growth (median and worst). Time, in exact x86 instructions
in the emulator: happy-path instructions added over stock's JIT of the same program and input
(median and worst over every case that returned), throw-time instructions (walk + lookup +
release + landing pads; median and worst over every case that threw), per frame walked and
per resource released (release and landing-pad instructions; medians of each throw's ratio),
and mismatches (runs that disagreed with their reference: verdicts, not figures).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from framework.verify.state import MAX_BPF_STACK

__all__ = ["Headline", "Line", "headline"]

_PROGRAM = ["object", "program"]


@dataclass(frozen=True, slots=True)
class Line:
    strategy: str
    version: str
    accepted: int
    refused: int
    errors: int  # programs whose strategy code raised
    stack_median: float | None
    stack_worst: int | None
    past_512: int
    metadata_median: float | None
    metadata_worst: int | None
    growth_median: float | None
    growth_worst: int | None
    happy_median: float | None
    happy_worst: int | None
    throw_median: float | None
    throw_worst: int | None
    per_frame: float | None
    per_resource: float | None
    throws: int  # throw cases measured
    mismatches: int
    refusals: tuple[tuple[str, int], ...]  # the most common refusal reasons, in full, with counts


@dataclass(frozen=True, slots=True)
class Headline:
    lines: tuple[Line, ...]
    programs: int
    cases: int
    mismatches: int


def _median(s: pd.Series) -> float | None:
    s = s.dropna()
    return float(s.median()) if len(s) else None


def _worst(s: pd.Series) -> int | None:
    s = s.dropna()
    return int(s.max()) if len(s) else None


def _stack_refusal(reason: object) -> bool:
    text = str(reason or "").lower()
    return "stack" in text and "too large" in text


def headline(df: pd.DataFrame, top: int = 3) -> Headline:
    """The headline of a results frame, strategies in their order of first appearance."""
    per_program = df.drop_duplicates([*_PROGRAM, "strategy"])
    stock_ok = set()
    if "stock" in set(df["strategy"]):
        s = per_program[(per_program["strategy"] == "stock") & (per_program["verdict"] != "rejected")]
        stock_ok = set(zip(s["object"], s["program"], strict=True))
    lines = []
    for name in dict.fromkeys(df["strategy"]):
        rows = df[df["strategy"] == name]
        progs = per_program[per_program["strategy"] == name]
        refused = progs[progs["verdict"] == "rejected"]
        errors = progs[progs["verdict"] == "error"]
        ran = progs[~progs["verdict"].isin(["rejected", "error"])]
        pushed = sum(
            1
            for obj, prog, reason in zip(refused["object"], refused["program"], refused["reason"], strict=True)
            if (obj, prog) in stock_ok and _stack_refusal(reason)
        )
        pushed += int((ran["stack_bytes"].dropna() > MAX_BPF_STACK).sum())
        thrown = rows.dropna(subset=["throw_insns"])
        per_frame = (thrown["throw_insns"] / thrown["frames_walked"]).where(thrown["frames_walked"] > 0)
        releasing = thrown[thrown["released"] > 0]
        # landing pads release in their pads: the pads' instructions are theirs to count
        per_res = (releasing["throw_release_insns"] + releasing["throw_pad_insns"]) / releasing["released"]
        reasons = Counter(str(r) for r in refused["reason"] if r is not None and r is not pd.NA)
        lines.append(
            Line(
                name,
                str(progs["strategy_version"].iloc[0]) if len(progs) else "",
                len(ran),
                len(refused),
                len(errors),
                _median(ran["extra_stack_bytes"]),
                _worst(ran["extra_stack_bytes"]),
                pushed,
                _median(ran["metadata_bytes"]),
                _worst(ran["metadata_bytes"]),
                _median(ran["code_growth_insns"]),
                _worst(ran["code_growth_insns"]),
                _median(rows["happy_extra_insns"]),
                _worst(rows["happy_extra_insns"]),
                _median(thrown["throw_insns"]),
                _worst(thrown["throw_insns"]),
                _median(per_frame.astype("Float64")),
                _median(per_res.astype("Float64")),
                len(thrown),
                int((rows["verdict"] == "mismatch").sum()),
                tuple(reasons.most_common(top)),
            )
        )
    return Headline(
        tuple(lines),
        programs=len(df.drop_duplicates(_PROGRAM)),
        cases=len(df),
        mismatches=int((df["verdict"] == "mismatch").sum()),
    )
