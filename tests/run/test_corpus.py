"""Every corpus program the kernel accepts returns, on each declared input, what Linux returns.

Truth comes from three places, strongest first: the live kernel (BPF_PROG_TEST_RUN
through framework.oracle, where bpf() is permitted), the `[program.kernel]`
tables the oracle records in the manifests, and the manifests' stock expectations
marked `source = "kernel"`. Every program, accepted or not, must run without a fault.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from framework.load.corpus import RunInput, packets
from framework.load.elf import load_object
from framework.load.program import Program
from framework.run.result import TIMEOUT_S, run_program

PROGRAMS = Path(__file__).resolve().parents[2] / "programs"
MANIFESTS = sorted(PROGRAMS.glob("c/*.toml")) + sorted(PROGRAMS.glob("asm/*.toml")) if PROGRAMS.is_dir() else []


def _packets() -> dict[str, bytes]:
    return packets(PROGRAMS)


def _cases() -> list[tuple[Path, dict[str, Any], dict[str, Any]]]:
    cases = []
    for manifest in MANIFESTS:
        doc = tomllib.loads(manifest.read_text())
        for spec in doc.get("program", ()):
            for inp in spec.get("input", ()):
                cases.append((manifest, spec, inp))
    return cases


CASES = _cases()
_loaded: dict[Path, dict[str, Program]] = {}


def _program(manifest: Path, name: str) -> Program:
    if manifest not in _loaded:
        doc = tomllib.loads(manifest.read_text())
        _loaded[manifest] = {p.name: p for p in load_object(str(PROGRAMS / doc["object"]))}
    return _loaded[manifest][name]


def _truth(spec: dict[str, Any], input_name: str) -> tuple[int | None, bool | None]:
    """(retval, threw) the manifest records for an accepted program, or (None, None)."""
    kernel = spec.get("kernel", {})
    if kernel.get("verdict") == "accepted" and input_name in kernel.get("retval", {}):
        return kernel["retval"][input_name], None
    stock = spec.get("expect", {}).get("stock", {})
    if stock.get("verdict") == "accepted" and stock.get("source") == "kernel":
        return stock.get("retval", {}).get(input_name), stock.get("threw", {}).get(input_name)
    return None, None


@pytest.mark.skipif(not CASES, reason=f"no corpus manifests under {PROGRAMS}")
@pytest.mark.parametrize(("manifest", "spec", "inp"), CASES, ids=[f"{s['name']}-{i['name']}" for _, s, i in CASES])
def test_corpus_input_matches_recorded_truth(manifest: Path, spec: dict[str, Any], inp: dict[str, Any]) -> None:
    program = _program(manifest, spec["name"])
    limit = float(spec.get("time_limit_s", TIMEOUT_S))
    result = run_program(program, RunInput.from_manifest(inp, _packets(), str(manifest)), timeout_s=limit)
    if inp.get("timeout") is True:  # beyond the emulator within time_limit_s: a timeout, never a value
        assert result.timed_out, result.fault
        return
    assert not result.timed_out and result.fault is None, result.fault
    retval, threw = _truth(spec, inp["name"])
    if retval is not None:
        assert result.retval == retval
    if threw is not None:
        assert result.threw == threw
    if retval is not None:  # accepted by the kernel: nothing may be left behind
        assert result.leaked == () and result.double_released == () and result.used_after_release == ()


def test_every_accepted_program_has_truth_to_compare() -> None:
    if not CASES:
        pytest.skip(f"no corpus manifests under {PROGRAMS}")
    compared = [c for c in CASES if _truth(c[1], c[2]["name"])[0] is not None]
    assert len(compared) >= 10


@pytest.mark.kernel
def test_corpus_matches_the_live_kernel() -> None:
    from framework.load.corpus import corpus_entries
    from framework.oracle.check import available
    from framework.oracle.record import record

    reason = available()
    if reason is not None:
        pytest.skip(reason)
    if not MANIFESTS:
        pytest.skip(f"no corpus manifests under {PROGRAMS}")
    packets = _packets()
    compared = 0
    mismatches: list[tuple[str, str, int, int, str | None]] = []
    for manifest in MANIFESTS:
        specs = {p["name"]: p for p in tomllib.loads(manifest.read_text()).get("program", ())}
        for entry in corpus_entries(manifest):
            if not entry.live_inputs:  # accepted by 6.18.44 but leaks on a throw: never test-run there
                continue
            rec = record(entry.program, entry.live_inputs, batches=1, repeat=1)
            if rec.verdict != "accepted":
                continue
            limit = entry.time_limit_s or TIMEOUT_S
            for run in rec.runs:
                inp = next(i for i in specs[entry.program.name]["input"] if i["name"] == run.input)
                got = run_program(entry.program, RunInput.from_manifest(inp, packets, str(manifest)), timeout_s=limit)
                if run.input in entry.timeout_inputs:  # the kernel finished it; the emulator stops at the limit
                    if not got.timed_out:
                        mismatches.append((entry.program.name, run.input, run.retval, got.retval, "no timeout"))
                    continue
                compared += 1
                if got.fault is not None or got.retval != run.retval:
                    mismatches.append((entry.program.name, run.input, run.retval, got.retval, got.fault))
    assert mismatches == []
    assert compared >= 10
