"""Static register liveness and loops, computed once before exploration.

`live_before[pc]` is the kernel's `insn_aux_data[pc].live_regs_before`
(compute_live_registers): a bit per register R0-R9 read on some path from pc
before it is written. states_equal compares only these registers. `scc[pc]` is
the kernel's `insn_aux_data[pc].scc` (compute_scc): a nonzero id for every
instruction on a loop of the control flow graph, zero elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind

ARGS = 0b111110  # R1-R5
CALLER_SAVED = 0b111111  # R0-R5


def _bit(regno: int) -> int:
    return 1 << regno if regno < 10 else 0  # R10 is never tracked


CallArgs = Callable[[Insn], int | None]


def use_def(insn: Insn, call_args: CallArgs = lambda _insn: None) -> tuple[int, int]:
    """The registers `insn` reads and writes (compute_insn_live_regs)."""
    k = insn.kind
    dst, src = _bit(insn.dst), _bit(insn.src)
    if k is Kind.ALU:
        if insn.op == op.MOV:
            return (src if insn.uses_reg_src else 0), dst
        return dst | (src if insn.uses_reg_src else 0), dst
    if k in (Kind.NEG, Kind.END):
        return dst, dst
    if k is Kind.LOAD:
        return src, dst
    if k is Kind.STORE_IMM:
        return dst, 0
    if k is Kind.STORE_REG:
        return dst | src, 0
    if k is Kind.ATOMIC:
        if insn.imm == op.CMPXCHG:
            return dst | src | 1, 1
        return dst | src, (src if insn.imm & op.FETCH else 0)
    if k is Kind.LD_IMM64:
        return 0, dst
    if k is Kind.LD_PKT:
        return _bit(6) | (src if (insn.code & 0xE0) == 0x40 else 0), CALLER_SAVED
    if k is Kind.JCOND:
        return dst | (src if insn.uses_reg_src else 0), 0
    if k is Kind.EXIT:
        return 1, 0
    if k in (Kind.CALL, Kind.CALLX):
        # kernel: get_call_summary (R1..Rn for a prototype of n parameters; all five when unknown)
        n = call_args(insn)
        return (ARGS if n is None else ((1 << (n + 1)) - 2)), CALLER_SAVED
    return 0, 0


def successors(pc: int, insn: Insn) -> tuple[int, ...]:
    """insn_successors: where control goes next inside the subprog."""
    k = insn.kind
    if k is Kind.EXIT:
        return ()
    if k is Kind.JA:
        return (insn.jump_target(pc),)
    if k in (Kind.JCOND, Kind.MAY_GOTO):
        return (pc + 1, insn.jump_target(pc))
    if k is Kind.LD_IMM64:
        return (pc + 2,)
    return (pc + 1,)


def live_before(
    insns: Mapping[int, Insn], call_args: CallArgs = lambda _insn: None, pads: Mapping[int, int] | None = None
) -> dict[int, int]:
    # kernel: compute_live_registers (backward dataflow to a fixed point); `pads`: a covered
    # call's landing pad is one more successor (what the pad reads is live at the call)
    use: dict[int, int] = {}
    defs: dict[int, int] = {}
    succ: dict[int, tuple[int, ...]] = {}
    for pc, insn in insns.items():
        use[pc], defs[pc] = use_def(insn, call_args)
        succ[pc] = tuple(s for s in successors(pc, insn) if s in insns)
        if pads and pc in pads:
            succ[pc] += (pads[pc],)
    live = dict.fromkeys(insns, 0)
    order = sorted(insns, reverse=True)
    changed = True
    while changed:
        changed = False
        for pc in order:
            out = 0
            for s in succ[pc]:
                out |= live[s]
            new = use[pc] | (out & ~defs[pc])
            if new != live[pc]:
                live[pc] = new
                changed = True
    return live


def loops(insns: Mapping[int, Insn]) -> dict[int, int]:
    # kernel: compute_scc (Tarjan; only components that hold a cycle get an id)
    succ = {pc: tuple(s for s in successors(pc, insn) if s in insns) for pc, insn in insns.items()}
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    scc: dict[int, int] = {}
    next_id = 1
    counter = 0
    for root in sorted(insns):
        if root in index:
            continue
        work: list[tuple[int, Iterator[int]]] = [(root, iter(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            child = next(it, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] != index[node]:
                continue
            members = []
            while True:
                m = stack.pop()
                on_stack.discard(m)
                members.append(m)
                if m == node:
                    break
            if len(members) > 1 or node in succ[node]:
                for m in members:
                    scc[m] = next_id
                next_id += 1
    return scc
