"""Every report format of a result, by name, and writing them all into one directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from framework.report.html import html
from framework.report.store import Result
from framework.report.text import csv_text, json_text, markdown, text

__all__ = ["FORMATS", "render", "write_reports"]

# format -> (file name, renderer)
FORMATS: dict[str, tuple[str, Callable[[Result], str]]] = {
    "text": ("report.txt", text),
    "md": ("report.md", markdown),
    "html": ("report.html", html),
    "csv": ("results.csv", csv_text),
    "json": ("result.json", json_text),
}


def render(result: Result, fmt: str) -> str:
    return FORMATS[fmt][1](result)


def write_reports(result: Result, directory: Path) -> list[Path]:
    """Each format's file under `directory`; their paths. Each is rendered before any is written."""
    bodies = {name: fn(result) for name, fn in FORMATS.values()}
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, body in bodies.items():
        (directory / name).write_text(body)
        paths.append(directory / name)
    return paths
