"""Program contexts, filled as BPF_PROG_TEST_RUN fills them.

tc (sched_cls/sched_act) gets a test run's skb (framework.kernel.skb): a
`struct sk_buff` for converted code and a `struct __sk_buff` view over it for the
program as written. An `xdp_md` follows bpf_prog_test_run_xdp (loads of data,
data_end and data_meta yield the full 64-bit pointers, as xdp_convert_ctx_access's
loads of `struct xdp_buff` would); syscall programs get the ctx_in bytes (or NULL).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from framework.kernel.memory import AddressSpace, Region
from framework.kernel.skb import ETH_HLEN, LOOPBACK_IFINDEX, TestRunSkb

__all__ = ["Context", "build_context"]

XDP_PACKET_HEADROOM = 256


@dataclass(frozen=True, slots=True)
class Context:
    """The ctx pointer handed to the program in r1, and the packet it bounds.

    `ctx` is what the program as written reads (the interpreter's r1); `native` what its
    converted accesses read (the JIT's r1: tc's `struct sk_buff`), the same where nothing
    is converted."""

    ctx: int  # r1 (0 for a NULL ctx)
    ctx_region: Region | None
    packet: Region | None
    native: int = 0  # r1 for code whose context accesses convert_ctx_accesses rewrote (0: `ctx`)
    native_region: Region | None = None
    skb: TestRunSkb | None = None  # a tc test run's skb (both views)

    @property
    def packet_span(self) -> tuple[int, int] | None:
        if self.packet is None:
            return None
        return self.packet.base, len(self.packet.data)

    @property
    def native_ctx(self) -> int:
        return self.native or self.ctx


def _skb(memory: AddressSpace, packet: bytes, ctx_in: bytes | None, tstamp_type_access: bool) -> Context:
    skb = TestRunSkb(memory, packet, ctx_in, tstamp_type_access=tstamp_type_access)
    return Context(skb.view.base, skb.view, skb.packet, skb.skb.base, skb.skb, skb)


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


def build_context(
    memory: AddressSpace,
    prog_type: str,
    packet: bytes | None,
    ctx_in: bytes | None,
    *,
    tstamp_type_access: bool = False,
) -> Context:
    """The ctx for a test run of a `prog_type` program (the BPF_PROG_TYPE_* suffix);
    `tstamp_type_access` is the verifier's prog->tstamp_type_access (how tc's tstamp converts)."""
    if prog_type in ("sched_cls", "sched_act"):
        return _skb(memory, packet if packet is not None else bytes(ETH_HLEN), ctx_in, tstamp_type_access)
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
