"""opt_hard_wire_dead_code_branches, opt_remove_dead_code and opt_remove_nops.

After a verification that finished, the verifier's own record decides (`VerifierRecord.seen`,
insn_aux_data[].seen): a conditional jump one of whose sides no path took becomes a `ja`
(`hard_wire`), and every instruction no path reached is removed (a privileged load), the code
after a call that never returns (bpf_throw) included; opt_remove_nops then drops `ja +0` (and
`may_goto +0`). For a program the verifier stopped early on (run with --no-verify), `reachable`,
control-flow reachability from main, the exception callback and the functions called or
referenced, stands in for what it would have seen.
"""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.insn import Insn, make
from framework.isa.opcodes import Kind

__all__ = ["hard_wire", "is_nop", "reachable"]


def hard_wire(slots: Slots, seen: frozenset[int]) -> Slots:
    """opt_hard_wire_dead_code_branches: a conditional jump whose fall-through no path reached
    jumps always; one whose target no path reached falls through (`ja +0`, a nop)."""
    out = list(slots)
    for pc, insn in enumerate(slots):
        if insn is None or insn.kind not in (Kind.JCOND, Kind.MAY_GOTO):  # kernel: insn_is_cond_jump
            continue
        if pc + 1 not in seen:
            out[pc] = make(op.JMP | op.JA, 0, 0, insn.off)
        elif insn.jump_target(pc) not in seen:
            out[pc] = make(op.JMP | op.JA, 0, 0, 0)
    return tuple(out)


def reachable(slots: Slots, roots: frozenset[int], noreturn: frozenset[int]) -> frozenset[int]:
    """pcs reachable from `roots`; a call at a pc in `noreturn` does not fall through."""
    seen: set[int] = set()
    work = list(roots)
    while work:
        pc = work.pop()
        if pc in seen or not 0 <= pc < len(slots):
            continue
        insn = slots[pc]
        if insn is None:
            continue
        seen.add(pc)
        kind = insn.kind
        nxt = pc + insn.slots
        if kind is Kind.EXIT or pc in noreturn:
            continue
        if kind is Kind.JA:
            work.append(insn.jump_target(pc))
            continue
        if kind in (Kind.JCOND, Kind.MAY_GOTO):
            work.append(insn.jump_target(pc))
        if (kind is Kind.CALL and insn.src == op.PSEUDO_CALL) or (kind is Kind.LD_IMM64 and insn.src == op.PSEUDO_FUNC):
            work.append(insn.jump_target(pc))
        work.append(nxt)
    return frozenset(seen)


def is_nop(insn: Insn) -> bool:
    """opt_remove_nops: `ja +0` and `may_goto +0`."""
    return (insn.kind is Kind.JA and insn.spec.name != "gotol" and insn.off == 0) or (
        insn.kind is Kind.MAY_GOTO and insn.off == 0
    )
