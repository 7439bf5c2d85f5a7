"""The case-result cache: a (program, strategy)'s rows, kept under the results directory and
reused by a later run whose inputs are the same, so a rerun after changing one strategy
reruns only that strategy's rows.

The key is everything a row depends on: the framework's own code (a digest of every file of
the installed `framework` package, so an uncommitted change counts too), the object's bytes,
the program, what its manifest says to run it on, the strategy's name, version and code (its
module, the modules of its own package it uses, its C runtime), and the tools that build and
run the code (Python, gcc, Unicorn, iced-x86). A key that misses any of them would be a
silently stale number, so when in doubt a part goes in.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["Cache", "code_digest", "framework_digest", "strategy_digest"]

_FRAMEWORK = Path(__file__).resolve().parents[1]


def _files_digest(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(set(paths)):
        h.update(str(p.name).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


@cache
def framework_digest() -> str:
    """Every source file of the framework package (Python, and the runtimes' C)."""
    files = [p for p in _FRAMEWORK.rglob("*") if p.suffix in (".py", ".c", ".h") and "__pycache__" not in p.parts]
    return _files_digest(files)


def _own_modules(module: ModuleType) -> list[ModuleType]:
    """`module` and the modules of its own top-level package it uses, transitively."""
    top = module.__name__.split(".")[0]
    seen: dict[str, ModuleType] = {}
    todo = [module]
    while todo:
        m = todo.pop()
        if m.__name__ in seen:
            continue
        seen[m.__name__] = m
        for value in vars(m).values():
            name = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
            if isinstance(name, str) and (name == top or name.startswith(top + ".")) and name in sys.modules:
                todo.append(sys.modules[name])
    return list(seen.values())


def strategy_digest(strategy: object) -> str:
    """The strategy's code: its class's module, the modules of its package it uses, its C runtime
    and the headers beside that."""
    module = sys.modules[type(strategy).__module__]
    files = [Path(f) for m in _own_modules(module) if (f := getattr(m, "__file__", None))]
    runtime = getattr(strategy, "runtime", None)
    if isinstance(runtime, Path):
        files += [runtime, *runtime.parent.glob("*.h")]
    source = inspect.getsourcefile(type(strategy))
    if source:
        files.append(Path(source))
    return _files_digest([f for f in files if f.is_file()])


def code_digest(parts: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()


class Cache:
    """Entries under `directory`, one JSON file per key; written aside and renamed into place."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any | None:
        try:
            return json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None  # absent, or unreadable: computed again

    def put(self, key: str, value: Any) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, aside = tempfile.mkstemp(dir=path.parent, prefix=".writing-")
        with os.fdopen(fd, "w") as f:
            json.dump(value, f)
        os.replace(aside, path)
