"""may_goto as Linux 6.18 rewrites it on x86-64: the timed form.

x86-64 has bpf_jit_supports_timed_may_goto() (arch_bpf_timed_may_goto, since
6.15), so do_misc_fixups emits the timed form: two 8-byte slots below the
subprog's stack (a count at -depth-16, a timestamp at -depth-8), a countdown of
BPF_MAX_TIMED_LOOPS (0xffff) per refill, and at zero a call of
arch_bpf_timed_may_goto with AX = the count's fp offset, whose result (0 once a
quarter second has passed since the first refill, else 0xffff) goes back into
the count. The subprog's entry stores the initial count and a zero timestamp.
arch_bpf_timed_may_goto has no helper id; `TIMED_MAY_GOTO` is the id the
machine serves it under (with an emulated clock, framework.machine).
"""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.insn import Insn, make
from framework.isa.opcodes import Kind
from framework.isa.patch import To

__all__ = [
    "BPF_MAX_TIMED_LOOPS",
    "MAY_GOTO_QUANTUM_NS",
    "NSEC_PER_SEC",
    "TIMED_MAY_GOTO",
    "may_goto_patch",
    "may_goto_prologue",
]

TIMED_MAY_GOTO = 0x1F3
BPF_MAX_TIMED_LOOPS = 0xFFFF
NSEC_PER_SEC = 1_000_000_000
# Both engines' emulated clock: each arch_bpf_timed_may_goto call advances it by this much, so the
# quarter second a frame may loop for ends after 128 refills, deterministically, whatever the host's speed.
MAY_GOTO_QUANTUM_NS = NSEC_PER_SEC // 4 // 128
REG_AX = 11


def may_goto_patch(pc: int, insn: Insn, depth: int) -> list[Insn | To]:
    """do_misc_fixups (timed may_goto): `depth` is the subprog's stack depth before the two slots."""
    cnt = -depth - 16
    return [
        make(op.LDX | op.MEM | op.DW, REG_AX, 10, cnt),
        To(make(op.JMP | op.JEQ | op.K, REG_AX, 0, 0, 0), insn.jump_target(pc)),
        make(op.ALU64 | op.SUB | op.K, REG_AX, 0, 0, 1),
        make(op.JMP | op.JNE | op.K, REG_AX, 0, 2, 0),
        make(op.ALU64 | op.MOV | op.K, REG_AX, 0, 0, cnt),
        make(op.JMP | op.CALL, 0, 0, 0, TIMED_MAY_GOTO),
        make(op.STX | op.MEM | op.DW, 10, REG_AX, cnt),
    ]


def may_goto_prologue(insn: Insn, depth: int) -> list[Insn]:
    """do_misc_fixups: the subprog's first instruction, after the count and timestamp are set
    (`depth` includes the two slots)."""
    return [
        make(op.ST | op.MEM | op.DW, 10, 0, -depth, BPF_MAX_TIMED_LOOPS),
        make(op.ST | op.MEM | op.DW, 10, 0, -depth + 8, 0),
        insn,
    ]


def is_may_goto(insn: Insn | None) -> bool:
    return insn is not None and insn.kind is Kind.MAY_GOTO
