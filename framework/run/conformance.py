"""`bakeoff conformance`: the bpf_conformance suite on either engine, with the suite's harness conventions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from framework.errors import InputError
from framework.kernel.harness import ConformanceKernel
from framework.load.conformance import CaseResult, ConformanceCase, ConformanceReport, load_case
from framework.machine import conformance as machine_conformance
from framework.run.interp import Interpreter

__all__ = ["CONFORMANCE_ENGINES", "run_conformance"]


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
    if engine not in CONFORMANCE_ENGINES:
        names = ", ".join(CONFORMANCE_ENGINES)
        raise InputError("--engine", f"engine '{engine}' is not available (have: {names})")
    run_case = CONFORMANCE_ENGINES[engine]
    return ConformanceReport(engine, tuple(run_case(load_case(path)) for path in _data_files(paths)))


def interp_case(case: ConformanceCase) -> CaseResult:
    """One case on the reference interpreter."""
    kernel = ConformanceKernel(case.mem)
    out = Interpreter(case.slots, kernel, conformance=True).run(kernel.args)
    if case.error is not None:
        return CaseResult(case.name, out.fault is not None, case.error, out.fault or out.r0)
    if out.fault is not None:
        return CaseResult(case.name, False, case.expected, out.fault)
    return CaseResult(case.name, out.r0 == case.expected, case.expected, out.r0)


def jit_case(case: ConformanceCase) -> CaseResult:
    """One case JITed to x86-64 and run on the Unicorn machine."""
    return machine_conformance.run_case(case)[0]


CONFORMANCE_ENGINES: dict[str, Callable[[ConformanceCase], CaseResult]] = {"interp": interp_case, "jit": jit_case}
