"""Every report names where its figures come from."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from framework.cli import main
from framework.provenance import provenance

OBJ = Path(__file__).resolve().parents[2] / "programs" / "obj"


def test_provenance_names_commit_tools_and_machine() -> None:
    p = provenance()
    assert p["format_version"] == 2  # a reader of stored results checks it first
    if shutil.which("git") and (Path(__file__).resolve().parents[2] / ".git").exists():
        assert p["commit"] is not None and re.fullmatch(r"[0-9a-f]{40}", p["commit"])
    assert p["packages"]["unicorn"] and p["packages"]["iced-x86"]
    assert p["runtime_compiler"] is None or p["runtime_compiler"].startswith("gcc")
    assert set(p["strategies"]) >= {"stock", "frame-descriptors", "resource-table", "hybrid-spill", "landing-pads"}
    assert p["machine"]["cpus"] and p["machine"]["kernel"]


def test_run_out_writes_provenance_beside_the_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(OBJ / "regs_callee_saved.o"), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = json.loads((tmp_path / "programs.json").read_text())
    prov = json.loads((tmp_path / "provenance.json").read_text())
    assert {r["strategy"] for r in rows} == set(prov["strategies"])
    words = " ".join(out.split())  # the notes are wrapped to the terminal's 80 columns
    assert f"bakeoff {prov['commit'][:12]}" in words and "Counts are exact instructions in the emulator" in words
