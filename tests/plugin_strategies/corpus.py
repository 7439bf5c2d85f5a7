"""What every strategy test reads: the corpus entries, and one program through the pipeline's
verify stage under a strategy, its state beside it."""

from __future__ import annotations

from typing import Any

from framework import pipeline
from framework.load.corpus import corpus_entries, manifests
from framework.load.program import Program
from framework.strategy import Strategy

ENTRIES = [e for m in manifests() for e in corpus_entries(m)]


def verified(strategy: Strategy, program: Program) -> tuple[Any, pipeline.Verified]:
    """`program` prepared and verified under `strategy` (framework.pipeline.verify): the state the
    strategy's last hook returned, and the `Verified`."""
    v = pipeline.verify(program, strategy)
    return v.analysis.strategy_state, v


def planned(strategy: Strategy, program: Program) -> tuple[Any, pipeline.Planned]:
    """`verified`, then the pipeline's plan stage (the program must be accepted)."""
    state, v = verified(strategy, program)
    return state, pipeline.plan(v)
