"""convert_ctx_accesses for `__sk_buff` programs (tc, socket filters, cgroup skb): `__sk_buff`
loads and stores become `struct sk_buff` ones.

Which instructions are converted is the verifier's record, never the instruction's shape:
every load and store whose base register the verifier typed as the context
(`InsnAux.ptr_type`, insn_aux_data[].ptr_type), whatever register, copy, spill or
arithmetic led there. Each becomes tc_cls_act_convert_ctx_access's (tc) or
bpf_convert_ctx_access's (the rest) instructions (net/core/filter.c) for the field it touches
(framework.platform.skb's table and layout), and a load narrower than its field gets
convert_ctx_accesses' shift and mask; a sign-extending load gets its movsx after.
BPF_REG_AX (register 11, x86 r10 in the JIT) is the scratch register the kernel uses.

One named difference: the socket fields (family .. local_port) load skb->sk, then the field from
the socket; the kernel reads struct sock_common there, the emulated test-run socket is laid out as
the struct bpf_sock its pointer's (unconverted) loads read, so the second load takes the same width
at that layout's offset (framework.platform.skb's SOCK_VIEW).
"""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.insn import Insn, make
from framework.isa.opcodes import Kind
from framework.platform.contexts import skb_access
from framework.platform.skb import (
    BYTES,
    MIN_NAPI_ID,
    NARROW,
    NO_QUEUE_MAPPING,
    PKT_TYPE_MAX,
    SKB_LAYOUT,
    SKB_TSTAMP_TYPE_MASK,
    SOCK_VIEW,
    TC_AT_INGRESS_MASK,
    SkbField,
    SkbLayout,
)

__all__ = ["SKB_LAYOUT", "CtxError", "SkbLayout", "convert_skb_access"]

L = SKB_LAYOUT
AX = 11  # BPF_REG_AX
_SIZE = {1: op.B, 2: op.H, 4: op.W, 8: op.DW}


class CtxError(ValueError):
    """A context access the verifier typed that tc cannot make (the verifier refuses those)."""


def _ldx(size: int, dst: int, src: int, off: int) -> Insn:
    return make(op.LDX | op.MEM | _SIZE[size], dst, src, off)


def _stx(size: int, dst: int, src: int, off: int) -> Insn:
    return make(op.STX | op.MEM | _SIZE[size], dst, src, off)


def _alu32(code: int, dst: int, imm: int) -> Insn:
    return make(op.ALU | code | op.K, dst, 0, 0, imm)


def _jmp(code: int, dst: int, imm: int, off: int) -> Insn:
    return make(op.JMP | code | op.K, dst, 0, off, imm)


def _shinfo(dst: int, skb: int) -> list[Insn]:
    # kernel: bpf_convert_shinfo_access (NET_SKBUFF_DATA_USES_OFFSET: head + end)
    return [_ldx(4, AX, skb, L.end), _ldx(8, dst, skb, L.head), make(op.ALU64 | op.ADD | op.X, dst, AX)]


def _read(f: SkbField, dst: int, src: int, off: int, size: int, tstamp_type_access: bool, tc: bool) -> list[Insn]:
    """bpf_convert_ctx_access's load of field `f` (tc_cls_act_convert_ctx_access for tc's ifindex)."""
    direct = {
        "len": (4, L.len),
        "mark": (4, L.mark),
        "priority": (4, L.priority),
        "hash": (4, L.hash),
        "ingress_ifindex": (4, L.skb_iif),
        "queue_mapping": (2, L.queue_mapping),
        "protocol": (2, L.protocol),
        "tc_index": (2, L.tc_index),
        "vlan_proto": (2, L.vlan_all),
        "vlan_tci": (2, L.vlan_all + 2),
        "tc_classid": (2, L.cb + L.qdisc_tc_classid),
        "wire_len": (4, L.cb + L.qdisc_pkt_len),
        "data": (8, L.data),
        "data_end": (8, L.cb + L.data_end),
        "data_meta": (8, L.cb + L.data_meta),
        "sk": (8, L.sk),
    }
    if f.name in direct:
        width, at = direct[f.name]
        return [_ldx(width, dst, src, at)]
    match f.name:
        case "cb":  # qdisc_skb_cb's data, at the access's own size
            return [_ldx(size, dst, src, L.cb + L.qdisc_data + off - f.off)]
        case "pkt_type":
            return [_ldx(1, dst, src, L.pkt_type), _alu32(op.AND, dst, PKT_TYPE_MAX)]
        case "vlan_present":
            return [_ldx(4, dst, src, L.vlan_all), _jmp(op.JEQ, dst, 0, 1), _alu32(op.MOV, dst, 1)]
        case "ifindex" if tc:  # tc_cls_act_convert_ctx_access: skb->dev->ifindex
            return [_ldx(8, dst, src, L.dev), _ldx(4, dst, dst, L.dev_ifindex)]
        case "ifindex":  # bpf_convert_ctx_access: skb->dev ? skb->dev->ifindex : 0
            return [_ldx(8, dst, src, L.dev), _jmp(op.JEQ, dst, 0, 1), _ldx(4, dst, dst, L.dev_ifindex)]
        case "napi_id":
            return [
                _ldx(4, dst, src, L.napi_id),
                _jmp(op.JGE, dst, MIN_NAPI_ID, 1),
                make(op.ALU64 | op.MOV | op.K, dst, 0, 0, 0),
            ]
        case "tstamp":  # bpf_convert_tstamp_read
            load = _ldx(8, dst, src, L.tstamp)
            if tstamp_type_access:
                return [load]
            return [
                _ldx(1, AX, src, L.mono_tc),
                make(op.JMP32 | op.JSET | op.K, AX, 0, 1, TC_AT_INGRESS_MASK),
                make(op.JMP | op.JA, 0, 0, 4),
                make(op.JMP32 | op.JSET | op.K, AX, 0, 1, SKB_TSTAMP_TYPE_MASK),
                make(op.JMP | op.JA, 0, 0, 2),
                make(op.ALU64 | op.MOV | op.K, dst, 0, 0, 0),
                make(op.JMP | op.JA, 0, 0, 1),
                load,
            ]
        case "tstamp_type":
            return [_ldx(1, dst, src, L.mono_tc), _alu32(op.AND, dst, SKB_TSTAMP_TYPE_MASK)]
        case "gso_segs":
            return [*_shinfo(dst, src), _ldx(2, dst, dst, L.shinfo_gso_segs)]
        case "gso_size":
            return [*_shinfo(dst, src), _ldx(2, dst, dst, L.shinfo_gso_size)]
        case "hwtstamp":
            return [*_shinfo(dst, src), _ldx(8, dst, dst, L.shinfo_hwtstamps)]
        case name if name in SOCK_VIEW:  # skb->sk, then the field (the word of an IPv6 address)
            at, width = SOCK_VIEW[name]
            out = [_ldx(8, dst, src, L.sk), _ldx(width, dst, dst, at + (off & ~3) - f.off)]
            if name == "remote_port":  # skc_dport into the upper half (little endian)
                out.append(_alu32(op.LSH, dst, 16))
            return out
    raise CtxError(f"no conversion for __sk_buff.{f.name}")


