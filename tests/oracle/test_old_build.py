"""A manifest recorded on an older build (data/old_build.toml, Linux 6.18.44-fc-v1147) against the kernel here.

What moved with the build is drift and passes; a changed verdict, message, stack depth or
return value in the same fixture fails.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
import tomlkit

from framework.oracle.drift import KernelDrift, drift_report, settle
from framework.oracle.identity import KernelBuild, running
from framework.oracle.manifest import check_corpus_truth, rerecord_command

ROOT = Path(__file__).resolve().parents[2]
OLD_BUILD = Path(__file__).resolve().parent / "data" / "old_build.toml"
# drift is reported as a KernelDrift warning, which pyproject's filterwarnings would make an error
SHOW_DRIFT = pytest.mark.filterwarnings("default::framework.oracle.drift.KernelDrift")


def _old_build_copy(tmp_path: Path) -> Path:
    """The fixture in a corpus of its own: c/old_build.toml with obj/locks_held.o and the packets."""
    (tmp_path / "c").mkdir()
    (tmp_path / "obj").mkdir()
    shutil.copy(ROOT / "programs" / "obj" / "locks_held.o", tmp_path / "obj")
    shutil.copy(ROOT / "programs" / "packets.toml", tmp_path)
    copy = tmp_path / "c" / "old_build.toml"
    shutil.copy(OLD_BUILD, copy)
    return copy


def _edit(manifest: Path, program: str, **kernel: object) -> None:
    doc = tomlkit.parse(manifest.read_text())
    table = next(p for p in doc["program"] if p["name"] == program)  # type: ignore[union-attr]
    for key, value in kernel.items():
        table["kernel"][key] = value
    manifest.write_text(tomlkit.dumps(doc))


def test_the_fixture_was_recorded_on_an_older_build() -> None:
    tables = [p["kernel"] for p in tomllib.loads(OLD_BUILD.read_text())["program"]]
    assert {t["release"] for t in tables} == {"6.18.44-fc-v1147"} and len(tables) == 10
    assert not any(KernelBuild.from_table(t).same_build(running()) for t in tables)


@pytest.mark.kernel
@pytest.mark.usefixtures("bpf")
@SHOW_DRIFT
def test_truth_from_an_older_build_drifts_without_failing(tmp_path: Path) -> None:
    copy = _old_build_copy(tmp_path)
    _edit(copy, "spin_locked_clean", insns_processed=1)  # a figure no build gives: drift for certain
    checked = check_corpus_truth([copy])
    assert len(checked) == 10 and all(c.ok for c in checked), [line for c in checked for line in c.failure_lines()]
    drifted = {f.name for c in checked for f in c.drift}
    assert drifted == {"insns_processed"}
    assert "old_build.toml:spin_locked_clean: insns_processed: recorded 1, kernel " in drift_report(checked)  # type: ignore[operator]
    assert {c.rerecord for c in checked} == {rerecord_command(copy)}
    with pytest.warns(KernelDrift, match="re-record: bakeoff kernel-check --record "):
        settle(checked)


@pytest.mark.kernel
@pytest.mark.usefixtures("bpf")
@pytest.mark.filterwarnings("ignore::framework.oracle.drift.KernelDrift")  # the fixture's own drift, shown once above
@pytest.mark.parametrize(
    ("program", "change", "failure"),
    [
        ("spin_locked", {"verdict": "accepted"}, "old_build.toml:spin_locked: verdict: recorded 'accepted'"),
        ("spin_locked_clean", {"retval": {"eth_short": 0}}, "spin_locked_clean: retval[eth_short]: recorded 0"),
        ("rcu_section", {"message": "bpf_throw would lead to reference leak"}, "rcu_section: message: recorded"),
        ("throw_in_callback_clean", {"stack_depth": [8, 0]}, "stack_depth: recorded [8, 0]"),
    ],
)
def test_a_changed_verdict_or_retval_on_an_older_build_still_fails(
    tmp_path: Path, program: str, change: dict[str, object], failure: str
) -> None:
    copy = _old_build_copy(tmp_path)
    _edit(copy, program, **change)
    checked = check_corpus_truth([copy])
    assert [c.subject for c in checked if not c.ok] == [f"old_build.toml:{program}"]
    with pytest.raises(AssertionError, match=failure.replace("[", r"\[").replace("]", r"\]")):
        settle(checked)
