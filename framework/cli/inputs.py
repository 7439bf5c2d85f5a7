"""What the commands read: objects and their programs, paths, corpus manifests, output directories."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from framework.errors import InputError
from framework.load.program import LoadFailure, Program, strict

if TYPE_CHECKING:
    pass

P = TypeVar("P", Program, Program | LoadFailure)


CORPUS = Path(__file__).resolve().parents[2] / "programs"


def positive_seconds(text: str) -> float:
    """argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 86400 seconds: {text!r}")
    return value


def load_each(path: str) -> tuple[Program | LoadFailure, ...]:
    """Every program of `path`, each loaded alone; an object without programs is bad input."""
    from framework.load import load_path_each

    items = load_path_each(path)
    if not items:
        raise InputError(path, "holds no BPF programs (no non-static function in a section libbpf loads as one)")
    return items


def load_programs(path: str) -> tuple[Program, ...]:
    """Every program of `path`; the first that cannot be loaded is the error."""
    return strict(load_each(path))


def select(programs: tuple[P, ...], name: str | None, path: str) -> tuple[P, ...]:
    if name is None:
        return programs
    chosen = tuple(p for p in programs if p.name == name)
    if not chosen:
        known = ", ".join(p.name for p in programs) or "none"
        raise InputError(path, f"no program named '{name}' (programs: {known})")
    return chosen


def one_program(programs: tuple[Program | LoadFailure, ...], name: str | None, path: str) -> Program:
    """The one program chosen (by --program, or the only one), or its load failure raised."""
    chosen = select(programs, name, path)
    if len(chosen) > 1:
        names = ", ".join(p.name for p in chosen)
        raise InputError(path, f"holds {len(chosen)} programs ({names}); choose one with --program")
    return strict(chosen)[0]


def corpus_objects(root: Path = CORPUS) -> list[Path]:
    """The corpus: every object under programs/obj (assembly sources are built into objects there too)."""
    return sorted((root / "obj").glob("*.o"))


def object_paths(given: Sequence[str]) -> list[str]:
    if given:
        return list(given)
    objects = corpus_objects()
    if not objects:
        raise InputError(str(CORPUS), "no corpus objects found (build them with: python programs/build.py)")
    return [str(p) for p in objects]


class Unmet(InputError):
    """What a command needs from the machine and lacks (a tool not installed): its one line, exit status 2."""

    def __init__(self, line: str) -> None:
        Exception.__init__(self, line)
        self.coord, self.message = "", line


def need_compiler() -> None:
    """Before any work that builds a runtime (every JIT run does): gcc and binutils are there."""
    from framework.runtime.build import compiler_missing

    missing = compiler_missing()
    if missing is not None:
        raise Unmet(missing)


def out_dir(path: str | None) -> Path | None:
    """An `--out DIR`, checked before any work: a directory that can be written or created."""
    from framework.platform.paths import unwritable_dir

    if path is None:
        return None
    why = unwritable_dir(path)
    if why is not None:
        raise InputError(path, f"cannot be the --out directory: {why}")
    return Path(path)


def read_object(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None


def manifest_facts(entries: Mapping[str, Any], name: str) -> tuple[tuple[Any, ...], tuple[int, ...], dict[str, int]]:
    """A corpus program's declared inputs, its manifest's `force_hit` reaches, and its
    hand-cleaned twin's live-kernel return value per input (`entries`: the object's, by name)."""
    entry = entries.get(name)
    if entry is None:
        return (), (), {}
    return entry.inputs, entry.force_hits, entry.twin_retvals(entries)


def time_limit(entries: Mapping[str, Any], name: str) -> float:
    """The manifest's `time_limit_s` for a program (runs past it are timeouts), or the default."""
    from framework.run.result import TIMEOUT_S

    entry = entries.get(name)
    limit = entry.time_limit_s if entry is not None else None
    return TIMEOUT_S if limit is None else limit


def manifest_entries(path: str) -> dict[str, Any]:
    """The corpus entries of the object at `path`, by program name (none for a file outside the corpus)."""
    from framework.load.corpus import entries_for_object

    return {e.program.name: e for e in entries_for_object(path)}


def object_files(given: Sequence[str]) -> list[str]:
    """PATHs as given, a directory standing for every object under it."""
    out: list[str] = []
    for path in object_paths(given):
        out += sorted(str(p) for p in Path(path).rglob("*.o")) if Path(path).is_dir() else [path]
    return out
