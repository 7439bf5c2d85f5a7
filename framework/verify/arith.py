"""The ALU's range transfer on scalars: adjust_scalar_min_max_vals and mov (Linux 6.18).

Each function re-expresses one of kernel/bpf/verifier.c's: scalar{32,}_min_max_* for each
operator, check_alu_op's mov and sign-extending mov, coerce_reg_to_size{,_sx}. They work on a
`RegBounds` (framework.verify.scalar) in place, as the kernel does, and hand out `Scalar`s.
"""

from __future__ import annotations

from framework.isa.opcodes import ADD, AND, ARSH, DIV, END, LSH, MOD, MOV, MUL, NEG, OR, RSH, SUB, XOR
from framework.verify.scalar import (
    S8_MAX,
    S8_MIN,
    S16_MAX,
    S16_MIN,
    S32_MAX,
    S32_MIN,
    S64_MAX,
    S64_MIN,
    RegBounds,
    Scalar,
    reg_bounds_sanity_check,
    reg_bounds_sync,
    s32,
    s64,
    sext,
    u32,
    u64,
    update_reg32_bounds,
    update_reg_bounds,
    zext_32_to_64,
)
from framework.verify.tnum import U32, U64, Tnum

# ---------------------------------------------------------------------------
# ALU range transfer (kernel: scalar{32,}_min_max_*)
# ---------------------------------------------------------------------------


def _scalar32_min_max_add(d: RegBounds, s: RegBounds) -> None:
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


def _scalar_min_max_add(d: RegBounds, s: RegBounds) -> None:
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


def _scalar32_min_max_sub(d: RegBounds, s: RegBounds) -> None:
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


def _scalar_min_max_sub(d: RegBounds, s: RegBounds) -> None:
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


def _scalar32_min_max_mul(d: RegBounds, s: RegBounds) -> None:
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


def _scalar_min_max_mul(d: RegBounds, s: RegBounds) -> None:
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


def _signed32_from_u32(d: RegBounds) -> None:
    # kernel: the "u32 doesn't cross sign boundary" tail of scalar32_min_max_{and,or,xor}
    if s32(d.u32_min) <= s32(d.u32_max):
        d.s32_min, d.s32_max = s32(d.u32_min), s32(d.u32_max)
    else:
        d.s32_min, d.s32_max = S32_MIN, S32_MAX


def _signed64_from_u64(d: RegBounds) -> None:
    # kernel: the "u64 doesn't cross sign boundary" tail of scalar_min_max_{and,or,xor}
    if s64(d.umin) <= s64(d.umax):
        d.smin, d.smax = s64(d.umin), s64(d.umax)
    else:
        d.smin, d.smax = S64_MIN, S64_MAX


def _scalar32_min_max_and(d: RegBounds, s: RegBounds) -> None:
    # kernel: scalar32_min_max_and
    var32 = d.var_off.subreg()
    if s.var_off.subreg_is_const and d.var_off.subreg_is_const:
        d.mark_known32(var32.value)
        return
    d.u32_min = var32.value
    d.u32_max = min(d.u32_max, s.u32_max)
    _signed32_from_u32(d)


def _scalar_min_max_and(d: RegBounds, s: RegBounds) -> None:
    # kernel: scalar_min_max_and
    if s.var_off.is_const and d.var_off.is_const:
        d.mark_known(d.var_off.value)
        return
    d.umin = d.var_off.value
    d.umax = min(d.umax, s.umax)
    _signed64_from_u64(d)
    update_reg_bounds(d)


def _scalar32_min_max_or(d: RegBounds, s: RegBounds) -> None:
    # kernel: scalar32_min_max_or
    var32 = d.var_off.subreg()
    if s.var_off.subreg_is_const and d.var_off.subreg_is_const:
        d.mark_known32(var32.value)
        return
    d.u32_min = max(d.u32_min, s.u32_min)
    d.u32_max = var32.value | var32.mask
    _signed32_from_u32(d)


def _scalar_min_max_or(d: RegBounds, s: RegBounds) -> None:
    # kernel: scalar_min_max_or
    if s.var_off.is_const and d.var_off.is_const:
        d.mark_known(d.var_off.value)
        return
    d.umin = max(d.umin, s.umin)
    d.umax = d.var_off.value | d.var_off.mask
    _signed64_from_u64(d)
    update_reg_bounds(d)


def _scalar32_min_max_xor(d: RegBounds, s: RegBounds) -> None:
    # kernel: scalar32_min_max_xor
    var32 = d.var_off.subreg()
    if s.var_off.subreg_is_const and d.var_off.subreg_is_const:
        d.mark_known32(var32.value)
        return
    d.u32_min = var32.value
    d.u32_max = var32.value | var32.mask
    _signed32_from_u32(d)


