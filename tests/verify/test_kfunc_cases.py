"""The kfunc table (framework.platform.kfuncs) is exercised as the helper table is
(test_helper_protos): every kfunc Linux has is called by some accepted verifier case (held
to the live kernel by test_cases_kernel), and that case runs alike on both engines, or
both say alike what the emulated kernel does not do. Kfuncs of unmerged series (UNMERGED)
have no kernel to hold a case to; the strategies that emit them test them."""

from __future__ import annotations

import functools

import pytest

from framework.isa.opcodes import Kind
from framework.platform.kfuncs import KFUNCS, UNMERGED
from framework.run.result import run_program

from .cases_loader import NoCompiler, VerifierCase, load_cases

BPF_PSEUDO_KFUNC_CALL = 2  # uapi: a call's src_reg naming a kfunc


@functools.cache
def _accepted_by_kfunc() -> dict[str, list[VerifierCase]]:
    found: dict[str, list[VerifierCase]] = {}
    for case in load_cases():
        if case.verdict != "accepted":
            continue
        try:
            program = case.program()
        except NoCompiler:
            continue
        called = {
            program.kfuncs[i.imm] for _, i in program.insns() if i.kind is Kind.CALL and i.src == BPF_PSEUDO_KFUNC_CALL
        }
        for name in called:
            found.setdefault(name, []).append(case)
    return found


def test_the_cases_call_kfuncs_at_all() -> None:
    assert len(_accepted_by_kfunc()) >= len(KFUNCS) - len(UNMERGED)


@pytest.mark.parametrize("name", sorted(set(KFUNCS) - UNMERGED))
def test_every_kfunc_has_a_case_that_runs_alike_on_both_engines(name: str) -> None:
    cases = _accepted_by_kfunc().get(name)
    if cases is None:
        try:  # its case may be C, which needs clang-19
            next(c for c in load_cases() if c.c is not None).program()
        except NoCompiler as exc:
            pytest.skip(str(exc))
        pytest.fail(f"{name}: no accepted case in tests/verify/cases calls it")
    program = cases[0].program()
    interp, jit = (run_program(program, engine=e) for e in ("interp", "jit"))
    if interp.fault is not None:  # what the emulated kernel cannot do is said, on both engines alike
        said = str(interp.fault).split(": ", 1)[1]  # after the pc
        assert "is not emulated" in said and str(jit.fault).endswith(said), (interp.fault, jit.fault)
    else:
        assert jit.fault is None and jit.r0 == interp.r0, (jit.fault, interp.r0, jit.r0)
