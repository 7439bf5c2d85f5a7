"""The project's prose links only inside the project: every relative link in README.md and
docs/*.md names a file of this repository (and, with a #fragment into Markdown, one of its headings)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and [label]: target, outside code spans and fenced blocks
INLINE = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto:, ...


def _prose(text: str) -> str:
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def _links(path: Path) -> list[str]:
    text = _prose(path.read_text())
    return INLINE.findall(text) + REFERENCE.findall(text)


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_anchor(m) for m in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", _prose(path.read_text()), flags=re.M)}


def test_there_are_design_notes() -> None:
    assert (ROOT / "docs" / "design.md").is_file()
    assert "docs/design.md" in _links(ROOT / "README.md")


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_relative_link_resolves_inside_the_repository(doc: Path) -> None:
    bad = []
    for link in _links(doc):
        if EXTERNAL.match(link):
            continue
        target, _, fragment = link.partition("#")
        where = (doc.parent / target).resolve() if target else doc
        if not where.is_relative_to(ROOT):
            bad.append(f"{link}: outside the repository")
        elif not where.exists():
            bad.append(f"{link}: no such file")
        elif fragment and where.suffix == ".md" and fragment not in _anchors(where):
            bad.append(f"{link}: no heading #{fragment} in {where.relative_to(ROOT)}")
    assert not bad, f"{doc.relative_to(ROOT)}: " + "; ".join(bad)
