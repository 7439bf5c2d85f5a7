"""`--out DIR`, checked before any work, and nothing written into the checkout unless it is named.

A bad `--out` (a file, a path under a file, a place nothing can be created) is one line
naming the path, exit status 2, before the run; a missing directory is made when the run
writes. `kernel-throw-cost` prints its table and writes only with `--out`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pytest

from framework.cli import build_parser, main
from framework.cli import run as cli_run

ROOT = Path(__file__).resolve().parents[1]
OBJ = ROOT / "programs" / "obj"


@pytest.fixture
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run must not start: a bad --out is refused first."""

    def ran(*_: Any) -> Any:
        raise AssertionError("the run started before --out was checked")

    monkeypatch.setattr(cli_run, "_run_one", ran)


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

    monkeypatch.setattr(family, "kernel_throw_cost", measured)
    out = where(tmp_path)
    code = main(["kernel-throw-cost", "--out", str(out)])
    _assert_one_line(code, capsys.readouterr().err, out, why)


# ---------------------------------------------------------------- nothing written unless named


def test_no_command_defaults_a_path_to_write() -> None:
    """Every `--out` of every command defaults to nothing: the checkout is written only when named."""
    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    seen = []
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if "--out" in action.option_strings:
                seen.append(name)
                assert action.default is None, f"{name} --out defaults to {action.default!r}"
    assert {"run", "kernel-throw-cost"} <= set(seen)


class _Fake:
    table = "depth  throw ns\n1  500\n"
    table_path = plot_path = None


def test_kernel_throw_cost_without_out_prints_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import framework.oracle.check as check
    import framework.oracle.throw_family as family

    given: list[object] = []

    def measured(out_dir: object, **_: object) -> _Fake:
        given.append(out_dir)
        return _Fake()

    monkeypatch.setattr(check, "available", lambda: None)
    monkeypatch.setattr(family, "kernel_throw_cost", measured)
    monkeypatch.chdir(tmp_path)
    assert main(["kernel-throw-cost"]) == 0
    assert given == [None]
    assert capsys.readouterr().out == _Fake.table + "\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.kernel
def test_kernel_throw_cost_on_this_kernel_writes_only_where_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from framework.oracle.check import available

    reason = available()
    if reason is not None:
        pytest.skip(reason)
    monkeypatch.chdir(tmp_path)
    assert main(["kernel-throw-cost", "--batches", "1", "--repeat", "1"]) == 0
    assert "too deep" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []
    assert main(["kernel-throw-cost", "--batches", "1", "--repeat", "1", "--out", "k"]) == 0
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["throw_cost.png", "throw_cost.txt"]
    assert "written: k/throw_cost.txt, k/throw_cost.png" in capsys.readouterr().out