def _scalar_min_max_xor(d: RegBounds, s: RegBounds) -> None:
    # kernel: scalar_min_max_xor
    if s.var_off.is_const and d.var_off.is_const:
        d.mark_known(d.var_off.value)
        return
    d.umin = d.var_off.value
    d.umax = d.var_off.value | d.var_off.mask
    _signed64_from_u64(d)
    update_reg_bounds(d)


def _scalar32_min_max_lsh_bounds(d: RegBounds, umin_val: int, umax_val: int) -> None:
    # kernel: __scalar32_min_max_lsh
    d.s32_min, d.s32_max = S32_MIN, S32_MAX
    if umax_val > 31 or d.u32_max > 1 << (31 - umax_val):
        d.u32_min, d.u32_max = 0, U32
    else:
        d.u32_min = u32(d.u32_min << umin_val)
        d.u32_max = u32(d.u32_max << umax_val)


def _scalar32_min_max_lsh(d: RegBounds, s: RegBounds) -> None:
    # kernel: scalar32_min_max_lsh
    subreg = d.var_off.subreg()
    _scalar32_min_max_lsh_bounds(d, s.u32_min, s.u32_max)
    d.var_off = subreg.lshift(s.u32_min).subreg()
    d.mark64_unbounded()
    update_reg32_bounds(d)


def _scalar64_min_max_lsh_bounds(d: RegBounds, umin_val: int, umax_val: int) -> None:
    # kernel: __scalar64_min_max_lsh
    # <<32 is how compilers start sign-extending a subregister: keep non-negative s32 bounds
    d.smax = d.s32_max << 32 if umin_val == 32 and umax_val == 32 and d.s32_max >= 0 else S64_MAX
    d.smin = d.s32_min << 32 if umin_val == 32 and umax_val == 32 and d.s32_min >= 0 else S64_MIN
    if d.umax > 1 << (63 - umax_val):
        d.umin, d.umax = 0, U64
    else:
        d.umin = u64(d.umin << umin_val)
        d.umax = u64(d.umax << umax_val)


def _scalar_min_max_lsh(d: RegBounds, s: RegBounds) -> None:
    # kernel: scalar_min_max_lsh
    _scalar64_min_max_lsh_bounds(d, s.umin, s.umax)
    _scalar32_min_max_lsh_bounds(d, s.umin, s.umax)
    d.var_off = d.var_off.lshift(s.umin)
    update_reg_bounds(d)


def _scalar32_min_max_rsh(d: RegBounds, s: RegBounds) -> None:
    # kernel: scalar32_min_max_rsh
    subreg = d.var_off.subreg()
    d.s32_min, d.s32_max = S32_MIN, S32_MAX
    d.var_off = subreg.rshift(s.u32_min)
    d.u32_min >>= s.u32_max
    d.u32_max >>= s.u32_min
    d.mark64_unbounded()
    update_reg32_bounds(d)


def _scalar_min_max_rsh(d: RegBounds, s: RegBounds) -> None:
    # kernel: scalar_min_max_rsh
    d.smin, d.smax = S64_MIN, S64_MAX
    d.var_off = d.var_off.rshift(s.umin)
    d.umin >>= s.umax
    d.umax >>= s.umin
    d.mark32_unbounded()
    update_reg_bounds(d)


def _scalar32_min_max_arsh(d: RegBounds, s: RegBounds) -> None:
    # kernel: scalar32_min_max_arsh
    shift = s.u32_min
    d.s32_min >>= shift
    d.s32_max >>= shift
    d.var_off = d.var_off.subreg().arshift(shift, 32)
    d.u32_min, d.u32_max = 0, U32
    d.mark64_unbounded()
    update_reg32_bounds(d)


def _scalar_min_max_arsh(d: RegBounds, s: RegBounds) -> None:
    # kernel: scalar_min_max_arsh
    shift = s.umin
    d.smin >>= shift
    d.smax >>= shift
    d.var_off = d.var_off.arshift(shift, 64)
    d.umin, d.umax = 0, U64
    d.mark32_unbounded()
    update_reg_bounds(d)


def _is_safe_to_compute_dst_reg_range(op: int, s: RegBounds, is64: bool) -> bool:
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


def _adjust_scalar_min_max_vals(op: int, d: RegBounds, src: RegBounds, is64: bool) -> None:
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
        zext_32_to_64(d)
    reg_bounds_sync(d)


# ---------------------------------------------------------------------------
# mov and sign-extending mov (kernel: check_alu_op, coerce_*_to_size_sx)
# ---------------------------------------------------------------------------


def _set_sext64_default_val(r: RegBounds, size: int) -> None:
    # kernel: set_sext64_default_val
    lo, hi = {1: (S8_MIN, S8_MAX), 2: (S16_MIN, S16_MAX), 4: (S32_MIN, S32_MAX)}[size]
    r.smin = r.s32_min = lo
    r.smax = r.s32_max = hi
    r.umin = r.u32_min = 0
    r.umax, r.u32_max = U64, U32
    r.var_off = Tnum.unknown()


