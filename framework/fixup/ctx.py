"""convert_ctx_accesses for tc programs: `__sk_buff` loads become `struct sk_buff` loads.

The verifier knows which loads read the ctx (PTR_TO_CTX in insn_aux_data);
until the framework's verifier lands, `ctx_loads` finds them with a small
may-analysis of which registers and stack slots hold the ctx pointer (r1 at
main's entry, moves, spills and fills, BPF-to-BPF call arguments). An accepted
program never loads through a register that is the ctx on one path only.

The rewrites are tc_cls_act_convert_ctx_access / bpf_convert_ctx_access
(net/core/filter.c), with `struct sk_buff` offsets of the live kernel
(Linux 6.18.44 x86-64, read from /sys/kernel/btf/vmlinux; tests check them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.insn import Insn, make
from framework.isa.opcodes import Kind

__all__ = ["SKB_LAYOUT", "CtxError", "SkbLayout", "convert_skb_load", "ctx_loads"]


class CtxError(ValueError):
    """A ctx access this model does not convert."""


@dataclass(frozen=True, slots=True)
class SkbLayout:
    """Offsets in the kernel's `struct sk_buff` (size 224 on 6.18.44 x86-64)."""

    size: int = 224
    dev: int = 16  # struct net_device *dev
    dev_ifindex: int = 224  # offsetof(struct net_device, ifindex)
    cb: int = 40  # char cb[48]; tc's struct bpf_skb_data_end lives there
    len: int = 112
    protocol: int = 176
    data: int = 200
    data_meta: int = 40 + 32  # cb + offsetof(struct bpf_skb_data_end, data_meta)
    data_end: int = 40 + 40  # cb + offsetof(struct bpf_skb_data_end, data_end)


SKB_LAYOUT = SkbLayout()

# __sk_buff offset -> (its size, BPF size of the sk_buff load, sk_buff offset)
_SKB_FIELDS = {
    0: (4, op.W, SKB_LAYOUT.len),  # bpf_convert_ctx_access: len
    16: (4, op.H, SKB_LAYOUT.protocol),  # bpf_convert_ctx_access: protocol (BPF_H)
    40: (4, op.W, SKB_LAYOUT.dev_ifindex),  # tc_cls_act_convert_ctx_access: ifindex via skb->dev
    76: (4, op.DW, SKB_LAYOUT.data),  # bpf_convert_ctx_access: data
    80: (4, op.DW, SKB_LAYOUT.data_end),  # tc_cls_act_convert_ctx_access: data_end in cb
    140: (4, op.DW, SKB_LAYOUT.data_meta),  # bpf_convert_ctx_access: data_meta in cb
}


def convert_skb_load(insn: Insn) -> list[Insn]:
    """tc_cls_act_convert_ctx_access: one `__sk_buff` load as the kernel rewrites it."""
    field = _SKB_FIELDS.get(insn.off)
    if field is None or insn.kind is not Kind.LOAD or insn.size != field[0]:
        raise CtxError(f"__sk_buff access at offset {insn.off} (size {insn.size}) is not modelled")
    _, size, off = field
    if insn.off == 40:  # tc_cls_act_convert_ctx_access: ifindex = skb->dev->ifindex
        return [
            make(op.LDX | op.MEM | op.DW, insn.dst, insn.src, SKB_LAYOUT.dev),
            make(op.LDX | op.MEM | op.W, insn.dst, insn.dst, SKB_LAYOUT.dev_ifindex),
        ]
    return [make(op.LDX | op.MEM | size, insn.dst, insn.src, off)]


# A state: registers holding the ctx, and fp-relative stack slots holding it.
_State = tuple[frozenset[int], frozenset[int]]


def _successors(slots: Slots, pc: int, insn: Insn, throws: frozenset[int]) -> list[int]:
    if insn.kind is Kind.EXIT or pc in throws:
        return []
    nxt = pc + insn.slots
    if insn.kind is Kind.JA:
        return [insn.jump_target(pc)]
    if insn.kind in (Kind.JCOND, Kind.MAY_GOTO):
        return [nxt, insn.jump_target(pc)]
    return [nxt] if nxt < len(slots) else []


def _step(insn: Insn, state: _State) -> _State:
    regs, slots = state
    kind = insn.kind
    if kind is Kind.ALU and insn.op == op.MOV and insn.alu64 and insn.uses_reg_src and insn.off == 0:
        return (regs | {insn.dst}) if insn.src in regs else (regs - {insn.dst}), slots
    if kind in (Kind.ALU, Kind.NEG, Kind.END, Kind.LD_IMM64, Kind.LD_PKT):
        return regs - {insn.dst}, slots
    if kind is Kind.LOAD:
        if insn.src == 10 and insn.size == 8 and insn.off in slots:
            return regs | {insn.dst}, slots
        return regs - {insn.dst}, slots
    if kind in (Kind.STORE_REG, Kind.STORE_IMM) and insn.dst == 10:
        holds = kind is Kind.STORE_REG and insn.size == 8 and insn.src in regs
        return regs, (slots | {insn.off}) if holds else (slots - {insn.off})
    if kind is Kind.ATOMIC and insn.dst == 10:
        return regs - {0, insn.src}, slots - {insn.off}
    if kind in (Kind.CALL, Kind.CALLX):
        return regs - {0, 1, 2, 3, 4, 5}, slots
    return state


def ctx_loads(
    slots: Slots, subprogs: Sequence[tuple[int, int]], entry: int = 0, throws: frozenset[int] = frozenset()
) -> frozenset[int]:
    """pcs of loads whose base register may hold the ctx (r1 at `entry`)."""
    starts = {s for s, _ in subprogs}
    states: dict[int, _State] = {entry: (frozenset({1}), frozenset())}
    work = [entry]
    found: set[int] = set()
    while work:
        pc = work.pop()
        state = states[pc]
        insn = slots[pc]
        if insn is None:
            continue
        if insn.kind is Kind.LOAD and insn.src in state[0] and insn.src != 10:
            found.add(pc)
        if insn.kind is Kind.CALL and insn.src == op.PSEUDO_CALL:
            callee = insn.jump_target(pc)
            if callee in starts:  # the callee's r1-r5 are the caller's; its stack is its own
                _merge(states, work, callee, (state[0] & frozenset(range(1, 6)), frozenset()))
        after = _step(insn, state)
        for nxt in _successors(slots, pc, insn, throws):
            _merge(states, work, nxt, after)
    return frozenset(found)


def _merge(states: dict[int, _State], work: list[int], pc: int, state: _State) -> None:
    old = states.get(pc)
    new = state if old is None else (old[0] | state[0], old[1] | state[1])
    if new != old:
        states[pc] = new
        work.append(pc)
