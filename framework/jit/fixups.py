"""The few post-verification rewrites the x86 JIT relies on for correct arithmetic.

A stand-in until the framework's fixup stage lands: Linux's do_misc_fixups makes
division by zero and INT_MIN / -1 impossible (the JIT's div/idiv would trap), and
opt_subreg_zext_lo32_rnd_hi32 zero-extends R0 after a 32-bit cmpxchg (x86 leaves
rax's upper half alone when the compare succeeds). Patches are re-expressed from
kernel/bpf/verifier.c (Linux 6.18); jumps across them are adjusted as
bpf_adj_branches does (a jump to a patched insn lands on its patch's first insn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.insn import Insn, make
from framework.isa.opcodes import Kind
from framework.jit.x86 import REG_AX


@dataclass(frozen=True, slots=True)
class Fixed:
    """Rewritten slots, the subprog bounds moved with them, and old pc -> new pc."""

    slots: Slots
    bounds: tuple[tuple[int, int], ...]
    pc_map: tuple[int, ...]  # by old pc (len = old slots + 1: the end maps too)


def _alu(is64: bool, o: int, src_k: int) -> int:
    return (op.ALU64 if is64 else op.ALU) | o | src_k


def _jmp(is64: bool, o: int) -> int:
    return (op.JMP if is64 else op.JMP32) | o | op.K


def _mov32_reg(r: int, imm: int = 0) -> Insn:
    return make(op.ALU | op.MOV | op.X, r, r, 0, imm)


def _ja(off: int) -> Insn:
    return make(op.JMP | op.JA, 0, 0, off)


def _div_patch(insn: Insn) -> list[Insn] | None:
    """do_misc_fixups: "Make divide-by-zero and divide-by-minus-one exceptions impossible"."""
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


def _zext_patch(insn: Insn) -> list[Insn] | None:
    """opt_subreg_zext_lo32_rnd_hi32: BPF_ZEXT_REG(r0) after a 32-bit cmpxchg."""
    if insn.kind is Kind.ATOMIC and insn.imm == op.CMPXCHG and insn.size == 4:
        return [insn, _mov32_reg(0, imm=1)]
    return None


def apply(slots: Slots, bounds: Sequence[tuple[int, int]] | None = None) -> Fixed:
    """Apply the division guards and the cmpxchg zero extension; adjust every jump,
    BPF-to-BPF call and ld_imm64 of a function across the inserted instructions."""
    patches: list[list[Insn | None]] = []
    pc_map: list[int] = []
    at = 0
    for insn in slots:
        pc_map.append(at)
        if insn is None:
            patches.append([])  # emitted with its first slot
            continue
        patch = _div_patch(insn) or _zext_patch(insn)
        seq: list[Insn | None] = []
        for p in patch or [insn]:
            seq.append(p)
            if p.kind is Kind.LD_IMM64:
                seq.append(None)
        patches.append(seq)
        at += len(seq)
    pc_map.append(at)
    new: list[Insn | None] = []
    for pc, seq in enumerate(patches):
        insn = slots[pc]
        for k, q in enumerate(seq):
            new.append(_retarget(q, pc, pc_map[pc] + k, pc_map) if q is not None and q is insn else q)
    subs = tuple((pc_map[s], pc_map[e]) for s, e in (bounds or [(0, len(slots))]))
    return Fixed(tuple(new), subs, tuple(pc_map))


def _retarget(insn: Insn, old_pc: int, new_pc: int, pc_map: Sequence[int]) -> Insn:
    kind = insn.kind
    if kind in (Kind.JA, Kind.JCOND, Kind.MAY_GOTO):
        target = pc_map[insn.jump_target(old_pc)]
        if insn.spec.name == "gotol":
            return insn.replace(imm=target - new_pc - 1)
        return insn.replace(off=target - new_pc - 1)
    if (kind is Kind.CALL and insn.src == op.PSEUDO_CALL) or (kind is Kind.LD_IMM64 and insn.src == op.PSEUDO_FUNC):
        target = pc_map[insn.jump_target(old_pc)]
        return insn.replace(imm=target - new_pc - 1)
    return insn
