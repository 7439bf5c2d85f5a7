"""The one rule for comparing the live kernel with recorded truth (DESIGN.md "Kernel drift").

Each compared value is a `Figure`: what was recorded, what the kernel says
now, and whether it `drifts` (may move when the same source is rebuilt:
processed instructions, intermediate log lines) or not (verdict, final
message, return values, stack depth). `compare` holds every figure exactly
when the truth was recorded on the running build; on another build a figure
that drifts and differs is reported as drift, and only the others fail.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

from framework.oracle.identity import KernelBuild

__all__ = ["Comparison", "Figure", "KernelDrift", "compare", "drift_report", "settle"]


class KernelDrift(UserWarning):
    """Figures that moved with a kernel rebuild: reported, never a failure."""


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    recorded: object
    live: object
    drifts: bool = False
    agrees: bool | None = None  # None: recorded == live

    @property
    def differs(self) -> bool:
        return not (self.recorded == self.live if self.agrees is None else self.agrees)

    def __str__(self) -> str:
        return f"{self.name}: recorded {self.recorded!r}, kernel {self.live!r}"


@dataclass(frozen=True, slots=True)
class Comparison:
    """One subject (a program, a case) compared: what fails, and what drifted with the build."""

    subject: str
    recorded: KernelBuild
    live: KernelBuild
    failures: tuple[Figure, ...]
    drift: tuple[Figure, ...]
    rerecord: str  # the command that writes the running kernel's figures in place of the recorded ones

    @property
    def ok(self) -> bool:
        return not self.failures

    def failure_lines(self) -> list[str]:
        return [f"{self.subject}: {f}" for f in self.failures]

    def drift_lines(self) -> list[str]:
        return [f"{self.subject}: {f}" for f in self.drift]


def compare(
    subject: str, figures: Iterable[Figure], recorded: KernelBuild, live: KernelBuild, rerecord: str
) -> Comparison:
    """Exact on the recorded build; elsewhere a drifting figure that differs is drift, not failure."""
    exact = recorded.same_build(live)
    differing = [f for f in figures if f.differs]
    failures = tuple(f for f in differing if exact or not f.drifts)
    drift = tuple(f for f in differing if not exact and f.drifts)
    return Comparison(subject, recorded, live, failures, drift, rerecord)


def drift_report(comparisons: Iterable[Comparison]) -> str | None:
    """What drifted, the builds, and the commands that re-record it; None when nothing drifted."""
    drifted = [c for c in comparisons if c.drift]
    if not drifted:
        return None
    builds = sorted({str(c.recorded) for c in drifted})
    lines = [f"kernel drift: recorded on {', '.join(builds)}; running {drifted[0].live}"]
    lines += [f"  {line}" for c in drifted for line in c.drift_lines()]
    commands = list(dict.fromkeys(c.rerecord for c in drifted))
    lines += [f"re-record: {cmd}" for cmd in commands]
    return "\n".join(lines)


def settle(comparisons: Iterable[Comparison]) -> None:
    """What a test does with comparisons: warn `KernelDrift` with the drift report, then fail on any failure."""
    done = list(comparisons)
    report = drift_report(done)
    if report is not None:
        warnings.warn(KernelDrift(report), stacklevel=2)
    failed = [line for c in done for line in c.failure_lines()]
    if failed:
        raise AssertionError("the kernel disagrees with recorded truth:\n" + "\n".join(failed))
