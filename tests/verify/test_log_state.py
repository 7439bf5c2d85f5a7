"""The level-2 log against the running kernel's: the state printed before the failing instruction.

For every program the kernel rejects (each rejected case of tests/verify/cases/
and each rejected corpus program), the last register and stack state the log
prints before the instruction that fails must be the kernel's, token for token,
once reference and pointer ids are renumbered in order of appearance (the model
numbers its ids in its own order). Which registers appear is part of the check:
the kernel prints only what the last instruction touched.
"""

from __future__ import annotations

import os
import re

import pytest

from framework.errors import InputError
from framework.load.corpus import corpus_entries, manifests
from framework.load.program import Program
from framework.oracle.check import available, refused_before_verifying
from framework.oracle.record import record
from framework.verify import verify

from .cases_loader import NoCompiler, load_cases
from .held_to import _split_top
from .test_verify_cases import SLOW

_INSN = re.compile(r"^(\d+): \(")
_FROM = re.compile(r"^from \d+ to \d+:(.*)$")
_ALONE = re.compile(r"^\d+:( .*)?$")
_DEBUG = re.compile(r"^(mark_precise: |\([\d,]+\) )")
_IDS = re.compile(r"\b(id|ref_obj_id|ref_id)=(\d+)|\brefs=([\d,]+)")


def state_before(log: str, message: str) -> str | None:
    """The last state print before the failing instruction: the insn line right above the
    last `message` line; None where the message follows no instruction (a CFG check, a
    prototype check as a subprog's verification starts)."""
    lines = log.splitlines()
    at = max((i for i, line in enumerate(lines) if line == message), default=None)
    if at is None:
        return None
    at -= 1
    while at >= 0 and _DEBUG.match(lines[at]):
        at -= 1  # level-2 debug lines (precision backtracking, stack liveness) follow the insn
    if at < 0 or not _INSN.match(lines[at]):
        return None
    for line in reversed(lines[:at]):
        if _INSN.match(line):
            if ";" in line:
                return line.split(";", 1)[1]
            continue
        m = _FROM.match(line)
        if m and m.group(1).strip() != "safe":
            return m.group(1)
        m = _ALONE.match(line)
        if m and (m.group(1) or "").strip() != "safe":
            return m.group(1) or ""
        if line.startswith((" R", " frame")):
            return line
    return None


def normalized(state: str) -> list[str]:
    """Tokens of a state print with ids renumbered 1, 2, ... in order of first appearance."""
    seen: dict[str, int] = {}

    def num(n: str) -> str:
        return str(seen.setdefault(n, len(seen) + 1))

    def sub(m: re.Match[str]) -> str:
        if m.group(3) is not None:
            return "refs=" + ",".join(num(n) for n in m.group(3).split(","))
        return f"{m.group(1)}={num(m.group(2))}"

    return _split_top(_IDS.sub(sub, state))


def _rejected() -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = [(c.id, c) for c in load_cases() if c.verdict == "rejected"]
    for m in manifests():
        out.extend(
            (f"corpus/{e.program.name}", e.program)
            for e in corpus_entries(m)
            if e.spec["kernel"]["verdict"] == "rejected"
        )
    return out


REJECTED = _rejected()


@pytest.mark.kernel
@pytest.mark.parametrize("item", [p for _, p in REJECTED], ids=[i for i, _ in REJECTED])
def test_state_at_the_failing_instruction(item: object) -> None:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    if isinstance(item, Program):
        program = item
    else:
        if item.name in SLOW and not os.environ.get("BAKEOFF_SLOW"):  # type: ignore[attr-defined]
            pytest.skip("walks the full 1M-instruction budget; set BAKEOFF_SLOW=1")
        try:
            program = item.program()  # type: ignore[attr-defined]
        except NoCompiler as exc:
            pytest.skip(str(exc))
    ours = verify(program)
    assert ours.verdict.value == "rejected" and ours.message is not None
    try:
        kernel = record(program, log_level=2)
    except InputError as exc:  # libbpf's refusal (no attach target): the kernel prints no state
        assert ours.message in str(exc), (ours.message, str(exc))
        return
    refused = refused_before_verifying(program, kernel)
    if refused is not None:
        pytest.skip(refused)
    assert kernel.verdict == "rejected"
    theirs = state_before(kernel.log, ours.message)
    mine = state_before("\n".join(ours.log2), ours.message)
    assert (mine is None) == (theirs is None), f"\nkernel: {theirs}\nours:   {mine}"
    if theirs is not None and mine is not None:
        assert normalized(mine) == normalized(theirs), f"\nkernel: {theirs}\nours:   {mine}"


def test_state_extraction() -> None:
    log = "\n".join(
        [
            "0: R1=ctx() R10=fp0",
            "0: (b7) r2 = 0                        ; R2=0",
            "1: (05) goto pc+0",
            "2: (79) r0 = *(u64 *)(r2 +0)",
            "R2 invalid mem access 'scalar'",
            "Validating cb() func#1...",
            "exception cb only supports single integer argument",
        ]
    )
    assert state_before(log, "R2 invalid mem access 'scalar'") == " R2=0"
    assert state_before(log, "exception cb only supports single integer argument") is None
    assert state_before(log, "not in the log") is None
    assert normalized(" R0=ptr_(id=7,ref_obj_id=7) R6=mem(id=9) refs=7,9") == [
        "R0=ptr_(id=1,ref_obj_id=1)",
        "R6=mem(id=2)",
        "refs=1,2",
    ]
