"""The corpus JITed by us and by the running kernel, BPF instruction by BPF instruction.

At least 90% of the BPF instructions of the accepted corpus programs must have
the kernel's x86 sequence, and every one that does not must have a named cause
(`image_diff`). Skips where bpf() is not permitted.
"""

from __future__ import annotations

import os

import pytest

from framework.load.corpus import CorpusEntry, corpus_entries, manifests
from framework.oracle.check import available
from framework.oracle.record import record
from jit.image_diff import Comparison, compare


def _accepted() -> list[CorpusEntry]:
    return [e for m in manifests() for e in corpus_entries(m) if e.spec.get("kernel", {}).get("verdict") == "accepted"]


@pytest.fixture(scope="module")
def comparisons() -> list[Comparison]:
    if os.geteuid() != 0:
        pytest.skip("loading BPF programs needs root")
    if (reason := available()) is not None:
        pytest.skip(reason)
    out = []
    for entry in _accepted():
        rec = record(entry.program, (), batches=1, repeat=1)
        assert rec.verdict == "accepted", rec.message
        out.append(compare(entry.program, rec))
    return out


def test_at_least_90_percent_of_bpf_instructions_have_the_kernels_x86(comparisons: list[Comparison]) -> None:
    total = sum(c.total for c in comparisons)
    same = sum(c.same for c in comparisons)
    assert total > 500
    assert same / total >= 0.90, f"{same}/{total}"  # 720/728 (98.9%) on Linux 6.18.44


def test_the_fixup_stage_rewrites_as_the_kernel_did(comparisons: list[Comparison]) -> None:
    """Same xlated length everywhere: no difference is put down to the fixups (padded_clean's
    one-sided `r0 = 0; if r0 == 0 goto +2` padding is hard-wired and removed as the kernel does,
    from what the verifier reached)."""
    fixup = {c.program for c in comparisons for d in c.differences if d.cause.startswith("fixup differs")}
    assert fixup == set()


def test_every_difference_has_a_named_cause(comparisons: list[Comparison]) -> None:
    unnamed = [(c.program, d) for c in comparisons for d in c.differences if d.cause == "unknown"]
    assert not unnamed


def test_programs_without_inlined_helpers_or_btf_loads_are_identical(comparisons: list[Comparison]) -> None:
    identical = {c.program for c in comparisons if not c.differences}
    assert {"throw_static", "three_frames_clean", "near_limit_clean", "global_chain_clean"} <= identical
    # tail calls, direct and indirect, from main and from a subprog: prologue counter slots and all
    assert {"tail_main", "tail_range", "tail_subprog", "tail_chain", "tail_after_misses"}
    # the verifier's walk marks a frame called after a tail-calling one (tail_then_call's plain), as the kernel's does
    assert "tail_then_call" in identical <= identical
    assert "spin_locked_clean" in identical  # its array map lookup is inlined as map_gen_lookup does


def test_bpf_loop_is_inlined_as_the_kernel_inlines_it(comparisons: list[Comparison]) -> None:
    """Only the callback's address (lower half here) differs in throw_in_callback_clean."""
    diff = next(c for c in comparisons if c.program == "throw_in_callback_clean").differences
    assert [d.insn for d in diff] == ["ld_imm64"]
