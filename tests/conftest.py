"""Shared fixtures: where the shared folder and the corpus are, and plugin isolation."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFORMANCE = SHARED / "conformance" / "bpf_conformance"

# A stray installed strategy plugin must not change test results.
os.environ.setdefault("BAKEOFF_DISABLE_PLUGIN_AUTOLOAD", "1")
# Every `bakeoff run` appends a stored result: the suite's go to a directory of its own, not the user's.
os.environ["BAKEOFF_RESULTS"] = tempfile.mkdtemp(prefix="bakeoff-test-results-")
# ... and measure every time: a test that changes the framework under a run must not get cached rows.
os.environ["BAKEOFF_NO_CACHE"] = "1"


def need_tool(name: str) -> str:
    """The tool's path, or skip the test saying which tool is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install clang-19 llvm-19)")
    return path


@pytest.fixture
def conformance_dir() -> Path:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"the bpf_conformance suite is not at {CONFORMANCE} (../shared is absent)")
    return CONFORMANCE
