"""What a run produced, and the two entry points that produce it.

`run_program(program, run_input)` runs one program on one declared input in a fresh
emulated kernel and returns a `RunResult` (DESIGN.md's `exec` keys, via `to_json`).
`run_conformance(paths)` runs bpf_conformance `.data` files and returns a
`ConformanceReport` (DESIGN.md's `conformance` keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from framework.errors import Coord, InputError
from framework.kernel.api import KernelFault
from framework.kernel.harness import ConformanceKernel
from framework.kernel.ledger import Event, Ledger, Resource
from framework.kernel.objects import RunInput
from framework.kernel.services import EmulatedKernel
from framework.load.conformance import load_case
from framework.load.program import Program
from framework.run.interp import Interpreter, Outcome, Unwinder

__all__ = [
    "CaseResult",
    "ConformanceReport",
    "ResourceRecord",
    "RunResult",
    "run_conformance",
    "run_program",
]

ENGINES = ("interp",)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceRecord:
    """One resource (or one bad release) as the ledger saw it."""

    kind: str
    acquired_pc: int | None
    acquired_by: str | None
    released_pc: int | None = None
    released_by: str | None = None

    @classmethod
    def of(cls, res: Resource) -> ResourceRecord:
        return cls(
            kind=res.kind,
            acquired_pc=res.acquired_pc,
            acquired_by=res.acquired_by,
            released_pc=res.released_pc,
            released_by=res.released_by,
        )

    @classmethod
    def of_event(cls, ledger: Ledger, event: Event) -> ResourceRecord:
        res = ledger.resources[event.resource - 1] if event.resource is not None else None
        return cls(
            kind=res.kind if res else "unknown",
            acquired_pc=res.acquired_pc if res else None,
            acquired_by=res.acquired_by if res else None,
            released_pc=event.pc,
            released_by=event.by,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "acquired_pc": self.acquired_pc,
            "acquired_by": self.acquired_by,
            "released_pc": self.released_pc,
            "released_by": self.released_by,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """One run of one program on one input."""

    program: str
    strategy: str = "stock"
    engine: str = "interp"
    input: str = "default"
    retval: int  # what BPF_PROG_TEST_RUN reports: r0's low 32 bits
    r0: int  # r0 at the end, all 64 bits
    threw: bool
    cookie: int | None  # bpf_throw's argument, when it threw
    x86_insns: int | None = None  # None under the interpreter
    bpf_insns: int  # BPF instructions executed (exception callback included)
    stack_high_water: int  # bytes: the deepest sum of the live frames' touched BPF stack
    released_by_unwinder: tuple[ResourceRecord, ...] = ()
    leaked: tuple[ResourceRecord, ...] = ()
    double_released: tuple[ResourceRecord, ...] = ()
    used_after_release: tuple[ResourceRecord, ...] = ()
    fault: str | None = None  # "pc N: reason" when the run faulted
    service_calls: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """DESIGN.md's `exec` keys, then `input`, `fault`, `bpf_insns`, `used_after_release`."""
        return {
            "program": self.program,
            "strategy": self.strategy,
            "engine": self.engine,
            "retval": self.retval,
            "threw": self.threw,
            "cookie": self.cookie,
            "x86_insns": self.x86_insns,
            "stack_high_water": self.stack_high_water,
            "released_by_unwinder": [r.to_json() for r in self.released_by_unwinder],
            "leaked": [r.to_json() for r in self.leaked],
            "double_released": [r.to_json() for r in self.double_released],
            "input": self.input,
            "fault": self.fault,
            "bpf_insns": self.bpf_insns,
            "used_after_release": [r.to_json() for r in self.used_after_release],
        }


def run_program(
    program: Program,
    run_input: RunInput | None = None,
    engine: str = "interp",
    *,
    strategy: str = "stock",
    unwinder: Unwinder | None = None,
    max_insns: int = 200_000_000,
    branch_overrides: Mapping[int, bool] | None = None,
) -> RunResult:
    """Run `program` on `run_input` (default: an empty test run) in a fresh emulated kernel.

    `unwinder` runs at a throw (see `framework.run.interp.Unwinder`); `branch_overrides`
    forces conditional jumps by pc (True: taken), e.g. the one guarding a throw.
    """
    if engine not in ENGINES:
        raise InputError(Coord(program.source), f"engine '{engine}' is not available (have: {', '.join(ENGINES)})")
    run_input = run_input if run_input is not None else RunInput()
    try:
        kernel = EmulatedKernel(program, run_input)
    except KernelFault as exc:
        raise InputError(Coord(program.source), f"input '{run_input.name}': {exc}") from None
    interp = Interpreter(
        program.slots,
        kernel,
        subprogs=program.subprogs,
        kfuncs=program.kfuncs,
        unwinder=unwinder,
        max_insns=max_insns,
        branch_overrides=branch_overrides,
    )
    main = program.subprogs[0].start if program.subprogs else 0
    out: Outcome = interp.run((kernel.context.ctx,), entry=main)
    ledger = kernel.ledger
    ledger.finish(out.fault_pc if out.fault_pc is not None else -1)
    return RunResult(
        program=program.name,
        strategy=strategy,
        engine=engine,
        input=run_input.name,
        retval=out.r0 & 0xFFFFFFFF,
        r0=out.r0,
        threw=out.threw,
        cookie=out.cookie,
        bpf_insns=out.insns,
        stack_high_water=out.stack_high_water,
        released_by_unwinder=tuple(ResourceRecord.of(r) for r in ledger.released_by_unwinder),
        leaked=tuple(ResourceRecord.of(r) for r in ledger.leaked),
        double_released=tuple(ResourceRecord.of_event(ledger, e) for e in ledger.double_released),
        used_after_release=tuple(ResourceRecord.of_event(ledger, e) for e in ledger.used_after_release),
        fault=out.fault,
        service_calls=dict(kernel.calls),
    )


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


def _data_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.glob("*.data")))
        else:
            files.append(p)
    return files


def run_conformance(paths: Iterable[str | Path], engine: str = "interp") -> ConformanceReport:
    """Run `.data` files (or every `.data` in a directory) as the suite's harness does.

    A case with `-- result` passes when r0 (all 64 bits) equals it; a case with
    `-- error` passes when the run is refused (it faults). Bad files raise InputError.
    """
    if engine not in ENGINES:
        raise InputError("conformance", f"engine '{engine}' is not available (have: {', '.join(ENGINES)})")
    results = []
    for path in _data_files(paths):
        case = load_case(path)
        kernel = ConformanceKernel(case.mem)
        out = Interpreter(case.slots, kernel, conformance=True).run(kernel.args)
        if case.error is not None:
            results.append(CaseResult(case.name, out.fault is not None, case.error, out.fault or out.r0))
        elif out.fault is not None:
            results.append(CaseResult(case.name, False, case.expected, out.fault))
        else:
            results.append(CaseResult(case.name, out.r0 == case.expected, case.expected, out.r0))
    return ConformanceReport(engine, tuple(results))
