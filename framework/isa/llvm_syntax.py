"""LLVM's BPF assembly syntax: the printer matches `llvm-objdump-19 -d --mcpu=v4`.

`alu32=False` prints what llvm-objdump-19 prints without the ALU32 feature (its
default cpu, `generic`, and `--mcpu=v1`/`v2`): 8-, 16- and 32-bit loads and stores
name r-registers, a 32-bit `atomic_fetch_add` is printed as `lock ... +=` (LLVM
decodes it as the plain add), and the other 32-bit atomics are `<unknown>`.
With ALU32 (`v3`, `v4`) they name w-registers. Nothing else changes with the cpu.

One `_fmt_<kind>` per instruction kind. Where LLVM 19 has no syntax (load-acquire
and store-release, added in LLVM 21) the printer uses LLVM 21's; where LLVM drops
a field (`ld_imm64` pseudo offsets, `LD_IND`'s imm) the printer adds it only when
it is non-zero, so text and bytes round-trip.
"""

from __future__ import annotations

from collections.abc import Callable

from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind

# llvm-objdump prints the kernel disassembler's symbols (framework.isa.opcodes' table)
ALU_SYMBOLS = {code: o.symbol for code, o in op.ALU_OPERATORS.items()}
JMP_SYMBOLS = {code: o.symbol for code, o in op.JMP_OPERATORS.items()}
SIZE_TYPES = op.SIZE_TYPES
SIGNED_SIZE_TYPES = op.SIGNED_SIZE_TYPES


def hex_signed(value: int) -> str:
    return f"-0x{-value:x}" if value < 0 else f"0x{value:x}"


def _offset(value: int) -> str:
    """A jump offset as LLVM prints it: always signed."""
    return f"-0x{-value:x}" if value < 0 else f"+0x{value:x}"


def _mem(base: int, off: int) -> str:
    sign = "-" if off < 0 else "+"
    return f"(r{base} {sign} 0x{abs(off):x})"


def _reg(insn_is_64: bool, reg: int) -> str:
    return f"{'r' if insn_is_64 else 'w'}{reg}"


def _fmt_alu(insn: Insn) -> str:
    wide = insn.alu64
    dst = _reg(wide, insn.dst)
    if insn.op == op.MOV and insn.uses_reg_src and insn.alu64 and insn.off == 1:
        return (
            f"r{insn.dst} = addr_space_cast(r{insn.src}, 0x{(insn.imm & 0xFFFFFFFF) >> 16:x}, 0x{insn.imm & 0xFFFF:x})"
        )
    if insn.op == op.MOV and insn.off in (8, 16, 32):
        return f"{dst} = (s{insn.off}){_reg(wide, insn.src)}"
    symbol = ALU_SYMBOLS[insn.op]
    if insn.op in (op.DIV, op.MOD) and insn.off == 1:
        symbol = "s" + symbol
    rhs = _reg(wide, insn.src) if insn.uses_reg_src else hex_signed(insn.imm)
    return f"{dst} {symbol} {rhs}"


def _fmt_neg(insn: Insn) -> str:
    dst = _reg(insn.alu64, insn.dst)
    return f"{dst} = -{dst}"


def _fmt_end(insn: Insn) -> str:
    name = "bswap" if insn.alu64 else "be" if insn.uses_reg_src else "le"
    return f"r{insn.dst} = {name}{insn.imm} r{insn.dst}"


def _fmt_ja(insn: Insn) -> str:
    if insn.jmp32:
        return f"gotol {_offset(insn.imm)}"
    return f"goto {_offset(insn.off)}"


def _fmt_jcond(insn: Insn) -> str:
    wide = not insn.jmp32
    rhs = _reg(wide, insn.src) if insn.uses_reg_src else hex_signed(insn.imm)
    return f"if {_reg(wide, insn.dst)} {JMP_SYMBOLS[insn.op]} {rhs} goto {_offset(insn.off)}"


def _fmt_may_goto(insn: Insn) -> str:
    return f"may_goto {_offset(insn.off)}"


def _fmt_call(insn: Insn) -> str:
    return f"call {hex_signed(insn.imm)}"


def _fmt_callx(insn: Insn) -> str:
    return f"callx r{insn.dst}"


def _fmt_exit(insn: Insn) -> str:
    return "exit"


def _fmt_ld_imm64(insn: Insn) -> str:
    if insn.src == 0:
        value = insn.imm64
        signed = value - (1 << 64) if value >> 63 else value
        return f"r{insn.dst} = {hex_signed(signed)} ll"
    # LLVM prints the pseudo's imm unsigned (`ld_pseudo r1, 0x2, 0xffffffff`).
    text = f"ld_pseudo\tr{insn.dst}, 0x{insn.src:x}, 0x{insn.imm & 0xFFFFFFFF:x}"
    if insn.imm_hi:  # LLVM drops the second slot's imm (a map value's offset)
        text += f", 0x{insn.imm_hi & 0xFFFFFFFF:x}"
    return text


