"""do_misc_fixups for bpf_timer_set_callback: the program's `aux` passed as a hidden third argument.

The kernel patches `r3 = prog->aux ll` before each call of bpf_timer_set_callback (the helper
records which program's callback the timer runs). The address stands for that pointer: a
kernel-half constant, emitted as movabs as the kernel's is; the emulated kernel ignores it.
"""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.insn import Insn, make
from framework.isa.opcodes import Kind

__all__ = ["PROG_AUX", "timer_set_callback_patch"]

PROG_AUX = 0xFFFF_8880_0A0C_0000  # stands for the program's struct bpf_prog_aux
BPF_FUNC_TIMER_SET_CALLBACK = 170


def timer_set_callback_patch(_pc: int, insn: Insn) -> list[Insn] | None:
    """do_misc_fixups, `insn->imm == BPF_FUNC_timer_set_callback`: BPF_LD_IMM64(BPF_REG_3, prog->aux)."""
    if insn.kind is not Kind.CALL or insn.src != op.CALL_HELPER or insn.imm != BPF_FUNC_TIMER_SET_CALLBACK:
        return None
    aux = make(op.LD | op.IMM | op.DW, 3, 0, 0, PROG_AUX & 0xFFFFFFFF, PROG_AUX >> 32)
    return [aux, insn]
