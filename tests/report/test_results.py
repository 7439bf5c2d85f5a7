"""The results frame, stored results and the text reports, from one real run of two corpus objects
(one whose programs some strategies refuse)."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import matplotlib
import pytest

from framework.cli import main
from framework.errors import InputError
from framework.report.columns import COLUMNS, names
from framework.report.frame import case_name, frame, to_rows
from framework.report.headline import headline
from framework.report.html import plot_svg
from framework.report.store import RESULT_FORMAT, Result, read_result, write_result
from framework.report.text import csv_text, detail, markdown, text

ROOT = Path(__file__).resolve().parents[2]
OBJ = ROOT / "programs" / "obj"
OBJECTS = [str(OBJ / "basic_throw.o"), str(OBJ / "merge_two_types.o")]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    """One `bakeoff run` (its stored result, its --json, its terminal output)."""
    results = tmp_path_factory.mktemp("results")
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["run", *OBJECTS, "--results", str(results), "--json", "--jobs", "1"]) == 0
    printed = json.loads(buf.getvalue())
    [stored] = sorted(results.glob("*.json"))
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["run", *OBJECTS, "--results", str(results), "--detail", "--jobs", "2"]) == 0
    return stored, printed, out.getvalue()


def test_the_printed_json_is_the_stored_result(ran: tuple[Path, dict[str, Any], str]) -> None:
    stored, printed, _ = ran
    assert json.loads(stored.read_text()) == printed
    assert printed["format_version"] == RESULT_FORMAT
    prov = printed["provenance"]
    assert prov["command"][:2] == ["bakeoff", "run"] and prov["corpus_digest"]
    assert set(prov["strategies"]) == {r["strategy"] for r in printed["rows"]}


def test_every_row_has_every_documented_column_and_names_objects_relative_to_the_corpus(
    ran: tuple[Path, dict[str, Any], str],
) -> None:
    rows = ran[1]["rows"]
    assert rows and all(list(r) == list(names()) for r in rows)
    assert {r["object"] for r in rows} == {"obj/basic_throw.o", "obj/merge_two_types.o"}  # no machine's path
    assert all(len(r["object_sha256"]) == 64 for r in rows)


def test_a_refused_program_is_one_verify_row_with_its_reason_and_no_figures(
    ran: tuple[Path, dict[str, Any], str],
) -> None:
    rows = [r for r in ran[1]["rows"] if r["program"] == "two_kinds" and r["strategy"] == "stock"]
    [row] = rows
    assert row["case"] == "verify" and row["verdict"] == "rejected"
    assert row["reason"] == "bpf_throw would lead to reference leak"
    figures = [c.name for c in COLUMNS if c.unit and c.name not in ("insns",)]
    assert all(row[f] is None for f in figures)


def test_one_row_per_run_and_throw_costs_add_up(ran: tuple[Path, dict[str, Any], str]) -> None:
    df = read_result(str(ran[0])).frame
    forced = df[df["throw_pc"].notna() & df["throw_insns"].notna()]
    assert len(forced) > 0
    split = forced["throw_walk_insns"] + forced["throw_lookup_insns"] + forced["throw_release_insns"]
    assert (split + forced["throw_pad_insns"] == forced["throw_insns"]).all()
    assert (forced["frames_walked"] >= 1).all() and forced["agrees"].all()
    keys = df[["object", "program", "strategy", "case"]]
    assert not keys.duplicated().any()  # a case names one run
    assert all(c.startswith(("eth_", "ipv4", "ttl", "default", "verify")) or "/throw@" in c for c in df["case"])


def test_case_names() -> None:
    assert case_name("ipv4_tcp", None, 1) == "ipv4_tcp"
    assert case_name("ipv4_tcp", 13, 1) == "ipv4_tcp/throw@13"
    assert case_name("ipv4_tcp", 13, 3) == "ipv4_tcp/throw@13#3"


def test_the_frame_keeps_missing_figures_missing(ran: tuple[Path, dict[str, Any], str]) -> None:
    rows = ran[1]["rows"]
    df = frame(rows)
    assert [str(df[c.name].dtype) for c in COLUMNS] == [c.pandas_dtype for c in COLUMNS]
    assert df["throw_insns"].isna().sum() == sum(r["throw_insns"] is None for r in rows) > 0
    assert to_rows(df) == rows  # back to the very JSON values


def test_two_runs_give_the_same_rows_apart_from_timings(ran: tuple[Path, dict[str, Any], str]) -> None:
    first, second = sorted(ran[0].parent.glob("*.json"))  # the second run appended, never overwrote
    a, b = read_result(str(first)), read_result(str(second))
    assert a.rows == b.rows
    assert a.provenance["corpus_digest"] == b.provenance["corpus_digest"]


def test_writing_never_overwrites(tmp_path: Path, ran: tuple[Path, dict[str, Any], str]) -> None:
    result = read_result(str(ran[0]))
    paths = {write_result(result, tmp_path) for _ in range(3)}
    assert len(paths) == 3 and all(read_result(str(p)).rows == result.rows for p in paths)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)  # nothing left aside


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a bakeoff result"),
        ('{"format_version": 1, "provenance": {}, "rows": []}', "result format 1"),
        (json.dumps({"format_version": RESULT_FORMAT, "provenance": {}, "rows": [{"program": "p"}]}), "rows[0]"),
    ],
)
def test_a_bad_result_file_is_one_error_naming_it(tmp_path: Path, body: str, says: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(body)
    with pytest.raises(InputError) as err:
        read_result(str(path))
    assert str(path) in str(err.value) and says in str(err.value)


def test_the_mail_text_fits_72_columns_and_names_its_provenance(ran: tuple[Path, dict[str, Any], str]) -> None:
    result = read_result(str(ran[0]))
    body = text(result)
    assert max(map(len, body.splitlines())) <= 72
    h = headline(result.frame)
    assert [ln.strategy for ln in h.lines] == list(dict.fromkeys(r["strategy"] for r in result.rows))
    for ln in h.lines:
        assert any(line.startswith(ln.strategy + " ") for line in body.splitlines())
    words = " ".join(body.split())
    assert str(result.provenance["commit"])[:12] in words and "bpf_throw would lead to reference leak" in words
    md = markdown(result)
    assert md.count("| stock ") == 2 and "## Provenance" in md


def test_the_headline_counts_what_the_rows_say(ran: tuple[Path, dict[str, Any], str]) -> None:
    df = read_result(str(ran[0])).frame
    h = headline(df)
    for ln in h.lines:
        mine = df[df["strategy"] == ln.strategy].drop_duplicates(["object", "program"])
        assert ln.accepted + ln.refused + ln.errors == len(mine)
        assert ln.refused == int((mine["verdict"] == "rejected").sum())
        thrown = df[(df["strategy"] == ln.strategy) & df["throw_insns"].notna()]
        assert ln.throws == len(thrown)
        assert ln.throw_worst == (int(thrown["throw_insns"].max()) if len(thrown) else None)


def test_the_terminal_shows_the_headline_within_80_columns_and_the_paths(
    ran: tuple[Path, dict[str, Any], str],
) -> None:
    out = ran[2].splitlines()
    paths = [line for line in out if line.startswith(("result: ", "  /")) or line == "reports:"]
    assert max(len(line) for line in out if line not in paths) <= 80
    stored = Path(next(line for line in out if line.startswith("result: ")).removeprefix("result: "))
    written = [Path(line.strip()) for line in out if line.startswith("  /")]
    assert stored.is_file() and {p.name for p in written} >= {"report.txt", "report.md", "report.html"}
    assert all(p.is_file() and p.parent == stored.with_suffix("") for p in written)


def test_detail_wraps_every_reason_in_full(ran: tuple[Path, dict[str, Any], str]) -> None:
    result = read_result(str(ran[0]))
    long = dict(result.rows[0]) | {"verdict": "rejected", "case": "verify", "reason": "word " * 60 + "END"}
    body = detail(frame([long, *result.rows[1:]]), width=80)
    assert max(map(len, body.splitlines())) <= 80
    assert " ".join(body.split()).count("word " * 60 + "END") == 1  # wrapped, every word kept


def test_csv_follows_veristat(ran: tuple[Path, dict[str, Any], str]) -> None:
    result = read_result(str(ran[0]))
    rows = list(csv.reader(io.StringIO(csv_text(result))))
    assert rows[0][:2] == ["file_name", "prog_name"] and len(rows) == len(result.rows) + 1
    by_name = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    for got, want in zip(by_name, result.rows, strict=True):
        assert got["prog_name"] == want["program"] and got["case"] == want["case"]
        assert got["throw_insns"] == ("" if want["throw_insns"] is None else str(want["throw_insns"]))


@pytest.mark.parametrize("fmt", ["text", "md", "csv", "json", "html"])
def test_report_renders_a_stored_result_in_each_format(
    fmt: str, ran: tuple[Path, dict[str, Any], str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(ran[0]), "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        assert json.loads(out) == json.loads(ran[0].read_text())
    else:
        assert "resource-table-inline" in out


def test_report_out_writes_every_format(tmp_path: Path, ran: tuple[Path, dict[str, Any], str]) -> None:
    assert main(["report", str(ran[0]), "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {
        "report.txt",
        "report.md",
        "report.html",
        "results.csv",
        "result.json",
    }


def test_report_of_a_missing_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "none.json")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"bakeoff: error: {tmp_path / 'none.json'}: cannot read")


def test_progress_goes_to_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from framework.cli.run import _progress

    assert _progress(["a"]).disable  # stderr is not a terminal under pytest
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bar = _progress(["a", "b"])
    assert not bar.disable and bar.total == 2
    bar.close()


def test_the_results_directory_is_never_the_checkout() -> None:
    from framework.report.store import results_dir

    env = os.environ.get("BAKEOFF_RESULTS")
    assert env and not Path(env).resolve().is_relative_to(ROOT)  # the suite's own (tests/conftest.py)
    assert results_dir("x") == Path("x")


def test_the_result_is_a_frozen_value() -> None:
    r = Result({}, ())
    with pytest.raises(AttributeError):
        r.rows = ()  # type: ignore[misc]


def test_report_plot_prints_one_svg(ran: tuple[Path, dict[str, Any], str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(ran[0]), "--plot", "throw_insns-vs-frames_walked"]) == 0
    svg = capsys.readouterr().out
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>") and "frames_walked" in svg
    assert main(["report", str(ran[0]), "--plot", "nope"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "no plot 'nope'" in line and "throw_insns-vs-held" in line


def test_the_published_reports_are_what_their_stored_result_renders() -> None:
    published = ROOT / "reports" / "bakeoff"
    result = read_result(str(published / "result.json"))
    assert (published / "report.txt").read_text() == text(result)
    assert (published / "report.md").read_text() == markdown(result)
    readme = (ROOT / "README.md").read_text()
    assert text(result).split("\nMost common refusals:")[0] in readme  # the README's headline is this result's
    svg = (published / "throw_insns-vs-frames_walked.svg").read_text()
    drawn = plot_svg(result, "throw_insns-vs-frames_walked")
    assert drawn is not None and drawn.startswith("<svg")
    if f"Matplotlib v{matplotlib.__version__}," in svg:  # the same drawing code: the same bytes
        assert drawn == svg
