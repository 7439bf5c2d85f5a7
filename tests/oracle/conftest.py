"""Fixtures for tests of the kernel oracle: skip without bpf(), and prove nothing is left loaded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from framework.oracle import bpf_syscall as sys_
from framework.oracle.check import available


def need_bpf() -> None:
    reason = available()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def prog_ids_before() -> Iterator[frozenset[int]]:
    """Programs loaded before the oracle tests; at the end, none of ours may remain."""
    if available() is not None:
        yield frozenset()
        return
    before = sys_.loaded_prog_ids()
    yield before
    left = sys_.loaded_prog_ids() - before
    assert not left, f"programs left loaded by the oracle tests: ids {sorted(left)}"


@pytest.fixture(autouse=True)
def _track(prog_ids_before: frozenset[int]) -> None:
    """Every oracle test takes part in the session's leak check."""


@pytest.fixture
def bpf() -> None:
    need_bpf()
