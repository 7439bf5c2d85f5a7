"""held_to.py: what a verifier case compares with the kernel, by framework.oracle.drift's rule (no kernel needed)."""

from __future__ import annotations

from framework.oracle.drift import compare
from framework.oracle.identity import KernelBuild
from framework.oracle.record import KernelRecord

from .cases_loader import VerifierCase, load_cases
from .held_to import case_figures, held_to

A = KernelBuild("6.18.44-a", "#1", "aa" * 32)
B = KernelBuild("6.18.44-b", "#1", "bb" * 32)


def _rec(verdict: str, message: str | None, processed: int, log: str = "") -> KernelRecord:
    return KernelRecord(
        program="p",
        verdict=verdict,
        message=message,
        errno=13 if message else 0,
        stack_depth=(),
        insns_processed=processed,
        verification_usec=1,
        bytes_xlated=None,
        bytes_jited=None,
        jited_image=b"",
        jited_ksyms=(),
        jited_func_lens=(),
        jited_lines=(),
        runs=(),
        log=log,
    )


def _case(**want: object) -> VerifierCase:
    return next(c for c in load_cases() if all(getattr(c, k) == v for k, v in want.items()))


def test_a_moved_processed_count_is_drift_elsewhere_and_a_failure_here() -> None:
    case = next(c for c in load_cases() if c.verdict == "accepted" and c.processed is not None and not c.regs)
    moved = _rec("accepted", None, (case.processed or 0) + 7)
    elsewhere = compare(case.id, case_figures(case, moved), A, B, "r")
    assert elsewhere.ok and [f.name for f in elsewhere.drift] == ["processed"]
    assert [f.name for f in compare(case.id, case_figures(case, moved), A, A, "r").failures] == ["processed"]


def test_a_changed_verdict_or_last_line_fails_on_any_build() -> None:
    case = _case(verdict="rejected", error_line=None)
    refused = compare(case.id, case_figures(case, _rec("rejected", "something else", 5)), A, B, "r")
    assert [f.name for f in refused.failures] == ["last line"]
    accepted = compare(case.id, case_figures(case, _rec("accepted", None, 5)), A, B, "r")
    assert "verdict" in [f.name for f in accepted.failures]


def test_an_intermediate_log_line_and_register_states_drift() -> None:
    inner = next(c for c in load_cases() if c.error_line is not None)
    figs = {f.name: f for f in case_figures(inner, _rec("rejected", inner.last_line, 5, log=str(inner.last_line)))}
    assert figs["log line"].drifts and figs["log line"].differs and not figs["last line"].differs
    with_regs = next(c for c in load_cases() if c.regs)
    regs = [f for f in case_figures(with_regs, _rec(with_regs.verdict, with_regs.last_line, 5)) if " at " in f.name]
    assert len(regs) == len(with_regs.regs) and all(f.drifts and f.differs for f in regs)


def test_held_to_names_the_builds() -> None:
    assert held_to("cases").btf_sha256 is not None  # the cases were held to a build identified in full
    assert held_to("model").release.startswith("6.")  # fc-v1147's was recorded by release alone
