"""A register above r10 reaching the verifier: refused as check_reg_arg refuses it, never a crash.

The decoder and the assembler refuse such instructions (tests/isa/test_registers.py), so
these programs are built in memory with `insn.make`, as a rewrite could build them. The
kernel checks an instruction's registers in a fixed order (check_alu_op: src, then dst;
check_cond_jmp_op: dst first; check_ld_abs: R6 first), and an earlier operand that cannot be
read fails first with its own message; each case is held to the running kernel too.
"""

from __future__ import annotations

import dataclasses

import pytest

from framework.isa import opcodes as op
from framework.isa.insn import Insn, make
from framework.load.program import Linkage, Program, Subprog
from framework.oracle.check import available
from framework.oracle.record import record
from framework.verify import verify

EXIT = make(op.JMP | op.EXIT)
R0 = make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0)

CASES: dict[str, tuple[list[Insn], str]] = {
    "mov_imm_to_r12": ([make(op.ALU64 | op.MOV | op.K, 12, 0, 0, 1), R0, EXIT], "R12 is invalid"),
    "mov_from_r11": ([make(op.ALU64 | op.MOV | op.X, 1, 11), R0, EXIT], "R11 is invalid"),
    "add_r12_to_unset_r3": ([make(op.ALU64 | op.ADD | op.X, 3, 12), R0, EXIT], "R12 is invalid"),
    "add_unset_r3_to_r12": ([make(op.ALU64 | op.ADD | op.X, 12, 3), R0, EXIT], "R3 !read_ok"),
    "neg_r11": ([make(op.ALU64 | op.NEG, 11), R0, EXIT], "R11 is invalid"),
    "load_through_r13": ([make(op.LDX | op.MEM | op.DW, 0, 13, 0), EXIT], "R13 is invalid"),
    "load_into_r13": ([make(op.LDX | op.MEM | op.DW, 13, 10, -8), R0, EXIT], "R13 is invalid"),
    "store_r15": ([make(op.STX | op.MEM | op.DW, 10, 15, -8), R0, EXIT], "R15 is invalid"),
    "store_imm_through_r14": ([make(op.ST | op.MEM | op.DW, 14, 0, -8, 0), R0, EXIT], "R14 is invalid"),
    "branch_on_r11": ([R0, make(op.JMP | op.JEQ | op.K, 11, 0, 0, 0), EXIT], "R11 is invalid"),
    "branch_against_r11": ([R0, make(op.JMP | op.JEQ | op.X, 0, 11, 0), EXIT], "R11 is invalid"),
    "ld_imm64_into_r11": ([make(op.LD | op.IMM | op.DW, 11, 0, 0, 5), R0, EXIT], "R11 is invalid"),
    "atomic_add_r12": (
        [make(op.ST | op.MEM | op.DW, 10, 0, -8, 0), make(op.STX | op.ATOMIC | op.DW, 10, 12, -8, op.ADD), R0, EXIT],
        "R12 is invalid",
    ),
    "mov_r12_into_r10": ([make(op.ALU64 | op.MOV | op.X, 10, 12), R0, EXIT], "R12 is invalid"),
    "mov_imm_into_r10": ([make(op.ALU64 | op.MOV | op.K, 10, 0, 0, 1), R0, EXIT], "frame pointer is read only"),
}


def _program(insns: list[Insn]) -> Program:
    slots: list[Insn | None] = []
    for insn in insns:
        slots.append(insn)
        if insn.slots == 2:
            slots.append(None)
    return Program(
        name="regs",
        section="tc",
        prog_type="sched_cls",
        slots=tuple(slots),
        subprogs=(Subprog("regs", 0, len(slots), Linkage.GLOBAL),),
        source="<regs>",
        sha256="",
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_refused_with_the_kernels_message(name: str) -> None:
    insns, message = CASES[name]
    analysis = verify(_program(insns))
    assert analysis.verdict.value == "rejected"
    assert analysis.message == message
    at = analysis.log2.index(message)  # right after the failing instruction's line, as the kernel prints it
    assert analysis.coord is not None and analysis.log2[at - 1].startswith(f"{analysis.coord.offset}: (")


@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(CASES))
def test_the_kernel_says_the_same(name: str) -> None:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    insns, message = CASES[name]
    rec = record(_program(insns))
    assert (rec.verdict, rec.message) == ("rejected", message), rec.log[-600:]


def test_a_rewrite_may_build_r11() -> None:
    """The fixup stage's BPF_REG_AX instructions are only ever built, never decoded or verified."""
    prog = _program([R0, EXIT])
    ax = dataclasses.replace(prog, slots=(make(op.ALU64 | op.MOV | op.K, 11, 0, 0, 1), *prog.slots))
    assert ax.slots[0] is not None and ax.slots[0].dst == 11
