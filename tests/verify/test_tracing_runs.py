"""Tracing programs run on the u64 arguments a test run's ctx_in gives, alike on both engines.

The live kernel cannot be asked: BPF_PROG_TEST_RUN of an fentry/fexit/fmod_ret program calls
bpf_fentry_test*() and bpf_modify_return_test*(), which run the program only when it is attached
(bpf_prog_test_run_tracing; attaching is not done here), and refuses a ctx_in. So the figures
below are what the programs compute from the arguments given; a program whose target takes a
struct pointer is `unsupported` on both engines (its loads would be BPF_PROBE_MEM loads of
kernel objects the emulated kernel does not build).
"""

from __future__ import annotations

import struct

import pytest

from framework.kernel.objects import RunInput
from framework.load.core import vmlinux_btf
from framework.run.result import run_program
from framework.verify import verify

from .cases_loader import NoCompiler, VerifierCase, load_cases

ACCEPTED = [c for c in load_cases("tracing_args") if c.verdict == "accepted"]
ARGS = (3, 0xFFFF_FFFF_0000_0010, 0x1_2345, 7, 0xAB, 0x0102_0304_0506_0708, 5, 40)
EXPECTED = {  # r0 on ARGS (fentry and fexit return 0; fmod_ret what the program computes)
    "fmod_ret_sums_argument_and_return": (3 + 0x1_2345) & 0xFFFF_FFFF,  # a (u32) + the return slot
    "fmod_ret_seven_arguments": 40 + (5 << 8) + 0x08 + 0x2345,  # the return slot, g << 8, f's u8, c's u16
    "fmod_ret_returns_anything": 1,
}
POINTERS = {"fentry_struct_pointer_argument", "fentry_walks_a_pointer_member", "fentry_flexible_array_member"}
POINTERS |= {"fentry_pointer_arg_used_unchecked_after_walk"}


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda c: c.id)
def test_a_tracing_program_runs_alike_on_both_engines(case: VerifierCase) -> None:
    if vmlinux_btf() is None:
        pytest.skip("a tracing program's arguments are typed by /sys/kernel/btf/vmlinux, absent here")
    try:
        program = case.program()
    except NoCompiler as exc:
        pytest.skip(str(exc))
    assert verify(program).accepted
    args = RunInput("args", ctx=struct.pack("<8Q", *ARGS))
    runs = [run_program(program, args, engine=e) for e in ("interp", "jit")]
    if case.name in POINTERS:
        assert all(r.unsupported and "BPF_PROBE_MEM" in str(r.fault) for r in runs), [r.fault for r in runs]
        return
    assert [(r.fault, r.r0) for r in runs] == [(None, EXPECTED.get(case.name, 0))] * 2


def test_every_accepted_case_is_run_or_said_unsupported() -> None:
    names = {c.name for c in ACCEPTED}
    assert set(EXPECTED) <= names
    assert names >= POINTERS
    assert len(names - POINTERS) >= 6  # scalar-argument programs: run on both engines
