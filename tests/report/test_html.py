"""The HTML report (framework.report.html): one self-contained page, checked as a real headless
browser reads it (chromium's --dump-dom), from a small real result of two corpus objects."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from framework.cli import main
from framework.report.headline import headline
from framework.report.html import html
from framework.report.store import Result, read_result
from framework.report.text import _space, _time

ROOT = Path(__file__).resolve().parents[2]
OBJECTS = [str(ROOT / "programs" / "obj" / "basic_throw.o"), str(ROOT / "programs" / "obj" / "merge_two_types.o")]
KEYS = ["object", "program", "strategy"]

# Every plot the page carries: each cost per strategy, then each against what drives it.
PLOTS = {
    "extra_stack_bytes-by-strategy": "bytes",
    "metadata_bytes-by-strategy": "bytes",
    "code_growth_insns-by-strategy": "insns",
    "happy_extra_insns-by-strategy": "x86 insns",
    "throw_insns-by-strategy": "x86 insns",
    "throw_insns-vs-frames_walked": "frames",
    "throw_insns-vs-held": "resources",
    "metadata_bytes-vs-throw_points": "throwing points",
    "code_growth_insns-vs-throw_points": "throwing points",
}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)  # elements and text, in document order

    def all(self, tag: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                found += [child, *child.all(tag)] if child.tag == tag else child.all(tag)
        return found

    def content(self) -> str:
        return "".join(c if isinstance(c, str) else c.content() for c in self.children)


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.open[-1].children.append(node)
        if tag not in VOID:
            self.open.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.open) - 1, 0, -1):
            if self.open[i].tag == tag:
                del self.open[i:]
                return

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(data)


def parse(page: str) -> Node:
    tree = _Tree()
    tree.feed(page)
    tree.close()
    return tree.root


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """One real `bakeoff run --json` of two objects, read back as the stored result it appended."""
    results = tmp_path_factory.mktemp("res")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["run", *OBJECTS, "--results", str(results), "--json"]) == 0
    (stored,) = results.glob("*.json")
    read = read_result(str(stored))
    assert len(read.rows) == printed.getvalue().count('"object_sha256"')  # what it printed, stored
    return read


@pytest.fixture(scope="module")
def page(result: Result) -> str:
    return html(result)


def dump_dom(path: Path, profile: Path) -> tuple[str, float]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium): the page was not opened in a browser")
    start = time.monotonic()
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
         "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, time.monotonic() - start


@pytest.fixture(scope="module")
def dom(page: str, tmp_path_factory: pytest.TempPathFactory) -> Node:
    where = tmp_path_factory.mktemp("page")
    path = where / "report.html"
    path.write_text(page)
    dumped, seconds = dump_dom(path, where / "profile")
    assert seconds < 60
    tree = parse(dumped)
    assert tree.all("h1"), f"chromium's DOM has no heading: {dumped[:500]!r}"
    return tree


def _table(dom: Node, ident: str) -> tuple[list[str], list[list[str]]]:
    (table,) = [t for t in dom.all("table") if t.attrs.get("id") == ident]
    head = [th.content() for th in table.all("th")]
    rows = [[td.content() for td in tr.all("td")] for tr in table.all("tbody")[0].all("tr")]
    return head, rows


def test_headline_tables_in_the_browser(dom: Node, result: Result) -> None:
    h = headline(result.frame)
    strategies = [ln.strategy for ln in h.lines]
    assert len(strategies) == 6
    for ident, (head, rows) in (("space", _space(h)), ("time", _time(h))):
        got_head, got_rows = _table(dom, ident)
        assert got_head == head
        assert got_rows == rows
        assert [r[0] for r in got_rows] == strategies  # one row per strategy


def test_refusals_and_notes_in_full(dom: Node, result: Result) -> None:
    h = headline(result.frame)
    (refusals,) = [u for u in dom.all("ul") if u.attrs.get("id") == "refusals"]
    items = [li.content() for li in refusals.all("li")]
    expected = [f"{ln.strategy} ({n}): {reason}" for ln in h.lines for reason, n in ln.refusals]
    assert items == expected and expected  # stock refuses a throw while a reference is held
    assert any("frame_desc: merge: failed to merge old and new frame desc entry" in i for i in items)
    assert "MAX_BPF_STACK" in dom.content()


def test_detail_table_one_row_per_program_and_strategy(dom: Node, result: Result) -> None:
    head, rows = _table(dom, "detail")
    assert head[:4] == ["object", "program", "strategy", "verdict"]
    assert head[4:] == [
        "stack_bytes (bytes)", "extra_stack_bytes (bytes)", "metadata_bytes (bytes)", "code_growth_insns (insns)",
        "worst happy_extra_insns (x86 insns)", "worst throw_insns (x86 insns)", "reasons",
    ]  # fmt: skip
    df = result.frame
    expected = df.drop_duplicates(KEYS)[KEYS].values.tolist()
    assert [r[:3] for r in rows] == expected
    for (obj, program, strategy), g in df.groupby(KEYS, sort=False):
        (row,) = [r for r in rows if r[:3] == [obj, program, strategy]]
        worst = g["throw_insns"].dropna()
        assert row[9] == (str(int(worst.max())) if len(worst) else "-")
        for reason in g["reason"].dropna():
            assert reason in row[10]  # in full
    refused = [r for r in rows if r[3] == "rejected"]
    assert {r[2] for r in refused} >= {"stock", "frame-descriptors"}


def test_every_plot_is_an_svg_in_a_figure_with_its_caption(dom: Node) -> None:
    figures = {f.attrs.get("id"): f for f in dom.all("figure")}
    assert set(figures) == set(PLOTS), "a plot is missing or unexpected"
    for ident, unit in PLOTS.items():
        figure = figures[ident]
        (svg,) = figure.all("svg")
        width, height = (float(v) for v in svg.attrs["viewbox"].split()[2:])
        assert width > 100 and height > 100
        assert len(svg.all("path")) + len(svg.all("use")) > 20, f"{ident}: an empty drawing"
        (caption,) = figure.all("figcaption")
        text = caption.content()
        assert f"({unit})" in text and "No data" not in text, text
    assert "slot conflicts" in dom.content().lower()
    assert "generated corpus families" in dom.content()


def test_provenance(dom: Node, result: Result) -> None:
    assert result.provenance["commit"][:12] in dom.content()
    (pre,) = [p for d in dom.all("details") for p in d.all("pre")]
    assert '"corpus_digest"' in pre.content()


# Without a browser.


def test_page_has_no_external_reference(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script\b", page, re.I), "no scripts at all"
    assert not re.search(r"<link\b", page, re.I)
    assert not re.search(r"<(img|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"""\b(src|href)\s*=\s*["']?\s*(https?:|//)""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:|//)", page, re.I)
    assert not re.search(r"@import", page, re.I)
    refs = re.findall(r"""(?:xlink:)?href\s*=\s*["']([^"']*)""", page, re.I)
    assert all(r.startswith("#") for r in refs), {r for r in refs if not r.startswith("#")}


