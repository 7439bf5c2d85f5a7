"""Kernel drift: the one rule for comparing the live kernel with recorded truth (framework.oracle.drift)."""

from __future__ import annotations

import pytest

from framework.oracle.drift import Figure, KernelDrift, compare, drift_report, settle
from framework.oracle.identity import KernelBuild

A = KernelBuild("6.18.44-fc-v1", "#1 SMP", "aa" * 32)
B = KernelBuild("6.18.44-fc-v2", "#1 SMP", "bb" * 32)


def test_the_rule() -> None:
    figures = [Figure("verdict", "accepted", "accepted"), Figure("insns_processed", 36, 24, drifts=True)]
    same = compare("p", figures, A, A, "rerecord p")
    assert [f.name for f in same.failures] == ["insns_processed"] and not same.drift
    other = compare("p", figures, A, B, "rerecord p")
    assert other.ok and other.drift_lines() == ["p: insns_processed: recorded 36, kernel 24"]
    report = drift_report([other])
    assert report is not None and "recorded on 6.18.44-fc-v1" in report and report.endswith("re-record: rerecord p")
    broken = compare("p", [Figure("retval[x]", 2, 0), *figures], A, B, "rerecord p")
    assert broken.failure_lines() == ["p: retval[x]: recorded 2, kernel 0"]
    assert drift_report([compare("p", figures[:1], A, B, "r")]) is None
    assert compare("p", [Figure("line", "x", "y", drifts=True, agrees=True)], A, A, "r").ok


def test_settle_warns_on_drift_and_fails_on_the_rest() -> None:
    drifted = compare("p", [Figure("insns_processed", 36, 24, drifts=True)], A, B, "rerecord p")
    with pytest.warns(KernelDrift, match="rerecord p"):
        settle([drifted])
    failed = compare("p", [Figure("verdict", "accepted", "rejected")], A, B, "rerecord p")
    with pytest.raises(AssertionError, match="p: verdict: recorded 'accepted', kernel 'rejected'"):
        settle([failed])