def _fmt_ld_pkt(insn: Insn) -> str:
    size = SIZE_TYPES[insn.code & 0x18]
    if insn.code & 0xE0 == op.ABS:
        return f"r0 = *({size} *)skb[{hex_signed(insn.imm)}]"
    if insn.imm:  # LLVM prints LD_IND without its imm
        return f"r0 = *({size} *)skb[r{insn.src} + {hex_signed(insn.imm)}]"
    return f"r0 = *({size} *)skb[r{insn.src}]"


def _fmt_load(insn: Insn, alu32: bool) -> str:
    size = insn.code & 0x18
    if insn.code & 0xE0 == op.MEMSX:
        return f"r{insn.dst} = *({SIGNED_SIZE_TYPES[size]} *){_mem(insn.src, insn.off)}"
    return f"{_reg(size == op.DW or not alu32, insn.dst)} = *({SIZE_TYPES[size]} *){_mem(insn.src, insn.off)}"


def _fmt_store_imm(insn: Insn) -> str:
    return f"*({SIZE_TYPES[insn.code & 0x18]} *){_mem(insn.dst, insn.off)} = {hex_signed(insn.imm)}"


def _fmt_store_reg(insn: Insn, alu32: bool) -> str:
    size = insn.code & 0x18
    return f"*({SIZE_TYPES[size]} *){_mem(insn.dst, insn.off)} = {_reg(size == op.DW or not alu32, insn.src)}"


UNKNOWN = "<unknown>"  # what llvm-objdump prints for bytes it cannot decode


def _fmt_atomic(insn: Insn, alu32: bool) -> str:
    size = insn.code & 0x18
    if size != op.DW and not alu32 and insn.imm in (op.ADD, op.ADD | op.FETCH):
        return f"lock *({SIZE_TYPES[size]} *){_mem(insn.dst, insn.off)} += r{insn.src}"
    if size != op.DW and not alu32 and insn.imm not in (op.LOAD_ACQ, op.STORE_REL):
        return UNKNOWN
    wide = size == op.DW or not alu32
    ty = SIZE_TYPES[size]
    src = _reg(wide, insn.src)
    addr = _mem(insn.dst, insn.off)
    if insn.imm == op.LOAD_ACQ:  # LLVM 21 syntax
        return f"{_reg(wide, insn.dst)} = load_acquire(({ty} *){_mem(insn.src, insn.off)})"
    if insn.imm == op.STORE_REL:
        return f"store_release(({ty} *){addr}, {src})"
    bits = "64" if wide else "32_32"
    inner = addr[1:-1]
    if insn.imm == op.XCHG:
        return f"{src} = xchg{'_64' if wide else '32_32'}({inner}, {src})"
    if insn.imm == op.CMPXCHG:
        r0 = _reg(wide, 0)
        return f"{r0} = cmpxchg{'_64' if wide else bits}({inner}, {r0}, {src})"
    alu = insn.imm & 0xF0
    if insn.imm & op.FETCH:
        return f"{src} = atomic_fetch_{op.ATOMIC_OPS[alu]}(({ty} *){addr}, {src})"
    return f"lock *({ty} *){addr} {ALU_SYMBOLS[alu]} {src}"


FORMATTERS: dict[Kind, Callable[[Insn], str]] = {  # the same text with and without ALU32
    Kind.ALU: _fmt_alu,
    Kind.NEG: _fmt_neg,
    Kind.END: _fmt_end,
    Kind.JA: _fmt_ja,
    Kind.JCOND: _fmt_jcond,
    Kind.MAY_GOTO: _fmt_may_goto,
    Kind.CALL: _fmt_call,
    Kind.CALLX: _fmt_callx,
    Kind.EXIT: _fmt_exit,
    Kind.LD_IMM64: _fmt_ld_imm64,
    Kind.LD_PKT: _fmt_ld_pkt,
    Kind.STORE_IMM: _fmt_store_imm,
}
BY_CPU: dict[Kind, Callable[[Insn, bool], str]] = {  # text that depends on the ALU32 feature
    Kind.LOAD: _fmt_load,
    Kind.STORE_REG: _fmt_store_reg,
    Kind.ATOMIC: _fmt_atomic,
}


def format_insn(insn: Insn, *, alu32: bool = True) -> str:
    """The instruction as llvm-objdump-19 prints it (without the branch-target comment);
    `alu32`: with the cpu feature of --mcpu=v3 and v4 (the default), or without, as v1, v2 and generic."""
    by_cpu = BY_CPU.get(insn.kind)
    return by_cpu(insn, alu32) if by_cpu is not None else FORMATTERS[insn.kind](insn)
