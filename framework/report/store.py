"""Stored results: every `bakeoff run` appends one file, its rows and their provenance, and
`bakeoff report` and `bakeoff compare` read any of them back (or what `run --json` printed:
the same object).

A result is JSON: `format_version`, `provenance` (framework.provenance's, with the corpus
digest and the command line), `rows` (framework.report.frame's). Files go under the results
directory (`--results DIR`, else $BAKEOFF_RESULTS, else $XDG_DATA_HOME/bakeoff/results, by
default ~/.local/share/bakeoff/results: never into the checkout), named by the UTC time and
the commit; a name already taken gets the next number, so nothing is overwritten, and a file
appears only whole (written aside, then linked into place).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from framework.errors import InputError
from framework.provenance import FORMAT_VERSION
from framework.report.columns import names
from framework.report.frame import frame

__all__ = ["RESULT_FORMAT", "Result", "corpus_digest", "read_result", "results_dir", "write_result"]

RESULT_FORMAT = FORMAT_VERSION  # the layout of a stored result (framework.provenance)


@dataclass(frozen=True, slots=True)
class Result:
    """One run's rows and where they come from."""

    provenance: Mapping[str, Any]
    rows: tuple[Mapping[str, Any], ...]

    @property
    def frame(self) -> pd.DataFrame:
        return frame(self.rows)

    def to_json(self) -> dict[str, Any]:
        return {"format_version": RESULT_FORMAT, "provenance": dict(self.provenance), "rows": list(self.rows)}


def corpus_digest(rows: Iterable[Mapping[str, Any]]) -> str:
    """SHA-256 over the objects the rows name (relative path and digest), so two runs over the same
    corpus say so whatever machine they ran on."""
    objects = sorted({f"{r['object']} {r['object_sha256']}" for r in rows})
    return hashlib.sha256("\n".join(objects).encode()).hexdigest()


def results_dir(given: str | None = None) -> Path:
    if given:
        return Path(given)
    if os.environ.get("BAKEOFF_RESULTS"):
        return Path(os.environ["BAKEOFF_RESULTS"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "bakeoff" / "results"


def write_result(result: Result, directory: Path) -> Path:
    """Append `result` under `directory`; its path. Never overwrites, never leaves half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    commit = (result.provenance.get("commit") or "nocommit")[:12]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(result.to_json(), indent=1) + "\n"
    fd, aside = tempfile.mkstemp(dir=directory, prefix=".writing-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        for n in range(1, 10_000):
            path = directory / f"{stamp}-{commit}{'' if n == 1 else f'-{n}'}.json"
            try:
                os.link(aside, path)  # fails if the name is taken: a result is never overwritten
            except FileExistsError:
                continue
            return path
        raise OSError(f"{directory}: no free name for {stamp}-{commit}")
    finally:
        os.unlink(aside)


def read_result(path: str) -> Result:
    """A stored result, or what `run --json` printed; bad input is one InputError naming the file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}", f"not JSON: {exc.msg}") from None
    if not isinstance(data, dict) or "rows" not in data or "provenance" not in data:
        raise InputError(path, "not a bakeoff result (a stored result or `bakeoff run --json` output)")
    version = data.get("format_version")
    if version != RESULT_FORMAT:
        raise InputError(path, f"result format {version}, this bakeoff reads format {RESULT_FORMAT}")
    rows = data["rows"]
    known = set(names())
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError(path, "`rows` is not a list of objects")
    for i, row in enumerate(rows):
        missing = known - row.keys()
        if missing:
            raise InputError(f"{path}: rows[{i}]", f"lacks column(s) {', '.join(sorted(missing))}")
    return Result(data["provenance"], tuple(rows))
