"""The verifier against the corpus: stock verdict, message and stack depth equal the kernel's truth.

Processed instructions must come within 25% of the kernel's on the build the verifier was
held to (held_to.toml's `[model]`); truth recorded on another build may have moved, so a
miss there is a `KernelDrift` warning (framework.oracle.drift's rule), not a failure.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from framework.load.corpus import CorpusEntry, corpus_entries, manifests
from framework.oracle.drift import Figure, KernelDrift, compare
from framework.oracle.identity import KernelBuild
from framework.verify import Nullness, Verdict, verify, verify_json

from .held_to import REHOLD_MODEL, TOLERANCE, held_to
from .hook_strategy import Recorder, Told

ENTRIES = [e for m in manifests() for e in corpus_entries(m)]


def _entry(name: str) -> CorpusEntry:
    return next(e for e in ENTRIES if e.program.name == name)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.program.name)
def test_stock_matches_kernel(entry: CorpusEntry) -> None:
    kernel = entry.spec["kernel"]
    analysis = verify(entry.program)
    assert analysis.verdict.value == kernel["verdict"]
    assert analysis.message == kernel.get("message")
    assert list(analysis.stack_depth) == kernel["stack_depth"]


@pytest.mark.filterwarnings("default::framework.oracle.drift.KernelDrift")
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.program.name)
def test_processed_insns_near_kernel(entry: CorpusEntry) -> None:
    # pruning as the kernel prunes (liveness, precision, widening, SCC backedges): the walk
    # costs what the kernel's costs, within 25% (task_walk_clean's linked-list walk included)
    kernel = entry.spec["kernel"]["insns_processed"]
    ours = verify(entry.program).insns_processed
    near = (1 - TOLERANCE) * kernel <= ours <= (1 + TOLERANCE) * kernel
    truth, model = KernelBuild.from_table(entry.spec["kernel"]), held_to("model")
    fig = Figure("insns_processed", kernel, ours, drifts=True, agrees=near)
    checked = compare(entry.program.name, [fig], truth, model, REHOLD_MODEL)
    miss = f"{entry.program.name}: the verifier processes {ours}, the kernel {kernel} on {truth}: not within 25%"
    if checked.drift:
        why = f"the verifier is held to {model}'s corpus truth; fit framework/verify, then {REHOLD_MODEL}"
        warnings.warn(KernelDrift(f"{miss}; {why}"), stacklevel=1)
    assert checked.ok, f"{miss}, on the build the verifier is held to"


def test_json_keys() -> None:
    obj, status = verify_json(_entry("ringbuf_record").program)
    assert set(obj) == {
        "program",
        "strategy",
        "verdict",
        "message",
        "missing",
        "stack_depth",
        "insns_processed",
        "verification_usec",
    }
    assert (obj["verdict"], status) == ("rejected", 1)
    assert obj["message"] == "bpf_throw would lead to reference leak"


def test_log_levels_and_coord() -> None:
    analysis = verify(_entry("ringbuf_record").program)
    assert analysis.coord is not None and analysis.coord.section == "tc"
    assert analysis.log1[-5].startswith("Unreleased reference id=")
    assert analysis.log1[-4] == "bpf_throw would lead to reference leak"
    assert analysis.log1[-1].startswith("processed ")
    assert "(limit 1000000) max_states_per_insn" in analysis.stats
    assert len(analysis.log2) > len(analysis.log1)


def test_throw_sites_hold_what_each_frame_holds() -> None:
    analysis = verify(_entry("three_frames_stack").program, Recorder())
    assert analysis.verdict is Verdict.ACCEPTED
    site = next(s for s in analysis.throw_sites if not s.via_global)
    assert [f.subprog for f in site.frames] == [2, 1, 0]
    kinds = sorted(h.kind for f in site.frames for h in f.holdings)
    assert "obj" in kinds and "socket" in kinds
    # innermost: the acquired second reference, spilled; from an owning reference it cannot be NULL
    # (is_kfunc_ret_null); the middle frame's socket lookup may be
    inner, middle = site.frames[0].holdings, site.frames[1].holdings
    assert [(h.kind, h.location, h.state) for h in inner] == [("obj", "fp-8", Nullness.POINTER)]
    assert any(h.kind == "socket" and h.location.startswith("fp-") and h.state is Nullness.MAYBE_NULL for h in middle)


def test_every_hook_runs() -> None:
    program = _entry("two_kinds").program
    analysis = verify(program, Recorder())
    told = analysis.strategy_state
    assert isinstance(told, Told) and told.acquired and told.throws
    assert {e.kind for e in told.acquired} >= {"obj", "task"}
    # every reference a throw holds was acquired at the pc its site says
    acquired_at = {e.ref_id: e.pc for e in told.acquired}
    assert all(acquired_at[r.id] == r.acquired_at for site in told.throws for r in site.refs)
    assert analysis.peak_resources[0] >= 1
    accepted = verify(_entry("two_kinds_clean").program, Recorder())
    clean = accepted.strategy_state
    assert accepted.accepted and isinstance(clean, Told) and clean.released
    peak = accepted.peak_resources[0]
    reserving = verify(_entry("two_kinds_clean").program, Recorder(per_peak=16))
    assert peak >= 1 and reserving.stack_depth[0] == accepted.stack_depth[0] + 16 * peak  # reserved_stack got it
    assert {e.acquired_at for e in clean.released} <= {e.pc for e in clean.acquired}


def test_strategy_can_refuse_and_merge() -> None:
    analysis = verify(_entry("throw_no_cb").program, Recorder(refuse_throws=True))
    assert analysis.message == "recorder: refused"
    two = verify(_entry("two_kinds").program, Recorder())
    assert two.verdict is Verdict.REJECTED
    assert two.message == "recorder: two kinds meet in one slot"


def test_hidden_default_callback_depth() -> None:
    assert verify(_entry("throw_no_cb").program).stack_depth == (0, 0)
    assert verify(_entry("bounds_check").program).stack_depth == (0, 0)


def test_paths() -> None:
    assert Path(ENTRIES[0].manifest).exists()
