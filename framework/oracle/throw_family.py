"""A generated family that throws from 1 to 8 frames deep, and what each costs on this kernel.

Depth d means d frames on the BPF call stack at the throw: the main program
(a tc program) plus d-1 static subprogs, each calling the next. The innermost
frame calls `bpf_throw(COOKIE)` (the default exception callback returns the
cookie) or, in the non-throwing twin, returns COOKIE through every frame.
MAX_CALL_FRAMES is 8 (include/linux/bpf_verifier.h), so depth 9 must be
refused with check_func_call's `the call stack of 9 frames is too deep`.

`throw_cost(out_dir)` loads each member, test-runs it on a 64-byte packet,
and renders a table; given `out_dir`, it writes the table and a plot there (and
nothing anywhere without one). It is `bakeoff kernel-throw-cost`.
"""

from __future__ import annotations

import hashlib
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

from framework.isa import opcodes as op
from framework.isa.llvm_asm import assemble
from framework.load.corpus import RunInput
from framework.load.program import Linkage, Program, Subprog
from framework.oracle.record import KernelRecord, record
from framework.platform.host import cpu_model

__all__ = ["COOKIE", "MAX_FRAMES", "PACKET", "DepthCost", "ThrowCostResult", "family_member", "kernel_throw_cost"]

COOKIE = 42
MAX_FRAMES = 8
PACKET = RunInput("pkt64", bytes(64))


def _source(depth: int, throws: bool) -> list[str]:
    lines: list[str] = []
    for frame in range(depth):
        lines.append(f"f{frame}:")
        if frame + 1 < depth:
            lines += [f"call f{frame + 1}", "exit"]
        elif throws:
            lines += [f"r1 = {COOKIE}", "call bpf_throw", "r0 = 0", "exit"]
        else:
            lines += [f"r0 = {COOKIE}", "exit"]
    return lines


def family_member(depth: int, throws: bool) -> Program:
    """The member with `depth` frames; throwing or its non-throwing twin."""
    text = _source(depth, throws)
    asm = assemble(text)
    slots = list(asm.slots)
    kfuncs: list[str] = []
    for pc, symbol, field in asm.relocations:
        insn = slots[pc]
        assert insn is not None and field == "call"
        if symbol not in kfuncs:
            kfuncs.append(symbol)
        slots[pc] = insn.replace(src=op.PSEUDO_KFUNC_CALL, imm=kfuncs.index(symbol))
    starts = [asm.labels[f"f{i}"] for i in range(depth)] + [len(slots)]
    subprogs = tuple(Subprog(f"f{i}", starts[i], starts[i + 1], Linkage.STATIC) for i in range(depth))
    name = f"throw_d{depth}" if throws else f"ret_d{depth}"
    return Program(
        name=name,
        section="tc",
        prog_type="sched_cls",
        slots=tuple(slots),
        subprogs=subprogs,
        source=f"<throw family {name}>",
        sha256=hashlib.sha256("\n".join(text).encode()).hexdigest(),
        kfuncs=tuple(kfuncs),
        symbols={start: f"f{i}" for i, start in enumerate(starts[:-1])},
    )


@dataclass(frozen=True, slots=True)
class DepthCost:
    depth: int
    throw: KernelRecord
    normal: KernelRecord


@dataclass(frozen=True, slots=True)
class ThrowCostResult:
    """Per depth the two records, the refusal of depth MAX_FRAMES+1, and the files written (None: none)."""

    depths: tuple[DepthCost, ...]
    too_deep: KernelRecord
    table: str
    ret_fit: tuple[float, float]  # (ns at 0 frames, ns per frame), least squares over the medians
    throw_fit: tuple[float, float]
    table_path: Path | None
    plot_path: Path | None
    batches: int
    repeat: int


def _ns(rec: KernelRecord) -> float:
    return rec.runs[0].ns if rec.runs else float("nan")


