"""Two results side by side, as veristat's `--compare` shows two runs: `bakeoff compare A B`.

Rows are joined on their key, (object, program, strategy, case), as an outer join: a row only
in A or only in B is kept, its other side empty. When every column chosen is one of a
program's (`per == "program"` in framework.report.columns: the same in each of its cases), the
rows are one per (object, program, strategy) instead, the case left out of the key.

For each numeric column chosen: A, B, DIFF (B - A) and the percentage (DIFF / A * 100; 0 when
the two are equal, none when A is 0 and B is not, or either is empty). For the others
(verdict, strategy_version, reason, ...): A, B and whether they differ. A row is *changed*
when it is in one result only or any chosen column differs; changed rows come first, then
the unchanged, each in key order (digits compared as numbers: `throw@9` before `throw@12`).

Filters (`program=GLOB`, `strategy=GLOB`, `object=GLOB`, `case=GLOB`, `!=` to negate;
fnmatch, case-sensitive) select rows by key; every one must hold. The summary (rows in both,
only in A, only in B, changed) counts the rows they keep; the provenance compares commits,
each strategy's version and the corpus digest.

The terminal table (`render_compare`) is veristat's layout: the key columns, then for each
column "<col> (A)", "<col> (B)", "<col> (DIFF)", the DIFF of a number with its percentage
(`+16 (+12.50 %)`), of a text MATCH or MISMATCH; a text (a reason) is cut at TEXT_CLIP
characters there, never in `compare_json`. Its width: the key columns alone take 60 to 100
characters on the corpus, and each column about 25 more. So that the default stays near 120
columns: (1) when the table with those headers on one line would be wider than `width`, each
column's name is printed once, centred above its three, headed A, B and DIFF; (2) of the
default columns only those that differ in some row shown are printed, a line naming the others
(when none differs, all are). On basic_throw.o, one strategy's reserved stack changed prints
117 columns; every default column on the whole corpus, about 280 (`--all`, a result with itself).
Columns named with `columns=` are all printed: more than about three of them make the table
wider than 80 columns, which is expected. `compare_json` always holds every column chosen.

Nothing here prints; framework/cli/compare.py does.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from framework.errors import InputError
from framework.report.columns import by_name, names
from framework.report.store import Result

__all__ = [
    "DEFAULT_COLUMNS",
    "FILTER_KEYS",
    "Cell",
    "Comparison",
    "Origins",
    "Row",
    "Summary",
    "compare",
    "compare_json",
    "render_compare",
]

KEY: tuple[str, ...] = ("object", "program", "strategy", "case")
FILTER_KEYS = KEY
DEFAULT_COLUMNS: tuple[str, ...] = (
    "verdict",
    "stack_bytes",
    "extra_stack_bytes",
    "metadata_bytes",
    "code_growth_insns",
    "happy_extra_insns",
    "throw_insns",
)
_NB = "\xa0"  # a space the heading's lines are not broken at
TEXT_CLIP = 40  # characters of a text value (a reason) in the terminal table; compare_json keeps it whole

Value = int | str | bool | None


def _numeric(column: str) -> bool:
    return by_name(column).pandas_dtype == "Int64"


@dataclass(frozen=True, slots=True)
class Cell:
    """One column of one row, on both sides."""

    a: Value
    b: Value
    numeric: bool
    diff: int | None = None  # B - A, numbers on both sides only
    pct: float | None = None  # diff / A * 100: 0.0 when equal, None when A is 0 (and B not) or either is empty

    @property
    def differs(self) -> bool:
        return self.a != self.b


@dataclass(frozen=True, slots=True)
class Row:
    key: tuple[str, ...]  # Comparison.key's values
    side: str  # "both", "a" (only in A) or "b" (only in B)
    cells: tuple[Cell, ...]  # one per Comparison.columns

    @property
    def changed(self) -> bool:
        return self.side != "both" or any(c.differs for c in self.cells)


@dataclass(frozen=True, slots=True)
class Summary:
    both: int
    only_a: int
    only_b: int
    changed: int  # of the rows in both, those where a chosen column differs

    @property
    def unchanged(self) -> int:
        return self.both - self.changed


@dataclass(frozen=True, slots=True)
class Origins:
    """The two provenances, side by side."""

    commit_a: str | None
    commit_b: str | None
    dirty_a: bool
    dirty_b: bool
    strategies: tuple[tuple[str, str | None, str | None], ...]  # (name, version in A, version in B), by name
    corpus_a: str | None
    corpus_b: str | None

    @property
    def corpus_equal(self) -> bool:
        return self.corpus_a is not None and self.corpus_a == self.corpus_b


@dataclass(frozen=True, slots=True)
class Comparison:
    labels: tuple[str, str]  # what A and B are (their files)
    key: tuple[str, ...]  # KEY, or KEY without `case` when every column is a program's
    columns: tuple[str, ...]
    chosen: bool  # the columns were named (False: DEFAULT_COLUMNS)
    filters: tuple[str, ...]
    rows: tuple[Row, ...]  # changed first, then unchanged, each in key order
    summary: Summary
    origins: Origins


# ---- choosing


@dataclass(frozen=True, slots=True)
class _Filter:
    key: str
    glob: str
    negated: bool

    def holds(self, value: str) -> bool:
        return fnmatch.fnmatchcase(value, self.glob) != self.negated


def _filter(expr: str) -> _Filter:
    m = re.fullmatch(r"\s*([A-Za-z_]+)\s*(!=|=)(.*)", expr)
    if m is None:
        raise InputError("--filter", f"'{expr}' is not KEY=GLOB or KEY!=GLOB (KEY: {', '.join(FILTER_KEYS)})")
    key, op, glob = m.groups()
    if key not in FILTER_KEYS:
        raise InputError("--filter", f"'{expr}': no key '{key}' (keys: {', '.join(FILTER_KEYS)})")
    return _Filter(key, glob, op == "!=")


def _columns(columns: Sequence[str] | None) -> tuple[str, ...]:
    if columns is None:
        return DEFAULT_COLUMNS
    known = names()
    chosen: list[str] = []
    for name in columns:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise InputError(
                "--columns",
                f"unknown column '{name}'{hint}; `bakeoff compare --help` lists the {len(known)} valid ones",
            )
        if name not in KEY and name not in chosen:  # the key is always shown
            chosen.append(name)
    if not chosen:
        raise InputError("--columns", "no column to compare (the key columns are always shown)")
    return tuple(chosen)


# ---- joining


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if i % 2 else p for i, p in enumerate(re.split(r"(\d+)", text)))


def _value(label: str, i: int, row: Mapping[str, Any], column: str) -> Value:
    v = row.get(column)
    if v is None:
        return None
    if _numeric(column):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            raise InputError(f"{label}: rows[{i}]", f"{column} is {v!r}, not a whole number")
        return v
    if not isinstance(v, str | int | bool):
        raise InputError(f"{label}: rows[{i}]", f"{column} is {v!r}, not a text or a truth value")
    return v


def _index(
    result: Result, label: str, key: tuple[str, ...], filters: Sequence[_Filter], columns: Sequence[str]
) -> dict[tuple[str, ...], tuple[Value, ...]]:
    """The rows `filters` keep, by `key`, with the values of `columns`. Per program (no `case` in
    `key`) the program's first row kept stands for it; per case a key repeated is bad input."""
    out: dict[tuple[str, ...], tuple[Value, ...]] = {}
    first: dict[tuple[str, ...], int] = {}
    for i, row in enumerate(result.rows):
        full: dict[str, str] = {}
        for col in KEY:
            v = row.get(col)
            if not isinstance(v, str):
                raise InputError(f"{label}: rows[{i}]", f"{col} is {v!r}, not a name")
            full[col] = v
        if not all(f.holds(full[f.key]) for f in filters):
            continue
        t = tuple(full[col] for col in key)
        if t in out:
            if "case" in key:
                raise InputError(f"{label}: rows[{i}]", f"repeats the key ({', '.join(t)}) of rows[{first[t]}]")
            continue
        first[t] = i
        out[t] = tuple(_value(label, i, row, c) for c in columns)
    return out


