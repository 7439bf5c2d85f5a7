"""LD_ABS / LD_IND as Linux 6.18 runs them on x86-64: rewritten before the JIT.

The x86 JIT has no LD_ABS/LD_IND since 4.18; do_misc_fixups calls the program
type's gen_ld_abs (net/core/filter.c bpf_gen_ld_abs), which turns each into a
call of bpf_skb_load_helper_{8,16,32}_no_cache(skb, offset) with the ctx from
r6, and a return of 0 from the program when the helper fails (r0 < 0). Those
kernel-internal functions have no helper id; here they get ids the uapi leaves
unused (`SKB_LOAD_HELPERS`), served by the machine's bridge.
"""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.insn import Insn, make
from framework.isa.opcodes import Kind

__all__ = ["SKB_LOAD_HELPERS", "ld_abs_patch"]

# helper id -> bytes loaded (bpf_skb_load_helper_{8,16,32}_no_cache)
SKB_LOAD_HELPERS = {0x1F0: 1, 0x1F1: 2, 0x1F2: 4}
_BY_SIZE = {size: hid for hid, size in SKB_LOAD_HELPERS.items()}
REG_CTX = 6


def ld_abs_patch(_pc: int, insn: Insn) -> list[Insn] | None:
    """bpf_gen_ld_abs: r2 = offset; r1 = r6; call the load helper; if r0 s< 0, return 0."""
    if insn.kind is not Kind.LD_PKT:
        return None
    out: list[Insn] = []
    if insn.code & 0xE0 == op.ABS:
        out.append(make(op.ALU64 | op.MOV | op.K, 2, 0, 0, insn.imm))
    else:
        out.append(make(op.ALU64 | op.MOV | op.X, 2, insn.src))
        if insn.imm:
            out.append(make(op.ALU64 | op.ADD | op.K, 2, 0, 0, insn.imm))
    out += [
        make(op.ALU64 | op.MOV | op.X, 1, REG_CTX),
        make(op.JMP | op.CALL, 0, 0, 0, _BY_SIZE[insn.size]),
        make(op.JMP | op.JSGE | op.K, 0, 0, 2, 0),
        make(op.ALU | op.XOR | op.X, 0, 0),
        make(op.JMP | op.EXIT),
    ]
    return out
