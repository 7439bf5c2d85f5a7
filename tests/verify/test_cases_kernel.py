"""Every case of tests/verify/cases/ held to the running kernel (Linux 6.18.44).

Each program is loaded through framework.oracle (BPF_PROG_LOAD only, nothing
attached, every fd closed) and the kernel's verdict, log line, last line and
stack depth must be what the case says; so the data the verifier's own tests
read is true of the kernel, not of our expectations. By framework.oracle.drift's
rule: exactly on the build held_to.toml's `[cases]` names; on another build the
processed counts, register states and intermediate log lines that moved are a
`KernelDrift` warning naming the command that re-holds them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.errors import InputError
from framework.oracle.check import available, refused_before_verifying
from framework.oracle.drift import compare, settle
from framework.oracle.identity import running
from framework.oracle.record import KernelRecord, record

from .cases_loader import CaseError, NoCompiler, VerifierCase, load_cases
from .held_to import REHOLD_CASES, case_figures, held_to, regs_at

# An unsupported case is the project's limit, not a kernel verdict to hold it to.
CASES = [c for c in load_cases() if c.verdict != "unsupported"]


def _kernel(case: VerifierCase) -> KernelRecord | None:
    """The kernel's record of the case (None: libbpf refuses it first, with the case's message)."""
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    try:
        program = case.program()
    except NoCompiler as exc:
        pytest.skip(str(exc))
    try:
        rec = record(program, log_level=2 if case.regs else 1)
    except InputError as exc:
        # libbpf's own refusal (an attach target vmlinux BTF lacks): the kernel never sees it
        if case.verdict == "rejected" and case.message and case.message in str(exc):
            return None
        raise
    refused = refused_before_verifying(program, rec)
    if refused is not None:
        pytest.skip(refused)
    return rec


def _summary(rec: KernelRecord) -> str:
    tail = "\n".join(rec.log.splitlines()[-12:])
    return f"verdict={rec.verdict} message={rec.message!r} stack={rec.stack_depth}\n{tail}"


@pytest.mark.kernel
@pytest.mark.filterwarnings("default::framework.oracle.drift.KernelDrift")
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_holds_on_the_kernel(case: VerifierCase) -> None:
    rec = _kernel(case)
    if rec is None:
        return
    try:
        settle([compare(case.id, case_figures(case, rec), held_to("cases"), running(), REHOLD_CASES)])
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_summary(rec)}") from None


def test_enough_distinct_scenarios() -> None:
    assert len(CASES) >= 150
    programs = {(c.type, c.asm, c.c, c.program_name, c.maps, c.btf_patch) for c in CASES}
    assert len(programs) == len(CASES), "two cases load the same program"


def test_every_rejection_says_why() -> None:
    for case in CASES:
        if case.verdict == "rejected":
            assert case.message, case.id
        else:
            assert case.error_line is None, case.id


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (
            '[[case]]\nname = "a"\ntype = "tc"\nasm = "exit"\nc = "x"\nverdict = "accepted"\nsource = "s"\n',
            "exactly one",
        ),
        ('[[case]]\nname = "a"\ntype = "tc"\nasm = "exit"\nverdict = "rejected"\nsource = "s"\n', "needs a message"),
        ('[[case]]\nname = "a"\ntype = "tc"\nasm = "exit"\nverdict = "unsupported"\nsource = "s"\n', "needs a message"),
        ('[[case]]\nname = "a"\ntype = "tc"\nasm = "exit"\nverdict = "ok"\nsource = "s"\n', "verdict"),
        ('[[case]]\nname = "a"\ntype = "tc"\nasm = "exit"\nverdict = "accepted"\nsource = "s"\nwhy = 1\n', "unknown"),
    ],
)
def test_loader_refuses_malformed_cases(tmp_path: Path, body: str, complaint: str) -> None:
    (tmp_path / "t.toml").write_text("# Held to Linux 6.18.44\n" + body)
    with pytest.raises(CaseError, match=complaint):
        load_cases(directory=tmp_path)


def test_loader_needs_the_kernel_release(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text('[[case]]\nname = "a"\ntype = "tc"\nasm = "exit"\nverdict = "accepted"\n')
    with pytest.raises(CaseError, match="Held to Linux"):
        load_cases(directory=tmp_path)


def test_register_state_parsing() -> None:
    log = "12: (67) r6 <<= 3       ; R0_w=map_value(map=m,ks=4,vs=64) R6=scalar(smin=0,var_off=(0x0; 0x38))"
    assert regs_at(log, 12) == {"r0": "map_value(map=m,ks=4,vs=64)", "r6": "scalar(smin=0,var_off=(0x0; 0x38))"}
    assert regs_at(log, 1) == {}