def _cell(a: Value, b: Value, numeric: bool) -> Cell:
    if not numeric or not isinstance(a, int) or not isinstance(b, int):
        return Cell(a, b, numeric)
    diff = b - a
    pct = 0.0 if diff == 0 else None if a == 0 else diff / a * 100
    return Cell(a, b, numeric, diff, pct)


def _origins(a: Mapping[str, Any], b: Mapping[str, Any]) -> Origins:
    def text(p: Mapping[str, Any], field: str) -> str | None:
        v = p.get(field)
        return None if v is None else str(v)

    def versions(p: Mapping[str, Any]) -> dict[str, str]:
        v = p.get("strategies")
        return {str(k): str(x) for k, x in v.items()} if isinstance(v, Mapping) else {}

    va, vb = versions(a), versions(b)
    both = tuple((n, va.get(n), vb.get(n)) for n in sorted(va.keys() | vb.keys()))
    return Origins(
        text(a, "commit"), text(b, "commit"), bool(a.get("dirty")), bool(b.get("dirty")), both,
        text(a, "corpus_digest"), text(b, "corpus_digest"),
    )  # fmt: skip


def compare(
    a: Result,
    b: Result,
    *,
    filters: Iterable[str] = (),
    columns: Sequence[str] | None = None,
    labels: tuple[str, str] = ("A", "B"),
) -> Comparison:
    """`a` and `b` joined row by row on `columns` (None: DEFAULT_COLUMNS), keeping the rows every
    filter (`KEY=GLOB`, `KEY!=GLOB`) holds for. `labels` say what A and B are, in messages and
    in the table's heading. Bad filters, unknown columns and malformed rows are InputError."""
    chosen = _columns(columns)
    given = tuple(filters)
    parsed = [_filter(f) for f in given]
    key = KEY if any(by_name(c).per != "program" for c in chosen) else KEY[:-1]
    rows_a = _index(a, labels[0], key, parsed, chosen)
    rows_b = _index(b, labels[1], key, parsed, chosen)
    numeric = [_numeric(c) for c in chosen]
    empty: tuple[Value, ...] = (None,) * len(chosen)
    rows = []
    for k in sorted(rows_a.keys() | rows_b.keys(), key=lambda t: tuple(_natural(p) for p in t)):
        side = "both" if k in rows_a and k in rows_b else "a" if k in rows_a else "b"
        va, vb = rows_a.get(k, empty), rows_b.get(k, empty)
        rows.append(Row(k, side, tuple(_cell(x, y, n) for x, y, n in zip(va, vb, numeric, strict=True))))
    ordered = [r for r in rows if r.changed] + [r for r in rows if not r.changed]  # each part in key order
    summary = Summary(
        both=sum(1 for r in rows if r.side == "both"),
        only_a=sum(1 for r in rows if r.side == "a"),
        only_b=sum(1 for r in rows if r.side == "b"),
        changed=sum(1 for r in rows if r.side == "both" and r.changed),
    )
    return Comparison(
        labels=labels, key=key, columns=chosen, chosen=columns is not None, filters=given, rows=tuple(ordered),
        summary=summary, origins=_origins(a.provenance, b.provenance),
    )  # fmt: skip


