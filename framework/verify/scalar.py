"""The verifier's scalar domain: a tnum plus signed/unsigned 64- and 32-bit ranges (Linux 6.18).

`Scalar` is the numeric part of `struct bpf_reg_state` for a SCALAR_VALUE. The
transfer functions mirror kernel/bpf/verifier.c of Linux 6.18: each private
helper names the kernel function it re-expresses. Internally a small mutable
`_Reg` stands in for the C struct so that the in-place kernel code can be
followed line by line; the public API only hands out frozen `Scalar`s.

Integers follow C: unsigned fields are kept in [0, 2**n), signed fields in
[-2**(n-1), 2**(n-1)), and every assignment wraps as the C type would.
"""

from __future__ import annotations

from dataclasses import dataclass

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
from framework.verify.tnum import U32, U64, Tnum

S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1
S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1
S16_MIN, S16_MAX = -(1 << 15), (1 << 15) - 1
S8_MIN, S8_MAX = -(1 << 7), (1 << 7) - 1

# kernel: rev_opcode's private encoding of "BPF_JSET is false"
_JSET_FALSE = JSET | 0x08


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


def _sext(x: int, bits: int) -> int:
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
        return _Reg.unbounded(Tnum.unknown()).freeze()

    @staticmethod
    def const(value: int) -> Scalar:
        # kernel: ___mark_reg_known
        r = _Reg.unbounded(Tnum.unknown())
        r.mark_known(value)
        return r.freeze()

    @staticmethod
    def unknown32() -> Scalar:
        """Any zero-extended 32-bit value (what a 32-bit ALU op or a u32 load yields)."""
        r = _Reg.unbounded(Tnum.unknown())
        _zext_32_to_64(r)
        _reg_bounds_sync(r)
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
        r = _Reg(var_off or Tnum.unknown(), smin, smax, umin, umax, s32_min, s32_max, u32_min, u32_max)
        _reg_bounds_sync(r)
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
        r = _Reg.of(self)
        _reg_bounds_sync(r)
        return r.freeze()

    def zext32(self) -> Scalar:
        # kernel: zext_32_to_64 followed by reg_bounds_sync
        r = _Reg.of(self)
        _zext_32_to_64(r)
        _reg_bounds_sync(r)
        return r.freeze()

    def render(self, *, precise: bool = False, reg_id: int = 0) -> str:
        """The register as print_reg_state writes it in the verifier log."""
        return render(self, precise=precise, reg_id=reg_id)

    def __str__(self) -> str:
        return render(self)


