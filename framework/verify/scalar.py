"""The verifier's scalar domain: a tnum plus signed/unsigned 64- and 32-bit ranges (Linux 6.18).

`Scalar` is the numeric part of `struct bpf_reg_state` for a SCALAR_VALUE. The
transfer functions mirror kernel/bpf/verifier.c of Linux 6.18: each private
helper names the kernel function it re-expresses. Internally a small mutable
`RegBounds` stands in for the C struct so that the in-place kernel code can be
followed line by line; the public API only hands out frozen `Scalar`s.

Integers follow C: unsigned fields are kept in [0, 2**n), signed fields in
[-2**(n-1), 2**(n-1)), and every assignment wraps as the C type would.
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.isa.opcodes import JSET
from framework.verify.tnum import U32, U64, Tnum

S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1
S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1
S16_MIN, S16_MAX = -(1 << 15), (1 << 15) - 1
S8_MIN, S8_MAX = -(1 << 7), (1 << 7) - 1

# kernel: rev_opcode's private encoding of "BPF_JSET is false"
JSET_FALSE = JSET | 0x08


def u64(x: int) -> int:
    return x & U64


def s64(x: int) -> int:
    x &= U64
    return x - (1 << 64) if x >> 63 else x


def u32(x: int) -> int:
    return x & U32


def s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x >> 31 else x


def sext(x: int, bits: int) -> int:
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


@dataclass(frozen=True, slots=True)
class Scalar:
    """A SCALAR_VALUE register's bounds: var_off and the eight range fields of bpf_reg_state."""

    var_off: Tnum
    smin: int
    smax: int
    umin: int
    umax: int
    s32_min: int
    s32_max: int
    u32_min: int
    u32_max: int

    @staticmethod
    def unknown() -> Scalar:
        # kernel: __mark_reg_unknown (var_off = tnum_unknown, __mark_reg_unbounded)
        return RegBounds.unbounded(Tnum.unknown()).freeze()

    @staticmethod
    def const(value: int) -> Scalar:
        # kernel: ___mark_reg_known
        r = RegBounds.unbounded(Tnum.unknown())
        r.mark_known(value)
        return r.freeze()

    @staticmethod
    def unknown32() -> Scalar:
        """Any zero-extended 32-bit value (what a 32-bit ALU op or a u32 load yields)."""
        r = RegBounds.unbounded(Tnum.unknown())
        zext_32_to_64(r)
        reg_bounds_sync(r)
        return r.freeze()

    @staticmethod
    def from_bounds(
        var_off: Tnum | None = None,
        *,
        smin: int = S64_MIN,
        smax: int = S64_MAX,
        umin: int = 0,
        umax: int = U64,
        s32_min: int = S32_MIN,
        s32_max: int = S32_MAX,
        u32_min: int = 0,
        u32_max: int = U32,
    ) -> Scalar:
        """The scalar constrained by all the given facts, after reg_bounds_sync."""
        r = RegBounds(var_off or Tnum.unknown(), smin, smax, umin, umax, s32_min, s32_max, u32_min, u32_max)
        reg_bounds_sync(r)
        return r.freeze()

    @property
    def is_const(self) -> bool:
        return self.var_off.is_const

    def contains(self, x: int) -> bool:
        """Whether the concrete 64-bit value `x` satisfies every field."""
        x = u64(x)
        lo = x & U32
        return (
            self.var_off.contains(x)
            and self.smin <= s64(x) <= self.smax
            and self.umin <= x <= self.umax
            and self.s32_min <= s32(lo) <= self.s32_max
            and self.u32_min <= lo <= self.u32_max
        )

    def sync(self) -> Scalar:
        # kernel: reg_bounds_sync
        r = RegBounds.of(self)
        reg_bounds_sync(r)
        return r.freeze()

    def zext32(self) -> Scalar:
        # kernel: zext_32_to_64 followed by reg_bounds_sync
        r = RegBounds.of(self)
        zext_32_to_64(r)
        reg_bounds_sync(r)
        return r.freeze()

    def render(self, *, precise: bool = False, reg_id: int = 0) -> str:
        """The register as print_reg_state writes it in the verifier log."""
        return render(self, precise=precise, reg_id=reg_id)

    def __str__(self) -> str:
        return render(self)


