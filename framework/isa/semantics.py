"""What each operator computes: the instruction set's meaning, written once.

The interpreter (framework.run.interp) executes with these functions, the verifier's
constant folding (framework.verify.ops) computes with them, and the atomics of both use
the same binary operators; the x86 JIT's code is checked against the interpreter's runs.
The rules are the kernel interpreter's (kernel/bpf/core.c ___bpf_prog_run, ALU64_* and
ALU_*, JMP_* and JMP32_*) on a little-endian host, with division by zero as
do_misc_fixups rewrites it (x / 0 = 0, x % 0 = x).
"""

from __future__ import annotations

from framework.isa import opcodes as op

MASK32 = (1 << 32) - 1
MASK64 = (1 << 64) - 1


def sext(v: int, bits: int) -> int:
    """The low `bits` of v as a signed integer."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def bswap(v: int, width: int) -> int:
    """The low `width` bits of v, byte-swapped (BPF_END to big endian, or bswap)."""
    return int.from_bytes((v & ((1 << width) - 1)).to_bytes(width // 8, "little"), "big")


def tdiv(a: int, b: int) -> int:
    """C's truncating signed division (b != 0)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def alu(o: int, a: int, b: int, bits: int, *, off: int = 0, reg_src: bool = True) -> int:
    """BPF_OP `o` on `bits`-wide operands (a and b already masked to the width); the caller masks
    the result. `off` selects sdiv/smod (1) and movsx (8, 16, 32, with a register source).
    Shifts mask their count to the width; sdiv/smod truncate as C does."""
    if o == op.ADD:
        return a + b
    if o == op.SUB:
        return a - b
    if o == op.MUL:
        return a * b
    if o == op.MOV:
        if reg_src and off in (8, 16, 32):  # movsx (ALU: 8/16, sign-extended to 32 bits)
            return sext(b, off)
        return b  # mov, and addr_space_cast (no arena here: the pointer passes unchanged)
    if o == op.OR:
        return a | b
    if o == op.AND:
        return a & b
    if o == op.XOR:
        return a ^ b
    if o == op.LSH:  # DST << (SRC & (bits - 1))
        return a << (b & (bits - 1))
    if o == op.RSH:
        return a >> (b & (bits - 1))
    if o == op.ARSH:
        return sext(a, bits) >> (b & (bits - 1))
    if o == op.DIV:  # do_misc_fixups: x / 0 = 0
        if b == 0:
            return 0
        return tdiv(sext(a, bits), sext(b, bits)) if off == 1 else a // b
    if o == op.MOD:  # do_misc_fixups: x % 0 = x
        if b == 0:
            return a
        if off == 1:
            sa, sb = sext(a, bits), sext(b, bits)
            return sa - sb * tdiv(sa, sb)
        return a % b
    raise ValueError(f"unknown ALU op 0x{o:x}")


def jump(o: int, a: int, b: int, bits: int) -> bool:
    """Whether the conditional jump `if a <o> b` is taken, on `bits`-wide operands (already masked)."""
    if o == op.JEQ:
        return a == b
    if o == op.JNE:
        return a != b
    if o == op.JGT:
        return a > b
    if o == op.JGE:
        return a >= b
    if o == op.JLT:
        return a < b
    if o == op.JLE:
        return a <= b
    if o == op.JSET:
        return bool(a & b)
    sa, sb = sext(a, bits), sext(b, bits)
    if o == op.JSGT:
        return sa > sb
    if o == op.JSGE:
        return sa >= sb
    if o == op.JSLT:
        return sa < sb
    if o == op.JSLE:
        return sa <= sb
    raise ValueError(f"unknown jump op 0x{o:x}")
