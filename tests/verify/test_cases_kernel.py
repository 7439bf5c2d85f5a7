"""Every case of tests/verify/cases/ held to the running kernel (Linux 6.18.44).

Each program is loaded through framework.oracle (BPF_PROG_LOAD only, nothing
attached, every fd closed) and the kernel's verdict, log line, last line and
stack depth must be what the case says; so the data the verifier's own tests
read is true of the kernel, not of our expectations.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from framework.oracle.check import available
from framework.oracle.record import KernelRecord, record

from .cases_loader import CaseError, NoCompiler, VerifierCase, load_cases

CASES = load_cases()


def _kernel(case: VerifierCase) -> KernelRecord:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    running = os.uname().release
    if not re.match(rf"{re.escape(case.kernel)}(?!\d)", running):
        pytest.skip(f"{case.topic}.toml was held to Linux {case.kernel}; this is {running}")
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


@pytest.mark.kernel
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
    if case.processed is not None:
        assert rec.insns_processed == case.processed, _summary(rec)
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


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (
            '[[case]]\nname = "a"\ntype = "tc"\nasm = "exit"\nc = "x"\nverdict = "accepted"\nsource = "s"\n',
            "exactly one",
        ),
        ('[[case]]\nname = "a"\ntype = "tc"\nasm = "exit"\nverdict = "rejected"\nsource = "s"\n', "needs a message"),
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