def _write(f: SkbField, insn: Insn, off: int, size: int, tstamp_type_access: bool) -> list[Insn]:
    """bpf_convert_ctx_access's store into field `f` (BPF_STX from a register, BPF_ST of an immediate)."""
    imm = insn.kind is Kind.STORE_IMM

    def store(width: int, at: int) -> Insn:
        if imm:
            return make(op.ST | op.MEM | _SIZE[width], insn.dst, 0, at, insn.imm)
        return _stx(width, insn.dst, insn.src, at)

    match f.name:
        case "mark":
            return [store(4, L.mark)]
        case "priority":
            return [store(4, L.priority)]
        case "tc_index":
            return [store(2, L.tc_index)]
        case "tc_classid":
            return [store(2, L.cb + L.qdisc_tc_classid)]
        case "cb":
            return [store(size, L.cb + L.qdisc_data + off - f.off)]
        case "queue_mapping":  # NO_QUEUE_MAPPING and above are not stored
            if imm:
                if insn.imm & 0xFFFFFFFF >= NO_QUEUE_MAPPING:
                    return [make(op.JMP | op.JA, 0, 0, 0)]
                return [store(2, L.queue_mapping)]
            return [_jmp(op.JGE, insn.src, NO_QUEUE_MAPPING, 1), store(2, L.queue_mapping)]
        case "tstamp":  # bpf_convert_tstamp_write
            if tstamp_type_access:
                return [store(8, L.tstamp)]
            return [
                _ldx(1, AX, insn.dst, L.mono_tc),
                make(op.JMP32 | op.JSET | op.K, AX, 0, 1, TC_AT_INGRESS_MASK),
                make(op.JMP | op.JA, 0, 0, 2),
                _alu32(op.AND, AX, ~SKB_TSTAMP_TYPE_MASK),
                _stx(1, insn.dst, AX, L.mono_tc),
                store(8, L.tstamp),
            ]
    raise CtxError(f"__sk_buff.{f.name} cannot be written")


def convert_skb_access(insn: Insn, *, tstamp_type_access: bool = False, prog_type: str = "sched_cls") -> list[Insn]:
    """convert_ctx_accesses for one `prog_type` context load or store the verifier typed as PTR_TO_CTX."""
    load = insn.kind is Kind.LOAD
    if not load and insn.kind not in (Kind.STORE_REG, Kind.STORE_IMM):
        raise CtxError(f"a {insn.kind.value} instruction cannot access the context")
    size = insn.size
    f = skb_access(prog_type, insn.off, size, not load)
    if f is None:
        raise CtxError(f"__sk_buff access at offset {insn.off} (size {size}) is refused by Linux")
    if not load:
        return _write(f, insn, insn.off, size, tstamp_type_access)
    tc = prog_type in ("sched_cls", "sched_act")
    out = _read(f, insn.dst, insn.src, insn.off, size, tstamp_type_access, tc)
    if f.access == NARROW and size < f.target:  # convert_ctx_accesses: a narrower load
        shift = 8 * (insn.off & 3)
        if shift:
            out.append(_alu32(op.RSH, insn.dst, shift))
        out.append(_alu32(op.AND, insn.dst, (1 << (8 * size)) - 1))
    if insn.code & 0xE0 == op.MEMSX:  # convert_ctx_accesses: a sign-extending load's movsx
        out.append(make(op.ALU64 | op.MOV | op.X, insn.dst, insn.dst, 8 * size))
    assert f.access != BYTES or len(out) == 1
    return out