class RegBounds:
    """A mutable stand-in for struct bpf_reg_state's numeric fields (private)."""

    __slots__ = ("s32_max", "s32_min", "smax", "smin", "u32_max", "u32_min", "umax", "umin", "var_off")

    def __init__(
        self, var_off: Tnum, smin: int, smax: int, umin: int, umax: int, s32_min: int, s32_max: int, u32_min: int,
        u32_max: int,
    ) -> None:  # fmt: skip
        self.var_off = var_off
        self.smin, self.smax = s64(smin), s64(smax)
        self.umin, self.umax = u64(umin), u64(umax)
        self.s32_min, self.s32_max = s32(s32_min), s32(s32_max)
        self.u32_min, self.u32_max = u32(u32_min), u32(u32_max)

    @staticmethod
    def unbounded(var_off: Tnum) -> RegBounds:
        return RegBounds(var_off, S64_MIN, S64_MAX, 0, U64, S32_MIN, S32_MAX, 0, U32)

    @staticmethod
    def of(s: Scalar) -> RegBounds:
        return RegBounds(s.var_off, s.smin, s.smax, s.umin, s.umax, s.s32_min, s.s32_max, s.u32_min, s.u32_max)

    def copy(self) -> RegBounds:
        return RegBounds(
            self.var_off, self.smin, self.smax, self.umin, self.umax, self.s32_min, self.s32_max, self.u32_min,
            self.u32_max,
        )  # fmt: skip

    def freeze(self) -> Scalar:
        return Scalar(
            self.var_off, self.smin, self.smax, self.umin, self.umax, self.s32_min, self.s32_max, self.u32_min,
            self.u32_max,
        )  # fmt: skip

    def mark_known(self, imm: int) -> None:
        # kernel: ___mark_reg_known
        self.var_off = Tnum.const(imm)
        self.smin = self.smax = s64(imm)
        self.umin = self.umax = u64(imm)
        self.s32_min = self.s32_max = s32(imm)
        self.u32_min = self.u32_max = u32(imm)

    def mark_known32(self, imm: int) -> None:
        # kernel: __mark_reg32_known
        self.var_off = self.var_off.const_subreg(imm)
        self.s32_min = self.s32_max = s32(imm)
        self.u32_min = self.u32_max = u32(imm)

    def mark_unbounded(self) -> None:
        # kernel: __mark_reg_unbounded
        self.mark64_unbounded()
        self.mark32_unbounded()

    def mark64_unbounded(self) -> None:
        # kernel: __mark_reg64_unbounded
        self.smin, self.smax, self.umin, self.umax = S64_MIN, S64_MAX, 0, U64

    def mark32_unbounded(self) -> None:
        # kernel: __mark_reg32_unbounded
        self.s32_min, self.s32_max, self.u32_min, self.u32_max = S32_MIN, S32_MAX, 0, U32

    def mark_unknown(self) -> None:
        # kernel: __mark_reg_unknown (the numeric part)
        self.var_off = Tnum.unknown()
        self.mark_unbounded()


# ---------------------------------------------------------------------------
# bounds synchronisation
# ---------------------------------------------------------------------------


def update_reg32_bounds(r: RegBounds) -> None:
    # kernel: __update_reg32_bounds
    v = r.var_off.subreg()
    r.s32_min = max(r.s32_min, s32(v.value | (v.mask & 0x80000000)))
    r.s32_max = min(r.s32_max, s32(v.value | (v.mask & 0x7FFFFFFF)))
    r.u32_min = max(r.u32_min, v.value)
    r.u32_max = min(r.u32_max, v.value | v.mask)


def _update_reg64_bounds(r: RegBounds) -> None:
    # kernel: __update_reg64_bounds (6.18: no tnum_step single-value refinement yet)
    v = r.var_off
    r.smin = max(r.smin, s64(v.value | (v.mask & (1 << 63))))
    r.smax = min(r.smax, s64(v.value | (v.mask & S64_MAX)))
    r.umin = max(r.umin, v.value)
    r.umax = min(r.umax, v.value | v.mask)


def update_reg_bounds(r: RegBounds) -> None:
    # kernel: __update_reg_bounds
    update_reg32_bounds(r)
    _update_reg64_bounds(r)


