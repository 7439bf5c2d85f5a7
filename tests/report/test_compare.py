"""`bakeoff compare A B`: two stored results side by side (framework.report.compare).

The results compared are real: `bakeoff run` of basic_throw.o under stock and an outside
strategy, `roomier`, installed through the entry-point group as a separate package would be,
once at version 1 and once at version 2, which reserves 16 more bytes of stack in the main
frame. Every expectation is computed from the stored rows, none written down."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from framework.cli import main
from framework.errors import InputError
from framework.report.columns import by_name, names
from framework.report.compare import DEFAULT_COLUMNS, compare, compare_json, render_compare
from framework.report.store import Result, read_result

ROOT = Path(__file__).resolve().parents[2]
OBJECT = ROOT / "programs" / "obj" / "basic_throw.o"
NAME = "roomier"
RESERVED = {"1": 8, "2": 24}  # bytes version N reserves in the main frame
GROWTH = RESERVED["2"] - RESERVED["1"]

STRATEGY = """
    from framework.plugin_api import Plan, Strategy, hookimpl

    RESERVED = {reserved}


    class Roomier(Strategy):
        name = "{name}"
        version = "{version}"
        summary = "stock, with RESERVED bytes of stack reserved in the main frame"

        def reserved_stack(self, state, subprog, peak):
            return RESERVED if subprog == 0 else 0

        def rewrite(self, program, analysis, state):
            extra = tuple(RESERVED if i == 0 else 0 for i in range(len(analysis.stack_depth)))
            return Plan(self.name, extra_stack=extra)


    @hookimpl
    def register_strategies():
        return [Roomier()]
"""


def _run_version(tmp: pytest.TempPathFactory, version: str) -> Path:
    """`bakeoff run` of basic_throw.o under stock and roomier at `version`; the result it stored."""
    where = tmp.mktemp(f"roomier-{version}")
    module = f"roomier_v{version}"
    (where / f"{module}.py").write_text(
        textwrap.dedent(STRATEGY.format(name=NAME, version=version, reserved=RESERVED[version]))
    )
    dist = where / f"roomier-{version}.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: roomier\nVersion: {version}.0\n")
    (dist / "entry_points.txt").write_text(f"[bakeoff.strategies]\n{NAME} = {module}\n")
    results = where / "results"
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(where))
        patch.delenv("BAKEOFF_DISABLE_PLUGIN_AUTOLOAD", raising=False)
        try:
            argv = ["run", str(OBJECT), "--strategy", "stock", "--strategy", NAME, "--results", str(results)]
            status = main([*argv, "--jobs", "1"])
        finally:
            sys.modules.pop(module, None)
    assert status == 0, f"bakeoff run at version {version} exited {status}"
    (stored,) = results.glob("*.json")
    return stored


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The results of version 1 (A) and version 2 (B), run once for the module."""
    return _run_version(tmp_path_factory, "1"), _run_version(tmp_path_factory, "2")


