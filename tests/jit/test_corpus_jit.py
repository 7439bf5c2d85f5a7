"""`run_program(..., engine="jit")` on the corpus: every program the live kernel accepted returns,
on each declared input, what BPF_PROG_TEST_RUN returned (the manifests' `[program.kernel]`)."""

from __future__ import annotations

import pytest

from framework.fixup import stock_fixup
from framework.load.corpus import CorpusEntry, corpus_entries, manifests
from framework.run.result import TIMEOUT_S, run_program


def _accepted() -> list[CorpusEntry]:
    return [e for m in manifests() for e in corpus_entries(m) if e.spec.get("kernel", {}).get("verdict") == "accepted"]


CASES = [(e, i.name) for e in _accepted() for i in e.inputs if i.name in e.spec["kernel"].get("retval", {})]


@pytest.mark.parametrize(("entry", "name"), CASES, ids=[f"{e.program.name}-{n}" for e, n in CASES])
def test_returns_what_the_kernel_returned(entry: CorpusEntry, name: str) -> None:
    inp = next(i for i in entry.inputs if i.name == name)
    limit = entry.time_limit_s or TIMEOUT_S
    got = run_program(entry.program, inp, "jit", timeout_s=limit)
    want = run_program(entry.program, inp, "interp", timeout_s=limit)
    if entry.unsupported is not None:  # the machine stops where its manifest says; the interpreter answers
        assert got.unsupported and entry.unsupported in str(got.fault), got.fault
        assert want.fault is None and want.retval == entry.spec["kernel"]["retval"][name]
        return
    if name in entry.timeout_inputs:  # the kernel's value stands alone: both engines stop at the limit
        assert got.timed_out and want.timed_out, (got.fault, want.fault)
        return
    assert not got.timed_out and not want.timed_out
    assert got.fault is None
    assert got.retval == entry.spec["kernel"]["retval"][name]
    assert (got.threw, got.cookie) == (want.threw, want.cookie)
    assert (got.leaked, got.double_released) == (want.leaked, want.double_released)
    split = got.x86_split
    assert got.x86_insns == split.program + split.walk + split.lookup + split.release
    assert (split.exception_cb > 0) == got.threw
    assert got.stack_high_water > 0


@pytest.mark.parametrize("entry", _accepted(), ids=lambda e: e.program.name)
def test_stack_depth_rule_matches_the_kernel(entry: CorpusEntry) -> None:
    """The kernel's rule applied to the fixed instructions (bpf_loop inlining and the hidden callback included)."""
    assert stock_fixup(entry.program).stack_depths == tuple(entry.spec["kernel"]["stack_depth"])


@pytest.mark.parametrize("entry", _accepted(), ids=lambda e: e.program.name)
def test_stack_depth_rule_matches_the_verifier(entry: CorpusEntry) -> None:
    from framework.verify.analyzer import verify

    analysis = verify(entry.program)
    if not analysis.accepted:
        pytest.skip(f"the framework's verifier rejects it: {analysis.message}")
    assert stock_fixup(entry.program).stack_depths == analysis.stack_depth