# ---- showing


def _shown(c: Comparison, unchanged: bool) -> list[Row]:
    return [r for r in c.rows if unchanged or r.changed]


def _num(v: Value) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _text(v: Value) -> str:
    s = _num(v)
    return s if len(s) <= TEXT_CLIP else s[: TEXT_CLIP - 3] + "..."


def _pct(pct: float | None) -> str:
    return "-" if pct is None else f"{pct:+.2f} %"


def _diff(cell: Cell, side: str) -> str:
    if cell.numeric:
        return "-" if cell.diff is None else f"{cell.diff:+d} ({_pct(cell.pct)})"
    if side != "both":
        return "-"
    return "MISMATCH" if cell.differs else "MATCH"


def _commit(commit: str | None, dirty: bool) -> str:
    return (commit or "?")[:12] + (f" (with{_NB}changes)" if dirty else "")


def _wrap(lines: Iterable[str], width: int) -> list[str]:
    return [
        w.replace(_NB, " ")
        for line in lines
        for w in textwrap.wrap(line, width, subsequent_indent="  ", break_on_hyphens=False)
    ]


def _heading(c: Comparison) -> list[str]:
    o, s = c.origins, c.summary
    lines = [
        f"A: {c.labels[0]}, commit {_commit(o.commit_a, o.dirty_a)}",
        f"B: {c.labels[1]}, commit {_commit(o.commit_b, o.dirty_b)}",
    ]
    if o.corpus_equal:
        lines.append(f"corpus: the same ({(o.corpus_a or '')[:12]})")
    else:
        lines.append(f"corpus: differs (A {(o.corpus_a or '?')[:12]}, B {(o.corpus_b or '?')[:12]})")
    if o.strategies:
        parts = [
            f"{n}{_NB}{va}" if va == vb else f"{n}{_NB}{va or '-'}{_NB}->{_NB}{vb or '-'}" for n, va, vb in o.strategies
        ]  # fmt: skip
        lines.append("strategy versions (A -> B where they differ): " + ", ".join(parts))
    if c.filters:
        lines.append("filters: " + " ".join(c.filters))
    per = "rows" if "case" in c.key else "rows (per program and strategy: every column chosen is a program's)"
    lines.append(
        f"{per}: {s.both} in both ({s.changed} changed, {s.unchanged} unchanged), "
        f"{s.only_a} only in A, {s.only_b} only in B"
    )
    return lines


