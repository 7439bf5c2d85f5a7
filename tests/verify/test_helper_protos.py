"""The helper prototype table (framework.platform.helper_protos): each row is well formed, names
the helper the uapi enum names, and is exercised: some accepted verifier case calls it (held to
the live kernel by test_cases_kernel) and that case runs alike on both engines. The helpers whose
checks are written out in framework.verify.calls (WRITTEN_OUT; the timer helpers in
framework.verify.timers) are held to the same."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from framework.isa.opcodes import Kind
from framework.platform.helper_protos import HELPER_PROTOS, Arg
from framework.platform.helpers import func_id_name
from framework.run.result import run_program
from framework.verify import calls, timers
from framework.verify.calls import WRITTEN_OUT

from .cases_loader import NoCompiler, VerifierCase, load_cases

_CALL = re.compile(r"^\s*call (\d+)\s*$", re.M)


def _accepted_calling(fid: int) -> list[VerifierCase]:
    return [c for c in ACCEPTED if fid in _helpers_called(c)]


def _helpers_called(case: VerifierCase) -> set[int]:
    if case.asm is not None:
        return set(map(int, _CALL.findall(case.asm)))
    try:
        program = case.program()
    except NoCompiler:
        return set()
    return {i.imm for _, i in program.insns() if i.kind is Kind.CALL and i.src == 0}


ACCEPTED = [c for c in load_cases() if c.verdict == "accepted"]
# the elif chain of check_helper_call, and the timer helpers' own (framework.verify.timers)
CALLS_SOURCE = Path(calls.__file__).read_text() + Path(timers.__file__).read_text()


def test_every_row_names_its_helper_and_parses() -> None:
    for fid, proto in HELPER_PROTOS.items():
        assert proto.name == func_id_name(fid), (fid, proto.name)
        assert len(proto.args) <= 5 and proto.kernel
    with pytest.raises(ValueError, match="not one the table knows"):
        Arg.parse("ARG_PTR_TO_BTF_ID")
    assert Arg.parse("ARG_PTR_TO_MEM | MEM_RDONLY").flags == {"MEM_RDONLY"}


def test_the_written_out_helpers_are_not_rows_and_each_is_modelled() -> None:
    assert not WRITTEN_OUT & HELPER_PROTOS.keys()
    assert len(WRITTEN_OUT) >= 20  # the table is filled
    for fid in WRITTEN_OUT:  # each has its own documented check in the table (no "not modelled" from it)
        check = calls.WRITTEN[fid]
        assert check.__module__ == calls.__name__ and check.__doc__, func_id_name(fid)
        assert func_id_name(fid).removeprefix("bpf_") in check.__doc__, (func_id_name(fid), check.__doc__)


@pytest.mark.parametrize("fid", sorted(HELPER_PROTOS.keys() | WRITTEN_OUT), ids=lambda f: func_id_name(f))
def test_every_row_has_a_case_that_runs_alike_on_both_engines(fid: int) -> None:
    cases = _accepted_calling(fid)
    assert cases, f"{func_id_name(fid)}: no accepted case in tests/verify/cases calls it"
    program = cases[0].program()
    interp, jit = (run_program(program, engine=e) for e in ("interp", "jit"))
    if interp.fault is not None:  # what the emulated kernel cannot do is said, on both engines alike
        said = str(interp.fault).split(": ", 1)[1]  # after the pc
        assert "is not emulated" in said and str(jit.fault).endswith(said), (interp.fault, jit.fault)
    else:
        assert jit.fault is None and jit.r0 == interp.r0, (jit.fault, interp.r0, jit.r0)
