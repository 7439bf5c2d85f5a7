"""Every case of tests/verify/cases/ held to the running kernel (Linux 6.18.44).

Each program is loaded through framework.oracle (BPF_PROG_LOAD only, nothing
attached, every fd closed) and the kernel's verdict, log line, last line and
stack depth must be what the case says; so the data the verifier's own tests
read is true of the kernel, not of our expectations.
"""

from __future__ import annotations

import re

import pytest

from framework.oracle.check import available
from framework.oracle.record import KernelRecord, record

from .cases_loader import NoCompiler, VerifierCase, load_cases

pytestmark = pytest.mark.kernel

CASES = load_cases()


def _kernel(case: VerifierCase) -> KernelRecord:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    try:
        program = case.program()
    except NoCompiler as exc:
        pytest.skip(str(exc))
    return record(program, log_level=2 if case.regs else 1)


def regs_at(log: str, pc: int) -> dict[str, str]:
    """Register values the level-2 log prints after insn `pc` (`pc: (op) ... ; R0_w=... R1=...`)."""
    out: dict[str, str] = {}
    for line in log.splitlines():
        if line.startswith(f"{pc}: ") and ";" in line:
            out.update(_state(line.split(";", 1)[1]))
    return out


def _state(text: str) -> dict[str, str]:
    """`R0=scalar(smin=0,var_off=(0x0; 0x7)) R6_w=fp-8` -> {"r0": ..., "r6": ...}; parentheses may hold spaces."""
    out: dict[str, str] = {}
    for token in _split_top(text):
        m = re.fullmatch(r"(R\d+|fp-?\d+)(?:_[rw])?=(.+)", token)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def _split_top(text: str) -> list[str]:
    tokens, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch.isspace() and depth == 0:
            if cur:
                tokens.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        tokens.append(cur)
    return tokens


def last_line(rec: KernelRecord) -> str | None:
    """The kernel's last line; a message printed without its newline (6.18's
    `insn %d cannot call exception cb directly`) runs into the statistics line."""
    if rec.message is None:
        return None
    return re.sub(r"verification time \d+ usec$", "", rec.message)


def _summary(rec: KernelRecord) -> str:
    tail = "\n".join(rec.log.splitlines()[-12:])
    return f"verdict={rec.verdict} message={rec.message!r} stack={rec.stack_depth}\n{tail}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_holds_on_the_kernel(case: VerifierCase) -> None:
    rec = _kernel(case)
    assert rec.verdict == case.verdict, _summary(rec)
    if case.message is not None:
        assert any(case.message in line for line in rec.log.splitlines()), _summary(rec)
    if case.verdict == "rejected":
        assert last_line(rec) == case.last_line, _summary(rec)
    if case.stack_depth is not None:
        assert rec.stack_depth == case.stack_depth, _summary(rec)
    if case.regs:
        assert case.regs_at is not None
        got = regs_at(rec.log, case.regs_at)
        for reg, value in case.regs:
            assert got.get(reg) == value, f"{reg} at {case.regs_at}: {got}\n{_summary(rec)}"


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
