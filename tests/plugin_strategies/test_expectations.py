"""Every corpus program under every built strategy: the verdict its manifest expects.

Each `[program.expect.<strategy>]` names where it comes from (the RFC test, the rule
of Eduard's mail or of Kumar's reply); one case drives every strategy.
"""

from __future__ import annotations

import pytest

from framework.load.corpus import CorpusEntry
from framework.plugins import strategies
from framework.strategy import Strategy

from .corpus import ENTRIES, verified

# every registered strategy the manifests hold expectations for (stock's are the kernel's own)
EXPECTED = sorted({name for e in ENTRIES for name in e.spec["expect"]} - {"stock"})
CASES = [(strategies()[name].strategy, e) for name in EXPECTED if name in strategies() for e in ENTRIES]


def test_every_strategy_the_manifests_expect_is_registered() -> None:
    assert EXPECTED and [n for n in EXPECTED if n not in strategies()] == []


@pytest.mark.parametrize(("strategy", "entry"), CASES, ids=[f"{s.name}/{e.program.name}" for s, e in CASES])
def test_verdict_is_the_manifests(strategy: Strategy, entry: CorpusEntry) -> None:
    expect = entry.spec["expect"][strategy.name]
    analysis = verified(strategy, entry.program)[1].analysis
    assert analysis.verdict.value == expect["verdict"], (analysis.message, expect["source"])
    if expect["verdict"] == "rejected":
        assert analysis.message is not None and expect["message"] in analysis.message
