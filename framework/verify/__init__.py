"""Verify stage: Linux's verifier rules, strategy hooks inside (issue 5).

`verify(program, strategy)` walks every path as do_check does and returns a frozen
`Analysis`; `verify_json` gives `bakeoff verify --json`'s object (DESIGN.md).
"""

from __future__ import annotations

from framework.load.program import Program
from framework.strategy import Strategy
from framework.verify.analyzer import verify
from framework.verify.result import Analysis, FrameHoldings, Holding, Nullness, ThrowSite, Verdict

__all__ = ["Analysis", "FrameHoldings", "Holding", "Nullness", "ThrowSite", "Verdict", "verify", "verify_json"]


def verify_json(program: Program, strategy: Strategy | None = None) -> tuple[dict[str, object], int]:
    """The `bakeoff verify --json` object and the exit status (0 accepted, 1 rejected, 3 unsupported)."""
    analysis = verify(program, strategy)
    return analysis.to_json(), {Verdict.ACCEPTED: 0, Verdict.REJECTED: 1, Verdict.UNSUPPORTED: 3}[analysis.verdict]