def _coerce_reg_to_size_sx(r: RegBounds, size: int) -> None:
    # kernel: coerce_reg_to_size_sx
    bits = size * 8
    if r.var_off.is_const:
        r.var_off = Tnum.const(sext(r.var_off.value, bits))
        v = r.var_off.value
        r.smin = r.smax = s64(v)
        r.umin = r.umax = v
        r.s32_min = r.s32_max = s32(v)
        r.u32_min = r.u32_max = u32(v)
        return
    if (u64(r.smax) >> bits) != (u64(r.smin) >> bits):
        _set_sext64_default_val(r, size)
        return
    a, b = sext(r.smax, bits), sext(r.smin, bits)
    hi, lo = max(a, b), min(a, b)
    if (hi >= 0) != (lo >= 0):
        _set_sext64_default_val(r, size)
        return
    r.s32_min, r.smin = s32(lo), lo
    r.s32_max, r.smax = s32(hi), hi
    r.u32_min, r.umin = u32(lo), u64(lo)
    r.u32_max, r.umax = u32(hi), u64(hi)
    r.var_off = Tnum.range(lo, hi)


def _set_sext32_default_val(r: RegBounds, size: int) -> None:
    # kernel: set_sext32_default_val
    r.s32_min, r.s32_max = (S8_MIN, S8_MAX) if size == 1 else (S16_MIN, S16_MAX)
    r.u32_min, r.u32_max = 0, U32
    r.var_off = Tnum.unknown().subreg()


def _coerce_subreg_to_size_sx(r: RegBounds, size: int) -> None:
    # kernel: coerce_subreg_to_size_sx
    bits = size * 8
    if r.var_off.is_const:
        r.var_off = Tnum.const(sext(r.var_off.value, bits))
        v = r.var_off.value
        r.s32_min = r.s32_max = s32(v)
        r.u32_min = r.u32_max = u32(v)
        return
    if (u32(r.s32_max) >> bits) != (u32(r.s32_min) >> bits):
        _set_sext32_default_val(r, size)
        return
    a, b = sext(r.s32_max, bits), sext(r.s32_min, bits)
    hi, lo = max(a, b), min(a, b)
    if (lo >= 0) != (hi >= 0):
        _set_sext32_default_val(r, size)
        return
    r.s32_min, r.s32_max = lo, hi
    r.u32_min, r.u32_max = u32(lo), u32(hi)
    r.var_off = Tnum.range(lo, hi).subreg()


def _coerce_reg_to_size(r: RegBounds, size: int) -> None:
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
    reg_bounds_sync(r)


def coerce_to_size(src: Scalar, size: int, *, signed: bool = False) -> Scalar:
    """What a `size`-byte load (1, 2 or 4) leaves of a register state: zero- or sign-extended."""
    # kernel: check_mem_access, coerce_reg_to_size / coerce_reg_to_size_sx after a b/h/w load
    r = RegBounds.of(src)
    if signed:
        _coerce_reg_to_size_sx(r, size)
    else:
        _coerce_reg_to_size(r, size)
    return r.freeze()


def mov(src: Scalar, is64: bool) -> Scalar:
    """`rD = rS` (is64) or `wD = wS` (zero-extending)."""
    # kernel: check_alu_op, BPF_MOV | BPF_X with off == 0
    r = RegBounds.of(src)
    if not is64:
        zext_32_to_64(r)
        reg_bounds_sync(r)
    reg_bounds_sanity_check(r)
    return r.freeze()


def mov_imm(imm: int, is64: bool) -> Scalar:
    """`rD = imm` (sign-extended s32) or `wD = imm` (zero-extended)."""
    # kernel: check_alu_op, BPF_MOV | BPF_K (__mark_reg_known of imm or (u32)imm)
    return Scalar.const(sext(imm, 32) if is64 else u32(imm))


def movsx(src: Scalar, width: int, is64: bool) -> Scalar:
    """`rD = (sN)rS` for N in 8/16/32 (is64), or `wD = (sN)wS` for N in 8/16."""
    # kernel: check_alu_op, BPF_MOV | BPF_X with off = 8/16/32
    r = RegBounds.of(src)
    if is64:
        _coerce_reg_to_size_sx(r, width // 8)
    else:
        _coerce_subreg_to_size_sx(r, width // 8)
        zext_32_to_64(r)
        reg_bounds_sync(r)
    reg_bounds_sanity_check(r)
    return r.freeze()


def neg(dst: Scalar, is64: bool) -> Scalar:
    """`rD = -rD` / `wD = -wD`."""
    # kernel: check_alu_op, BPF_NEG on a scalar -> adjust_scalar_min_max_vals
    r = RegBounds.of(dst)
    _adjust_scalar_min_max_vals(NEG, r, r.copy(), is64)
    reg_bounds_sanity_check(r)
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
    r = RegBounds.of(dst)
    _adjust_scalar_min_max_vals(op, r, RegBounds.of(src), is64)
    reg_bounds_sanity_check(r)
    return r.freeze()