def _reg32_deduce_bounds(r: RegBounds) -> None:
    # kernel: __reg32_deduce_bounds
    if (r.umin >> 32) == (r.umax >> 32):
        r.u32_min = max(r.u32_min, u32(r.umin))
        r.u32_max = min(r.u32_max, u32(r.umax))
        if s32(r.umin) <= s32(r.umax):
            r.s32_min = max(r.s32_min, s32(r.umin))
            r.s32_max = min(r.s32_max, s32(r.umax))
    if (r.smin >> 32) == (r.smax >> 32):
        if u32(r.smin) <= u32(r.smax):
            r.u32_min = max(r.u32_min, u32(r.smin))
            r.u32_max = min(r.u32_max, u32(r.smax))
        if s32(r.smin) <= s32(r.smax):
            r.s32_min = max(r.s32_min, s32(r.smin))
            r.s32_max = min(r.s32_max, s32(r.smax))
    if u32((r.umin >> 32) + 1) == u32(r.umax >> 32) and s32(r.umin) < 0 and s32(r.umax) >= 0:
        r.s32_min = max(r.s32_min, s32(r.umin))
        r.s32_max = min(r.s32_max, s32(r.umax))
    if u32((r.smin >> 32) + 1) == u32(r.smax >> 32) and s32(r.smin) < 0 and s32(r.smax) >= 0:
        r.s32_min = max(r.s32_min, s32(r.smin))
        r.s32_max = min(r.s32_max, s32(r.smax))
    if s32(r.u32_min) <= s32(r.u32_max):
        r.s32_min = max(r.s32_min, s32(r.u32_min))
        r.s32_max = min(r.s32_max, s32(r.u32_max))
    if u32(r.s32_min) <= u32(r.s32_max):
        r.u32_min = max(u32(r.s32_min), r.u32_min)
        r.u32_max = min(u32(r.s32_max), r.u32_max)
    elif r.u32_max < u32(r.s32_min):
        # u32 range overlaps only the non-negative part of the s32 range
        r.s32_min = s32(r.u32_min)
        r.u32_max = min(r.u32_max, u32(r.s32_max))
    elif u32(r.s32_max) < r.u32_min:
        # u32 range overlaps only the negative part of the s32 range
        r.s32_max = s32(r.u32_max)
        r.u32_min = max(r.u32_min, u32(r.s32_min))


def _reg64_deduce_bounds(r: RegBounds) -> None:
    # kernel: __reg64_deduce_bounds
    if s64(r.umin) <= s64(r.umax):
        r.smin = max(r.smin, s64(r.umin))
        r.smax = min(r.smax, s64(r.umax))
    if u64(r.smin) <= u64(r.smax):
        r.umin = max(u64(r.smin), r.umin)
        r.umax = min(u64(r.smax), r.umax)
    elif r.umax < u64(r.smin):
        r.smin = s64(r.umin)
        r.umax = min(r.umax, u64(r.smax))
    elif u64(r.smax) < r.umin:
        r.smax = s64(r.umax)
        r.umin = max(r.umin, u64(r.smin))


def _reg_deduce_mixed_bounds(r: RegBounds) -> None:
    # kernel: __reg_deduce_mixed_bounds
    hi = U64 & ~U32
    r.umin = max(r.umin, (r.umin & hi) | r.u32_min)
    r.umax = min(r.umax, (r.umax & hi) | r.u32_max)
    r.smin = max(r.smin, s64((u64(r.smin) & hi) | r.u32_min))
    r.smax = min(r.smax, s64((u64(r.smax) & hi) | r.u32_max))
    if r.s32_min >= 0 and r.smin >= S32_MIN and r.smax <= S32_MAX:
        r.smin, r.smax = r.s32_min, r.s32_max
        r.umin, r.umax = r.s32_min, r.s32_max
        r.var_off = r.var_off.intersect(Tnum.range(r.smin, r.smax))


def _reg_deduce_bounds(r: RegBounds) -> None:
    # kernel: __reg_deduce_bounds
    _reg32_deduce_bounds(r)
    _reg64_deduce_bounds(r)
    _reg_deduce_mixed_bounds(r)


def _reg_bound_offset(r: RegBounds) -> None:
    # kernel: __reg_bound_offset
    var64 = r.var_off.intersect(Tnum.range(r.umin, r.umax))
    var32 = var64.subreg().intersect(Tnum.range(r.u32_min, r.u32_max))
    r.var_off = var64.clear_subreg().or_(var32)


def reg_bounds_sync(r: RegBounds) -> None:
    # kernel: reg_bounds_sync (6.18: three rounds of __reg_deduce_bounds)
    update_reg_bounds(r)
    _reg_deduce_bounds(r)
    _reg_deduce_bounds(r)
    _reg_deduce_bounds(r)
    _reg_bound_offset(r)
    update_reg_bounds(r)