def test_missing_figures_are_dropped_never_zero(page: str, result: Result) -> None:
    df = result.frame
    root = parse(page)
    captions = {f.attrs["id"]: f.all("figcaption")[0].content() for f in root.all("figure")}
    throws = captions["throw_insns-by-strategy"]
    assert f" {int(df['throw_insns'].notna().sum())} points (" in throws
    assert int(df["throw_insns"].isna().sum()) > 0  # the result has missing throw figures to drop
    happy = captions["happy_extra_insns-by-strategy"]
    assert f" {int(df['happy_extra_insns'].notna().sum())} points (" in happy
    both = df.dropna(subset=["throw_insns", "held"])
    assert f" {len(both)} points (" in captions["throw_insns-vs-held"]


def test_a_plot_without_data_says_so(result: Result) -> None:
    refused = Result(result.provenance, tuple(r for r in result.rows if r["verdict"] == "rejected"))
    assert refused.rows
    root = parse(html(refused))
    figures = {f.attrs["id"]: f for f in root.all("figure")}
    assert set(figures) == set(PLOTS)
    for ident, figure in figures.items():
        assert not figure.all("svg"), ident
        assert figure.all("figcaption")[0].content().startswith("No data: "), ident
    _, rows = _table(root, "detail")
    assert all(r[3] == "rejected" for r in rows)