class _Reg:
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
    def unbounded(var_off: Tnum) -> _Reg:
        return _Reg(var_off, S64_MIN, S64_MAX, 0, U64, S32_MIN, S32_MAX, 0, U32)

    @staticmethod
    def of(s: Scalar) -> _Reg:
        return _Reg(s.var_off, s.smin, s.smax, s.umin, s.umax, s.s32_min, s.s32_max, s.u32_min, s.u32_max)

    def copy(self) -> _Reg:
        return _Reg(
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


def _update_reg32_bounds(r: _Reg) -> None:
    # kernel: __update_reg32_bounds
    v = r.var_off.subreg()
    r.s32_min = max(r.s32_min, s32(v.value | (v.mask & 0x80000000)))
    r.s32_max = min(r.s32_max, s32(v.value | (v.mask & 0x7FFFFFFF)))
    r.u32_min = max(r.u32_min, v.value)
    r.u32_max = min(r.u32_max, v.value | v.mask)


def _update_reg64_bounds(r: _Reg) -> None:
    # kernel: __update_reg64_bounds (6.18: no tnum_step single-value refinement yet)
    v = r.var_off
    r.smin = max(r.smin, s64(v.value | (v.mask & (1 << 63))))
    r.smax = min(r.smax, s64(v.value | (v.mask & S64_MAX)))
    r.umin = max(r.umin, v.value)
    r.umax = min(r.umax, v.value | v.mask)


def _update_reg_bounds(r: _Reg) -> None:
    # kernel: __update_reg_bounds
    _update_reg32_bounds(r)
    _update_reg64_bounds(r)


def _reg32_deduce_bounds(r: _Reg) -> None:
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


def _reg64_deduce_bounds(r: _Reg) -> None:
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


def _reg_deduce_mixed_bounds(r: _Reg) -> None:
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


def _reg_deduce_bounds(r: _Reg) -> None:
    # kernel: __reg_deduce_bounds
    _reg32_deduce_bounds(r)
    _reg64_deduce_bounds(r)
    _reg_deduce_mixed_bounds(r)


def _reg_bound_offset(r: _Reg) -> None:
    # kernel: __reg_bound_offset
    var64 = r.var_off.intersect(Tnum.range(r.umin, r.umax))
    var32 = var64.subreg().intersect(Tnum.range(r.u32_min, r.u32_max))
    r.var_off = var64.clear_subreg().or_(var32)


def _reg_bounds_sync(r: _Reg) -> None:
    # kernel: reg_bounds_sync (6.18: three rounds of __reg_deduce_bounds)
    _update_reg_bounds(r)
    _reg_deduce_bounds(r)
    _reg_deduce_bounds(r)
    _reg_deduce_bounds(r)
    _reg_bound_offset(r)
    _update_reg_bounds(r)


def _reg_bounds_sanity_check(r: _Reg) -> bool:
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


def _reg_assign_32_into_64(r: _Reg) -> None:
    # kernel: __reg_assign_32_into_64
    r.umin, r.umax = r.u32_min, r.u32_max
    if r.s32_min >= 0 and r.s32_max >= 0:  # kernel: __reg32_bound_s64
        r.smin, r.smax = r.s32_min, r.s32_max
    else:
        r.smin, r.smax = 0, U32


def _zext_32_to_64(r: _Reg) -> None:
    # kernel: zext_32_to_64
    r.var_off = r.var_off.subreg()
    _reg_assign_32_into_64(r)


# ---------------------------------------------------------------------------
# ALU range transfer (kernel: scalar{32,}_min_max_*)
# ---------------------------------------------------------------------------


def _scalar32_min_max_add(d: _Reg, s: _Reg) -> None:
    # kernel: scalar32_min_max_add
    smin, smax = d.s32_min + s.s32_min, d.s32_max + s.s32_max
    if not (S32_MIN <= smin <= S32_MAX and S32_MIN <= smax <= S32_MAX):
        d.s32_min, d.s32_max = S32_MIN, S32_MAX
    else:
        d.s32_min, d.s32_max = smin, smax
    umin, umax = d.u32_min + s.u32_min, d.u32_max + s.u32_max
    d.u32_min, d.u32_max = u32(umin), u32(umax)
    if umin <= U32 < umax:  # some additions overflow, others do not
        d.u32_min, d.u32_max = 0, U32


def _scalar_min_max_add(d: _Reg, s: _Reg) -> None:
    # kernel: scalar_min_max_add
    smin, smax = d.smin + s.smin, d.smax + s.smax
    if not (S64_MIN <= smin <= S64_MAX and S64_MIN <= smax <= S64_MAX):
        d.smin, d.smax = S64_MIN, S64_MAX
    else:
        d.smin, d.smax = smin, smax
    umin, umax = d.umin + s.umin, d.umax + s.umax
    d.umin, d.umax = u64(umin), u64(umax)
    if umin <= U64 < umax:
        d.umin, d.umax = 0, U64


def _scalar32_min_max_sub(d: _Reg, s: _Reg) -> None:
    # kernel: scalar32_min_max_sub
    smin, smax = d.s32_min - s.s32_max, d.s32_max - s.s32_min
    if not (S32_MIN <= smin <= S32_MAX and S32_MIN <= smax <= S32_MAX):
        d.s32_min, d.s32_max = S32_MIN, S32_MAX
    else:
        d.s32_min, d.s32_max = smin, smax
    umin, umax = d.u32_min - s.u32_max, d.u32_max - s.u32_min
    d.u32_min, d.u32_max = u32(umin), u32(umax)
    if umin < 0 <= umax:  # some subtractions underflow, others do not
        d.u32_min, d.u32_max = 0, U32


def _scalar_min_max_sub(d: _Reg, s: _Reg) -> None:
    # kernel: scalar_min_max_sub
    smin, smax = d.smin - s.smax, d.smax - s.smin
    if not (S64_MIN <= smin <= S64_MAX and S64_MIN <= smax <= S64_MAX):
        d.smin, d.smax = S64_MIN, S64_MAX
    else:
        d.smin, d.smax = smin, smax
    umin, umax = d.umin - s.umax, d.umax - s.umin
    d.umin, d.umax = u64(umin), u64(umax)
    if umin < 0 <= umax:
        d.umin, d.umax = 0, U64


def _scalar32_min_max_mul(d: _Reg, s: _Reg) -> None:
    # kernel: scalar32_min_max_mul
    umax, umin = d.u32_max * s.u32_max, d.u32_min * s.u32_min
    if umax > U32 or umin > U32:
        d.u32_min, d.u32_max = 0, U32
    else:
        d.u32_min, d.u32_max = umin, umax
    prods = [a * b for a in (d.s32_min, d.s32_max) for b in (s.s32_min, s.s32_max)]
    if any(not S32_MIN <= p <= S32_MAX for p in prods):
        d.s32_min, d.s32_max = S32_MIN, S32_MAX
    else:
        d.s32_min, d.s32_max = min(prods), max(prods)


def _scalar_min_max_mul(d: _Reg, s: _Reg) -> None:
    # kernel: scalar_min_max_mul
    umax, umin = d.umax * s.umax, d.umin * s.umin
    if umax > U64 or umin > U64:
        d.umin, d.umax = 0, U64
    else:
        d.umin, d.umax = umin, umax
    prods = [a * b for a in (d.smin, d.smax) for b in (s.smin, s.smax)]
    if any(not S64_MIN <= p <= S64_MAX for p in prods):
        d.smin, d.smax = S64_MIN, S64_MAX
    else:
        d.smin, d.smax = min(prods), max(prods)


def _signed32_from_u32(d: _Reg) -> None:
    # kernel: the "u32 doesn't cross sign boundary" tail of scalar32_min_max_{and,or,xor}
    if s32(d.u32_min) <= s32(d.u32_max):
        d.s32_min, d.s32_max = s32(d.u32_min), s32(d.u32_max)
    else:
        d.s32_min, d.s32_max = S32_MIN, S32_MAX


def _signed64_from_u64(d: _Reg) -> None:
    # kernel: the "u64 doesn't cross sign boundary" tail of scalar_min_max_{and,or,xor}
    if s64(d.umin) <= s64(d.umax):
        d.smin, d.smax = s64(d.umin), s64(d.umax)
    else:
        d.smin, d.smax = S64_MIN, S64_MAX


def _scalar32_min_max_and(d: _Reg, s: _Reg) -> None:
    # kernel: scalar32_min_max_and
    var32 = d.var_off.subreg()
    if s.var_off.subreg_is_const and d.var_off.subreg_is_const:
        d.mark_known32(var32.value)
        return
    d.u32_min = var32.value
    d.u32_max = min(d.u32_max, s.u32_max)
    _signed32_from_u32(d)


def _scalar_min_max_and(d: _Reg, s: _Reg) -> None:
    # kernel: scalar_min_max_and
    if s.var_off.is_const and d.var_off.is_const:
        d.mark_known(d.var_off.value)
        return
    d.umin = d.var_off.value
    d.umax = min(d.umax, s.umax)
    _signed64_from_u64(d)
    _update_reg_bounds(d)


def _scalar32_min_max_or(d: _Reg, s: _Reg) -> None:
    # kernel: scalar32_min_max_or
    var32 = d.var_off.subreg()
    if s.var_off.subreg_is_const and d.var_off.subreg_is_const:
        d.mark_known32(var32.value)
        return
    d.u32_min = max(d.u32_min, s.u32_min)
    d.u32_max = var32.value | var32.mask
    _signed32_from_u32(d)


def _scalar_min_max_or(d: _Reg, s: _Reg) -> None:
    # kernel: scalar_min_max_or
    if s.var_off.is_const and d.var_off.is_const:
        d.mark_known(d.var_off.value)
        return
    d.umin = max(d.umin, s.umin)
    d.umax = d.var_off.value | d.var_off.mask
    _signed64_from_u64(d)
    _update_reg_bounds(d)


def _scalar32_min_max_xor(d: _Reg, s: _Reg) -> None:
    # kernel: scalar32_min_max_xor
    var32 = d.var_off.subreg()
    if s.var_off.subreg_is_const and d.var_off.subreg_is_const:
        d.mark_known32(var32.value)
        return
    d.u32_min = var32.value
    d.u32_max = var32.value | var32.mask
    _signed32_from_u32(d)


def _scalar_min_max_xor(d: _Reg, s: _Reg) -> None:
    # kernel: scalar_min_max_xor
    if s.var_off.is_const and d.var_off.is_const:
        d.mark_known(d.var_off.value)
        return
    d.umin = d.var_off.value
    d.umax = d.var_off.value | d.var_off.mask
    _signed64_from_u64(d)
    _update_reg_bounds(d)


def _scalar32_min_max_lsh_bounds(d: _Reg, umin_val: int, umax_val: int) -> None:
    # kernel: __scalar32_min_max_lsh
    d.s32_min, d.s32_max = S32_MIN, S32_MAX
    if umax_val > 31 or d.u32_max > 1 << (31 - umax_val):
        d.u32_min, d.u32_max = 0, U32
    else:
        d.u32_min = u32(d.u32_min << umin_val)
        d.u32_max = u32(d.u32_max << umax_val)


def _scalar32_min_max_lsh(d: _Reg, s: _Reg) -> None:
    # kernel: scalar32_min_max_lsh
    subreg = d.var_off.subreg()
    _scalar32_min_max_lsh_bounds(d, s.u32_min, s.u32_max)
    d.var_off = subreg.lshift(s.u32_min).subreg()
    d.mark64_unbounded()
    _update_reg32_bounds(d)


def _scalar64_min_max_lsh_bounds(d: _Reg, umin_val: int, umax_val: int) -> None:
    # kernel: __scalar64_min_max_lsh
    # <<32 is how compilers start sign-extending a subregister: keep non-negative s32 bounds
    d.smax = d.s32_max << 32 if umin_val == 32 and umax_val == 32 and d.s32_max >= 0 else S64_MAX
    d.smin = d.s32_min << 32 if umin_val == 32 and umax_val == 32 and d.s32_min >= 0 else S64_MIN
    if d.umax > 1 << (63 - umax_val):
        d.umin, d.umax = 0, U64
    else:
        d.umin = u64(d.umin << umin_val)
        d.umax = u64(d.umax << umax_val)


def _scalar_min_max_lsh(d: _Reg, s: _Reg) -> None:
    # kernel: scalar_min_max_lsh
    _scalar64_min_max_lsh_bounds(d, s.umin, s.umax)
    _scalar32_min_max_lsh_bounds(d, s.umin, s.umax)
    d.var_off = d.var_off.lshift(s.umin)
    _update_reg_bounds(d)


def _scalar32_min_max_rsh(d: _Reg, s: _Reg) -> None:
    # kernel: scalar32_min_max_rsh
    subreg = d.var_off.subreg()
    d.s32_min, d.s32_max = S32_MIN, S32_MAX
    d.var_off = subreg.rshift(s.u32_min)
    d.u32_min >>= s.u32_max
    d.u32_max >>= s.u32_min
    d.mark64_unbounded()
    _update_reg32_bounds(d)


def _scalar_min_max_rsh(d: _Reg, s: _Reg) -> None:
    # kernel: scalar_min_max_rsh
    d.smin, d.smax = S64_MIN, S64_MAX
    d.var_off = d.var_off.rshift(s.umin)
    d.umin >>= s.umax
    d.umax >>= s.umin
    d.mark32_unbounded()
    _update_reg_bounds(d)


def _scalar32_min_max_arsh(d: _Reg, s: _Reg) -> None:
    # kernel: scalar32_min_max_arsh
    shift = s.u32_min
    d.s32_min >>= shift
    d.s32_max >>= shift
    d.var_off = d.var_off.subreg().arshift(shift, 32)
    d.u32_min, d.u32_max = 0, U32
    d.mark64_unbounded()
    _update_reg32_bounds(d)


def _scalar_min_max_arsh(d: _Reg, s: _Reg) -> None:
    # kernel: scalar_min_max_arsh
    shift = s.umin
    d.smin >>= shift
    d.smax >>= shift
    d.var_off = d.var_off.arshift(shift, 64)
    d.umin, d.umax = 0, U64
    d.mark32_unbounded()
    _update_reg_bounds(d)


def _is_safe_to_compute_dst_reg_range(op: int, s: _Reg, is64: bool) -> bool:
    # kernel: is_safe_to_compute_dst_reg_range (6.18: div, mod and byte swaps are not tracked)
    bitness = 64 if is64 else 32
    if is64:
        src_is_const = s.var_off.is_const and s.smin == s.smax and s.umin == s.umax
    else:
        src_is_const = s.var_off.subreg_is_const and s.s32_min == s.s32_max and s.u32_min == s.u32_max
    if op in (ADD, SUB, NEG, AND, XOR, OR, MUL):
        return True
    if op in (LSH, RSH, ARSH):
        return src_is_const and s.umax < bitness
    return False


def _adjust_scalar_min_max_vals(op: int, d: _Reg, src: _Reg, is64: bool) -> None:
    # kernel: adjust_scalar_min_max_vals
    s = src.copy()
    if not _is_safe_to_compute_dst_reg_range(op, s, is64):
        d.mark_unknown()
        return
    if op == ADD:
        _scalar32_min_max_add(d, s)
        _scalar_min_max_add(d, s)
        d.var_off = d.var_off.add(s.var_off)
    elif op == SUB:
        _scalar32_min_max_sub(d, s)
        _scalar_min_max_sub(d, s)
        d.var_off = d.var_off.sub(s.var_off)
    elif op == NEG:
        old = d.copy()
        d.mark_known(0)
        _scalar32_min_max_sub(d, old)
        _scalar_min_max_sub(d, old)
        d.var_off = old.var_off.neg()
    elif op == MUL:
        d.var_off = d.var_off.mul(s.var_off)
        _scalar32_min_max_mul(d, s)
        _scalar_min_max_mul(d, s)
    elif op == AND:
        d.var_off = d.var_off.and_(s.var_off)
        _scalar32_min_max_and(d, s)
        _scalar_min_max_and(d, s)
    elif op == OR:
        d.var_off = d.var_off.or_(s.var_off)
        _scalar32_min_max_or(d, s)
        _scalar_min_max_or(d, s)
    elif op == XOR:
        d.var_off = d.var_off.xor(s.var_off)
        _scalar32_min_max_xor(d, s)
        _scalar_min_max_xor(d, s)
    elif op == LSH:
        (_scalar_min_max_lsh if is64 else _scalar32_min_max_lsh)(d, s)
    elif op == RSH:
        (_scalar_min_max_rsh if is64 else _scalar32_min_max_rsh)(d, s)
    elif op == ARSH:
        (_scalar_min_max_arsh if is64 else _scalar32_min_max_arsh)(d, s)
    if not is64:
        _zext_32_to_64(d)
    _reg_bounds_sync(d)


# ---------------------------------------------------------------------------
# mov and sign-extending mov (kernel: check_alu_op, coerce_*_to_size_sx)
# ---------------------------------------------------------------------------


def _set_sext64_default_val(r: _Reg, size: int) -> None:
    # kernel: set_sext64_default_val
    lo, hi = {1: (S8_MIN, S8_MAX), 2: (S16_MIN, S16_MAX), 4: (S32_MIN, S32_MAX)}[size]
    r.smin = r.s32_min = lo
    r.smax = r.s32_max = hi
    r.umin = r.u32_min = 0
    r.umax, r.u32_max = U64, U32
    r.var_off = Tnum.unknown()


def _coerce_reg_to_size_sx(r: _Reg, size: int) -> None:
    # kernel: coerce_reg_to_size_sx
    bits = size * 8
    if r.var_off.is_const:
        r.var_off = Tnum.const(_sext(r.var_off.value, bits))
        v = r.var_off.value
        r.smin = r.smax = s64(v)
        r.umin = r.umax = v
        r.s32_min = r.s32_max = s32(v)
        r.u32_min = r.u32_max = u32(v)
        return
    if (u64(r.smax) >> bits) != (u64(r.smin) >> bits):
        _set_sext64_default_val(r, size)
        return
    a, b = _sext(r.smax, bits), _sext(r.smin, bits)
    hi, lo = max(a, b), min(a, b)
    if (hi >= 0) != (lo >= 0):
        _set_sext64_default_val(r, size)
        return
    r.s32_min, r.smin = s32(lo), lo
    r.s32_max, r.smax = s32(hi), hi
    r.u32_min, r.umin = u32(lo), u64(lo)
    r.u32_max, r.umax = u32(hi), u64(hi)
    r.var_off = Tnum.range(lo, hi)


def _set_sext32_default_val(r: _Reg, size: int) -> None:
    # kernel: set_sext32_default_val
    r.s32_min, r.s32_max = (S8_MIN, S8_MAX) if size == 1 else (S16_MIN, S16_MAX)
    r.u32_min, r.u32_max = 0, U32
    r.var_off = Tnum.unknown().subreg()


def _coerce_subreg_to_size_sx(r: _Reg, size: int) -> None:
    # kernel: coerce_subreg_to_size_sx
    bits = size * 8
    if r.var_off.is_const:
        r.var_off = Tnum.const(_sext(r.var_off.value, bits))
        v = r.var_off.value
        r.s32_min = r.s32_max = s32(v)
        r.u32_min = r.u32_max = u32(v)
        return
    if (u32(r.s32_max) >> bits) != (u32(r.s32_min) >> bits):
        _set_sext32_default_val(r, size)
        return
    a, b = _sext(r.s32_max, bits), _sext(r.s32_min, bits)
    hi, lo = max(a, b), min(a, b)
    if (lo >= 0) != (hi >= 0):
        _set_sext32_default_val(r, size)
        return
    r.s32_min, r.s32_max = lo, hi
    r.u32_min, r.u32_max = u32(lo), u32(hi)
    r.var_off = Tnum.range(lo, hi).subreg()


def _coerce_reg_to_size(r: _Reg, size: int) -> None:
    # kernel: coerce_reg_to_size
    mask = (1 << (size * 8)) - 1
    r.var_off = r.var_off.cast(size)
    if (r.umin & ~mask) == (r.umax & ~mask):
        r.umin &= mask
        r.umax &= mask
    else:
        r.umin, r.umax = 0, mask
    r.smin, r.smax = r.umin, r.umax
    if size < 4:
        r.mark32_unbounded()
    _reg_bounds_sync(r)


def coerce_to_size(src: Scalar, size: int, *, signed: bool = False) -> Scalar:
    """What a `size`-byte load (1, 2 or 4) leaves of a register state: zero- or sign-extended."""
    # kernel: check_mem_access, coerce_reg_to_size / coerce_reg_to_size_sx after a b/h/w load
    r = _Reg.of(src)
    if signed:
        _coerce_reg_to_size_sx(r, size)
    else:
        _coerce_reg_to_size(r, size)
    return r.freeze()


def mov(src: Scalar, is64: bool) -> Scalar:
    """`rD = rS` (is64) or `wD = wS` (zero-extending)."""
    # kernel: check_alu_op, BPF_MOV | BPF_X with off == 0
    r = _Reg.of(src)
    if not is64:
        _zext_32_to_64(r)
        _reg_bounds_sync(r)
    _reg_bounds_sanity_check(r)
    return r.freeze()


def mov_imm(imm: int, is64: bool) -> Scalar:
    """`rD = imm` (sign-extended s32) or `wD = imm` (zero-extended)."""
    # kernel: check_alu_op, BPF_MOV | BPF_K (__mark_reg_known of imm or (u32)imm)
    return Scalar.const(_sext(imm, 32) if is64 else u32(imm))


def movsx(src: Scalar, width: int, is64: bool) -> Scalar:
    """`rD = (sN)rS` for N in 8/16/32 (is64), or `wD = (sN)wS` for N in 8/16."""
    # kernel: check_alu_op, BPF_MOV | BPF_X with off = 8/16/32
    r = _Reg.of(src)
    if is64:
        _coerce_reg_to_size_sx(r, width // 8)
    else:
        _coerce_subreg_to_size_sx(r, width // 8)
        _zext_32_to_64(r)
        _reg_bounds_sync(r)
    _reg_bounds_sanity_check(r)
    return r.freeze()


def neg(dst: Scalar, is64: bool) -> Scalar:
    """`rD = -rD` / `wD = -wD`."""
    # kernel: check_alu_op, BPF_NEG on a scalar -> adjust_scalar_min_max_vals
    r = _Reg.of(dst)
    _adjust_scalar_min_max_vals(NEG, r, r.copy(), is64)
    _reg_bounds_sanity_check(r)
    return r.freeze()


def byte_swap(dst: Scalar, width: int, *, to_be: bool = False, is64: bool = False) -> Scalar:
    """le16/32/64, be16/32/64 (class ALU) and bswap16/32/64 (class ALU64)."""
    # kernel: check_alu_op, BPF_END: 6.18 marks the destination unknown (DST_OP)
    del dst, width, to_be, is64
    return Scalar.unknown()


def alu(op: int, dst: Scalar, src: Scalar | None, is64: bool, *, off: int = 0, imm: int = 0) -> Scalar:
    """The verifier's transfer function for one ALU/ALU64 instruction on scalars.

    `op` is the BPF_OP (framework.isa.opcodes ADD..ARSH, NEG, MOV, END). `src` is
    the source register, or the immediate as `Scalar.const(sign-extended imm)`;
    it is ignored for NEG and END. `off` selects sdiv/smod (1) and movsx widths
    (8/16/32); `imm` is the byte-swap width for END. Division and modulo come
    out unknown, as 6.18 does not track them.
    """
    if op == NEG:
        return neg(dst, is64)
    if op == END:
        return byte_swap(dst, imm, to_be=bool(off), is64=is64)
    if src is None:
        raise ValueError("this ALU op needs a source operand")
    if op == MOV:
        return mov(src, is64) if off == 0 else movsx(src, off, is64)
    if op not in (ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, MOD, XOR, ARSH):
        raise ValueError(f"not an ALU op: {op:#x}")
    # kernel: check_alu_op -> adjust_reg_min_max_vals -> adjust_scalar_min_max_vals
    r = _Reg.of(dst)
    _adjust_scalar_min_max_vals(op, r, _Reg.of(src), is64)
    _reg_bounds_sanity_check(r)
    return r.freeze()


# ---------------------------------------------------------------------------
# conditional jumps
# ---------------------------------------------------------------------------


def branch_taken(op: int, a: Scalar, b: Scalar, is_jmp32: bool, *, same_reg: bool = False) -> bool | None:
    """True/False when the jump `if a <op> b` is decided, None when both edges are possible.

    `same_reg` says that both operands are the same register (`if r1 > r1`).
    """
    # kernel: is_scalar_branch_taken
    if is_jmp32:
        t1, t2 = a.var_off.subreg(), b.var_off.subreg()
        umin1, umax1, smin1, smax1 = a.u32_min, a.u32_max, a.s32_min, a.s32_max
        umin2, umax2, smin2, smax2 = b.u32_min, b.u32_max, b.s32_min, b.s32_max
    else:
        t1, t2 = a.var_off, b.var_off
        umin1, umax1, smin1, smax1 = a.umin, a.umax, a.smin, a.smax
        umin2, umax2, smin2, smax2 = b.umin, b.umax, b.smin, b.smax

    if same_reg:
        if op in (JGE, JLE, JSGE, JSLE, JEQ):
            return True
        if op in (JGT, JLT, JSGT, JSLT, JNE):
            return False
        if op == JSET:
            if t1.is_const:
                return t1.value != 0
            return None if smin1 <= 0 <= smax1 else True
        return None

    if op in (JEQ, JNE):
        eq = op == JEQ
        if t1.is_const and t2.is_const:
            return (t1.value == t2.value) == eq
        if umin1 > umax2 or umax1 < umin2 or smin1 > smax2 or smax1 < smin2:
            return not eq
        if not is_jmp32 and (
            a.u32_min > b.u32_max or a.u32_max < b.u32_min or a.s32_min > b.s32_max or a.s32_max < b.s32_min
        ):
            return not eq
        return None
    if op == JSET:
        if not _is_reg_const(b, is_jmp32):
            a, b, t1, t2 = b, a, t2, t1
        if not _is_reg_const(b, is_jmp32):
            return None
        if (~t1.mask & t1.value) & t2.value:
            return True
        if not ((t1.mask | t1.value) & t2.value):
            return False
        return None
    decided = {
        JGT: (umin1 > umax2, umax1 <= umin2),
        JSGT: (smin1 > smax2, smax1 <= smin2),
        JLT: (umax1 < umin2, umin1 >= umax2),
        JSLT: (smax1 < smin2, smin1 >= smax2),
        JGE: (umin1 >= umax2, umax1 < umin2),
        JSGE: (smin1 >= smax2, smax1 < smin2),
        JLE: (umax1 <= umin2, umin1 > umax2),
        JSLE: (smax1 <= smin2, smin1 > smax2),
    }.get(op)
    if decided is None:
        raise ValueError(f"not a conditional jump op: {op:#x}")
    if decided[0]:
        return True
    if decided[1]:
        return False
    return None


def _is_reg_const(r: Scalar, is_jmp32: bool) -> bool:
    # kernel: is_reg_const
    return r.var_off.subreg_is_const if is_jmp32 else r.var_off.is_const


def _reg_const_value(r: _Reg, is_jmp32: bool) -> int:
    # kernel: reg_const_value
    return r.var_off.value & U32 if is_jmp32 else r.var_off.value


def _rev_opcode(op: int) -> int:
    # kernel: rev_opcode
    return {
        JEQ: JNE,
        JNE: JEQ,
        JSET: _JSET_FALSE,
        _JSET_FALSE: JSET,
        JGE: JLT,
        JLT: JGE,
        JGT: JLE,
        JLE: JGT,
        JSGE: JSLT,
        JSLT: JSGE,
        JSGT: JSLE,
        JSLE: JSGT,
    }[op]


def _flip_opcode(op: int) -> int:
    # kernel: flip_opcode
    return {JGT: JLT, JLT: JGT, JGE: JLE, JLE: JGE, JSGT: JSLT, JSLT: JSGT, JSGE: JSLE, JSLE: JSGE}.get(op, op)


def _regs_refine_cond_op(r1: _Reg, r2: _Reg, op: int, is_jmp32: bool) -> None:
    # kernel: regs_refine_cond_op
    if op in (JGE, JGT, JSGE, JSGT):
        op = _flip_opcode(op)
        r1, r2 = r2, r1
    if op == JEQ:
        if is_jmp32:
            r1.u32_min = max(r1.u32_min, r2.u32_min)
            r1.u32_max = min(r1.u32_max, r2.u32_max)
            r1.s32_min = max(r1.s32_min, r2.s32_min)
            r1.s32_max = min(r1.s32_max, r2.s32_max)
            r2.u32_min, r2.u32_max, r2.s32_min, r2.s32_max = r1.u32_min, r1.u32_max, r1.s32_min, r1.s32_max
            t = r1.var_off.subreg().intersect(r2.var_off.subreg())
            r1.var_off = r1.var_off.with_subreg(t)
            r2.var_off = r2.var_off.with_subreg(t)
        else:
            r1.umin = max(r1.umin, r2.umin)
            r1.umax = min(r1.umax, r2.umax)
            r1.smin = max(r1.smin, r2.smin)
            r1.smax = min(r1.smax, r2.smax)
            r2.umin, r2.umax, r2.smin, r2.smax = r1.umin, r1.umax, r1.smin, r1.smax
            r1.var_off = r1.var_off.intersect(r2.var_off)
            r2.var_off = r1.var_off
    elif op == JNE:
        if not _reg_is_const(r2, is_jmp32):
            r1, r2 = r2, r1
        if not _reg_is_const(r2, is_jmp32):
            return
        val = _reg_const_value(r2, is_jmp32)
        if is_jmp32:
            if r1.u32_min == u32(val):
                r1.u32_min = u32(r1.u32_min + 1)
            if r1.u32_max == u32(val):
                r1.u32_max = u32(r1.u32_max - 1)
            if r1.s32_min == s32(val):
                r1.s32_min = s32(r1.s32_min + 1)
            if r1.s32_max == s32(val):
                r1.s32_max = s32(r1.s32_max - 1)
        else:
            if r1.umin == val:
                r1.umin = u64(r1.umin + 1)
            if r1.umax == val:
                r1.umax = u64(r1.umax - 1)
            if r1.smin == s64(val):
                r1.smin = s64(r1.smin + 1)
            if r1.smax == s64(val):
                r1.smax = s64(r1.smax - 1)
    elif op == JSET:
        if not _reg_is_const(r2, is_jmp32):
            r1, r2 = r2, r1
        if not _reg_is_const(r2, is_jmp32):
            return
        val = _reg_const_value(r2, is_jmp32)
        if val == 0 or val & (val - 1):  # only a single bit teaches something
            return
        if is_jmp32:
            r1.var_off = r1.var_off.with_subreg(r1.var_off.subreg().or_(Tnum.const(val)))
        else:
            r1.var_off = r1.var_off.or_(Tnum.const(val))
    elif op == _JSET_FALSE:
        if not _reg_is_const(r2, is_jmp32):
            r1, r2 = r2, r1
        if not _reg_is_const(r2, is_jmp32):
            return
        val = _reg_const_value(r2, is_jmp32)
        r1.mark_unbounded()
        if is_jmp32:
            r1.var_off = r1.var_off.with_subreg(r1.var_off.subreg().and_(Tnum.const(~val & U32)))
        else:
            r1.var_off = r1.var_off.and_(Tnum.const(~val & U64))
    elif op == JLE:
        if is_jmp32:
            r1.u32_max = min(r1.u32_max, r2.u32_max)
            r2.u32_min = max(r1.u32_min, r2.u32_min)
        else:
            r1.umax = min(r1.umax, r2.umax)
            r2.umin = max(r1.umin, r2.umin)
    elif op == JLT:
        if is_jmp32:
            r1.u32_max = min(r1.u32_max, u32(r2.u32_max - 1))
            r2.u32_min = max(u32(r1.u32_min + 1), r2.u32_min)
        else:
            r1.umax = min(r1.umax, u64(r2.umax - 1))
            r2.umin = max(u64(r1.umin + 1), r2.umin)
    elif op == JSLE:
        if is_jmp32:
            r1.s32_max = min(r1.s32_max, r2.s32_max)
            r2.s32_min = max(r1.s32_min, r2.s32_min)
        else:
            r1.smax = min(r1.smax, r2.smax)
            r2.smin = max(r1.smin, r2.smin)
    elif op == JSLT:
        if is_jmp32:
            r1.s32_max = min(r1.s32_max, s32(r2.s32_max - 1))
            r2.s32_min = max(s32(r1.s32_min + 1), r2.s32_min)
        else:
            r1.smax = min(r1.smax, s64(r2.smax - 1))
            r2.smin = max(s64(r1.smin + 1), r2.smin)


def _reg_is_const(r: _Reg, is_jmp32: bool) -> bool:
    # kernel: is_reg_const
    return r.var_off.subreg_is_const if is_jmp32 else r.var_off.is_const


Edge = tuple[Scalar, Scalar] | None


def refine(op: int, a: Scalar, b: Scalar, is_jmp32: bool, *, same_reg: bool = False) -> tuple[Edge, Edge]:
    """The operands as the verifier knows them on the (taken, fall-through) edges of `if a <op> b`.

    An edge the verifier does not explore (is_branch_taken decided the other way)
    is None. Otherwise both edges are refined as reg_set_min_max does, and a
    refinement that breaks the range invariants forgets the ranges (keeping
    var_off), as reg_bounds_sanity_check does outside the selftests.
    """
    pred = branch_taken(op, a, b, is_jmp32, same_reg=same_reg)
    if pred is True:
        return (a, b), None
    if pred is False:
        return None, (a, b)
    if same_reg:
        # kernel: reg_set_min_max skips refining a register against itself
        return (a, b), (a, b)
    # kernel: reg_set_min_max
    edges: list[tuple[Scalar, Scalar]] = []
    for edge_op in (op, _rev_opcode(op)):
        r1, r2 = _Reg.of(a), _Reg.of(b)
        _regs_refine_cond_op(r1, r2, edge_op, is_jmp32)
        _reg_bounds_sync(r1)
        _reg_bounds_sync(r2)
        _reg_bounds_sanity_check(r1)
        _reg_bounds_sanity_check(r2)
        edges.append((r1.freeze(), r2.freeze()))
    return edges[0], edges[1]


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
