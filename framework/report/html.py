"""A result as one self-contained HTML page: the headline tables, plots of every cost per
strategy and against what drives it, the per-program detail and the provenance.

Nothing is fetched: no script, stylesheet, font or image outside the page. Each plot is an
inline SVG drawn by matplotlib on its own `Figure` (no pyplot state), a missing figure is
dropped, never drawn as 0, a strategy with no figure has no series, and a plot with no data
says so in its caption. Units and meanings are framework.report.columns'.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from framework.report.columns import by_name
from framework.report.headline import Headline, headline
from framework.report.store import Result
from framework.report.text import _NOTES, _space, _time, provenance_lines

__all__ = ["PLOTS", "html", "plot_svg"]

_KEYS = ["object", "program", "strategy"]
_REFUSED = ("rejected", "error")
_POINTS = "throw_points"  # not a column: distinct forced throwing points per (object, program, strategy)
_POINTS_UNIT, _POINTS_MEANING = "throwing points", "distinct throwing points (throw_pc) forced in the program"

# (cost, driver): each cost per strategy (driver None), then each against what drives it.
_SPECS: tuple[tuple[str, str | None], ...] = (
    ("extra_stack_bytes", None),
    ("metadata_bytes", None),
    ("code_growth_insns", None),
    ("happy_extra_insns", None),
    ("throw_insns", None),
    ("throw_insns", "frames_walked"),
    ("throw_insns", "held"),
    ("metadata_bytes", _POINTS),
    ("code_growth_insns", _POINTS),
)
PLOTS = tuple(f"{y}-by-strategy" if x is None else f"{y}-vs-{x}" for y, x in _SPECS)  # each <figure>'s id
_MARKERS = "os^Dvx<>P*"
_DODGE = 0.3  # a driver plot's series are shifted sideways by up to this, so that none hides another

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 78em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.5em; vertical-align: top; }
th { background: #eee; }
td { white-space: nowrap; }
td.reasons { white-space: normal; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.reason { white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 0.9em; }
figure { margin: 1.5em 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { max-width: 60em; }
pre { white-space: pre-wrap; font-size: 0.85em; }
.wide { overflow-x: auto; font-size: 0.9em; }
"""


def _label(name: str) -> str:
    if name == _POINTS:
        return f"{_POINTS} ({_POINTS_UNIT})"
    unit = by_name(name).unit
    return f"{name} ({unit})" if unit else name


def _meaning(name: str) -> str:
    return _POINTS_MEANING if name == _POINTS else by_name(name).meaning


