"""The verifier against tests/verify/cases/: verdict, the case's log line and stack depth as Linux 6.18.44."""

from __future__ import annotations

import os

import pytest

from framework.load.core import vmlinux_btf
from framework.verify import verify

from .cases_loader import NoCompiler, VerifierCase, load_cases
from .held_to import regs_at

CASES = load_cases()

# topics whose programs are typed by the running kernel's BTF (attach targets, kernel structs)
VMLINUX_TOPICS = frozenset({"tracing_args", "btf_walk"})

# Cases that walk the whole 1,000,000-instruction budget (a minute or more in Python).
SLOW = {"bounded_loop_too_long", "loop_bound_unknown"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case(case: VerifierCase) -> None:
    if case.name in SLOW and not os.environ.get("BAKEOFF_SLOW"):
        pytest.skip("walks the full 1M-instruction budget; set BAKEOFF_SLOW=1")
    if case.topic in VMLINUX_TOPICS and vmlinux_btf() is None:
        pytest.skip("types its programs by the running kernel's BTF: no /sys/kernel/btf/vmlinux here")
    try:
        program = case.program()
    except NoCompiler as exc:
        pytest.skip(str(exc))
    analysis = verify(program)
    assert analysis.verdict.value == case.verdict, analysis.message
    if case.verdict == "rejected" and case.message:
        assert any(case.message in line for line in analysis.log2), (case.message, analysis.message)
    if case.verdict == "unsupported":
        assert analysis.missing is not None and case.message in (analysis.message or ""), analysis.message
    else:
        assert analysis.missing is None, analysis.message
    if case.stack_depth is not None:
        assert list(analysis.stack_depth) == list(case.stack_depth)
    if case.regs:
        # the level-2 log prints what the kernel's prints after insn `at`
        assert case.regs_at is not None
        got = regs_at("\n".join(analysis.log2), case.regs_at)
        for reg, value in case.regs:
            assert got.get(reg) == value, f"{reg} at {case.regs_at}: {got}"
    if case.processed is not None:
        # loops converge as the kernel's do (precision, widening, pruning): within 25%
        assert 0.75 * case.processed <= analysis.insns_processed <= 1.25 * case.processed, (
            analysis.insns_processed,
            case.processed,
        )
