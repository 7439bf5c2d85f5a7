"""The emulated kernel behind the trap stubs: the JIT machine agrees with the interpreter."""

from __future__ import annotations

import struct

from kernel.prog import program

from framework.jit import SubprogSpec, jit
from framework.kernel.objects import MapEntry, RunInput
from framework.kernel.services import EmulatedKernel
from framework.load.program import MapDef, Program
from framework.machine import Machine, MachineRun
from framework.machine.bridge import KernelBridge, KernelResolver
from framework.run.result import run_program

ITER = ("bpf_iter_num_new", "bpf_iter_num_next", "bpf_iter_num_destroy")
ITER_SUM = """
r1 = r10
r1 += -8
r2 = 3
r3 = 7
call bpf_iter_num_new
r6 = 0
loop:
r1 = r10
r1 += -8
call bpf_iter_num_next
if r0 == 0 goto done
r1 = *(u32 *)(r0 + 0)
r6 += r1
goto loop
done:
r1 = r10
r1 += -8
call bpf_iter_num_destroy
r0 = r6
exit
"""
COUNTS = MapDef("counts", "array", 4, 8, 4)
MAP_BUMP = """
r1 = 2
*(u32 *)(r10 - 4) = r1
r1 = counts ll
r2 = r10
r2 += -4
call 1
if r0 == 0 goto miss
r1 = *(u64 *)(r0 + 0)
r1 += 1
*(u64 *)(r0 + 0) = r1
r0 = r1
exit
miss:
r0 = -1
exit
"""


def run_jit(prog: Program, run_input: RunInput | None = None) -> tuple[MachineRun, EmulatedKernel]:
    kernel = EmulatedKernel(prog, run_input or RunInput())
    subs = [SubprogSpec(s.name, s.start, s.end, s.is_exception_cb) for s in prog.subprogs]
    image = jit(prog.slots, subs, stack_depths=[16] * len(subs), resolver=KernelResolver(kernel))
    machine = Machine(image)
    KernelBridge(machine, kernel, prog.kfuncs)
    return machine.run([kernel.context.ctx]), kernel


def test_kfuncs_with_stack_pointers() -> None:
    prog = program(ITER_SUM, kfuncs=ITER)
    result, kernel = run_jit(prog)
    assert result.fault is None and result.retval == 3 + 4 + 5 + 6 == run_program(prog).r0
    assert result.service_calls == 2 + 5  # new, destroy, and next five times
    assert not kernel.ledger.leaked


def test_map_values_are_shared_with_the_kernel() -> None:
    prog = program(MAP_BUMP, maps=(COUNTS,))
    run_input = RunInput(maps=(MapEntry("counts", struct.pack("<I", 2), struct.pack("<Q", 41)),))
    result, kernel = run_jit(prog, run_input)
    assert result.fault is None and result.retval == 42
    value = kernel.maps[0].lookup(struct.pack("<I", 2))  # the program's store reached the kernel's map
    assert value is not None


def test_a_refused_service_call_is_a_fault_at_its_pc() -> None:
    result, _ = run_jit(program("r1 = 0\ncall 1\nexit\n"))  # map_lookup_elem on NULL
    assert result.fault is not None and result.fault.pc == 1 and "refused" in result.fault.reason


def test_bpf_loop_runs_the_callback_on_the_machine() -> None:
    text = """
r1 = 10
r2 = cb ll
r3 = 0
r4 = 0
call 181
exit
cb:
r0 = 0
if r1 != 3 goto out
r0 = 1
out:
exit
"""
    prog = program(text, subprogs=("cb",))
    result, _ = run_jit(prog)
    assert result.fault is None and result.retval == 4 == run_program(prog).r0