def _programs(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (object, program, strategy) accepted, with its number of throwing points."""
    points = df.groupby(_KEYS, sort=False)["throw_pc"].nunique().rename(_POINTS)  # NA not counted
    accepted = df[~df["verdict"].isin(_REFUSED)].drop_duplicates(_KEYS)
    return accepted.join(points, on=_KEYS)


def _series(df: pd.DataFrame, y: str, x: str | None) -> dict[str, tuple[list[float], list[float]]]:
    """Per strategy, in order of first appearance: its (x, y) values where both are known; x is
    empty for a plot per strategy. A strategy without a value has no entry."""
    out = {}
    for name, g in df.groupby("strategy", sort=False):
        known = g.dropna(subset=[y] if x is None else [y, x])
        if len(known):
            xs = [] if x is None else known[x].astype(float).tolist()
            out[str(name)] = (xs, known[y].astype(float).tolist())
    return out


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    FigureCanvasSVG(fig)
    with matplotlib.rc_context({"svg.hashsalt": "bakeoff"}):  # the same ids on every render of a result
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]  # inline: without the XML declaration and doctype


def _per_strategy(series: Mapping[str, tuple[list[float], list[float]]], y: str) -> Figure:
    fig = Figure(figsize=(7.5, 4))
    ax = fig.add_subplot()
    values = [ys for _, ys in series.values()]
    ax.boxplot(values, showfliers=False, widths=0.5)
    rng = np.random.default_rng(0)  # the strip's jitter, the same on every render
    for i, ys in enumerate(values, 1):
        ax.scatter(i + rng.uniform(-0.18, 0.18, len(ys)), ys, s=9, alpha=0.45, zorder=3)
    ax.set_xticks(range(1, len(values) + 1), list(series), rotation=20, ha="right")
    ax.set_xlabel("strategy")
    ax.set_ylabel(_label(y))
    ax.grid(axis="y", alpha=0.3)
    return fig


def _against(series: Mapping[str, tuple[list[float], list[float]]], y: str, x: str) -> Figure:
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.add_subplot()
    n = len(series)
    for i, (name, (xs, ys)) in enumerate(series.items()):
        dx = 0.0 if n == 1 else _DODGE * (2 * i / (n - 1) - 1)
        ax.scatter([v + dx for v in xs], ys, s=16, alpha=0.6, label=name, marker=_MARKERS[i % len(_MARKERS)])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # every driver is a count
    ax.set_xlabel(_label(x))
    ax.set_ylabel(_label(y))
    ax.grid(alpha=0.3)
    ax.legend(title="strategy", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    return fig


def _plot(df: pd.DataFrame, programs: pd.DataFrame, y: str, x: str | None) -> str:
    per_program = by_name(y).per == "program" or x == _POINTS
    series = _series(programs if per_program else df, y, x)
    count = sum(len(ys) for _, ys in series.values())
    each = "accepted (object, program, strategy), once each" if per_program else "case that has the figure"
    if x is None:
        what = f"{_label(y)} per strategy, box (quartiles, whiskers to 1.5 IQR) and every value as a point"
    else:
        what = f"{_label(y)} against {_label(x)}, one series per strategy"
        each += f"; each strategy's points shifted sideways by up to ±{_DODGE} so none hides another"
    caption = f"{what}. {y}: {_meaning(y)}" + ("" if x is None else f"; {x}: {_meaning(x)}")
    caption += f". One point per {each}; missing figures are left out, never drawn as 0."
    ident = PLOTS[_SPECS.index((y, x))]
    if not count:
        needed = y if x is None else f"case with both {y} and {x}"
        caption = f"No data: no {needed} in this result. {caption}"
        return f'<figure id="{ident}"><figcaption>{escape(caption)}</figcaption></figure>'
    fig = _per_strategy(series, y) if x is None else _against(series, y, x)
    counts = ", ".join(f"{name} {len(ys)}" for name, (_, ys) in series.items())
    caption += f" {count} points ({counts})."
    return f'<figure id="{ident}">{_svg(fig)}<figcaption>{escape(caption)}</figcaption></figure>'


def _table(ident: str, head: Sequence[str], rows: Iterable[Sequence[str]], text_cols: int = 1) -> str:
    """A table whose first `text_cols` columns are text and the others numbers (right-aligned)."""
    th = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td{"" if i < text_cols else " class=num"}>{escape(c)}</td>' for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )  # fmt: skip
    return f'<table id="{ident}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _n(v: Any) -> str:
    return "-" if v is None or v is pd.NA else str(int(v))


def _worst(s: pd.Series) -> str:
    s = s.dropna()
    return _n(s.max()) if len(s) else "-"


_DETAIL = ("stack_bytes", "extra_stack_bytes", "metadata_bytes", "code_growth_insns")


def _detail(df: pd.DataFrame) -> str:
    """Per (object, program, strategy): its verdicts, program figures, worst happy and throw costs
    and every distinct reason in full."""
    head = ["object", "program", "strategy", "verdict", *map(_label, _DETAIL)]
    head += [f"worst {_label('happy_extra_insns')}", f"worst {_label('throw_insns')}", "reasons"]
    th = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    rows = []
    for (obj, program, strategy), g in df.groupby(_KEYS, sort=False):
        first = g.iloc[0]
        text = [str(obj), str(program), str(strategy), ", ".join(dict.fromkeys(str(v) for v in g["verdict"]))]
        nums = [_n(first[c]) for c in _DETAIL] + [_worst(g["happy_extra_insns"]), _worst(g["throw_insns"])]
        reasons = "".join(f'<div class="reason">{escape(str(r))}</div>' for r in dict.fromkeys(g["reason"].dropna()))
        cells = "".join(f"<td>{escape(c)}</td>" for c in text) + "".join(f"<td class=num>{c}</td>" for c in nums)
        rows.append(f'<tr>{cells}<td class="reasons">{reasons}</td></tr>')
    table = f'<table id="detail"><thead><tr>{th}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    return f'<div class="wide">{table}</div>'


def _refusals(h: Headline) -> str:
    items = [
        f'<li><b>{escape(ln.strategy)}</b> ({n}): <span class="reason">{escape(reason)}</span></li>'
        for ln in h.lines
        for reason, n in ln.refusals
    ]
    return f'<h3>Most common refusals</h3><ul id="refusals">{"".join(items)}</ul>' if items else ""


def _provenance(p: Mapping[str, Any]) -> str:
    lines = "".join(f"<li>{escape(line)}</li>" for line in provenance_lines(p))
    full = escape(json.dumps(dict(p), indent=1, sort_keys=True, default=str))
    return (
        f'<h2 id="provenance">Provenance</h2><ul>{lines}</ul>'
        f"<details><summary>The full provenance</summary><pre>{full}</pre></details>"
    )


def plot_svg(result: Result, ident: str) -> str | None:
    """One of the page's plots (an id of PLOTS) as an SVG document of its own; None without data."""
    y, x = _SPECS[PLOTS.index(ident)]
    df = result.frame
    per_program = by_name(y).per == "program" or x == _POINTS
    series = _series(_programs(df) if per_program else df, y, x)
    if not any(ys for _, ys in series.values()):
        return None
    return _svg(_per_strategy(series, y) if x is None else _against(series, y, x))


def html(result: Result) -> str:
    """The whole report as one HTML page that needs nothing beside it."""
    df = result.frame
    h = headline(df)
    programs = _programs(df)
    title = f"Bake-off: {h.programs} programs, {len(h.lines)} strategies, {h.cases} cases; {h.mismatches} mismatch(es)"
    space_head, space_rows = _space(h)
    time_head, time_rows = _time(h)
    notes = "".join(f"<p>{escape(n)}</p>" for n in _NOTES)
    plots = [_plot(df, programs, y, x) for y, x in _SPECS]
    body = [
        f"<h1>{escape(title)}</h1>",
        "<h2>Verdicts and space</h2>",
        _table("space", space_head, space_rows),
        "<h2>Time (x86 instructions)</h2>",
        _table("time", time_head, time_rows),
        _refusals(h),
        f'<div class="notes">{notes}</div>',
        "<h2>Each cost per strategy</h2>",
        *plots[:5],
        "<h2>Each cost against what drives it</h2>",
        *plots[5:],
        "<p>Throw cost against slot conflicts (the fraction of stack slots whose contents differ across "
        "paths) is not plotted: the result has no such column yet; that plot comes with the generated "
        "corpus families.</p>",
        "<h2>Per program</h2>",
        _detail(df),
        _provenance(result.provenance),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body></html>\n"
    )
