"""Kernel truth written into a manifest keeps the manifest's comments, and is checked on reload."""

from __future__ import annotations

from pathlib import Path

from framework.oracle.drift import compare
from framework.oracle.identity import KernelBuild
from framework.oracle.manifest import figures, read_kernel_truth, write_kernel_truth
from framework.oracle.record import InputRun, KernelRecord

MANIFEST = """\
# A corpus manifest (comment kept)
source = "c/p.bpf.c"
object = "obj/p.o"

[[program]]
name = "p"  # trailing comment kept
section = "tc"

[[program.input]]
name = "pkt"
builder = "eth_short"

[program.expect.stock]
verdict = "accepted"

[[program]]
name = "q"
section = "tc"
"""


def _rec(name: str = "p", verdict: str = "accepted", message: str | None = None, retval: int = 3) -> KernelRecord:
    runs = (InputRun("pkt", retval, 50.0, 48, 60, 11, 1000),) if verdict == "accepted" else ()
    return KernelRecord(
        program=name,
        verdict=verdict,
        message=message,
        errno=0 if verdict == "accepted" else 13,
        stack_depth=(8, 0),
        insns_processed=12,
        verification_usec=40,
        bytes_xlated=96,
        bytes_jited=70,
        jited_image=b"",
        jited_ksyms=(),
        jited_func_lens=(),
        jited_lines=(),
        runs=runs,
        log="",
    )


BUILD = KernelBuild("6.18.44-test", "#1 SMP PREEMPT_DYNAMIC @0", "ab" * 32)


def test_write_keeps_comments_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(MANIFEST)
    write_kernel_truth(path, [_rec(), _rec("q", "rejected", "R0 !read_ok")], BUILD)
    text = path.read_text()
    assert "# A corpus manifest (comment kept)" in text and "# trailing comment kept" in text
    truth = read_kernel_truth(path)
    assert truth["p"] == {
        "release": "6.18.44-test",
        "version": "#1 SMP PREEMPT_DYNAMIC @0",
        "btf_sha256": "ab" * 32,
        "verdict": "accepted",
        "stack_depth": [8, 0],
        "insns_processed": 12,
        "retval": {"pkt": 3},
    }
    assert truth["q"]["message"] == "R0 !read_ok" and "retval" not in truth["q"]
    assert KernelBuild.from_table(truth["p"]) == BUILD  # no build id: none is written
    assert not any(f.differs for f in figures(truth["p"], _rec()))
    write_kernel_truth(path, [_rec(retval=4)], BUILD)  # replaces, never appends
    assert path.read_text().count("[program.kernel]") == 2
    assert read_kernel_truth(path)["p"]["retval"] == {"pkt": 4}


def test_figures_name_the_field_and_only_processed_insns_drift() -> None:
    truth = {"verdict": "accepted", "stack_depth": [8, 0], "insns_processed": 12, "retval": {"pkt": 4}}
    differing = [f for f in figures(truth, _rec()) if f.differs]
    assert [str(f) for f in differing] == ["retval[pkt]: recorded 4, kernel 3"]
    assert {f.name for f in figures(truth, _rec()) if f.drifts} == {"insns_processed"}
    assert [f.name for f in figures(truth, _rec(verdict="rejected", message="x")) if f.differs][:2] == [
        "verdict",
        "message",
    ]
    assert not any(f.name.startswith("retval") for f in figures(truth, _rec(), retvals=False))


def test_a_manifests_truth_compared_on_another_build() -> None:
    """Processed instructions moved: drift on another build, a failure on the recorded one."""
    truth = {**BUILD.to_table(), "verdict": "accepted", "stack_depth": [8, 0], "insns_processed": 20}
    truth["retval"] = {"pkt": 3}
    recorded = KernelBuild.from_table(truth)
    rebuilt = KernelBuild("6.18.44-test2", "#1", "cd" * 32)
    elsewhere = compare("p", figures(truth, _rec()), recorded, rebuilt, "cmd")
    assert elsewhere.ok and [f.name for f in elsewhere.drift] == ["insns_processed"]
    here = compare("p", figures(truth, _rec()), recorded, BUILD, "cmd")
    assert not here.ok and not here.drift and [f.name for f in here.failures] == ["insns_processed"]
