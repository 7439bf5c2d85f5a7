"""Concrete BPF semantics (RFC 9669) that the abstract domain must over-approximate."""

from __future__ import annotations

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

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1


def sext(x: int, bits: int) -> int:
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


def _sdiv(s: int, t: int) -> int:
    q = abs(s) // abs(t)
    return q if (s < 0) == (t < 0) else -q


def alu(op: int, x: int, y: int, is64: bool, *, off: int = 0, imm: int = 0) -> int:
    """The 64-bit register value after `x <op>= y` (32-bit forms zero-extend)."""
    bits = 64 if is64 else 32
    mask = (1 << bits) - 1
    x, y = x & mask, y & mask
    if op == ADD:
        r = x + y
    elif op == SUB:
        r = x - y
    elif op == MUL:
        r = x * y
    elif op == DIV and off == 0:
        r = 0 if y == 0 else x // y
    elif op == DIV:
        s, t = sext(x, bits), sext(y, bits)
        r = 0 if t == 0 else _sdiv(s, t)
    elif op == MOD and off == 0:
        r = x if y == 0 else x % y
    elif op == MOD:
        s, t = sext(x, bits), sext(y, bits)
        r = s if t == 0 else s - _sdiv(s, t) * t
    elif op == OR:
        r = x | y
    elif op == AND:
        r = x & y
    elif op == XOR:
        r = x ^ y
    elif op == LSH:
        r = x << (y & (bits - 1))
    elif op == RSH:
        r = x >> (y & (bits - 1))
    elif op == ARSH:
        r = sext(x, bits) >> (y & (bits - 1))
    elif op == NEG:
        r = -x
    elif op == MOV:
        r = y if off == 0 else sext(y, off)
    elif op == END:
        return byte_swap(x, imm, to_be=bool(off), is64=is64)
    else:
        raise ValueError(op)
    return r & mask


def byte_swap(x: int, width: int, *, to_be: bool, is64: bool) -> int:
    """le/be (class ALU, little-endian host) and bswap (class ALU64)."""
    low = x & ((1 << width) - 1)
    if is64 or to_be:
        return int.from_bytes(low.to_bytes(width // 8, "little"), "big")
    return low


def jmp(op: int, x: int, y: int, is_jmp32: bool) -> bool:
    """Whether `if x <op> y goto` jumps."""
    bits = 32 if is_jmp32 else 64
    mask = (1 << bits) - 1
    x, y = x & mask, y & mask
    sx, sy = sext(x, bits), sext(y, bits)
    return {
        JEQ: x == y,
        JNE: x != y,
        JGT: x > y,
        JGE: x >= y,
        JLT: x < y,
        JLE: x <= y,
        JSGT: sx > sy,
        JSGE: sx >= sy,
        JSLT: sx < sy,
        JSLE: sx <= sy,
        JSET: bool(x & y),
    }[op]
