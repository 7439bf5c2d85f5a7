"""The LLVM-syntax parser refuses operands that do not fit their field instead of wrapping them."""

from __future__ import annotations

import pytest

from framework.isa.insn import Insn
from framework.isa.llvm_asm import AsmError, parse_line


@pytest.mark.parametrize(
    "text",
    [
        "goto +32768",
        "goto -32769",
        "if r1 == 0 goto +70000",
        "r1 = *(u64 *)(r2 + 40000)",
        "*(u32 *)(r10 - 32769) = 1",
        "r1 += 0x100000000",
        "w1 = -0x80000001",
        "call 0x100000000",
        "r0 = *(u8 *)skb[r1 + 0x100000000]",
        "r1 = 0x10000000000000000 ll",
        "r1 = addr_space_cast(r2, 0x10000, 0x1)",
    ],
)
def test_out_of_range_operands_are_refused(text: str) -> None:
    with pytest.raises(AsmError, match=r"does not fit|16-bit"):
        parse_line(text)


@pytest.mark.parametrize(
    ("text", "hex_bytes"),
    [
        ("goto -32768", "0500008000000000"),
        ("if r1 == -0x80000000 goto +32767", "1501ff7f00000080"),
        ("w1 = 0xffffffff", "b4010000ffffffff"),  # unsigned spelling of -1, as llvm-mc accepts
        ("r1 = -0x8000000000000000 ll", "18010000000000000000000000000080"),
        ("r1 = 0xffffffffffffffff ll", "18010000ffffffff00000000ffffffff"),
    ],
)
def test_edges_that_fit(text: str, hex_bytes: str) -> None:
    insn = parse_line(text)
    assert isinstance(insn, Insn)
    assert insn.encode().hex() == hex_bytes
