"""Program types beyond tc load as libbpf would load them: xdp's attach type, syscall's sleepable flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.load import load_path
from framework.oracle.check import available
from framework.oracle.record import record


@pytest.fixture(autouse=True)
def _bpf() -> None:
    reason = available()
    if reason is not None:
        pytest.skip(reason)


@pytest.mark.parametrize("section", ["xdp", "syscall"])
def test_program_type_loads(section: str, tmp_path: Path) -> None:
    src = tmp_path / "p.s"
    src.write_text(f"# program: p\n# section: {section}\np:\n\tr0 = 0\n\texit\n")
    (program,) = load_path(str(src))
    rec = record(program)
    assert rec.verdict == "accepted", rec.log
