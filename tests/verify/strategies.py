"""Hypothesis strategies: concrete u64 values and abstract scalars/tnums that contain them."""

from __future__ import annotations

from hypothesis import strategies as st

from framework.verify.scalar import S32_MAX, S32_MIN, S64_MAX, S64_MIN, Scalar, s32, s64
from framework.verify.tnum import Tnum

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1

_EDGES = [0, 1, 2, 3, 7, 8, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32]
_EDGES += [(1 << 32) + 1, 0x7FFFFFFFFFFFFFFF, 1 << 63, U64, U64 - 1, U64 - 0xFF, 0xFFFFFFFF80000000]

u64s = st.one_of(
    st.sampled_from(_EDGES),
    st.integers(0, 0xFF),
    st.integers(0, U32),
    st.integers(0, U64),
    st.integers(-0x1000, 0x1000).map(lambda v: v & U64),
    st.integers(-(1 << 31), (1 << 31) - 1).map(lambda v: v & U64),
)

# how far a bound is pushed away from the concrete value
_spread = st.one_of(st.just(0), st.integers(0, 16), st.integers(0, 1 << 16), st.integers(0, 1 << 40), st.just(None))

_masks = st.one_of(
    st.just(0),
    st.just(U64),
    st.just(U32),
    st.integers(0, 64).map(lambda k: (1 << k) - 1),
    st.integers(0, U64),
    st.integers(0, 0xFF),
)


@st.composite
def tnums_containing(draw: st.DrawFn, x: int) -> Tnum:
    mask = draw(_masks)
    return Tnum(x & ~mask & U64, mask)


def _widen(draw: st.DrawFn, v: int, lo: int, hi: int) -> tuple[int, int]:
    a, b = draw(_spread), draw(_spread)
    return (lo if a is None else max(lo, v - a)), (hi if b is None else min(hi, v + b))


@st.composite
def scalars_containing(draw: st.DrawFn, x: int) -> Scalar:
    """A random abstract scalar built from x by widening each field independently, then synced."""
    kind = draw(st.sampled_from(["const", "unknown", "unknown32", "widened", "widened", "widened"]))
    if kind == "const":
        return Scalar.const(x)
    if kind == "unknown":
        return Scalar.unknown()
    if kind == "unknown32":
        return Scalar.unknown32() if x <= U32 else Scalar.unknown()
    lo32 = x & U32
    umin, umax = _widen(draw, x, 0, U64)
    smin, smax = _widen(draw, s64(x), S64_MIN, S64_MAX)
    u32_min, u32_max = _widen(draw, lo32, 0, U32)
    s32_min, s32_max = _widen(draw, s32(lo32), S32_MIN, S32_MAX)
    return Scalar.from_bounds(
        draw(tnums_containing(x)),
        smin=smin,
        smax=smax,
        umin=umin,
        umax=umax,
        s32_min=s32_min,
        s32_max=s32_max,
        u32_min=u32_min,
        u32_max=u32_max,
    )


@st.composite
def value_and_scalar(draw: st.DrawFn) -> tuple[int, Scalar]:
    x = draw(u64s)
    return x, draw(scalars_containing(x))


@st.composite
def related_pairs(draw: st.DrawFn) -> tuple[tuple[int, Scalar], tuple[int, Scalar]]:
    """Two (value, scalar) pairs whose values are often equal or adjacent (in 64 or 32 bits)."""
    x = draw(u64s)
    how = draw(st.sampled_from(["independent", "near", "near", "near32"]))
    if how == "independent":
        y = draw(u64s)
    elif how == "near":
        y = (x + draw(st.integers(-2, 2))) & U64
    else:
        y = (draw(u64s) & ~U32) | ((x + draw(st.integers(-2, 2))) & U32)
    return (x, draw(scalars_containing(x))), (y, draw(scalars_containing(y)))
