"""`bakeoff kernel-check`: the running kernel's verdict, stack, JIT size and results per program.

`available()` says whether bpf() may be used here; `kernel_check` loads each
program, test-runs its inputs and closes everything; `to_json` gives exactly
DESIGN.md's kernel-check keys (`kernel`: the running kernel's identity, as
framework.oracle.identity reads it); `render` the terminal table.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from framework.load.corpus import RunInput
from framework.load.program import Program
from framework.oracle import bpf_syscall as sys_
from framework.oracle.identity import running
from framework.oracle.record import BATCHES, REPEAT, KernelRecord, record, refused_before_verifying

__all__ = ["JSON_KEYS", "available", "kernel_check", "refused_before_verifying", "render", "to_json"]

JSON_KEYS = (
    "program",
    "verdict",
    "message",
    "stack_depth",
    "insns_processed",
    "verification_usec",
    "bytes_jited",
    "retval",
    "ns",
    "kernel",
)


@functools.cache
def available() -> str | None:
    """None when bpf() works here (an array map can be created), else the one-line reason."""
    try:
        with sys_.map_create(sys_.MAP_TYPES["array"], 4, 8, 1, name="probe"):
            return None
    except sys_.BpfError as exc:
        return f"bpf() is not permitted here: {exc}"
    except OSError as exc:  # no libc syscall(), seccomp, ...
        return f"bpf() is not available: {exc}"


def kernel_check(
    programs: Sequence[Program],
    inputs: Mapping[str, Sequence[RunInput]] | None = None,
    *,
    batches: int = BATCHES,
    repeat: int = REPEAT,
    log_level: int = 1,
) -> list[KernelRecord]:
    """One record per program; `inputs` maps a program's name to its inputs (none: no test run)."""
    table = inputs or {}
    return [record(p, table.get(p.name, ()), batches=batches, repeat=repeat, log_level=log_level) for p in programs]


def to_json(rec: KernelRecord) -> dict[str, Any]:
    """DESIGN.md's kernel-check object: `retval` and `ns` are for the first input (null without one)."""
    first = rec.runs[0] if rec.runs else None
    return {
        "program": rec.program,
        "verdict": rec.verdict,
        "message": rec.message,
        "stack_depth": list(rec.stack_depth),
        "insns_processed": rec.insns_processed,
        "verification_usec": rec.verification_usec,
        "bytes_jited": rec.bytes_jited,
        "retval": first.retval if first else None,
        "ns": first.ns if first else None,
        "kernel": running().to_table(),
    }


def render(records: Sequence[KernelRecord]) -> str:
    """The terminal table: program, verdict, stack, jited bytes, retval, ns (first input)."""
    from tabulate import tabulate

    rows = []
    for rec in records:
        first = rec.runs[0] if rec.runs else None
        verdict = rec.verdict if rec.message is None else f"{rec.verdict}: {rec.message}"
        rows.append(
            [
                rec.program,
                verdict,
                "+".join(str(d) for d in rec.stack_depth) or "-",
                rec.bytes_jited if rec.bytes_jited is not None else "-",
                first.retval if first else "-",
                f"{first.ns:.0f} ({first.ns_min}-{first.ns_max})" if first else "-",
            ]
        )
    headers = ["program", "verdict", "stack", "jited bytes", "retval", "ns (min-max)"]
    return str(tabulate(rows, headers=headers, tablefmt="simple"))
