"""The throw family on the running kernel: cookies, the frame limit, cost by depth."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from framework.oracle.throw_family import COOKIE, MAX_FRAMES, kernel_throw_cost

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("bpf")]


def test_family_on_this_kernel(tmp_path: Path) -> None:
    result = kernel_throw_cost(tmp_path, batches=5, repeat=500)
    assert [d.depth for d in result.depths] == list(range(1, MAX_FRAMES + 1))
    for d in result.depths:
        assert d.throw.verdict == d.normal.verdict == "accepted"
        assert d.throw.runs[0].retval == COOKIE  # the default callback returns the cookie
        assert d.normal.runs[0].retval == COOKIE
        # one stack entry per frame, plus the hidden default exception callback
        assert len(d.throw.stack_depth) == d.depth + 1
        assert len(d.normal.stack_depth) == d.depth
    assert result.too_deep.verdict == "rejected"
    assert result.too_deep.message == f"the call stack of {MAX_FRAMES + 1} frames is too deep"

    throw_ns = [d.throw.runs[0].ns for d in result.depths]
    ret_ns = [d.normal.runs[0].ns for d in result.depths]
    # cost rises with depth: the per-frame slope is positive and throwing costs more than returning
    assert statistics.linear_regression(range(1, MAX_FRAMES + 1), throw_ns).slope > 20
    assert throw_ns[-1] > throw_ns[0] and ret_ns[-1] > ret_ns[0]
    assert all(t > r for t, r in zip(throw_ns, ret_ns, strict=True))

    assert result.table_path.read_text().startswith(result.table[:40])
    assert result.plot_path.read_bytes()[:4] == b"\x89PNG"
    assert "too deep" in result.table
