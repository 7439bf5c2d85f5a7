"""Exact results and log text for scenarios taken from Linux verifier logs and selftests (rewritten)."""

from __future__ import annotations

import pytest

from framework.isa.opcodes import ADD, AND, ARSH, DIV, END, JGE, JGT, JLT, JNE, JSET, JSGT, LSH, MOD, MUL, RSH, SUB
from framework.verify import arith, branches
from framework.verify.scalar import Scalar, render
from framework.verify.tnum import Tnum

UNKNOWN = Scalar.unknown()
U8 = Scalar.from_bounds(umax=255)  # what `r1 = *(u8 *)(...)` yields


def k(value: int) -> Scalar:
    """A BPF_K operand: the sign-extended immediate as a known register."""
    return Scalar.const(value)


def test_and_with_mask() -> None:
    # r0 &= 0xff on an unknown scalar
    r0 = arith.alu(AND, UNKNOWN, k(0xFF), True)
    assert (r0.umin, r0.umax, r0.smin, r0.smax) == (0, 255, 0, 255)
    assert r0.var_off == Tnum(0, 0xFF)
    assert render(r0) == "scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))"


def test_jgt_fall_through_bounds_umax() -> None:
    # if r0 > 10 goto ...: the fall-through knows r0 <= 10, the jump r0 >= 11
    taken, fallthrough = branches.refine(JGT, UNKNOWN, k(10), False)
    assert taken is not None and fallthrough is not None
    assert fallthrough[0].umax == 10 and fallthrough[0].var_off == Tnum(0, 0xF)
    assert render(fallthrough[0]) == "scalar(smin=smin32=0,smax=umax=smax32=umax32=10,var_off=(0x0; 0xf))"
    assert render(taken[0]) == "scalar(umin=11)"


def test_decided_branches_drop_the_other_edge() -> None:
    assert branches.branch_taken(JGT, U8, k(255), False) is False
    assert branches.refine(JGT, U8, k(255), False) == (None, (U8, k(255)))
    assert branches.branch_taken(JLT, U8, k(256), False) is True
    assert branches.refine(JLT, U8, k(256), False)[1] is None
    # jmp32 looks at the subregister only
    hi = Scalar.const(0x1_0000_0005)
    assert branches.branch_taken(JGT, hi, k(10), True) is False
    assert branches.branch_taken(JGT, hi, k(10), False) is True


def test_32bit_ops_zero_extend() -> None:
    # w0 += 1 on an unknown register: the result is a zero-extended u32
    w0 = arith.alu(ADD, UNKNOWN, k(1), False)
    assert (w0.umin, w0.umax, w0.smin, w0.smax) == (0, 0xFFFFFFFF, 0, 0xFFFFFFFF)
    assert render(w0) == "scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))"
    # w1 = w0 (mov32) prints the same way in the kernel's log
    assert render(arith.mov(UNKNOWN, False)) == render(w0)
    # w0 = -1 is 0xffffffff, r0 = -1 is -1
    assert arith.mov_imm(-1, False) == Scalar.const(0xFFFFFFFF)
    assert render(arith.mov_imm(-1, True)) == "-1"


def test_usdt_sign_extension_sequence() -> None:
    # a u8 load, then <<= 56, s>>= 56, <<= 32, >>= 32 (libbpf usdt.bpf.h, as logged by the kernel)
    r1 = arith.alu(LSH, U8, k(56), True)
    assert render(r1) == (
        "scalar(smax=0x7f00000000000000,umax=0xff00000000000000,smin32=0,smax32=umax32=0,"
        "var_off=(0x0; 0xff00000000000000))"
    )
    r1 = arith.alu(ARSH, r1, k(56), True)
    assert render(r1) == "scalar(smin=smin32=-128,smax=smax32=127)"
    r1 = arith.alu(LSH, r1, k(32), True)
    assert render(r1) == (
        "scalar(smax=0x7f00000000,umax=0xffffffff00000000,smin32=0,smax32=umax32=0,var_off=(0x0; 0xffffffff00000000))"
    )
    r1 = arith.alu(RSH, r1, k(32), True)
    assert render(r1) == "scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))"


def test_movsx() -> None:
    # w6 = (s8)w0 and r0 = (s8)r0 on an unknown r0 (syzkaller reproducer log, bpf list, July 2025)
    w6 = arith.movsx(UNKNOWN, 8, False)
    assert render(w6) == "scalar(smin=0,smax=umax=0xffffffff,smin32=-128,smax32=127,var_off=(0x0; 0xffffffff))"
    r0 = arith.movsx(UNKNOWN, 8, True)
    assert render(r0) == "scalar(smin=smin32=-128,smax=smax32=127)"
    # a known source sign-extends exactly
    assert arith.movsx(k(0x80), 8, True) == Scalar.const(-128)
    assert arith.movsx(k(0xFFFF_8000), 16, False) == Scalar.const(0xFFFF_8000)
    # a range that does not cross the sign bit stays a range
    assert render(arith.movsx(Scalar.from_bounds(umin=0x80, umax=0xFF), 8, True)) == (
        "scalar(smin=smin32=-128,smax=smax32=-1,umin=0xffffffffffffff80,umin32=0xffffff80,"
        "var_off=(0xffffffffffffff80; 0x7f))"
    )


def test_bounds_deduction_cross_sign_boundary_two_overlaps() -> None:
    # verifier_bounds.c "bounds deduction cross sign boundary, two overlaps": r0 = (s8)r0; r1 = -128;
    # if r0 > r1: the fall-through keeps both s64 halves
    r0 = arith.movsx(UNKNOWN, 8, True)
    _, fallthrough = branches.refine(JGT, r0, k(-128), False)
    assert fallthrough is not None
    assert render(fallthrough[0]) == "scalar(smin=smin32=-128,smax=smax32=127,umax=0xffffffffffffff80)"


