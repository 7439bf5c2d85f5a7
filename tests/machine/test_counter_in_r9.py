"""Counting in r9 gives the same counts as counting in memory and as a hook per instruction."""

from __future__ import annotations

import pytest

from framework.fixup import stock_fixup
from framework.jit.counters import IN_R9
from framework.kernel.services import EmulatedKernel
from framework.load.corpus import CorpusEntry, corpus_entries, manifests
from framework.machine import memory as mm
from framework.machine.engine import jit_program, machine_for

NAMES = ("nested_iters_clean", "three_frames_clean", "throw_in_callback_clean", "task_walk_clean", "near_limit_clean")


def _entries() -> list[CorpusEntry]:
    return [e for m in manifests() for e in corpus_entries(m) if e.program.name in NAMES]


@pytest.mark.parametrize("entry", _entries(), ids=lambda e: e.program.name)
def test_r9_memory_and_per_instruction_counts_agree(entry: CorpusEntry) -> None:
    for inp in entry.inputs:
        counts = []
        for counter in (IN_R9, mm.COUNTER):
            kernel = EmulatedKernel(entry.program, inp)
            machine, ctx = machine_for(kernel, jit_program(kernel, stock_fixup(entry.program), counter=counter))
            result = machine.run((ctx,))
            assert result.fault is None
            counts.append(result.x86_insns)
        kernel = EmulatedKernel(entry.program, inp)
        machine, ctx = machine_for(kernel, jit_program(kernel, stock_fixup(entry.program), counter=None))
        # the image and the return thunk, hooked per instruction (the bpf_loop callback included)
        assert counts[0] == counts[1] == machine.count_each_instruction((ctx,)), inp.name
