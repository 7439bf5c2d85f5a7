"""Kernel truth written into a manifest keeps the manifest's comments, and is checked on reload."""

from __future__ import annotations

from pathlib import Path

from framework.oracle.manifest import disagreements, read_kernel_truth, write_kernel_truth
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


def test_write_keeps_comments_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(MANIFEST)
    write_kernel_truth(path, [_rec(), _rec("q", "rejected", "R0 !read_ok")], "6.18.44-test")
    text = path.read_text()
    assert "# A corpus manifest (comment kept)" in text and "# trailing comment kept" in text
    truth = read_kernel_truth(path)
    assert truth["p"] == {
        "release": "6.18.44-test",
        "verdict": "accepted",
        "stack_depth": [8, 0],
        "insns_processed": 12,
        "retval": {"pkt": 3},
    }
    assert truth["q"]["message"] == "R0 !read_ok" and "retval" not in truth["q"]
    assert disagreements(truth["p"], _rec()) == []
    write_kernel_truth(path, [_rec(retval=4)], "6.18.44-test")  # replaces, never appends
    assert path.read_text().count("[program.kernel]") == 2
    assert read_kernel_truth(path)["p"]["retval"] == {"pkt": 4}


def test_disagreements_name_the_field() -> None:
    truth = {"verdict": "accepted", "stack_depth": [8, 0], "insns_processed": 12, "retval": {"pkt": 4}}
    assert disagreements(truth, _rec()) == ["retval[pkt]: manifest 4, kernel 3"]
    assert disagreements(truth, _rec(verdict="rejected", message="x"))[0].startswith("verdict:")
