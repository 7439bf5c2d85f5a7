"""`run_program(..., engine="jit")` on the corpus: every program the live kernel accepted returns,
on each declared input, what BPF_PROG_TEST_RUN returned (the manifests' `[program.kernel]`)."""

from __future__ import annotations

import pytest

from framework.fixup import fixup
from framework.load.corpus import CorpusEntry, corpus_entries, manifests
from framework.run.result import run_program

# Programs whose kernel stack depth differs from the rule applied to the instructions, by cause.
DEPTH_DIFFERENCES = {"throw_in_callback_clean": "bpf_loop inlining (inline_bpf_loop) adds 3 slots to main"}


def _accepted() -> list[CorpusEntry]:
    return [e for m in manifests() for e in corpus_entries(m) if e.spec.get("kernel", {}).get("verdict") == "accepted"]


CASES = [(e, i.name) for e in _accepted() for i in e.inputs if i.name in e.spec["kernel"].get("retval", {})]


@pytest.mark.parametrize(("entry", "name"), CASES, ids=[f"{e.program.name}-{n}" for e, n in CASES])
def test_returns_what_the_kernel_returned(entry: CorpusEntry, name: str) -> None:
    inp = next(i for i in entry.inputs if i.name == name)
    got = run_program(entry.program, inp, "jit")
    want = run_program(entry.program, inp, "interp")
    assert got.fault is None
    assert got.retval == entry.spec["kernel"]["retval"][name]
    assert (got.threw, got.cookie) == (want.threw, want.cookie)
    assert (got.leaked, got.double_released) == (want.leaked, want.double_released)
    assert got.x86_insns == sum(v for k, v in got.x86_split.items() if k != "service_calls")
    assert got.stack_high_water > 0


@pytest.mark.parametrize("entry", _accepted(), ids=lambda e: e.program.name)
def test_stack_depth_rule_matches_the_kernel(entry: CorpusEntry) -> None:
    ours = fixup(entry.program).stack_depths
    kernel = tuple(entry.spec["kernel"]["stack_depth"])
    if entry.program.name in DEPTH_DIFFERENCES:
        assert ours != kernel
    else:
        assert ours == kernel
