"""Rewrites that keep the JIT's arithmetic from trapping or leaking stale bits.

- do_misc_fixups: "Make divide-by-zero and divide-by-minus-one exceptions
  impossible" (x86 div/idiv would raise #DE);
- opt_subreg_zext_lo32_rnd_hi32: BPF_ZEXT_REG(r0) after a 32-bit cmpxchg (x86
  leaves rax's upper half alone when the compare succeeds).
Re-expressed from kernel/bpf/verifier.c (Linux 6.18).
"""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.insn import Insn, make
from framework.isa.opcodes import Kind

__all__ = ["div_patch", "zext_patch"]

REG_AX = 11  # BPF_REG_AX (MAX_BPF_REG): x86 r10 in the JIT


def _alu(is64: bool, o: int, src_k: int) -> int:
    return (op.ALU64 if is64 else op.ALU) | o | src_k


def _jmp(is64: bool, o: int) -> int:
    return (op.JMP if is64 else op.JMP32) | o | op.K


def _mov32_reg(r: int, imm: int = 0) -> Insn:
    return make(op.ALU | op.MOV | op.X, r, r, 0, imm)


def _ja(off: int) -> Insn:
    return make(op.JMP | op.JA, 0, 0, off)


def div_patch(_pc: int, insn: Insn) -> list[Insn] | None:
    """do_misc_fixups: the division and modulo guards."""
    if insn.kind is not Kind.ALU or insn.op not in (op.DIV, op.MOD):
        return None
    is64 = insn.alu64
    isdiv = insn.op == op.DIV
    dst, src = insn.dst, insn.src
    if not insn.uses_reg_src:
        if insn.off == 1 and insn.imm == -1:  # sdiv/smod by the constant -1
            if isdiv:
                return [make(_alu(is64, op.NEG, op.K), dst)]
            return [make(op.ALU | op.MOV | op.K, dst, 0, 0, 0)]
        return None
    if insn.off == 1 and isdiv:  # [R,W]x sdiv 0 -> 0; INT_MIN sdiv -1 -> INT_MIN
        return [
            make(op.ALU64 | op.MOV | op.X, REG_AX, src),
            make(_alu(is64, op.ADD, op.K), REG_AX, 0, 0, 1),
            make(_jmp(is64, op.JGT), REG_AX, 0, 4, 1),
            make(_jmp(is64, op.JEQ), REG_AX, 0, 1, 0),
            make(_alu(is64, op.MOV, op.K), dst, 0, 0, 0),
            make(_alu(is64, op.NEG, op.K), dst),
            _ja(1),
            insn,
        ]
    if insn.off == 1:  # [R,W]x smod 0 -> [R,W]x; smod -1 -> 0
        out = [
            make(op.ALU64 | op.MOV | op.X, REG_AX, src),
            make(_alu(is64, op.ADD, op.K), REG_AX, 0, 0, 1),
            make(_jmp(is64, op.JGT), REG_AX, 0, 3, 1),
            make(_jmp(is64, op.JEQ), REG_AX, 0, 3 + (0 if is64 else 1), 1),
            make(op.ALU | op.MOV | op.K, dst, 0, 0, 0),
            _ja(1),
            insn,
        ]
        if not is64:
            out += [_ja(1), _mov32_reg(dst)]
        return out
    if isdiv:  # [R,W]x div 0 -> 0
        return [
            make(_jmp(is64, op.JNE), src, 0, 2, 0),
            make(op.ALU | op.XOR | op.X, dst, dst),
            _ja(1),
            insn,
        ]
    out = [make(_jmp(is64, op.JEQ), src, 0, 1 + (0 if is64 else 1), 0), insn]  # [R,W]x mod 0 -> [R,W]x
    if not is64:
        out += [_ja(1), _mov32_reg(dst)]
    return out


def zext_patch(_pc: int, insn: Insn) -> list[Insn] | None:
    """opt_subreg_zext_lo32_rnd_hi32: BPF_ZEXT_REG(r0) after a 32-bit cmpxchg."""
    if insn.kind is Kind.ATOMIC and insn.imm == op.CMPXCHG and insn.size == 4:
        return [insn, _mov32_reg(0, imm=1)]
    return None
