"""Kernel truth: the live kernel must still say what the manifests' `[program.kernel]` tables recorded.

By framework.oracle.drift's rule: exactly on the build that recorded it; on another build the
processed-instruction counts are reported as a `KernelDrift` warning (with the command that
re-records them), and only verdict, message, stack depth and return values fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from framework.oracle.drift import settle
from framework.oracle.identity import running
from framework.oracle.manifest import check_corpus_truth, read_kernel_truth, write_corpus_truth

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "programs" / "c").glob("*.toml")) + sorted((ROOT / "programs" / "asm").glob("*.toml"))

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.usefixtures("bpf"),
    pytest.mark.filterwarnings("default::framework.oracle.drift.KernelDrift"),
]


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[m.stem for m in MANIFESTS])
def test_live_kernel_agrees_with_the_manifest(manifest: Path) -> None:
    if not read_kernel_truth(manifest):
        pytest.skip(
            f"{manifest.name} records no [program.kernel]; write it with bakeoff kernel-check --record {manifest}"
        )
    settle(check_corpus_truth([manifest]))


def test_written_truth_reloads_without_disagreement(tmp_path: Path) -> None:
    """Write truth into a copy of one manifest (and its object) and check it back."""
    src = ROOT / "programs" / "c" / "basic_throw.toml"
    if not src.is_file():
        pytest.skip("the corpus is not in the tree")
    (tmp_path / "c").mkdir()
    shutil.copytree(ROOT / "programs" / "obj", tmp_path / "obj")
    shutil.copy(ROOT / "programs" / "packets.toml", tmp_path / "packets.toml")
    copy = tmp_path / "c" / "basic_throw.toml"
    copy.write_text(src.read_text())
    records = write_corpus_truth([copy], batches=1, repeat=1)
    assert {r.program for r in records} == set(read_kernel_truth(copy))
    assert read_kernel_truth(copy)["throw_no_cb"]["retval"] == {"eth_short": 64, "ipv4_tcp": 0}
    assert copy.read_text().startswith(src.read_text().splitlines()[0])  # the leading comment survives
    checked = check_corpus_truth([copy])
    assert {c.recorded for c in checked} == {running()}  # the identity written is the running kernel's
    assert all(c.ok and not c.drift for c in checked)


def _stock_cases() -> list[tuple[Path, str]]:
    import tomllib

    cases = []
    for manifest in MANIFESTS:
        for program in tomllib.loads(manifest.read_text()).get("program", ()):
            stock = program.get("expect", {}).get("stock", {})
            if stock.get("source") == "kernel":
                cases.append((manifest, program["name"]))
    return cases


STOCK = _stock_cases()


@pytest.mark.parametrize(("manifest", "name"), STOCK, ids=[f"{m.stem}:{n}" for m, n in STOCK])
def test_our_loader_meets_the_manifests_kernel_expectations(manifest: Path, name: str) -> None:
    """Every `[program.expect.stock]` with source = "kernel", exception callbacks included."""
    import tomllib

    from framework.oracle.manifest import corpus_entries
    from framework.oracle.record import record

    spec = next(p for p in tomllib.loads(manifest.read_text())["program"] if p["name"] == name)
    expect = spec["expect"]["stock"]
    entry = next(e for e in corpus_entries(manifest) if e.program.name == name)
    rec = record(entry.program, entry.live_inputs, batches=1, repeat=1)
    assert rec.verdict == expect["verdict"], rec.log[-2000:]
    if "message" in expect:
        assert rec.message is not None and expect["message"] in rec.log
    got = {run.input: run.retval for run in rec.runs}
    assert {k: got.get(k) for k in expect.get("retval", {})} == expect.get("retval", {})


def test_known_leaking_programs_are_never_test_run_on_the_live_kernel() -> None:
    """global_chain: rejected under the fixed semantics; the fc-v769 build accepted it and leaked on every throw."""
    from framework.oracle.manifest import corpus_entries

    manifest = Path(__file__).resolve().parents[2] / "programs" / "c" / "throw_global_chain.toml"
    entries = {e.program.name: e for e in corpus_entries(manifest)}
    assert entries["global_chain"].inputs and entries["global_chain"].live_inputs == ()
    assert entries["global_chain_clean"].live_inputs == entries["global_chain_clean"].inputs
