"""The fields an instruction's form leaves unused must be zero: the kernel's "uses reserved fields".

The decoder (framework/isa) accepts an instruction by its opcode byte and the off/imm values that
select its form; the registers and the operand fields a form does not use are carried as they
came. Linux refuses a nonzero one when do_check_insn reaches the instruction (before it reads any
register), except the loads, which resolve_pseudo_ldimm64 checks for the whole program first.
One function per kind, each naming the kernel check it follows.
"""

from __future__ import annotations

from collections.abc import Callable

from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind

BPF_MAY_GOTO = 0  # uapi bpf.h: the src_reg of `may_goto`


def _alu(insn: Insn) -> str | None:
    # kernel: check_alu_op (the off of movsx, sdiv/smod and addr_space_cast selected the form)
    if insn.op == op.MOV:
        if insn.uses_reg_src:
            return None  # ops._mov_reserved: imm, and the arena cast, with their own messages
        return "BPF_MOV uses reserved fields" if insn.src else None
    if insn.uses_reg_src:
        return "BPF_ALU uses reserved fields" if insn.imm else None
    return "BPF_ALU uses reserved fields" if insn.src else None


def _neg(insn: Insn) -> str | None:
    # kernel: check_alu_op, BPF_NEG
    return "BPF_NEG uses reserved fields" if insn.src or insn.off or insn.imm else None


def _end(insn: Insn) -> str | None:
    # kernel: check_alu_op, BPF_END (imm, the width, selected the form)
    return "BPF_END uses reserved fields" if insn.src or insn.off else None


def _ja(insn: Insn) -> str | None:
    # kernel: do_check_insn, BPF_JA (gotol keeps its offset in imm, goto in off)
    unused = insn.off if insn.jmp32 else insn.imm
    return "BPF_JA uses reserved fields" if insn.src or insn.dst or unused else None


def jcond(insn: Insn) -> str | None:
    # kernel: check_cond_jmp_op (after check_reg_arg of dst, before src)
    unused = insn.imm if insn.uses_reg_src else insn.src
    return "BPF_JMP/JMP32 uses reserved fields" if unused else None


def _may_goto(insn: Insn) -> str | None:
    # kernel: check_cond_jmp_op, BPF_JCOND
    if insn.src != BPF_MAY_GOTO or insn.dst or insn.imm:
        return f"invalid may_goto imm {insn.imm}"
    return None


def _call(insn: Insn) -> str | None:
    # kernel: do_check_insn, BPF_CALL
    if insn.src not in (op.CALL_HELPER, op.PSEUDO_CALL, op.PSEUDO_KFUNC_CALL) or insn.dst or insn.jmp32:
        return "BPF_CALL uses reserved fields"
    if insn.off and insn.src != op.PSEUDO_KFUNC_CALL:
        return "BPF_CALL uses reserved fields"
    return None


def _exit(insn: Insn) -> str | None:
    # kernel: do_check_insn, BPF_EXIT
    return "BPF_EXIT uses reserved fields" if insn.imm or insn.src or insn.dst or insn.jmp32 else None


LD_ABS_TYPES = ("socket_filter", "sched_cls", "sched_act")  # kernel: may_access_skb


def ld_pkt_program_type(insn: Insn, prog_type: str) -> str | None:
    """check_ld_abs refuses the program type before it looks at the instruction's fields."""
    if insn.kind is Kind.LD_PKT and prog_type not in LD_ABS_TYPES:
        return "BPF_LD_[ABS|IND] instructions not allowed for this program type"  # kernel: check_ld_abs
    return None


def _ld_imm64(insn: Insn) -> str | None:
    # kernel: check_ld_imm (the second slot: second_slot, before the walk)
    return "BPF_LD_IMM64 uses reserved fields" if insn.off else None


def _ld_pkt(insn: Insn) -> str | None:
    # kernel: check_ld_abs
    absolute = insn.code & 0xE0 == op.ABS
    if insn.dst or insn.off or insn.size == 8 or (absolute and insn.src):
        return "BPF_LD_[ABS|IND] uses reserved fields"
    return None


def _store_reg(insn: Insn) -> str | None:
    # kernel: do_check_insn, BPF_STX (not BPF_ATOMIC)
    return "BPF_STX uses reserved fields" if insn.imm else None


def _store_imm(insn: Insn) -> str | None:
    # kernel: do_check_insn, BPF_ST
    return "BPF_ST uses reserved fields" if insn.src else None


def _none(insn: Insn) -> str | None:
    return None


CHECKS: dict[Kind, Callable[[Insn], str | None]] = {
    Kind.ALU: _alu,
    Kind.NEG: _neg,
    Kind.END: _end,
    Kind.JA: _ja,
    Kind.JCOND: _none,  # jcond, from check_cond_jmp_op once it has read dst
    Kind.MAY_GOTO: _may_goto,
    Kind.CALL: _call,
    Kind.CALLX: _none,  # refused whole by resolve_pseudo_ldimm64 ("unknown opcode")
    Kind.EXIT: _exit,
    Kind.LD_IMM64: _ld_imm64,
    Kind.LD_PKT: _ld_pkt,
    Kind.LOAD: _none,  # load, before the walk
    Kind.STORE_REG: _store_reg,
    Kind.STORE_IMM: _store_imm,
    Kind.ATOMIC: _none,  # check_atomic dispatches on imm, which selected the form
}


def reserved_fields(insn: Insn) -> str | None:
    """The kernel's refusal of `insn`'s unused fields as do_check_insn reaches it, if any."""
    return CHECKS[insn.kind](insn)


def load(insn: Insn) -> str | None:
    # kernel: resolve_pseudo_ldimm64 (BPF_LDX: mode BPF_MEM or BPF_MEMSX, imm 0)
    return "BPF_LDX uses reserved fields" if insn.kind is Kind.LOAD and insn.imm else None


def second_slot(insn: Insn) -> str | None:
    # kernel: resolve_pseudo_ldimm64 (the second half of ld_imm64 carries only the high imm)
    if insn.kind is Kind.LD_IMM64 and (insn.hi_code or insn.hi_regs or insn.hi_off):
        return "invalid bpf_ld_imm64 insn"
    return None