def render_table(depths: tuple[DepthCost, ...]) -> str:
    from tabulate import tabulate

    rows = []
    for d in depths:
        t, n = d.throw.runs[0], d.normal.runs[0]
        rows.append(
            [
                d.depth,
                n.retval,
                f"{n.ns:.0f}",
                f"{n.ns_min}-{n.ns_max}",
                t.retval,
                f"{t.ns:.0f}",
                f"{t.ns_min}-{t.ns_max}",
                f"{t.ns - n.ns:.0f}",
                d.throw.bytes_jited,
            ]
        )
    headers = [
        "frames",
        "ret retval",
        "ret ns",
        "ret min-max",
        "throw retval",
        "throw ns",
        "throw min-max",
        "throw - ret",
        "jited bytes",
    ]
    return str(tabulate(rows, headers=headers, tablefmt="simple"))


def _plot(depths: tuple[DepthCost, ...], path: Path, batches: int, repeat: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [d.depth for d in depths]
    fig, ax = plt.subplots(figsize=(6, 4))
    series = (("bpf_throw", [d.throw.runs[0] for d in depths]), ("normal return", [d.normal.runs[0] for d in depths]))
    for label, runs in series:
        ys = [r.ns for r in runs]
        err = [[r.ns - r.ns_min for r in runs], [r.ns_max - r.ns for r in runs]]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label)
    ax.set_xlabel("BPF frames on the stack (main + static subprogs)")
    ax.set_ylabel("ns per run (BPF_PROG_TEST_RUN)")
    ax.set_title(f"Stock bpf_throw on Linux, tc, 64-byte packet\nmedian of {batches} x {repeat} runs, bars min-max")
    ax.set_xticks(xs)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def measure_family(*, batches: int = 11, repeat: int = 1000) -> tuple[tuple[DepthCost, ...], KernelRecord]:
    """Every depth from 1 to MAX_FRAMES, both twins, and the refused depth MAX_FRAMES + 1."""
    depths = tuple(
        DepthCost(
            d,
            record(family_member(d, True), (PACKET,), batches=batches, repeat=repeat),
            record(family_member(d, False), (PACKET,), batches=batches, repeat=repeat),
        )
        for d in range(1, MAX_FRAMES + 1)
    )
    too_deep = record(family_member(MAX_FRAMES + 1, True), ())
    return depths, too_deep


def kernel_throw_cost(out_dir: Path | str | None = None, *, batches: int = 11, repeat: int = 1000) -> ThrowCostResult:
    """Measure the family; with `out_dir`, write `throw_cost.txt` and `throw_cost.png` into it."""
    depths, too_deep = measure_family(batches=batches, repeat=repeat)
    table = render_table(depths)
    ret_fit, throw_fit = _fit([d.normal for d in depths]), _fit([d.throw for d in depths])
    note = (
        f"\n\nLinux {os.uname().release} on {cpu_model()}, {os.cpu_count()} CPUs; tc program, 64-byte packet;"
        " bpf_throw with the default exception callback (returns the cookie).\n"
        f"Least squares over the medians: return {ret_fit[0]:.0f} ns + {ret_fit[1]:.1f} ns/frame;"
        f" throw {throw_fit[0]:.0f} ns + {throw_fit[1]:.1f} ns/frame.\n"
        f"{MAX_FRAMES + 1} frames: {too_deep.verdict}: {too_deep.message}\n"
        f"ns: median of {batches} BPF_PROG_TEST_RUN calls x {repeat} repeats"
        " (the kernel's mean per run); min-max over batches.\n"
    )
    table_path: Path | None = None
    plot_path: Path | None = None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        table_path, plot_path = out / "throw_cost.txt", out / "throw_cost.png"
        table_path.write_text(table + note)
        _plot(depths, plot_path, batches, repeat)
    return ThrowCostResult(depths, too_deep, table + note, ret_fit, throw_fit, table_path, plot_path, batches, repeat)


def _fit(records: list[KernelRecord]) -> tuple[float, float]:
    xs = list(range(1, len(records) + 1))
    line = statistics.linear_regression(xs, [_ns(r) for r in records])
    return line.intercept, line.slope
