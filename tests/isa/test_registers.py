"""Registers above r10: the decoder and the assembler refuse them; make() keeps building them.

Only r0-r10 exist in a program (uapi bpf.h __MAX_BPF_REG); the kernel's own r11
(BPF_REG_AX) appears only in what its rewrites and the JIT emit, which is why the
refusal lives in decode() and the assembler, not in `insn.make`.
"""

from __future__ import annotations

import pytest

from framework.isa import opcodes as op
from framework.isa.decode import DecodeError, decode, encode
from framework.isa.insn import Insn, make
from framework.isa.llvm_asm import AsmError, assemble, parse_line

EXIT = make(op.JMP | op.EXIT)
R0 = make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("insn", "names"),
    [
        (make(op.ALU64 | op.ADD | op.X, 1, 2), (2, 1)),
        (make(op.ALU64 | op.ADD | op.K, 1, 7, 0, 5), (1,)),  # an immediate form's src field holds no register
        (make(op.ALU64 | op.NEG, 3), (3,)),
        (make(op.LDX | op.MEM | op.DW, 4, 10, -8), (10, 4)),
        (make(op.ST | op.MEM | op.W, 10, 0, -4, 1), (10,)),
        (make(op.STX | op.ATOMIC | op.DW, 10, 5, -8, op.ADD), (5, 10)),
        (make(op.JMP | op.JGT | op.X, 1, 2, 0), (2, 1)),
        (make(op.JMP | op.CALL, 0, op.PSEUDO_CALL, 0, 3), ()),  # a call's src is its pseudo kind
        (make(op.LD | op.IMM | op.DW, 2, op.PSEUDO_MAP_IDX, 0, 0), (2,)),  # ld_imm64's src likewise
        (make(op.LD | op.IND | op.W, 0, 7, 0, 4), (7,)),
        (make(op.LD | op.ABS | op.W, 0, 0, 0, 4), ()),
        (EXIT, ()),
    ],
)
def test_register_fields(insn: Insn, names: tuple[int, ...]) -> None:
    assert insn.registers == names


def test_make_builds_the_kernels_ax_register() -> None:
    """The fixup stage and the JIT build r11 (BPF_REG_AX) instructions with make()."""
    ax = make(op.LDX | op.MEM | op.DW, 11, 10, -16)
    assert ax.dst == 11 and ax.registers == (10, 11)


@pytest.mark.parametrize(
    ("bad", "reg"),
    [
        (make(op.ALU64 | op.MOV | op.K, 12, 0, 0, 1), 12),
        (make(op.ALU64 | op.MOV | op.X, 1, 11), 11),
        (make(op.LDX | op.MEM | op.DW, 0, 13, 0), 13),
        (make(op.STX | op.MEM | op.DW, 10, 15, -8), 15),
        (make(op.JMP | op.JEQ | op.K, 14, 0, 0, 0), 14),
        (make(op.LD | op.IMM | op.DW, 11, 0, 0, 5), 11),
    ],
)
def test_decode_refuses_a_register_above_r10(bad: Insn, reg: int) -> None:
    data = encode([R0, bad, None, EXIT] if bad.slots == 2 else [R0, bad, EXIT])
    with pytest.raises(DecodeError) as err:
        decode(data)
    assert err.value.offset == 8  # the second slot
    assert err.value.message == f"insn 1: register r{reg} is invalid (r0-r10 only)"


def test_decode_keeps_an_unused_field() -> None:
    """A field that holds no register is not read as one (the kernel says 'uses reserved fields')."""
    (insn,) = decode(b"\x07\xb1\x00\x00\x05\x00\x00\x00")  # r1 += 5 with 11 in the src field
    assert insn is not None and insn.dst == 1 and insn.src == 11


@pytest.mark.parametrize("text", ["r11 = 1", "r1 += r12", "w15 = w1", "r0 = *(u32 *)(r13 + 0)", "callx r11"])
def test_assembler_refuses_a_register_above_r10(text: str) -> None:
    with pytest.raises(AsmError, match=r"invalid register r1[1-5] in"):
        parse_line(text)


def test_assembler_names_the_line() -> None:
    with pytest.raises(AsmError) as err:
        assemble(["r0 = 0", "l:", "  r11 = r10", "exit"])
    assert err.value.line == 3  # type: ignore[attr-defined]
