"""opt_remove_dead_code and opt_remove_nops, with reachability standing in for `aux->seen`.

The verifier removes every instruction no path reached (a privileged load);
that includes the code after a call that never returns (bpf_throw). Without
the verifier's path sensitivity, "reached" here is control-flow reachability
from main, the exception callback and the functions called or referenced:
a branch the verifier proves one-sided keeps its dead side here (a named
difference). opt_remove_nops then drops `ja +0` (and `may_goto +0`).
"""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind

__all__ = ["is_nop", "reachable"]


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
