"""What every strategy test reads: the corpus entries, and one verification under a fresh strategy."""

from __future__ import annotations

from typing import TypeVar

from framework.load.corpus import corpus_entries, manifests
from framework.load.program import Program
from framework.strategy import Strategy
from framework.verify import Analysis, verify

ENTRIES = [e for m in manifests() for e in corpus_entries(m)]

S = TypeVar("S", bound=Strategy)


def verified(strategy: S, program: Program) -> tuple[S, Analysis]:
    """`program` prepared and verified under `strategy` (a fresh instance: it keeps the tables)."""
    return strategy, verify(strategy.prepare(program), strategy, log_level=0)
