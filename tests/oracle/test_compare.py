"""`bakeoff kernel-check --compare`: the project's verdicts beside the running kernel's, disagreements first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framework import cli
from framework.oracle.compare import Agreement, Pairing, ordered, summary


def _pairing(verdict: str, kernel: str, message: str | None = None, kernel_message: str | None = None) -> Pairing:
    return Pairing("o.o", f"{verdict}-{kernel}", verdict, message, (), 1, kernel, kernel_message, (), 1)


@pytest.mark.parametrize(
    ("ours", "theirs", "agreement"),
    [
        (("accepted",), ("accepted",), Agreement.SAME),
        (("accepted",), ("rejected", "R0 !read_ok"), Agreement.ACCEPTS_REFUSED),
        (("rejected", "R0 !read_ok"), ("accepted",), Agreement.REFUSES_ACCEPTED),
        (("rejected", "R0 !read_ok"), ("rejected", "R0 !read_ok"), Agreement.SAME),
        (("rejected", "R1 !read_ok"), ("rejected", "R0 !read_ok"), Agreement.OTHER_MESSAGE),
        (("unsupported", "helper x is not modelled"), ("accepted",), Agreement.UNSUPPORTED),
    ],
)
def test_agreement(ours: tuple[str, ...], theirs: tuple[str, ...], agreement: Agreement) -> None:
    p = _pairing(ours[0], theirs[0], ours[1] if len(ours) > 1 else None, theirs[1] if len(theirs) > 1 else None)
    assert p.agreement is agreement


def test_disagreements_come_first_and_the_summary_counts_what_the_kernel_loads() -> None:
    rows = [
        _pairing("accepted", "accepted"),
        _pairing("unsupported", "accepted", "m"),
        _pairing("accepted", "rejected", None, "k"),
        _pairing("rejected", "accepted", "m"),
    ]
    got = [p.agreement for p in ordered(rows)]
    assert got == [Agreement.ACCEPTS_REFUSED, Agreement.REFUSES_ACCEPTED, Agreement.UNSUPPORTED, Agreement.SAME]
    s = summary(rows)
    assert (s.kernel_loads, s.same_on_loaded, s.unsupported_on_loaded, s.refused_on_loaded) == (3, 1, 1, 1)
    assert s.accepts_refused == 1


PROGRAMS = {
    "ok.s": "# program: ok\n# type: sched_cls\n# section: tc\nok:\n\tr0 = 0\n\texit\n",
    "uninit.s": "# program: uninit\n# type: sched_cls\n# section: tc\nuninit:\n\texit\n",
    "ecn.s": "# program: ecn\n# type: sched_cls\n# section: tc\necn:\n\tcall 97\n\tr0 = 0\n\texit\n",
}


@pytest.mark.usefixtures("bpf")
def test_compare_on_the_running_kernel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, text in PROGRAMS.items():
        (tmp_path / name).write_text(text)
    paths = [str(tmp_path / n) for n in PROGRAMS]
    assert cli.main(["kernel-check", "--compare", "--json", *paths]) == cli.EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    got = {r["program"]: (r["agreement"], r["verdict"], r["kernel_verdict"]) for r in rows}
    assert got == {
        "ecn": ("unsupported", "unsupported", "accepted"),  # the kernel has bpf_skb_ecn_set_ce; the project not
        "ok": ("same", "accepted", "accepted"),
        "uninit": ("same", "rejected", "rejected"),
    }
    assert rows[0]["program"] == "ecn"  # the disagreement first
    assert next(r for r in rows if r["program"] == "uninit")["kernel_message"] == "R0 !read_ok"
    assert cli.main(["kernel-check", "--compare", *paths]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "the kernel loads 2: the project accepts 1 of them (50.0%), cannot judge 1" in out, out
    assert "unsupported, by what is missing: helper bpf_skb_ecn_set_ce#97 (1)" in out, out
