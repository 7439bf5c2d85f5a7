"""What an installed copy needs beside its Python modules is declared as package data.

A wheel or sdist (as tox builds one) carries only modules and `[tool.setuptools.package-data]`;
the strategies' throw-time runtimes are C sources the JIT compiles at run time, so a file the
code reads but the globs miss works in a checkout and fails in every install.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {".c", ".h"}  # files read at run time (framework.runtime.build compiles them)


def test_every_runtime_source_is_package_data() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    missed, seen = [], 0
    for package, globs in data.items():
        for path in (ROOT / package).rglob("*"):
            if path.suffix not in SOURCES or "__pycache__" in path.parts:
                continue
            seen += 1
            rel = path.relative_to(ROOT / package).as_posix()
            if not any(fnmatch.fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs):
                missed.append(f"{package}/{rel}")
    assert seen >= 7 and not missed, missed  # stock's runtime, its headers and five strategies' C files