def _compare(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["compare", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    status, out, err = _compare(capsys, *argv, "--json")
    assert (status, err) == (0, "")
    data: dict[str, Any] = json.loads(out)
    return data


def _key(row: dict[str, Any], key: tuple[str, ...] = ("object", "program", "strategy", "case")) -> tuple[str, ...]:
    return tuple(row[k] for k in key)


def _table(out: str) -> list[str]:
    """The table's rows: the lines after its dashes, up to the first blank line."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("---"))
    body = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        body.append(line)
    return body


def _write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


# ---- (a) a result against itself


def test_a_result_compared_with_itself_has_no_changed_row_and_every_diff_is_0(stored: tuple[Path, Path]) -> None:
    a = read_result(str(stored[0]))
    every = [n for n in names() if n not in ("object", "program", "strategy", "case")]
    c = compare(a, a, columns=every)
    assert (c.summary.both, c.summary.only_a, c.summary.only_b, c.summary.changed) == (len(a.rows), 0, 0, 0)
    assert not any(r.changed for r in c.rows)
    numbers = [cell for r in c.rows for cell in r.cells if cell.numeric and cell.a is not None]
    assert numbers, "the result has figures to compare"
    assert all(cell.diff == 0 and cell.pct == 0.0 for cell in numbers)
    assert not any(cell.differs for r in c.rows for cell in r.cells)
    assert c.origins.corpus_equal
    assert all(va == vb for _, va, vb in c.origins.strategies)


def test_itself_on_the_command_line(stored: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    a = str(stored[0])
    rows = len(read_result(a).rows)
    status, out, err = _compare(capsys, a, a)
    assert (status, err) == (0, "")
    assert "no row differs" in out
    assert f"{rows} unchanged row(s) hidden" in out
    shown = _json(capsys, a, a, "--all")
    assert shown["summary"]["changed"] == 0 and len(shown["rows"]) == rows
    cells = [cell for row in shown["rows"] for cell in row["columns"].values()]
    assert all(cell["diff"] == 0 for cell in cells if "diff" in cell and cell["a"] is not None)
    status, out, _ = _compare(capsys, a, a, "--all")
    assert status == 0 and len(_table(out)) == rows
    assert "DIFF" in out and "MISMATCH" not in out


# ---- (b) two versions of one strategy, end to end


def test_two_versions_of_a_strategy_differ_by_its_reserved_stack_alone(
    stored: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a_path, b_path = map(str, stored)
    a_rows = read_result(a_path).rows
    by_key = {_key(r): r for r in a_rows}
    mine = [r for r in a_rows if r["strategy"] == NAME]
    stock = [r for r in a_rows if r["strategy"] == "stock"]
    assert mine and stock

    data = _json(capsys, a_path, b_path)
    changed = [r for r in data["rows"] if r["changed"]]
    assert {r["strategy"] for r in changed} == {NAME}
    assert {_key(r) for r in changed} == {_key(r) for r in mine}
    for row in changed:
        extra = row["columns"]["extra_stack_bytes"]
        a = by_key[_key(row)]["extra_stack_bytes"]
        assert (extra["a"], extra["b"], extra["diff"]) == (a, a + GROWTH, GROWTH)
        assert extra["pct"] == round(GROWTH / a * 100, 2)
        assert row["columns"]["verdict"]["differs"] is False
    summary = data["summary"]
    assert (summary["both"], summary["only_a"], summary["only_b"]) == (len(a_rows), 0, 0)
    assert (summary["changed"], summary["unchanged_hidden"]) == (len(mine), len(stock))
    assert data["strategies"][NAME] == {"a": "1", "b": "2", "differs": True}
    assert data["strategies"]["stock"]["differs"] is False
    assert data["corpus_equal"] is True

    status, out, err = _compare(capsys, a_path, b_path)
    assert (status, err) == (0, "")
    assert f"{NAME} 1 -> 2" in out
    assert f"{len(stock)} unchanged row(s) hidden" in out
    body = _table(out)
    assert len(body) == len(mine)
    assert all(f" {NAME} " in line and f"+{GROWTH} (" in line for line in body)
    assert max(map(len, out.splitlines())) <= 120  # the default table, two columns differing


# ---- (c) filters and columns


def test_filters_keep_the_rows_every_one_matches(stored: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    a_path, b_path = map(str, stored)
    a_rows = read_result(a_path).rows
    stock = _json(capsys, a_path, b_path, "--filter", "strategy=stock", "--all")
    assert stock["summary"]["changed"] == 0
    assert {_key(r) for r in stock["rows"]} == {_key(r) for r in a_rows if r["strategy"] == "stock"}
    others = _json(capsys, a_path, b_path, "--filter", "strategy!=stock", "--all")
    assert {r["strategy"] for r in others["rows"]} == {NAME}
    program = a_rows[-1]["program"]
    both = _json(capsys, a_path, b_path, "--filter", f"program={program}", "--filter", "case=*throw@*", "--all")
    expected = {_key(r) for r in a_rows if r["program"] == program and "throw@" in r["case"]}
    assert expected and {_key(r) for r in both["rows"]} == expected
    assert both["filters"] == [f"program={program}", "case=*throw@*"]


def test_columns_of_a_program_give_one_row_per_program(
    stored: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a_path, b_path = map(str, stored)
    a_rows = read_result(a_path).rows
    chosen = ["extra_stack_bytes", "metadata_bytes"]
    assert all(by_name(c).per == "program" for c in chosen)
    data = _json(capsys, a_path, b_path, "--columns", ",".join(chosen), "--all")
    key = ("object", "program", "strategy")
    assert data["key"] == list(key) and data["columns"] == chosen
    assert sorted(_key(r, key) for r in data["rows"]) == sorted({_key(r, key) for r in a_rows})
    mine = {_key(r, key) for r in a_rows if r["strategy"] == NAME}
    assert {_key(r, key) for r in data["rows"] if r["changed"]} == mine
    assert all(r["columns"]["metadata_bytes"]["diff"] == 0 for r in data["rows"])
    status, out, _ = _compare(capsys, a_path, b_path, "--columns", "extra_stack_bytes")
    assert status == 0 and "per program and strategy" in out
    assert len(_table(out)) == len(mine)
    c = compare(read_result(a_path), read_result(b_path), columns=["extra_stack_bytes"])
    headers = {}
    for width in (80, 200):
        lines = render_compare(c, width).splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("---"))
        assert lines[at - 1].split()[:3] == ["object", "program", "strategy"] and "case" not in lines[at - 1]
        headers[width] = lines[at - 2 : at]
    # wide enough: veristat's own headers; else the name spans its A, B and DIFF
    assert all(f"extra_stack_bytes ({x})" in headers[200][1] for x in ("A", "B", "DIFF"))
    assert headers[80][0].split() == ["extra_stack_bytes"] and headers[80][1].split()[3:] == ["A", "B", "DIFF"]


def test_text_columns_say_whether_they_differ(stored: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    a_path, b_path = map(str, stored)
    data = _json(capsys, a_path, b_path, "--columns", "verdict,strategy_version", "--all")
    mine = [r for r in data["rows"] if r["strategy"] == NAME]
    assert mine and all(r["changed"] for r in mine)
    assert all(r["columns"]["strategy_version"] == {"a": "1", "b": "2", "differs": True} for r in mine)
    assert all("diff" not in cell for r in data["rows"] for cell in r["columns"].values())
    status, out, _ = _compare(capsys, a_path, b_path, "--columns", "verdict,strategy_version")
    assert status == 0 and all("MISMATCH" in line for line in _table(out))


def test_a_bad_column_or_filter_is_one_line_and_status_2(
    stored: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a_path, b_path = map(str, stored)
    for argv, named in (
        (["--columns", "verdict,stak_bytes"], "stak_bytes"),
        (["--columns", ","], "--columns"),
        (["--filter", "prog=x"], "prog=x"),
        (["--filter", "program"], "program"),
    ):
        status, out, err = _compare(capsys, a_path, b_path, *argv)
        assert (status, out) == (2, ""), argv
        assert err.startswith("bakeoff: error: ") and err.count("\n") == 1 and named in err, err
    _, _, err = _compare(capsys, a_path, b_path, "--columns", "stak_bytes")
    assert "stack_bytes" in err  # the name meant
    assert "--help" in err  # where every valid one is listed
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    help_text = capsys.readouterr().out
    assert all(name in help_text for name in names())
    with pytest.raises(InputError, match="unknown column 'nope'"):
        compare(read_result(a_path), read_result(b_path), columns=["nope"])


# ---- (d) rows in one result only


def test_a_row_only_in_one_result_is_shown_with_the_other_side_empty(
    stored: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_path, b_path = map(str, stored)
    b = json.loads(Path(b_path).read_text())
    gone = b["rows"].pop(0)
    new = dict(b["rows"][-1], case=b["rows"][-1]["case"] + "-again")
    b["rows"].append(new)
    edited = _write(tmp_path / "b.json", b)
    data = _json(capsys, a_path, edited)
    assert (data["summary"]["only_a"], data["summary"]["only_b"]) == (1, 1)
    sides = {_key(r): r for r in data["rows"] if r["in"] != "both"}
    assert set(sides) == {_key(gone), _key(new)}
    assert sides[_key(gone)]["in"] == "a" and sides[_key(new)]["in"] == "b"
    assert all(r["changed"] for r in sides.values())
    assert all(cell["b"] is None and cell.get("diff") is None for cell in sides[_key(gone)]["columns"].values())
    assert sides[_key(new)]["columns"]["verdict"] == {"a": None, "b": new["verdict"], "differs": True}
    status, out, _ = _compare(capsys, a_path, edited)
    assert status == 0
    shown = {tuple(line.split()[:4]) for line in _table(out)}
    assert {_key(gone), _key(new)} <= shown and "1 only in A, 1 only in B" in out


# ---- unit: the figures, the order


def test_diff_and_percentage_follow_the_values(stored: tuple[Path, Path]) -> None:
    a = read_result(str(stored[0]))
    rows = [dict(r) for r in a.rows]
    costly = next(i for i, r in enumerate(rows) if r["throw_insns"])
    zero = next(i for i, r in enumerate(rows) if r["metadata_bytes"] == 0 and i != costly)
    base, grown = rows[costly]["throw_insns"], rows[costly]["throw_insns"] + 7
    rows[costly]["throw_insns"] = grown
    rows[zero]["metadata_bytes"] = 4
    b = Result(a.provenance, tuple(rows))
    c = compare(a, b)
    changed = [r for r in c.rows if r.changed]
    assert c.rows[: len(changed)] == tuple(changed)  # changed rows first
    assert {r.key for r in changed} == {_key(rows[costly]), _key(rows[zero])}
    cells = {r.key: dict(zip(c.columns, r.cells, strict=True)) for r in c.rows}
    throw = cells[_key(rows[costly])]["throw_insns"]
    assert (throw.a, throw.b, throw.diff) == (base, grown, grown - base)
    assert throw.pct == pytest.approx((grown - base) / base * 100)
    meta = cells[_key(rows[zero])]["metadata_bytes"]
    assert (meta.diff, meta.pct) == (4, None)  # no percentage of 0
    text = render_compare(c, width=200)
    assert f"+{grown - base} ({(grown - base) / base * 100:+.2f} %)" in text
    assert "+4 (-)" in text
    assert compare_json(c)["columns"] == list(DEFAULT_COLUMNS)


# ---- (e) bad input


@pytest.fixture
def malformed(tmp_path: Path, stored: tuple[Path, Path]) -> Iterator[list[str]]:
    good = json.loads(stored[0].read_text())
    missing = json.loads(json.dumps(good))
    del missing["rows"][1]["verdict"]
    not_a_number = json.loads(json.dumps(good))
    not_a_number["rows"][0]["stack_bytes"] = "big"
    repeated = json.loads(json.dumps(good))
    repeated["rows"].append(repeated["rows"][0])
    (tmp_path / "text.json").write_text("{not json")
    yield [
        str(tmp_path / "text.json"),
        str(tmp_path / "absent.json"),
        _write(tmp_path / "list.json", good["rows"]),
        _write(tmp_path / "format.json", dict(good, format_version=99)),
        _write(tmp_path / "missing.json", missing),
        _write(tmp_path / "number.json", not_a_number),
        _write(tmp_path / "repeated.json", repeated),
    ]


def test_a_malformed_result_is_one_line_and_status_2(
    stored: tuple[Path, Path], malformed: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    good = str(stored[0])
    for bad in malformed:
        for argv in ([good, bad], [bad, good]):
            status, out, err = _compare(capsys, *argv)
            assert (status, out) == (2, ""), bad
            assert err.startswith("bakeoff: error: ") and err.count("\n") == 1, err
            assert bad in err, err
