"""Kernel truth in the corpus manifests: a `[program.kernel]` table per `[[program]]`.

Manifests are programs/README.md's format: one TOML per source, `object` relative
to programs/, one `[[program]]` per program with its `[[program.input]]`s.
`write_corpus_truth` loads every program of a manifest on the running kernel
and records what it said (release from uname -r, verdict, message,
stack_depth, insns_processed, retval per input) with tomlkit, so comments and
layout survive; `check_corpus_truth` reloads and lists every disagreement with
what was recorded. Inputs come from framework.load.corpus: the packet and
`map` entries are applied; `tasks`, `cgroups` and `sockets` describe the
emulated kernel and are not (the live kernel has what the machine has).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from framework.errors import InputError
from framework.load.corpus import CorpusEntry, corpus_entries
from framework.oracle.record import KernelRecord, record

__all__ = [
    "CorpusEntry",
    "check_corpus_truth",
    "corpus_entries",
    "disagreements",
    "kernel_table",
    "read_kernel_truth",
    "release",
    "write_corpus_truth",
    "write_kernel_truth",
]

# Compared on reload; verification_usec and timings are measurements, not truth.
_COMPARED = ("verdict", "message", "stack_depth", "insns_processed")


def release() -> str:
    """The running kernel's release (uname -r)."""
    return os.uname().release


def kernel_table(rec: KernelRecord, kernel_release: str | None = None) -> dict[str, Any]:
    """The `[program.kernel]` table for one record (TOML has no null: an accepted program has no message)."""
    table: dict[str, Any] = {"release": kernel_release or release(), "verdict": rec.verdict}
    if rec.message is not None:
        table["message"] = rec.message
    table["stack_depth"] = list(rec.stack_depth)
    if rec.insns_processed is not None:
        table["insns_processed"] = rec.insns_processed
    if rec.runs:
        table["retval"] = {run.input: run.retval for run in rec.runs}
    return table


def _toml_table(values: Mapping[str, Any]) -> Table:
    new = tomlkit.table()
    for key, value in values.items():
        if isinstance(value, dict):
            inline = tomlkit.inline_table()
            inline.update(value)
            new.add(key, inline)
        else:
            new.add(key, value)
    return new


def write_kernel_truth(manifest: Path, records: Iterable[KernelRecord], kernel_release: str | None = None) -> None:
    """Set `[program.kernel]` of each `[[program]]` a record names, keeping everything else as written."""
    doc = tomlkit.parse(manifest.read_text())
    by_name = {r.program: r for r in records}
    programs = doc.get("program")
    if not isinstance(programs, AoT):
        raise InputError(manifest.as_posix(), "no [[program]] array")
    for table in programs:
        rec = by_name.get(str(table["name"]))
        if rec is not None:
            table["kernel"] = _toml_table(kernel_table(rec, kernel_release))
    manifest.write_text(tomlkit.dumps(doc))


def read_kernel_truth(manifest: Path) -> dict[str, dict[str, Any]]:
    """Program name -> its recorded `[program.kernel]` table (programs without one are left out)."""
    doc = tomllib.loads(manifest.read_text())
    return {p["name"]: p["kernel"] for p in doc.get("program", ()) if isinstance(p.get("kernel"), dict)}


def disagreements(recorded: Mapping[str, Any], rec: KernelRecord) -> list[str]:
    """Where the live kernel differs from what a manifest recorded; empty when they agree."""
    live = kernel_table(rec)
    out = [
        f"{key}: manifest {recorded.get(key)!r}, kernel {live.get(key)!r}"
        for key in _COMPARED
        if recorded.get(key) != live.get(key)
    ]
    got = live.get("retval", {})
    for name, value in recorded.get("retval", {}).items():
        if got.get(name) != value:
            out.append(f"retval[{name}]: manifest {value!r}, kernel {got.get(name)!r}")
    return out


def write_corpus_truth(manifests: Iterable[Path], *, batches: int = 3, repeat: int = 100) -> list[KernelRecord]:
    """Load every program of every manifest on this kernel and write its `[program.kernel]` table."""
    records: list[KernelRecord] = []
    for manifest in manifests:
        recs = [record(e.program, e.live_inputs, batches=batches, repeat=repeat) for e in corpus_entries(manifest)]
        write_kernel_truth(manifest, recs)
        records += recs
    return records


def check_corpus_truth(manifests: Iterable[Path]) -> list[str]:
    """`manifest:program: field: ...` for every disagreement between the live kernel and the manifests."""
    out: list[str] = []
    for manifest in manifests:
        truth = read_kernel_truth(manifest)
        for entry in corpus_entries(manifest):
            if entry.program.name not in truth:
                continue
            rec = record(entry.program, entry.live_inputs, batches=1, repeat=1)
            out += [f"{manifest.name}:{entry.program.name}: {d}" for d in disagreements(truth[entry.program.name], rec)]
    return out
