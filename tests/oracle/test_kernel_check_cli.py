"""`bakeoff kernel-check` against recorded truth, and `--record PATH` (writes only the manifests named)."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
import tomlkit

from framework import cli
from framework.cli import inputs as cli_inputs
from framework.oracle.identity import KernelBuild, running

ROOT = Path(__file__).resolve().parents[2]
OLD_BUILD = Path(__file__).resolve().parent / "data" / "old_build.toml"


def _corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, manifest_text: str) -> Path:
    """A corpus of one object, locks_held, whose manifest is `manifest_text`; the CLI looks there."""
    for sub in ("c", "obj"):
        (tmp_path / sub).mkdir()
    shutil.copy(ROOT / "programs" / "obj" / "locks_held.o", tmp_path / "obj")
    shutil.copy(ROOT / "programs" / "packets.toml", tmp_path)
    (tmp_path / "c" / "locks_held.toml").write_text(manifest_text)
    monkeypatch.setattr(cli_inputs, "CORPUS", tmp_path)
    return tmp_path / "obj" / "locks_held.o"


def test_record_needs_a_path(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["kernel-check", "--record"])
    assert exc.value.code == 2 and "--record: expected at least one argument" in capsys.readouterr().err


def test_record_refuses_what_is_not_a_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["kernel-check", "--record", str(tmp_path)]) == 2
    assert cli.main(["kernel-check", "--record", str(ROOT / "programs" / "obj" / "locks_held.o")]) == 2
    assert cli.main(["kernel-check", "x.o", "--record", str(OLD_BUILD)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"bakeoff: error: {tmp_path}: no manifests in this directory"
    assert len(err) == 3 and err[2].startswith("bakeoff: error: x.o: --record takes the manifests")


@pytest.mark.kernel
@pytest.mark.usefixtures("bpf")
def test_record_writes_the_manifests_named_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _corpus(tmp_path, monkeypatch, OLD_BUILD.read_text())
    manifest = tmp_path / "c" / "locks_held.toml"
    corpus_before = {p: p.read_bytes() for p in sorted((ROOT / "programs").rglob("*.toml"))}
    assert cli.main(["kernel-check", "--record", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert f"recorded what Linux {running()} says of 10 programs in 1 manifests" in out
    tables = [p["kernel"] for p in tomllib.loads(manifest.read_text())["program"]]
    assert all(KernelBuild.from_table(t) == running() for t in tables)
    assert manifest.read_text().startswith("# A manifest as recorded on an older build")  # comments survive
    assert {p: p.read_bytes() for p in corpus_before} == corpus_before  # the checkout is untouched
    assert cli.main(["kernel-check", "--record", str(tmp_path)]) == 0  # a corpus root: its manifests
    assert "in 1 manifests" in capsys.readouterr().out


@pytest.mark.kernel
@pytest.mark.usefixtures("bpf")
def test_drift_is_reported_with_the_command_and_exits_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tomlkit.parse(OLD_BUILD.read_text())
    next(p for p in doc["program"] if p["name"] == "spin_locked_clean")["kernel"]["insns_processed"] = 1  # type: ignore[union-attr]
    obj = _corpus(tmp_path, monkeypatch, tomlkit.dumps(doc))
    assert cli.main(["kernel-check", str(obj)]) == 0
    out = capsys.readouterr().out
    assert "kernel drift: recorded on 6.18.44-fc-v1147; running " in out
    assert "locks_held.toml:spin_locked_clean: insns_processed: recorded 1, kernel " in out
    assert "re-record: bakeoff kernel-check --record " in out and "disagrees" not in out
    assert cli.main(["kernel-check", str(obj), "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 10 and "kernel drift" in captured.err  # stdout stays JSON


@pytest.mark.kernel
@pytest.mark.usefixtures("bpf")
def test_a_changed_retval_fails_even_on_another_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tomlkit.parse(OLD_BUILD.read_text())
    next(p for p in doc["program"] if p["name"] == "rcu_section_clean")["kernel"]["retval"]["ipv4_tcp"] = 2  # type: ignore[union-attr,index]
    obj = _corpus(tmp_path, monkeypatch, tomlkit.dumps(doc))
    assert cli.main(["kernel-check", str(obj)]) == 1
    out = capsys.readouterr().out
    assert "the kernel disagrees with the manifests:\n  locks_held.toml:rcu_section_clean: retval[ipv4_tcp]" in out
    packet = tmp_path / "pkt.bin"
    packet.write_bytes(bytes(64))
    assert cli.main(["kernel-check", str(obj), "--data-in", str(packet)]) == 0  # another packet: retvals not compared
