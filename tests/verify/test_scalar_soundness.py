"""Property-based soundness of the scalar domain against concrete BPF semantics.

For concrete values x in A and y in B: every ALU result is contained in the
abstract result, branch_taken never contradicts the concrete comparison, and
refine never drops a concrete pair from the edge that pair takes.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from framework.isa.opcodes import (
    ADD,
    AND,
    ARSH,
    DIV,
    END,
    JEQ,
    JGE,
    JGT,
    JLE,
    JLT,
    JNE,
    JSET,
    JSGE,
    JSGT,
    JSLE,
    JSLT,
    LSH,
    MOD,
    MOV,
    MUL,
    NEG,
    OR,
    RSH,
    SUB,
    XOR,
)
from framework.verify import arith, branches
from framework.verify.scalar import Scalar

from . import concrete
from .strategies import related_pairs, scalars_containing, u64s, value_and_scalar

# raise for a soak run: BAKEOFF_HYPOTHESIS_EXAMPLES=5000 pytest tests/verify
EXAMPLES = int(os.environ.get("BAKEOFF_HYPOTHESIS_EXAMPLES", "200"))
BINARY = [ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, MOD, XOR, ARSH]
JUMPS = [JEQ, JNE, JGT, JGE, JLT, JLE, JSGT, JSGE, JSLT, JSLE, JSET]

Pair = tuple[tuple[int, Scalar], tuple[int, Scalar]]


@pytest.mark.parametrize("is64", [True, False])
@pytest.mark.parametrize("op", BINARY)
@settings(max_examples=EXAMPLES)
@given(st.sampled_from([0, 1]), related_pairs())
def test_binary_alu_is_sound(op: int, is64: bool, off: int, pair: Pair) -> None:
    (x, sa), (y, sb) = pair
    off = off if op in (DIV, MOD) else 0
    result = arith.alu(op, sa, sb, is64, off=off)
    assert result.contains(concrete.alu(op, x, y, is64, off=off)), (sa, sb, result)


@settings(max_examples=EXAMPLES)
@given(st.sampled_from([LSH, RSH, ARSH]), st.booleans(), value_and_scalar(), st.integers(0, 63))
def test_shift_by_constant_is_sound(op: int, is64: bool, a: tuple[int, Scalar], k: int) -> None:
    x, sa = a
    k = k if is64 else k % 32
    result = arith.alu(op, sa, Scalar.const(k), is64)
    assert result.contains(concrete.alu(op, x, k, is64))


@settings(max_examples=EXAMPLES)
@given(st.booleans(), value_and_scalar())
def test_neg_is_sound(is64: bool, a: tuple[int, Scalar]) -> None:
    x, sa = a
    assert arith.alu(NEG, sa, None, is64).contains(concrete.alu(NEG, x, 0, is64))


@settings(max_examples=EXAMPLES)
@given(st.booleans(), st.sampled_from([0, 8, 16, 32]), value_and_scalar())
def test_mov_and_movsx_are_sound(is64: bool, width: int, a: tuple[int, Scalar]) -> None:
    y, sb = a
    if not is64 and width == 32:
        width = 0
    result = arith.alu(MOV, Scalar.unknown(), sb, is64, off=width)
    assert result.contains(concrete.alu(MOV, 0, y, is64, off=width))


@settings(max_examples=EXAMPLES)
@given(st.booleans(), u64s)
def test_mov_imm_is_sound(is64: bool, imm: int) -> None:
    imm = concrete.sext(imm, 32)
    assert arith.mov_imm(imm, is64).contains(concrete.alu(MOV, 0, imm, is64))


@settings(max_examples=EXAMPLES)
@given(st.sampled_from([16, 32, 64]), st.booleans(), st.booleans(), value_and_scalar())
def test_byte_swaps_are_sound(width: int, to_be: bool, is64: bool, a: tuple[int, Scalar]) -> None:
    x, sa = a
    result = arith.alu(END, sa, None, is64, off=int(to_be), imm=width)
    assert result.contains(concrete.byte_swap(x, width, to_be=to_be, is64=is64))


@settings(max_examples=EXAMPLES)
@given(value_and_scalar())
def test_sync_and_zext_keep_members(a: tuple[int, Scalar]) -> None:
    x, sa = a
    assert sa.contains(x)
    assert sa.sync().contains(x)
    assert sa.zext32().contains(x & concrete.U32)


@pytest.mark.parametrize("jmp32", [False, True])
@pytest.mark.parametrize("op", JUMPS)
@settings(max_examples=EXAMPLES)
@given(related_pairs())
def test_branch_taken_never_contradicts(op: int, jmp32: bool, pair: Pair) -> None:
    (x, sa), (y, sb) = pair
    pred = branches.branch_taken(op, sa, sb, jmp32)
    if pred is not None:
        assert pred == concrete.jmp(op, x, y, jmp32)


@pytest.mark.parametrize("jmp32", [False, True])
@pytest.mark.parametrize("op", JUMPS)
@settings(max_examples=EXAMPLES)
@given(related_pairs())
def test_refine_keeps_the_concrete_pair(op: int, jmp32: bool, pair: Pair) -> None:
    (x, sa), (y, sb) = pair
    taken, fallthrough = branches.refine(op, sa, sb, jmp32)
    edge = taken if concrete.jmp(op, x, y, jmp32) else fallthrough
    assert edge is not None
    assert edge[0].contains(x) and edge[1].contains(y), (sa, sb, edge)


@settings(max_examples=EXAMPLES)
@given(st.sampled_from(JUMPS), st.booleans(), value_and_scalar())
def test_same_register_comparisons(op: int, jmp32: bool, a: tuple[int, Scalar]) -> None:
    x, sa = a
    truth = concrete.jmp(op, x, x, jmp32)
    pred = branches.branch_taken(op, sa, sa, jmp32, same_reg=True)
    if pred is not None:
        assert pred == truth
    taken, fallthrough = branches.refine(op, sa, sa, jmp32, same_reg=True)
    edge = taken if truth else fallthrough
    assert edge is not None and edge[0].contains(x)


@settings(max_examples=EXAMPLES)
@given(st.sampled_from(JUMPS), st.booleans(), value_and_scalar(), u64s)
def test_refine_against_an_immediate(op: int, jmp32: bool, a: tuple[int, Scalar], imm: int) -> None:
    # the kernel's BPF_K operand: a known register holding the sign-extended imm
    x, sa = a
    y = concrete.sext(imm, 32) & concrete.U64
    taken, fallthrough = branches.refine(op, sa, Scalar.const(y), jmp32)
    edge = taken if concrete.jmp(op, x, y, jmp32) else fallthrough
    assert edge is not None and edge[0].contains(x)


@settings(max_examples=EXAMPLES)
@given(u64s.flatmap(lambda x: st.tuples(st.just(x), scalars_containing(x))))
def test_render_is_total(a: tuple[int, Scalar]) -> None:
    text = a[1].render()
    assert text.startswith("scalar(") or a[1].is_const
