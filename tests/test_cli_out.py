"""`--out DIR`, checked before any work.

A bad `--out` (a file, a path under a file, a place nothing can be created) is one line
naming the path, exit status 2, before the run; a missing directory is made when the run
writes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from framework import cli
from framework.cli import main

ROOT = Path(__file__).resolve().parents[1]
OBJ = ROOT / "programs" / "obj"


@pytest.fixture
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run must not start: a bad --out is refused first."""

    def ran(*_: Any) -> Any:
        raise AssertionError("the run started before --out was checked")

    monkeypatch.setattr(cli, "_run_one", ran)


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("kept\n")
    return path


BAD_OUT = [
    pytest.param(lambda t: _file(t), "it exists and is not a directory", id="a-file"),
    pytest.param(lambda t: _file(t) / "sub", "a-file is not a directory", id="under-a-file"),
    pytest.param(lambda t: _file(t) / "a" / "b", "a-file is not a directory", id="deep-under-a-file"),
    pytest.param(
        lambda t: Path("/proc/bakeoff-out"),
        "nothing can be created in /proc",
        id="proc",
        marks=pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc here"),
    ),
]


def _assert_one_line(code: int, err: str, out: Path, why: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"bakeoff: error: {out}: cannot be the --out directory: "), lines[0]
    assert why in lines[0], lines[0]


@pytest.mark.parametrize(("where", "why"), BAD_OUT)
@pytest.mark.usefixtures("no_run")
def test_run_refuses_a_bad_out_before_running(
    where: Any, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = where(tmp_path)
    code = main(["run", str(OBJ / "basic_throw.o"), "--out", str(out)])
    captured = capsys.readouterr()
    _assert_one_line(code, captured.err, out, why)
    assert captured.out == ""
    assert [p.name for p in tmp_path.iterdir()] in ([], ["a-file"])  # nothing made, the file untouched
    assert not (tmp_path / "a-file").exists() or (tmp_path / "a-file").read_text() == "kept\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a directory without write permission")
@pytest.mark.usefixtures("no_run")
def test_run_refuses_a_directory_without_write_permission(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code = main(["run", str(OBJ / "basic_throw.o"), "--out", str(locked / "out")])
    _assert_one_line(code, capsys.readouterr().err, locked / "out", "Permission denied")


def test_run_creates_a_missing_out_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "new" / "deeper"
    code = main(["run", str(OBJ / "basic_throw.o"), "--strategy", "stock", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert (out / "programs.json").is_file() and (out / "provenance.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["new"]  # the probe left nothing behind


@pytest.mark.parametrize(("where", "why"), BAD_OUT)
def test_kernel_throw_cost_refuses_a_bad_out_before_measuring(
    where: Any, why: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import framework.oracle.throw_family as family

    def measured(*_: Any, **__: Any) -> Any:
        raise AssertionError("measured before --out was checked")

    monkeypatch.setattr(family, "throw_cost", measured)
    out = where(tmp_path)
    code = main(["kernel-throw-cost", "--out", str(out)])
    _assert_one_line(code, capsys.readouterr().err, out, why)
