"""A JIT run's x86 total is every instruction the machine ran in the program, the return thunk and
the runtime, each once: counted again here with one Unicorn callback per instruction.

landing-pads' pads are BPF code inside the JITed image, so the image's counter already counts
them; the `pad` part of the split says how many of the program's instructions they were, and
must not be added to the total a second time (it was, for every throw through a pad)."""

from __future__ import annotations

from typing import Any

import pytest
from iced_x86 import Decoder
from unicorn import UC_HOOK_CODE

from framework import pipeline
from framework.load.corpus import corpus_entries, manifests
from framework.machine import engine
from framework.machine import memory as mm
from framework.plugins import get_strategy, strategies

ENTRIES = {e.program.name: e for m in manifests() for e in corpus_entries(m)}
# a throw from a subprog while both frames hold an object (every strategy but stock accepts it),
# and a throw stock accepts
PROGRAMS = {"stock": "throw_static"}


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, int]]:
    """Each machine the engine builds from now on counts what it runs, by where it ran."""
    tallies: list[dict[str, int]] = []
    build = engine.machine_for

    def machine_for(kernel: Any, prepared: engine.JitProgram, *, count: bool = True) -> Any:
        machine, ctx = build(kernel, prepared, count=count)
        image, runtime = prepared.image, prepared.runtime
        tally = {"program": 0, "runtime": 0}
        tallies.append(tally)

        def on_code(uc: Any, address: int, size: int, _user: object) -> None:
            ins = next(iter(Decoder(64, bytes(uc.mem_read(address, size)), ip=address)))
            if image.base <= address < image.base + len(image.code) or address == mm.RETURN_THUNK:
                if str(ins).startswith("add r9,"):  # the counter's own adds are never counted
                    return
                tally["program"] += 1
            elif runtime.base <= address < runtime.base + len(runtime.code):
                tally["runtime"] += 1

        machine.uc.hook_add(UC_HOOK_CODE, on_code)
        return machine, ctx

    monkeypatch.setattr(engine, "machine_for", machine_for)
    return tallies


@pytest.mark.parametrize("name", sorted(strategies()))
def test_the_total_counts_each_instruction_once(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = ENTRIES[PROGRAMS.get(name, "ctx_held")]
    verified = pipeline.verify(entry.program, get_strategy(name))
    assert verified.accepted, verified.analysis.message
    planned = pipeline.plan(verified)
    tallies = _counting(monkeypatch)
    runs = pipeline.exercise(planned, entry.inputs)
    assert len(tallies) == len(runs) and any(r.result.threw for r in runs)
    for run, tally in zip(runs, tallies, strict=True):
        split = run.result.x86_split
        assert split.program == tally["program"], (run.throw_pc, split, tally)
        runtime = split.walk + split.lookup + split.release + split.record
        assert runtime == tally["runtime"], (run.throw_pc, split, tally)
        assert split.pad <= split.program  # the pads are part of the program's count
        assert run.result.x86_insns == tally["program"] + tally["runtime"], (run.throw_pc, split, tally)