def test_jne_at_the_edge_of_a_range() -> None:
    # if r0 != 0 goto: the jump edge learns r0 >= 1 for r0 in [0, 255]
    taken, fallthrough = branches.refine(JNE, U8, k(0), False)
    assert taken is not None and fallthrough is not None
    assert (taken[0].umin, taken[0].umax) == (1, 255)
    assert fallthrough[0] == Scalar.const(0)


def test_jset_single_bit_and_its_negation() -> None:
    taken, fallthrough = branches.refine(JSET, U8, k(0x10), False)
    assert taken is not None and fallthrough is not None
    assert taken[0].var_off == Tnum(0x10, 0xEF) and taken[0].umin == 0x10
    assert fallthrough[0].var_off == Tnum(0, 0xEF) and fallthrough[0].umax == 0xEF


def test_jge_32bit_refines_only_the_subregister() -> None:
    taken, fallthrough = branches.refine(JGE, UNKNOWN, k(0x10), True)
    assert taken is not None and fallthrough is not None
    assert (fallthrough[0].u32_min, fallthrough[0].u32_max) == (0, 0xF)
    # __reg_deduce_mixed_bounds carries the u32 bound into the low half of umax
    assert fallthrough[0].umax == 0xFFFF_FFFF_0000_000F
    assert taken[0].u32_min == 0x10


def test_signed_compare() -> None:
    taken, fallthrough = branches.refine(JSGT, UNKNOWN, k(-5), False)
    assert taken is not None and fallthrough is not None
    assert taken[0].smin == -4 and fallthrough[0].smax == -5


def test_add_sub_mul_ranges() -> None:
    r = arith.alu(ADD, U8, k(10), True)
    assert (r.umin, r.umax) == (10, 265)
    r = arith.alu(SUB, U8, k(1), True)  # may wrap below zero: unsigned range lost, signed kept
    assert (r.smin, r.smax, r.umin, r.umax) == (-1, 254, 0, 2**64 - 1)
    r = arith.alu(MUL, U8, k(4), True)
    assert (r.umin, r.umax) == (0, 1020) and r.var_off == Tnum(0, 0x3FC)


def test_neg() -> None:
    r = arith.neg(U8, True)
    assert (r.smin, r.smax) == (-255, 0)
    assert render(arith.neg(k(5), True)) == "-5"
    w = arith.neg(k(5), False)
    assert w == Scalar.const(0xFFFF_FFFB)


@pytest.mark.parametrize("op", [DIV, MOD])
@pytest.mark.parametrize("is64", [True, False])
def test_div_and_mod_are_not_tracked(op: int, is64: bool) -> None:
    # 6.18's is_safe_to_compute_dst_reg_range refuses div/mod: the result is an unknown scalar
    assert arith.alu(op, k(100), k(7), is64) == UNKNOWN
    assert arith.alu(op, U8, k(7), is64, off=1) == UNKNOWN


def test_byte_swaps_are_not_tracked() -> None:
    assert arith.alu(END, k(0x1234), None, False, imm=16) == UNKNOWN
    assert arith.byte_swap(U8, 64, is64=True) == UNKNOWN


def test_shift_by_unknown_amount_is_unknown() -> None:
    assert arith.alu(LSH, U8, U8, True) == UNKNOWN
    assert arith.alu(RSH, U8, k(64), True) == UNKNOWN


def test_same_register_comparisons() -> None:
    assert branches.branch_taken(JGE, U8, U8, False, same_reg=True) is True
    assert branches.branch_taken(JNE, U8, U8, False, same_reg=True) is False
    assert branches.branch_taken(JSET, U8, U8, False, same_reg=True) is None
    assert branches.branch_taken(JSET, arith.alu(ADD, U8, k(1), True), U8, False, same_reg=True) is True


def test_render_constants_and_precision() -> None:
    assert render(k(1), precise=True) == "P1"
    assert render(k(1)) == "1"
    assert render(k(-1)) == "-1"
    assert render(k(32767)) == "32767"
    assert render(k(32768)) == "0x8000"
    assert render(k(-32769)) == "0xffffffffffff7fff"
    assert render(UNKNOWN) == "scalar()"
    assert render(UNKNOWN, precise=True) == "Pscalar()"
    assert render(U8, reg_id=3).startswith("scalar(id=3,smin=smin32=0,")


def test_render_merges_equal_fields_without_mixing_signs() -> None:
    neg = Scalar.from_bounds(smin=-3, smax=-1)
    assert render(neg) == (
        "scalar(smin=smin32=-3,smax=smax32=-1,umin=0xfffffffffffffffd,umin32=0xfffffffd,"
        "var_off=(0xfffffffffffffffc; 0x3))"
    )
    big = Scalar.from_bounds(umin=0x8000_0000, umax=0xFFFF_FFFF)
    assert render(big) == (
        "scalar(smin=umin=umin32=0x80000000,smax=umax=0xffffffff,smax32=-1,var_off=(0x80000000; 0x7fffffff))"
    )
    # an s32 bound printed in hex is the u32 pattern, so it merges with the u32 bound
    sub = Scalar.from_bounds(u32_min=0x10000, u32_max=0x20000)
    assert render(sub) == (
        "scalar(smin=0x8000000000010000,smax=0x7fffffff00020000,umin=smin32=umin32=0x10000,"
        "umax=0xffffffff00020000,smax32=umax32=0x20000,var_off=(0x0; 0xffffffff0003ffff))"
    )
