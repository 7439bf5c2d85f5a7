"""Every corpus program under every built strategy: the verdict its manifest expects.

Each `[program.expect.<strategy>]` names where it comes from (the RFC test, the rule
of Eduard's mail or of Kumar's reply); one case drives every strategy.
"""

from __future__ import annotations

import pytest

from framework.load.corpus import CorpusEntry
from framework.strategy import Strategy
from strategies.frame_descriptors import FrameDescriptors
from strategies.hybrid_spill import HybridSpill
from strategies.landing_pads import LandingPads
from strategies.resource_table import ResourceTable
from strategies.resource_table_inline import ResourceTableInline

from .corpus import ENTRIES, verified

BUILT: tuple[type[Strategy], ...] = (FrameDescriptors, ResourceTable, HybridSpill, LandingPads, ResourceTableInline)
CASES = [(cls, e) for cls in BUILT for e in ENTRIES]


@pytest.mark.parametrize(("cls", "entry"), CASES, ids=[f"{c.name}/{e.program.name}" for c, e in CASES])
def test_verdict_is_the_manifests(cls: type[Strategy], entry: CorpusEntry) -> None:
    expect = entry.spec["expect"][cls.name]
    _, analysis = verified(cls(), entry.program)
    assert analysis.verdict.value == expect["verdict"], (analysis.message, expect["source"])
    if expect["verdict"] == "rejected":
        assert analysis.message is not None and expect["message"] in analysis.message
