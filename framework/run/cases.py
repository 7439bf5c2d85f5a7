"""Results of bpf_conformance cases: the same shape from every engine (`bakeoff conformance --json`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CaseResult", "ConformanceReport"]


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    ok: bool
    expected: int | str | None  # the `-- result` value, or the `-- error` text
    got: int | str | None  # r0, or the fault

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "expected": self.expected, "got": self.got}


@dataclass(frozen=True, slots=True)
class ConformanceReport:
    engine: str
    cases: tuple[CaseResult, ...]

    @property
    def passed(self) -> int:
        return sum(c.ok for c in self.cases)

    @property
    def failed(self) -> int:
        return len(self.cases) - self.passed

    def to_json(self) -> dict[str, object]:
        return {
            "engine": self.engine,
            "passed": self.passed,
            "failed": self.failed,
            "cases": [c.to_json() for c in self.cases],
        }
