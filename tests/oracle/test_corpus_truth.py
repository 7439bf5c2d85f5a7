"""Kernel truth: the live kernel must still say what the manifests' `[program.kernel]` tables recorded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from framework.oracle.manifest import check_corpus_truth, read_kernel_truth, write_corpus_truth

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "programs" / "c").glob("*.toml")) + sorted((ROOT / "programs" / "asm").glob("*.toml"))

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("bpf")]


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[m.stem for m in MANIFESTS])
def test_live_kernel_agrees_with_the_manifest(manifest: Path) -> None:
    if not read_kernel_truth(manifest):
        pytest.skip(
            f"{manifest.name} records no [program.kernel]; write it with framework.oracle.manifest.write_corpus_truth"
        )
    assert check_corpus_truth([manifest]) == []


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
    assert check_corpus_truth([copy]) == []
