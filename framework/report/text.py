"""A result as text: the headline for a 72-column mail (tabulate), the same in Markdown, the
per-program detail with every refusal message wrapped (never cut), CSV in veristat's
conventions and JSON. Each reads only the stored result: its frame and provenance.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Mapping
from typing import Any

import pandas as pd

from framework.report.columns import COLUMNS
from framework.report.frame import plain, to_rows
from framework.report.headline import Headline, headline
from framework.report.store import Result

__all__ = ["csv_text", "detail", "json_text", "markdown", "provenance_lines", "text"]

MAIL = 72


def _n(v: float | int | None) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}" if isinstance(v, float) and not float(v).is_integer() else f"{int(v)}"


def _table(rows: list[list[str]], head: list[str], fmt: str = "simple") -> str:
    """tabulate, two spaces between columns and none added around headers (a mail's 72 columns)."""
    import tabulate as tab

    padding = tab.MIN_PADDING
    tab.MIN_PADDING = 0  # its default pads each header by 2, which a mail's width cannot spare
    try:
        return str(tab.tabulate(rows, headers=head, tablefmt=fmt, disable_numparse=True))
    finally:
        tab.MIN_PADDING = padding


def _pair(median: float | None, worst: int | None) -> str:
    return "-" if median is None else f"{_n(median)}/{_n(worst)}"


def _space(h: Headline) -> tuple[list[str], list[list[str]]]:
    head = ["strategy", "ok", "refused", "+stack B", ">512", "meta B", "+insns"]
    rows = [
        [ln.strategy, str(ln.accepted), str(ln.refused + ln.errors), _pair(ln.stack_median, ln.stack_worst),
         str(ln.past_512), _pair(ln.metadata_median, ln.metadata_worst), _pair(ln.growth_median, ln.growth_worst)]
        for ln in h.lines
    ]  # fmt: skip
    return head, rows


def _time(h: Headline) -> tuple[list[str], list[list[str]]]:
    head = ["strategy", "happy+", "throw", "/frame", "/res", "throws", "mismatch"]
    rows = [
        [ln.strategy, _pair(ln.happy_median, ln.happy_worst), _pair(ln.throw_median, ln.throw_worst),
         _n(ln.per_frame), _n(ln.per_resource), str(ln.throws), str(ln.mismatches)]
        for ln in h.lines
    ]  # fmt: skip
    return head, rows


_NOTES = (
    "ok/refused: programs the strategy's verifier accepts and refuses (refused includes a strategy "
    "that raised). +stack: stack bytes the strategy reserves, median/worst over accepted programs; "
    ">512: programs stock accepts that its stack pushes past MAX_BPF_STACK. meta B: bytes of its "
    "tables; +insns: BPF instructions it adds.",
    "happy+: x86 instructions over stock's JIT of the same program on the same input, "
    "median/worst over runs that returned. throw: x86 instructions of the runtime's walk + lookup + release (and "
    "landing pads) at a throw, median/worst over every throwing point forced; /frame per BPF frame "
    "live at the throw, /res the release (and landing-pad) instructions per resource released (medians). "
    "Counts are exact instructions in the emulator, not time. mismatch: runs that disagreed with "
    "the interpreter's reference; they are verdicts, never figures.",
)


def provenance_lines(p: Mapping[str, Any]) -> list[str]:
    """Where the figures come from, in a few lines (the stored result holds all of it)."""
    pkgs = p.get("packages") or {}
    machine = p.get("machine") or {}
    commit = (p.get("commit") or "?")[:12] + (" (with changes)" if p.get("dirty") else "")
    lines = [
        f"bakeoff {commit}, {p.get('date', '?')}; corpus {str(p.get('corpus_digest') or '?')[:12]}",
        f"Python {p.get('python', '?')}, unicorn {pkgs.get('unicorn', '?')}, iced-x86 {pkgs.get('iced-x86', '?')}, "
        f"pluggy {pkgs.get('pluggy', '?')}; {p.get('runtime_compiler') or 'no gcc'}; {p.get('clang') or 'no clang'}",
        f"{machine.get('cpu', '?')}, {machine.get('cpus', '?')} CPUs; kernel {machine.get('kernel', '?')} "
        f"{machine.get('kernel_build', '')}".rstrip(),
    ]
    versions = p.get("strategies") or {}
    if versions:
        lines.append("strategies: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    kernel = p.get("kernel_throw")
    if kernel:
        lines.append(
            f"the live kernel's stock bpf_throw: {kernel['base_ns']:.0f} ns + {kernel['per_frame_ns']:.0f} ns per "
            f"frame over a return ({kernel['source']})"
        )
    return lines


def _wrap(lines: list[str], width: int) -> list[str]:
    return [w for line in lines for w in (textwrap.wrap(line, width, subsequent_indent="  ") or [""])]


def _refusals(h: Headline, width: int, bullet: str = "") -> list[str]:
    out = []
    for ln in h.lines:
        for reason, count in ln.refusals:
            out += textwrap.wrap(
                f"{bullet}{ln.strategy} ({count}): {reason}", width, subsequent_indent=" " * (len(bullet) + 2)
            )
    return out


def _title(result: Result, h: Headline) -> str:
    return f"{h.programs} programs, {len(h.lines)} strategies, {h.cases} cases; {h.mismatches} mismatch(es)"


def text(result: Result, width: int = MAIL) -> str:
    """The headline as plain text within `width` columns (72: a mail)."""
    h = headline(result.frame)
    out = [*_wrap([_title(result, h)], width), ""]
    for head, rows in (_space(h), _time(h)):
        out += [*_table(rows, head).splitlines(), ""]
    refusals = _refusals(h, width)
    if refusals:
        out += ["Most common refusals:", *refusals, ""]
    out += [*_wrap(list(_NOTES), width), ""]
    out += _wrap(provenance_lines(result.provenance), width)
    return "\n".join(out) + "\n"


def markdown(result: Result) -> str:
    h = headline(result.frame)
    out = ["# Bake-off", "", _title(result, h), ""]
    for title, (head, rows) in (("Verdicts and space", _space(h)), ("Time (x86 instructions)", _time(h))):
        out += [f"## {title}", "", _table(rows, head, "github"), ""]
    refusals = [f"- **{ln.strategy}** ({n}): {reason}" for ln in h.lines for reason, n in ln.refusals]
    if refusals:
        out += ["## Most common refusals", "", *refusals, ""]
    out += ["## What the columns mean", "", *_NOTES, "", "## Provenance", ""]
    out += [f"- {line}" for line in provenance_lines(result.provenance)]
    return "\n".join(out) + "\n"


def detail(df: pd.DataFrame, width: int = 80) -> str:
    """Per program, one line per strategy: verdict, stack, metadata, growth, the worst happy and
    throw costs; below a line every distinct reason (a refusal's message, a run's differences) in
    full, wrapped to `width`, never cut."""
    rows: list[list[str]] = []
    notes: list[list[str]] = []  # per row: lines printed before it (its program) and after it
    after: list[list[str]] = []
    seen = None
    for (obj, program, strategy), g in df.groupby(["object", "program", "strategy"], sort=False):
        first = g.iloc[0]
        verdict = "mismatch" if (g["verdict"] == "mismatch").any() else str(first["verdict"])
        rows.append([
            str(strategy), verdict, _n(plain(first["stack_bytes"])), _n(plain(first["extra_stack_bytes"])),
            _n(plain(first["metadata_bytes"])), _n(plain(first["code_growth_insns"])),
            _n(plain(g["happy_extra_insns"].max())), _n(plain(g["throw_insns"].max())),
        ])  # fmt: skip
        notes.append([f"{program} ({obj})"] if (obj, program) != seen else [])  # a program's first line
        seen = (obj, program)
        reasons = dict.fromkeys(str(r) for r in g["reason"].dropna())
        after.append([w for r in reasons for w in textwrap.wrap(r, width - 6, initial_indent="    ",
                                                               subsequent_indent="      ")])  # fmt: skip
    head = ["strategy", "verdict", "stack", "+stack", "meta", "+insns", "happy+", "throw"]
    table = _table(rows, head).splitlines()
    out = [f"  {line}" for line in table[:2]]
    for line, before, wrapped in zip(table[2:], notes, after, strict=True):
        out += [*before, f"  {line}".rstrip(), *wrapped]
    return "\n".join(out) + "\n"


def csv_text(result: Result) -> str:
    """Every row, veristat's way (`--output-format csv`): a header line of column names, `file_name`
    and `prog_name` first, one line per row, empty where a figure is missing."""
    df = result.frame
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    names = [c.name for c in COLUMNS if c.name not in ("object", "program")]
    writer.writerow(["file_name", "prog_name", *names])
    for row in to_rows(df):
        values = [row["object"], row["program"], *(row[n] for n in names)]
        writer.writerow(["" if v is None else str(v).lower() if isinstance(v, bool) else v for v in values])
    return buf.getvalue()


def json_text(result: Result) -> str:
    return json.dumps(result.to_json(), indent=1) + "\n"