def reg_bounds_sanity_check(r: RegBounds) -> bool:
    # kernel: reg_bounds_sanity_check (outside selftests a violation only forgets the ranges)
    bad = r.umin > r.umax or r.smin > r.smax or r.u32_min > r.u32_max or r.s32_min > r.s32_max
    if not bad and r.var_off.is_const:
        v = r.var_off.value
        bad = r.umin != v or r.umax != v or r.smin != s64(v) or r.smax != s64(v)
    if not bad and r.var_off.subreg_is_const:
        v = r.var_off.value & U32
        bad = r.u32_min != v or r.u32_max != v or r.s32_min != s32(v) or r.s32_max != s32(v)
    if bad:
        r.mark_unbounded()
    return not bad


def _reg_assign_32_into_64(r: RegBounds) -> None:
    # kernel: __reg_assign_32_into_64
    r.umin, r.umax = r.u32_min, r.u32_max
    if r.s32_min >= 0 and r.s32_max >= 0:  # kernel: __reg32_bound_s64
        r.smin, r.smax = r.s32_min, r.s32_max
    else:
        r.smin, r.smax = 0, U32


def zext_32_to_64(r: RegBounds) -> None:
    # kernel: zext_32_to_64
    r.var_off = r.var_off.subreg()
    _reg_assign_32_into_64(r)


# ---------------------------------------------------------------------------
# verifier log rendering (kernel/bpf/log.c)
# ---------------------------------------------------------------------------

SNUM_MIN_DECIMAL, SNUM_MAX_DECIMAL = S16_MIN, S16_MAX  # kernel/bpf/log.c
UNUM_MAX_DECIMAL = 0xFFFF


def _unum(x: int) -> str:
    # kernel: verbose_unum
    return str(x) if x <= UNUM_MAX_DECIMAL else f"{x:#x}"


def _snum(x: int) -> str:
    # kernel: verbose_snum (hex is printed from the u64 bit pattern)
    x = s64(x)
    return str(x) if SNUM_MIN_DECIMAL <= x <= SNUM_MAX_DECIMAL else f"{u64(x):#x}"


def _scalar_ranges(s: Scalar) -> list[str]:
    # kernel: print_scalar_ranges
    def s32_field(v: int) -> int:
        return u64(v) if SNUM_MIN_DECIMAL <= v <= SNUM_MAX_DECIMAL else u32(v)

    fields = [
        ["smin", u64(s.smin), s.smin == S64_MIN],
        ["smax", u64(s.smax), s.smax == S64_MAX],
        ["umin", s.umin, s.umin == 0],
        ["umax", s.umax, s.umax == U64],
        ["smin32", s32_field(s.s32_min), s.s32_min == S32_MIN],
        ["smax32", s32_field(s.s32_max), s.s32_max == S32_MAX],
        ["umin32", s.u32_min, s.u32_min == 0],
        ["umax32", s.u32_max, s.u32_max == U32],
    ]
    out: list[str] = []
    for i, (name1, val1, omit1) in enumerate(fields):
        if omit1:
            continue
        assert isinstance(name1, str) and isinstance(val1, int)
        neg1 = name1[0] == "s" and s64(val1) < 0
        names = [name1]
        for m2 in fields[i + 2 :: 2]:
            name2, val2, omit2 = m2
            if omit2 or val2 != val1:
                continue
            assert isinstance(name2, str) and isinstance(val2, int)
            if (name2[0] == "s" and s64(val2) < 0) != neg1:
                continue
            m2[2] = True
            names.append(name2)
        text = _snum(val1) if name1[0] == "s" else _unum(val1)
        out.append("=".join([*names, text]))
    return out


def render(s: Scalar, *, precise: bool = False, reg_id: int = 0) -> str:
    """A scalar register as print_reg_state prints it: `P1`, `-3`, `scalar()`, `scalar(smin=...)`."""
    # kernel: print_reg_state (the SCALAR_VALUE paths)
    prefix = "P" if precise else ""
    if s.var_off.is_const:
        return prefix + _snum(s.var_off.value)
    parts: list[str] = []
    if reg_id:
        parts.append(f"id={reg_id}")
    parts.extend(_scalar_ranges(s))
    if not s.var_off.is_unknown:
        parts.append(f"var_off={s.var_off.strn()}")
    return f"{prefix}scalar({','.join(parts)})"