def _spanned(table: list[str], groups: list[str], keys: int) -> list[str]:
    """`table` (tabulate's "simple": header, dashes, rows) with a line above naming each group of
    three columns (A, B, DIFF), centred over them."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", table[1])][keys:]
    top = ""
    for g, name in enumerate(groups):
        start, end = spans[3 * g][0], spans[3 * g + 2][1]
        at = max(start + (end - start - len(name)) // 2, len(top) + 1 if top else 0)
        top = top.ljust(at) + name
    return [top, *table]


def _table(c: Comparison, rows: list[Row], columns: list[int], width: int) -> list[str]:
    """veristat's table: the key, then each column's A, B and DIFF, its header "<col> (A)" ...;
    wider than `width`, the headers are A, B and DIFF under the column's name, which spans the three."""
    align = ["left"] * len(c.key)
    for i in columns:
        align += ["right" if _numeric(c.columns[i]) else "left"] * 3
    body = []
    for r in rows:
        line = list(r.key)
        for i in columns:
            cell = r.cells[i]
            show = _num if cell.numeric else _text
            line += [show(cell.a), show(cell.b), _diff(cell, r.side)]
        body.append(line)

    def table(head: list[str]) -> list[str]:
        text = tabulate(body, head, tablefmt="simple", disable_numparse=True, colalign=align)
        return [line.rstrip() for line in text.splitlines()]

    sides = ("A", "B", "DIFF")
    one = table([*c.key, *(f"{c.columns[i]} ({x})" for i in columns for x in sides)])
    if max(map(len, one)) <= width:
        return one
    two = table([*c.key, *(x for _ in columns for x in sides)])
    return _spanned(two, [c.columns[i] for i in columns], len(c.key))


def render_compare(c: Comparison, width: int = 80, *, unchanged: bool = False) -> str:
    """The comparison as text: where A and B come from, the counts, and the table of the changed
    rows (`unchanged`: every row), prose wrapped to `width`; see the module's note on the table's
    width."""
    rows = _shown(c, unchanged)
    out = _wrap(_heading(c), width)
    out.append("")
    every = list(range(len(c.columns)))
    columns = every
    same: list[str] = []
    if not c.chosen:
        differing = [i for i in every if any(r.side == "both" and r.cells[i].differs for r in rows)]
        if differing:
            columns = differing
            same = [c.columns[i] for i in every if i not in differing]
    if rows:
        out += _table(c, rows, columns, width)
    else:
        out.append("no row differs" if c.rows else "no rows (the filters keep none)")
    notes = []
    hidden = len(c.rows) - len(rows)
    if hidden:
        notes.append(f"{hidden} unchanged row(s) hidden (--all shows them).")
    if same:
        notes.append(f"The same in every row shown: {', '.join(same)} (--columns to show them).")
    if notes:
        out.append("")
        out += _wrap(notes, width)
    return "\n".join(out) + "\n"


def _cell_json(cell: Cell) -> dict[str, Any]:
    out: dict[str, Any] = {"a": cell.a, "b": cell.b, "differs": cell.differs}
    if cell.numeric:
        out |= {"diff": cell.diff, "pct": None if cell.pct is None else round(cell.pct, 2)}
    return out


def compare_json(c: Comparison, *, unchanged: bool = False) -> dict[str, Any]:
    """The comparison as JSON values: every column chosen, for the changed rows (`unchanged`: every row)."""
    o, s = c.origins, c.summary
    rows = _shown(c, unchanged)
    summary = {
        "both": s.both, "only_a": s.only_a, "only_b": s.only_b, "changed": s.changed,
        "unchanged": s.unchanged, "unchanged_hidden": len(c.rows) - len(rows),
    }  # fmt: skip
    return {
        "a": {"name": c.labels[0], "commit": o.commit_a, "dirty": o.dirty_a, "corpus_digest": o.corpus_a},
        "b": {"name": c.labels[1], "commit": o.commit_b, "dirty": o.dirty_b, "corpus_digest": o.corpus_b},
        "corpus_equal": o.corpus_equal,
        "strategies": {n: {"a": va, "b": vb, "differs": va != vb} for n, va, vb in o.strategies},
        "key": list(c.key),
        "columns": list(c.columns),
        "filters": list(c.filters),
        "summary": summary,
        "rows": [
            dict(zip(c.key, r.key, strict=True))
            | {"in": r.side, "changed": r.changed}
            | {"columns": {name: _cell_json(cell) for name, cell in zip(c.columns, r.cells, strict=True)}}
            for r in rows
        ],
    }
