"""Our verifier's time next to the running kernel's, side by side (pytest-benchmark, `tox -e bench`).

The benchmark times `verify()` over every corpus program, accepted and rejected.
In the same run each program is also verified `SAMPLES` times by us (wall time
around `verify()`) and loaded `SAMPLES` times into the live kernel at
BPF_LOG_STATS only (the kernel's `verification time N usec`,
`KernelRecord.verification_usec`), alternately, so that both sides see the same
load on this shared machine; each side's figure is its median. The ratio
ours/kernel, for the whole corpus and per program (their median), goes into
`extra_info` (pytest-benchmark's JSON) and a table is shown on the terminal.

The kernel's figure is bpf_check's whole time (CFG check, do_check, fixups;
not the JIT); ours is `verify()`'s. No program is left out: measured once,
the slowest, task_walk_clean, took about 18 ms in `verify()`.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from framework.load import load_path
from framework.load.program import Program
from framework.oracle.check import available
from framework.oracle.loader import BPF_LOG_STATS
from framework.oracle.record import record
from framework.verify import verify

OBJ = Path(__file__).resolve().parents[2] / "programs" / "obj"
SAMPLES = 5  # kernel loads (and our runs) per program; the median of each is compared


@dataclass(frozen=True, slots=True)
class Side:
    """One program measured by both verifiers in the same run."""

    program: str
    verdict: str
    ours_usec: float  # median wall time of verify()
    kernel_usec: float  # median of the kernel's `verification time`

    @property
    def ratio(self) -> float:
        return self.ours_usec / self.kernel_usec


def _corpus() -> list[Program]:
    return [p for o in sorted(OBJ.glob("*.o")) for p in load_path(str(o))]


def _side_by_side(prog: Program) -> Side:
    ours: list[float] = []
    kernel: list[int] = []
    for _ in range(SAMPLES):
        t0 = time.perf_counter_ns()
        analysis = verify(prog, log_level=0)  # statistics only, as BPF_LOG_STATS asks of the kernel
        ours.append((time.perf_counter_ns() - t0) / 1000)
        rec = record(prog, log_level=BPF_LOG_STATS)
        ours_verdict = analysis.verdict.value
        assert rec.verdict == ours_verdict, f"{prog.name}: the kernel says {rec.verdict}, we say {ours_verdict}"
        assert rec.verification_usec is not None, f"{prog.name}: no `verification time` in the kernel's log"
        kernel.append(rec.verification_usec)
    return Side(prog.name, rec.verdict, statistics.median(ours), statistics.median(kernel))


def _table(sides: list[Side], total: float, median: float) -> str:
    from tabulate import tabulate

    rows = [[s.program, s.verdict, f"{s.ours_usec:.0f}", f"{s.kernel_usec:.0f}", f"{s.ratio:.1f}"] for s in sides]
    headers = ["program", "verdict", "ours usec", "kernel usec", "ours/kernel"]
    body = tabulate(rows, headers=headers, tablefmt="simple")
    return f"{body}\nours/kernel: whole corpus {total:.1f}x, per-program median {median:.1f}x ({len(sides)} programs)"


def test_verify_corpus_vs_kernel(benchmark: BenchmarkFixture, capsys: pytest.CaptureFixture[str]) -> None:
    """verify() over the whole corpus, and its time over the kernel's for the same programs."""
    reason = available()
    if reason is not None:
        pytest.skip(f"the kernel's verification time needs bpf(): {reason}")
    programs = _corpus()
    if not programs:
        pytest.skip(f"no corpus objects in {OBJ} (build them with programs/build.py, which needs clang-19)")
    assert len({p.name for p in programs}) == len(programs)

    sides = [_side_by_side(p) for p in programs]

    def work() -> int:
        return sum(verify(p, log_level=0).accepted for p in programs)

    accepted = benchmark(work)
    assert accepted == sum(s.verdict == "accepted" for s in sides)

    kernel_total = sum(s.kernel_usec for s in sides)
    # The benchmark's own median for the corpus; with --benchmark-disable, the sum of our medians.
    ours_total = benchmark.stats.stats.median * 1e6 if benchmark.stats is not None else sum(s.ours_usec for s in sides)
    total = ours_total / kernel_total
    median = statistics.median(s.ratio for s in sides)
    for value in (total, median, *(s.ratio for s in sides)):
        assert math.isfinite(value) and value > 0

    benchmark.extra_info["kernel_samples"] = SAMPLES
    benchmark.extra_info["programs"] = len(sides)
    benchmark.extra_info["ours_usec_total"] = round(ours_total, 1)
    benchmark.extra_info["kernel_usec_total"] = round(kernel_total, 1)
    benchmark.extra_info["ours_over_kernel_total"] = round(total, 3)
    benchmark.extra_info["ours_over_kernel_median"] = round(median, 3)
    benchmark.extra_info["per_program"] = {
        s.program: {"ours_usec": round(s.ours_usec, 1), "kernel_usec": s.kernel_usec, "ratio": round(s.ratio, 3)}
        for s in sides
    }
    with capsys.disabled():
        print(f"\n\nverify() vs the kernel's `verification time` (median of {SAMPLES} each)")
        print(_table(sides, total, median))
