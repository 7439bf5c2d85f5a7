"""Kernel truth in the corpus manifests: a `[program.kernel]` table per `[[program]]`.

Manifests are programs/README.md's format: one TOML per source, `object` relative
to programs/, one `[[program]]` per program with its `[[program.input]]`s.
`write_corpus_truth` loads every program of a manifest on the running kernel
and records what it said with tomlkit, so comments and layout survive: the
kernel's identity (`KernelBuild`: release, version, btf_sha256, build_id),
verdict, message, stack_depth, insns_processed, retval per input.
`check_corpus_truth` reloads each program and compares it with what was
recorded by the one rule of framework.oracle.drift (exact on the recorded
build; elsewhere insns_processed is drift). Inputs come from
framework.load.corpus: the packet and `map` entries are applied; `tasks`,
`cgroups` and `sockets` describe the emulated kernel and are not (the live
kernel has what the machine has).
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
from framework.load.corpus import CorpusEntry, corpus_entries, manifests
from framework.oracle.drift import Comparison, Figure, compare
from framework.oracle.identity import KernelBuild, running
from framework.oracle.record import KernelRecord, record

__all__ = [
    "CorpusEntry",
    "check_corpus_truth",
    "check_records",
    "compare_truth",
    "corpus_entries",
    "figures",
    "kernel_table",
    "manifests_at",
    "read_kernel_truth",
    "rerecord_command",
    "write_corpus_truth",
    "write_kernel_truth",
]


def kernel_table(rec: KernelRecord, build: KernelBuild | None = None) -> dict[str, Any]:
    """The `[program.kernel]` table for one record (TOML has no null: an accepted program has no message)."""
    table: dict[str, Any] = {**(build or running()).to_table(), "verdict": rec.verdict}
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


def write_kernel_truth(manifest: Path, records: Iterable[KernelRecord], build: KernelBuild | None = None) -> None:
    """Set `[program.kernel]` of each `[[program]]` a record names, keeping everything else as written."""
    doc = tomlkit.parse(manifest.read_text())
    by_name = {r.program: r for r in records}
    programs = doc.get("program")
    if not isinstance(programs, AoT):
        raise InputError(manifest.as_posix(), "no [[program]] array")
    for table in programs:
        rec = by_name.get(str(table["name"]))
        if rec is not None:
            table["kernel"] = _toml_table(kernel_table(rec, build))
    manifest.write_text(tomlkit.dumps(doc))


def read_kernel_truth(manifest: Path) -> dict[str, dict[str, Any]]:
    """Program name -> its recorded `[program.kernel]` table (programs without one are left out)."""
    doc = tomllib.loads(manifest.read_text())
    return {p["name"]: p["kernel"] for p in doc.get("program", ()) if isinstance(p.get("kernel"), dict)}


def figures(recorded: Mapping[str, Any], rec: KernelRecord, *, retvals: bool = True) -> list[Figure]:
    """A recorded table against a record: processed instructions drift with the build, nothing else may.
    `retvals=False` leaves the return values out (the record ran other inputs than the manifest's)."""
    out = [
        Figure("verdict", recorded.get("verdict"), rec.verdict),
        Figure("message", recorded.get("message"), rec.message),
        Figure("stack_depth", recorded.get("stack_depth"), list(rec.stack_depth)),
        Figure("insns_processed", recorded.get("insns_processed"), rec.insns_processed, drifts=True),
    ]
    if retvals:
        got = {run.input: run.retval for run in rec.runs}
        out += [Figure(f"retval[{name}]", value, got.get(name)) for name, value in recorded.get("retval", {}).items()]
    return out


def rerecord_command(manifest: Path) -> str:
    """`bakeoff kernel-check --record MANIFEST`, the path as short as the working directory allows."""
    path = manifest.resolve()
    try:
        shown = path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        shown = os.fspath(path)
    return f"bakeoff kernel-check --record {shown}"


def compare_truth(
    manifest: Path, recorded: Mapping[str, Any], rec: KernelRecord, *, retvals: bool = True
) -> Comparison:
    """One program's recorded table against the running kernel's record of it."""
    return compare(
        f"{manifest.name}:{rec.program}",
        figures(recorded, rec, retvals=retvals),
        KernelBuild.from_table(recorded),
        running(),
        rerecord_command(manifest),
    )


def manifests_at(paths: Iterable[str]) -> list[Path]:
    """The manifests named: a `.toml` file, or a directory's (a corpus root: its c/ and asm/ manifests)."""
    out: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = manifests(path) or sorted(path.glob("*.toml"))
            if not found:
                raise InputError(given, "no manifests in this directory")
            out += found
        elif path.suffix == ".toml" and path.is_file():
            out.append(path)
        else:
            raise InputError(given, "not a manifest (.toml) or a directory of manifests")
    return list(dict.fromkeys(out))


def write_corpus_truth(manifests: Iterable[Path], *, batches: int = 3, repeat: int = 100) -> list[KernelRecord]:
    """Load every program of every manifest on this kernel and write its `[program.kernel]` table."""
    records: list[KernelRecord] = []
    for manifest in manifests:
        recs = [record(e.program, e.live_inputs, batches=batches, repeat=repeat) for e in corpus_entries(manifest)]
        write_kernel_truth(manifest, recs)
        records += recs
    return records


def check_records(
    entries: Iterable[CorpusEntry], records: Iterable[KernelRecord], *, retvals: bool = True
) -> list[Comparison]:
    """Each record against its entry's `[program.kernel]` (entries without one, or without a record, are left out)."""
    by_name = {r.program: r for r in records}
    return [
        compare_truth(e.manifest, e.spec["kernel"], by_name[e.program.name], retvals=retvals)
        for e in entries
        if isinstance(e.spec.get("kernel"), Mapping) and e.program.name in by_name
    ]


def check_corpus_truth(manifests: Iterable[Path]) -> list[Comparison]:
    """Every recorded program of the manifests, reloaded (and its inputs run) and compared by the drift rule."""
    out: list[Comparison] = []
    for manifest in manifests:
        entries = [e for e in corpus_entries(manifest) if isinstance(e.spec.get("kernel"), Mapping)]
        recs = [record(e.program, e.live_inputs, batches=1, repeat=1) for e in entries]
        out += check_records(entries, recs)
    return out
