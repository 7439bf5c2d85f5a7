"""The verifier against the live kernel on generated programs: the same verdict and the same message.

The programs are test_fuzz_verify_run's (every instruction form, registers r0-r10, jumps, calls,
maps). Each is loaded into the running kernel (BPF_PROG_LOAD only, closed at once) and verified
by the project: an acceptance must be an acceptance, and a refusal a refusal whose message is a
line of the kernel's log (the kernel's last line may be the state it printed after it, and
the line may follow an instruction printed without its newline). This is
how the reserved-field, atomic and check-order bugs of test_reserved_fields.py were found.
Skipped where bpf() is not permitted; `tox -e fuzz` runs it with a large budget.
"""

from __future__ import annotations

import pytest
from hypothesis import event, given

from framework.isa.kernel_syntax import format_insn
from framework.load.program import Program
from framework.oracle.check import available
from framework.verify import verify

from .fuzzing import budget
from .test_fuzz_verify_run import programs

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module", autouse=True)
def _kernel() -> None:
    reason = available()
    if reason is not None:
        pytest.skip(reason)


def _loadable(program: Program) -> bool:
    return all(r <= 10 for _, insn in program.insns() for r in insn.registers)  # what a loader can produce


@given(programs().filter(_loadable))
@budget(60)
def test_the_verifier_agrees_with_the_live_kernel(program: Program) -> None:
    from framework.oracle.record import record

    ours = verify(program, log_level=0)
    kernel = record(program, log_level=1)
    event(kernel.verdict)
    listing = "\n".join(f"  {pc}: {format_insn(insn)}" for pc, insn in program.insns())
    assert ours.accepted == (kernel.verdict == "accepted"), f"{ours.message} / kernel {kernel.message}\n{listing}"
    if not ours.accepted:
        lines = kernel.log.splitlines()
        # a line of its own, or after an instruction the kernel printed without its newline
        found = any(line.endswith(ours.message or "?") for line in lines)
        assert found, f"{ours.message} / kernel {lines[-4:]}\n{listing}"


def test_a_callback_reference_without_func_info_is_refused() -> None:
    """Found by this fuzzing: `r2 = <subprog> ll` (BPF_PSEUDO_FUNC) in a program loaded without BTF
    was accepted; check_ld_imm refuses it ("missing btf func_info") as the kernel did."""
    from framework.isa import opcodes as op
    from framework.isa.insn import make

    from .test_fuzz_verify_run import _program

    mov0, exit_ = make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0), make(op.JMP | op.EXIT)
    func = make(op.LD | op.IMM | op.DW, 2, op.PSEUDO_FUNC, 0, 2)  # instruction 0 + 1 + 2: the second mov0
    analysis = verify(_program([func, mov0, exit_, mov0, exit_]), log_level=0)
    assert analysis.message == "missing btf func_info"


def test_a_call_past_the_program_is_an_invalid_destination() -> None:
    """Found by this fuzzing: a BPF-to-BPF call to just past the last instruction was reported by
    check_subprogs ("last insn is not an exit or jmp"); add_subprog refuses it first."""
    from framework.isa import opcodes as op
    from framework.isa.insn import make

    from .test_fuzz_verify_run import _program

    mov0, exit_ = make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0), make(op.JMP | op.EXIT)
    call = make(op.JMP | op.CALL, 0, op.PSEUDO_CALL, 0, 2)  # instruction 1 + 1 + 2: past the exit
    assert verify(_program([mov0, call, exit_]), log_level=0).message == "call to invalid destination"


@pytest.mark.parametrize("pointer", [10, 1], ids=["stack", "ctx"])
def test_a_stack_or_context_pointer_against_zero_is_not_a_predicted_branch(pointer: int) -> None:
    """Found by this fuzzing: `if r10 != 0x0 goto pc-1` was followed as always taken (an
    "infinite loop"); reg_not_null lists neither the stack nor the context, so is_branch_taken
    leaves both ways open and the kernel walks the fall-through first."""
    from framework.isa import opcodes as op
    from framework.isa.insn import make

    from .test_fuzz_verify_run import _program

    mov0, exit_ = make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0), make(op.JMP | op.EXIT)
    jne = make(op.JMP | op.JNE | op.K, pointer, 0, 1, 0)
    deref = make(op.LDX | op.MEM | op.DW, 0, 0, 0, 0)  # r0 = *(u64 *)(r0 +0), r0 a scalar
    analysis = verify(_program([mov0, jne, deref, exit_]), log_level=0)
    assert analysis.message == "R0 invalid mem access 'scalar'"
