"""tnum: soundness of every operation on random members, and the kernel's exact results and printing."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from framework.verify.tnum import U32, U64, Tnum

from .concrete import sext
from .strategies import tnums_containing, u64s

# raise for a soak run: BAKEOFF_HYPOTHESIS_EXAMPLES=5000 pytest tests/verify
EXAMPLES = int(os.environ.get("BAKEOFF_HYPOTHESIS_EXAMPLES", "400"))


@st.composite
def member(draw: st.DrawFn) -> tuple[int, Tnum]:
    x = draw(u64s)
    return x, draw(tnums_containing(x))


@settings(max_examples=EXAMPLES)
@given(member(), member())
def test_binary_ops_are_sound(a: tuple[int, Tnum], b: tuple[int, Tnum]) -> None:
    (x, ta), (y, tb) = a, b
    assert ta.add(tb).contains(x + y)
    assert ta.sub(tb).contains(x - y)
    assert ta.mul(tb).contains(x * y)
    assert ta.and_(tb).contains(x & y)
    assert ta.or_(tb).contains(x | y)
    assert ta.xor(tb).contains(x ^ y)
    assert ta.union(tb).contains(x) and ta.union(tb).contains(y)
    if ta.contains(y):
        assert ta.intersect(tb).contains(y)


@settings(max_examples=EXAMPLES)
@given(member(), st.integers(0, 63))
def test_unary_ops_are_sound(a: tuple[int, Tnum], k: int) -> None:
    x, t = a
    assert t.neg().contains(-x)
    assert t.lshift(k).contains(x << k)
    assert t.rshift(k).contains(x >> k)
    assert t.arshift(k, 64).contains(sext(x, 64) >> k)
    assert t.arshift(k % 32, 32).contains((sext(x, 32) >> (k % 32)) & U32)
    for size in (1, 2, 4, 8):
        assert t.cast(size).contains(x & ((1 << (8 * size)) - 1))
    assert t.subreg().contains(x & U32)
    assert t.clear_subreg().contains(x & ~U32)
    assert t.includes(Tnum.const(x))


@settings(max_examples=EXAMPLES)
@given(u64s, u64s)
def test_range_contains_its_bounds(lo: int, hi: int) -> None:
    lo, hi = min(lo, hi), max(lo, hi)
    t = Tnum.range(lo, hi)
    assert t.contains(lo) and t.contains(hi) and t.contains((lo + hi) // 2)


def test_range_is_a_superset() -> None:
    # include/linux/tnum.h: tnum_in(tnum_range(0, 2), tnum_const(3)) == true
    assert Tnum.range(0, 2).includes(Tnum.const(3))
    assert Tnum.range(0, 2) == Tnum(0, 3)
    assert Tnum.range(0, U64).is_unknown
    assert Tnum.range(5, 5) == Tnum.const(5)


def test_mul_uses_the_union_of_partial_products() -> None:
    # kernel/bpf/tnum.c (6.18) comment: 11 * x1 -> union(0011, 1001) == x0x1
    assert Tnum(1, 2).mul(Tnum.const(3)) == Tnum(0b0001, 0b1010)


def test_intersect_union_and_subreg_helpers() -> None:
    assert Tnum(0, 0xF0).intersect(Tnum(0x05, 0x3C)) == Tnum(0x05, 0x30)
    assert Tnum.const(0b1010).union(Tnum.const(0b0011)) == Tnum(0b0010, 0b1001)
    reg = Tnum(0x1_0000_0000, 0xFFFF_FFFF)
    assert reg.const_subreg(7) == Tnum.const(0x1_0000_0007)
    assert reg.with_subreg(Tnum(0, 0xF)) == Tnum(0x1_0000_0000, 0xF)
    assert Tnum(0x8, 0x0).is_aligned(8) and not Tnum(0x8, 0x4).is_aligned(8)
    assert Tnum(0xFFFF_FFFF_0000_0000, 0).subreg_is_const


def test_printing() -> None:
    assert Tnum(0, 0xFF).strn() == "(0x0; 0xff)"
    assert Tnum(0x100, 0xFF).strn() == "(0x100; 0xff)"
    assert Tnum.const(5).strn() == "5"
    assert Tnum.const(0x10000).strn() == "0x10000"
    assert Tnum(0b100, 0b011).sbin() == "0" * 61 + "1xx"
    assert len(Tnum.unknown().sbin()) == 64 and set(Tnum.unknown().sbin()) == {"x"}
