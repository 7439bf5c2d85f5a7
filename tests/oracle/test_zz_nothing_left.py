"""Runs last among the oracle tests: no program they loaded is still in the kernel, nothing pinned."""

from __future__ import annotations

import subprocess

import pytest

from framework.oracle import bpf_syscall as sys_

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("bpf")]


def test_no_program_left_loaded(prog_ids_before: frozenset[int]) -> None:
    left = sys_.loaded_prog_ids() - prog_ids_before
    assert not left, f"programs still loaded: ids {sorted(left)}"


def test_no_private_bpffs_left_mounted() -> None:
    mounts = subprocess.run(["mount", "-t", "bpf"], capture_output=True, text=True).stdout
    assert "pytest-of" not in mounts, mounts
