"""Program contexts, filled as BPF_PROG_TEST_RUN fills them.

`__sk_buff` for tc (sched_cls/sched_act) follows net/bpf/test_run.c
bpf_prog_test_run_skb: the packet is the skb's linear data starting at the
Ethernet header (is_l2), `len` is its size, `protocol` comes from eth_type_trans
on the loopback device of the current netns (ifindex 1), `pkt_type` as
eth_type_trans sets it against loopback's all-zero address, data/data_end/
data_meta bound the packet (bpf_compute_data_pointers), and with no ctx_in every
other field is what a fresh skb holds: zero. Loads of data, data_end and
data_meta yield the full 64-bit pointers, as the verifier's convert_ctx_access
rewrites them to. An `xdp_md` follows bpf_prog_test_run_xdp; syscall programs
get the ctx_in bytes (or NULL).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from framework.errors import InputError
from framework.kernel.memory import AddressSpace, Region

__all__ = ["SKB", "Context", "build_context"]

ETH_HLEN = 14
LOOPBACK_IFINDEX = 1
PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST = 1, 2, 3  # uapi if_packet.h
ETH_P_802_3_MIN = 0x0600
ETH_P_802_3, ETH_P_802_2 = 0x0001, 0x0004
XDP_PACKET_HEADROOM = 256


@dataclass(frozen=True, slots=True)
class _SkbLayout:
    """Field offsets of uapi `struct __sk_buff` (size 192)."""

    len: int = 0
    pkt_type: int = 4
    mark: int = 8
    protocol: int = 16
    priority: int = 32
    ingress_ifindex: int = 36
    ifindex: int = 40
    cb: int = 48
    data: int = 76
    data_end: int = 80
    data_meta: int = 140
    tstamp: int = 152
    wire_len: int = 160
    gso_segs: int = 164
    gso_size: int = 176
    hwtstamp: int = 184
    size: int = 192


SKB = _SkbLayout()


@dataclass(frozen=True, slots=True)
class Context:
    """The ctx pointer handed to the program in r1, and the packet it bounds."""

    ctx: int  # r1 (0 for a NULL ctx)
    ctx_region: Region | None
    packet: Region | None

    @property
    def packet_span(self) -> tuple[int, int] | None:
        if self.packet is None:
            return None
        return self.packet.base, len(self.packet.data)


def _eth_type_trans(packet: bytes) -> tuple[int, int]:
    """(skb->protocol as the u16 in memory (network order), pkt_type): net/ethernet/eth.c eth_type_trans."""
    dest = packet[0:6]
    pkt_type = 0  # PACKET_HOST: h_dest equals loopback's all-zero dev_addr
    if dest == b"\xff" * 6:
        pkt_type = PACKET_BROADCAST
    elif dest[0] & 1:
        pkt_type = PACKET_MULTICAST
    elif dest != bytes(6):
        pkt_type = PACKET_OTHERHOST
    proto = int.from_bytes(packet[12:14], "big")
    if proto < ETH_P_802_3_MIN:
        proto = ETH_P_802_3 if packet[14:16] == b"\xff\xff" else ETH_P_802_2
    return int.from_bytes(proto.to_bytes(2, "big"), "little"), pkt_type


def _skb(memory: AddressSpace, packet: bytes, ctx_in: bytes | None) -> Context:
    if len(packet) < ETH_HLEN:  # eth_type_trans needs a header; test_run refuses (-EINVAL)
        raise InputError("input", f"a tc test run needs at least {ETH_HLEN} bytes of packet, got {len(packet)}")
    pkt = memory.map("packet", "packet", packet)
    data = bytearray(SKB.size)
    if ctx_in is not None:  # convert___skb_to_skb: only these fields may be set
        user = bytes(ctx_in).ljust(SKB.size, b"\0")[: SKB.size]
        for off, size in ((SKB.mark, 4), (SKB.priority, 4), (SKB.ingress_ifindex, 4), (SKB.cb, 20)):
            data[off : off + size] = user[off : off + size]
        for off, size in ((SKB.tstamp, 8), (SKB.gso_segs, 4), (SKB.gso_size, 4), (SKB.hwtstamp, 8)):
            data[off : off + size] = user[off : off + size]
        wire = int.from_bytes(user[SKB.wire_len : SKB.wire_len + 4], "little")
        struct.pack_into("<I", data, SKB.wire_len, wire or len(packet))
    protocol, pkt_type = _eth_type_trans(packet)
    struct.pack_into("<I", data, SKB.len, len(packet))
    struct.pack_into("<I", data, SKB.pkt_type, pkt_type)
    struct.pack_into("<I", data, SKB.protocol, protocol)
    struct.pack_into("<I", data, SKB.ifindex, LOOPBACK_IFINDEX)
    region = memory.map("ctx (__sk_buff)", "ctx", data)
    pointers = {SKB.data: pkt.base, SKB.data_meta: pkt.base, SKB.data_end: pkt.base + len(packet)}

    def load_hook(off: int, size: int) -> int | None:  # convert_ctx_access: data pointers are 64-bit
        return pointers.get(off) if size == 4 else None

    region.load_hook = load_hook
    struct.pack_into("<I", data, SKB.data, pkt.base & 0xFFFFFFFF)
    struct.pack_into("<I", data, SKB.data_end, (pkt.base + len(packet)) & 0xFFFFFFFF)
    struct.pack_into("<I", data, SKB.data_meta, pkt.base & 0xFFFFFFFF)
    region.data[:] = data
    return Context(region.base, region, pkt)


def _xdp(memory: AddressSpace, packet: bytes) -> Context:
    buf = memory.map("packet", "packet", bytes(XDP_PACKET_HEADROOM) + packet)
    start = buf.base + XDP_PACKET_HEADROOM
    data = bytearray(24)  # struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress
    struct.pack_into("<IIIIII", data, 0, start & 0xFFFFFFFF, 0, start & 0xFFFFFFFF, LOOPBACK_IFINDEX, 0, 0)
    region = memory.map("ctx (xdp_md)", "ctx", data)
    pointers = {0: start, 4: start + len(packet), 8: start}

    def load_hook(off: int, size: int) -> int | None:
        return pointers.get(off) if size == 4 else None

    region.load_hook = load_hook
    return Context(region.base, region, buf)


def build_context(memory: AddressSpace, prog_type: str, packet: bytes | None, ctx_in: bytes | None) -> Context:
    """The ctx for a test run of a `prog_type` program (the BPF_PROG_TYPE_* suffix)."""
    if prog_type in ("sched_cls", "sched_act"):
        return _skb(memory, packet if packet is not None else bytes(ETH_HLEN), ctx_in)
    if prog_type == "xdp":
        return _xdp(memory, packet if packet is not None else bytes(ETH_HLEN))
    if prog_type == "syscall" or ctx_in is not None:
        if ctx_in is None:
            return Context(0, None, None)
        region = memory.map("ctx (ctx_in)", "ctx", ctx_in)
        return Context(region.base, region, None)
    # tracing and the rest: a zeroed context the size of a page (what fentry's args array might hold)
    region = memory.map(f"ctx ({prog_type})", "ctx", bytes(512))
    return Context(region.base, region, None)
