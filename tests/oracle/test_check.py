"""kernel-check's JSON contract and table."""

from __future__ import annotations

import os

import pytest

from framework.load.corpus import RunInput
from framework.oracle.check import JSON_KEYS, available, kernel_check, render, to_json
from framework.oracle.identity import running
from framework.oracle.throw_family import COOKIE, family_member

DESIGN_KEYS = [
    "program",
    "verdict",
    "message",
    "stack_depth",
    "insns_processed",
    "verification_usec",
    "bytes_jited",
    "retval",
    "ns",
    "kernel",
]


def test_json_keys_are_designs() -> None:
    assert list(JSON_KEYS) == DESIGN_KEYS


def test_available_is_none_or_one_line() -> None:
    reason = available()
    assert reason is None or "\n" not in reason


@pytest.mark.kernel
@pytest.mark.usefixtures("bpf")
def test_kernel_check_records_and_renders() -> None:
    programs = [family_member(2, True), family_member(9, True)]
    records = kernel_check(programs, {"throw_d2": [RunInput("pkt", bytes(64))]}, batches=3, repeat=50)
    ok, refused = (to_json(r) for r in records)
    assert list(ok) == DESIGN_KEYS and list(refused) == DESIGN_KEYS
    assert ok["verdict"] == "accepted" and ok["message"] is None and ok["retval"] == COOKIE
    assert ok["stack_depth"] == [0, 0, 0] and ok["bytes_jited"] > 0 and ok["ns"] > 0
    assert ok["kernel"] == running().to_table() and ok["kernel"]["release"] == os.uname().release
    assert refused["verdict"] == "rejected" and refused["retval"] is None and refused["ns"] is None
    text = render(records)
    assert "throw_d2" in text and "too deep" in text
