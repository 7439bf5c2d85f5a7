"""Tracked numbers: the verifier's bit-level abstract domain (kernel/bpf/tnum.c, Linux 6.18).

A `Tnum` is a pair (value, mask) of unsigned 64-bit integers: a bit set in `mask`
is unknown, any other bit is known and equal to that bit of `value`
(`value & mask == 0` always). Every operation re-expresses the kernel function
named in its comment; none is more precise than the kernel's, so the verifier
built on it accepts and rejects what Linux does.
"""

from __future__ import annotations

from dataclasses import dataclass

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1

UNUM_MAX_DECIMAL = 0xFFFF  # kernel/bpf/log.c: UNUM_MAX_DECIMAL (U16_MAX)


def _u64(x: int) -> int:
    return x & U64


def _s64(x: int) -> int:
    x &= U64
    return x - (1 << 64) if x >> 63 else x


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x >> 31 else x


@dataclass(frozen=True, slots=True)
class Tnum:
    """struct tnum: `value` holds the known bits, `mask` the unknown ones."""

    value: int
    mask: int

    # --- constructors -------------------------------------------------------

    @staticmethod
    def const(value: int) -> Tnum:
        # kernel: tnum_const
        return Tnum(_u64(value), 0)

    @staticmethod
    def unknown() -> Tnum:
        # kernel: tnum_unknown
        return Tnum(0, U64)

    @staticmethod
    def range(lo: int, hi: int) -> Tnum:
        # kernel: tnum_range (a superset of [lo, hi]; lo <= hi as u64)
        lo, hi = _u64(lo), _u64(hi)
        bits = (lo ^ hi).bit_length()
        if bits > 63:
            return Tnum.unknown()
        delta = (1 << bits) - 1
        return Tnum(lo & ~delta & U64, delta)

    # --- shifts -------------------------------------------------------------

    def lshift(self, shift: int) -> Tnum:
        # kernel: tnum_lshift (u8 shift, C shifts of u64)
        return Tnum(_u64(self.value << shift), _u64(self.mask << shift))

    def rshift(self, shift: int) -> Tnum:
        # kernel: tnum_rshift
        return Tnum(self.value >> shift, self.mask >> shift)

    def arshift(self, min_shift: int, insn_bitness: int) -> Tnum:
        # kernel: tnum_arshift (the 32-bit form works on the low 32 bits, zero-extended)
        if insn_bitness == 32:
            return Tnum(
                (_s32(self.value) >> min_shift) & U32,
                (_s32(self.mask) >> min_shift) & U32,
            )
        return Tnum(_u64(_s64(self.value) >> min_shift), _u64(_s64(self.mask) >> min_shift))

    # --- arithmetic ---------------------------------------------------------

    def add(self, b: Tnum) -> Tnum:
        # kernel: tnum_add
        sm = _u64(self.mask + b.mask)
        sv = _u64(self.value + b.value)
        sigma = _u64(sm + sv)
        chi = sigma ^ sv
        mu = chi | self.mask | b.mask
        return Tnum(sv & ~mu & U64, mu)

    def sub(self, b: Tnum) -> Tnum:
        # kernel: tnum_sub
        dv = _u64(self.value - b.value)
        alpha = _u64(dv + self.mask)
        beta = _u64(dv - b.mask)
        chi = alpha ^ beta
        mu = chi | self.mask | b.mask
        return Tnum(dv & ~mu & U64, mu)

    def neg(self) -> Tnum:
        # kernel: tnum_neg
        return Tnum(0, 0).sub(self)

    def and_(self, b: Tnum) -> Tnum:
        # kernel: tnum_and
        alpha = self.value | self.mask
        beta = b.value | b.mask
        v = self.value & b.value
        return Tnum(v, alpha & beta & ~v & U64)

    def or_(self, b: Tnum) -> Tnum:
        # kernel: tnum_or
        v = self.value | b.value
        mu = self.mask | b.mask
        return Tnum(v, mu & ~v & U64)

    def xor(self, b: Tnum) -> Tnum:
        # kernel: tnum_xor
        v = self.value ^ b.value
        mu = self.mask | b.mask
        return Tnum(v & ~mu & U64, mu)

    def mul(self, b: Tnum) -> Tnum:
        # kernel: tnum_mul (6.18: long multiplication with a union for unknown multiplier bits)
        a = self
        acc = Tnum(0, 0)
        while a.value or a.mask:
            if a.value & 1:
                acc = acc.add(b)
            elif a.mask & 1:
                acc = acc.union(acc.add(b))
            a = a.rshift(1)
            b = b.lshift(1)
        return acc

    # --- lattice ------------------------------------------------------------

    def intersect(self, b: Tnum) -> Tnum:
        # kernel: tnum_intersect (disagreeing known bits come out as known 1)
        v = self.value | b.value
        mu = self.mask & b.mask
        return Tnum(v & ~mu & U64, mu)

    def union(self, b: Tnum) -> Tnum:
        # kernel: tnum_union (added in 6.18 together with the new tnum_mul)
        v = self.value & b.value
        mu = (self.value ^ b.value) | self.mask | b.mask
        return Tnum(v & ~mu & U64, mu)

    def cast(self, size: int) -> Tnum:
        # kernel: tnum_cast (keep the low `size` bytes)
        keep = (1 << (size * 8)) - 1
        return Tnum(self.value & keep, self.mask & keep)

    # --- predicates ---------------------------------------------------------

    @property
    def is_const(self) -> bool:
        # kernel: tnum_is_const
        return self.mask == 0

    @property
    def is_unknown(self) -> bool:
        # kernel: tnum_is_unknown
        return self.mask == U64

    def equals_const(self, b: int) -> bool:
        # kernel: tnum_equals_const
        return self.is_const and self.value == _u64(b)

    def is_aligned(self, size: int) -> bool:
        # kernel: tnum_is_aligned
        if not size:
            return True
        return not ((self.value | self.mask) & (size - 1))

    def includes(self, b: Tnum) -> bool:
        # kernel: tnum_in(self, b): every value of b is a value of self
        if b.mask & ~self.mask:
            return False
        return self.value == b.value & ~self.mask

    def contains(self, x: int) -> bool:
        """Whether the concrete u64 `x` is one of this tnum's values."""
        return (_u64(x) & ~self.mask) == self.value

    # --- 32-bit subregister -------------------------------------------------

    def subreg(self) -> Tnum:
        # kernel: tnum_subreg
        return self.cast(4)

    def clear_subreg(self) -> Tnum:
        # kernel: tnum_clear_subreg
        return self.rshift(32).lshift(32)

    def with_subreg(self, subreg: Tnum) -> Tnum:
        # kernel: tnum_with_subreg
        return self.clear_subreg().or_(subreg.subreg())

    def const_subreg(self, value: int) -> Tnum:
        # kernel: tnum_const_subreg
        return self.with_subreg(Tnum.const(value & U32))

    @property
    def subreg_is_const(self) -> bool:
        # kernel: tnum_subreg_is_const
        return self.subreg().mask == 0

    # --- printing -----------------------------------------------------------

    def strn(self) -> str:
        # kernel: tnum_strn (kernel/bpf/log.c: a fully known tnum prints as its value)
        if self.mask == 0:
            return str(self.value) if self.value <= UNUM_MAX_DECIMAL else f"{self.value:#x}"
        return f"({self.value:#x}; {self.mask:#x})"

    def sbin(self) -> str:
        # kernel: tnum_sbin (64 trits, most significant first)
        return "".join(
            "x" if (self.mask >> n) & 1 else "1" if (self.value >> n) & 1 else "0" for n in range(63, -1, -1)
        )

    def __str__(self) -> str:
        return self.strn()
