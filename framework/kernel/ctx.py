"""Program contexts, filled as BPF_PROG_TEST_RUN fills them.

tc (sched_cls/sched_act), socket filters and cgroup skb programs get a test run's skb
(framework.kernel.skb, built as bpf_prog_test_run_skb builds it for each): a `struct sk_buff`
for converted code and a `struct __sk_buff` view over it for the program as written.
An `xdp_md` follows bpf_prog_test_run_xdp (loads of data, data_end and data_meta yield the
full 64-bit pointers, as xdp_convert_ctx_access's loads of `struct xdp_buff` would);
syscall programs get the ctx_in bytes (or NULL); a tracing program its u64 arguments as ctx_in
gives them (where its target takes or returns a struct pointer the run is unsupported: loads
through it are BPF_PROBE_MEM loads of kernel objects).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from framework.kernel.memory import AddressSpace, Region
from framework.kernel.skb import ETH_HLEN, LOOPBACK_IFINDEX, TestRunSkb
from framework.load.btf import Kind
from framework.load.core import vmlinux_btf

__all__ = ["SKB_TYPES", "Context", "XdpBuff", "build_context"]

XDP_PACKET_HEADROOM = 256
SKB_TYPES = ("sched_cls", "sched_act", "socket_filter", "cgroup_skb")  # bpf_prog_test_run_skb's, built here
# types BPF_PROG_TEST_RUN runs on a context the emulated kernel does not build
_SKB_ELSEWHERE = frozenset({"lwt_in", "lwt_out", "lwt_xmit", "lwt_seg6local", "flow_dissector", "sk_lookup"})
PAGE_SIZE = 4096
SKB_SHARED_INFO_SIZE = 320  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info)), x86-64


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
    skb: TestRunSkb | None = None  # an skb test run's skb (both views)
    xdp: XdpBuff | None = None  # an XDP test run's buffer pointers
    not_emulated: str | None = None  # why a run on this context would not be the kernel's (unsupported)

    @property
    def packet_span(self) -> tuple[int, int] | None:
        if self.skb is not None:
            return self.skb.span  # where the helpers that resize it left it
        if self.xdp is not None:
            return self.xdp.data, self.xdp.data_end - self.xdp.data
        if self.packet is None:
            return None
        return self.packet.base, len(self.packet.data)

    @property
    def native_ctx(self) -> int:
        return self.native or self.ctx

    def test_run_out(self) -> tuple[bytes | None, bytes | None]:
        """(data_out, ctx_out) as BPF_PROG_TEST_RUN hands them back after the run (an skb test
        run's; None for the other contexts, whose outputs are not modelled)."""
        if self.skb is None:
            return None, None
        return self.skb.data_out(), self.skb.ctx_out()


def _skb(memory: AddressSpace, prog_type: str, packet: bytes, ctx_in: bytes | None, tta: bool) -> Context:
    skb = TestRunSkb(memory, packet, ctx_in, tstamp_type_access=tta, prog_type=prog_type)
    return Context(skb.view.base, skb.view, skb.packet, skb.skb.base, skb.skb, skb)


@dataclass(slots=True)
class XdpBuff:
    """The test run's `struct xdp_buff`: where data, data_end and data_meta point now (the
    helpers that move them, bpf_xdp_adjust_head/tail/meta, change these)."""

    hard_start: int
    data: int
    data_end: int
    data_meta: int
    frame_sz: int = PAGE_SIZE  # bpf_prog_test_run_xdp: xdp_init_buff(headroom + max_data_sz + tailroom)

    @property
    def hard_end(self) -> int:
        # xdp_data_hard_end: the frame's end less the skb_shared_info the driver would place there
        return self.hard_start + self.frame_sz - SKB_SHARED_INFO_SIZE


def _xdp(memory: AddressSpace, packet: bytes) -> Context:
    # bpf_prog_test_run_xdp: one page, XDP_PACKET_HEADROOM before the data, room to grow after it
    tail = max(0, PAGE_SIZE - XDP_PACKET_HEADROOM - len(packet))
    buf = memory.map("packet", "packet", bytes(XDP_PACKET_HEADROOM) + packet + bytes(tail))
    start = buf.base + XDP_PACKET_HEADROOM
    xdp = XdpBuff(buf.base, start, start + len(packet), start)
    data = bytearray(24)  # struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress
    struct.pack_into("<IIIIII", data, 0, start & 0xFFFFFFFF, 0, start & 0xFFFFFFFF, LOOPBACK_IFINDEX, 0, 0)
    region = memory.map("ctx (xdp_md)", "ctx", data)

    def load_hook(off: int, size: int) -> int | None:
        if size != 4:
            return None
        return {0: xdp.data, 4: xdp.data_end, 8: xdp.data_meta}.get(off)

    region.load_hook = load_hook
    return Context(region.base, region, buf, xdp=xdp)


def _tracing(memory: AddressSpace, ctx_in: bytes | None, attach_to: str | None, attach_type: str | None) -> Context:
    # the trampoline's u64 array of arguments (and return value), given as ctx_in; 12 slots and
    # the return value at most (MAX_BPF_FUNC_ARGS)
    region = memory.map("ctx (tracing args)", "ctx", (ctx_in or b"").ljust(8 * 13, b"\0"))
    pointers = struct_pointers(attach_to, returned=attach_type in ("trace_fexit", "modify_return"))
    if pointers is None:
        return Context(region.base, region, None, not_emulated=f"the attach target '{attach_to}' is not in vmlinux BTF")
    if pointers:
        # the verifier types these PTR_TO_BTF_ID and the JIT makes loads through them BPF_PROBE_MEM
        # (a fault reads 0 through the exception table): neither the objects nor that is emulated
        why = (
            f"{attach_to}'s {', '.join(pointers)}: kernel objects the emulated kernel does not build "
            "(loads through them are BPF_PROBE_MEM)"
        )
        return Context(region.base, region, None, not_emulated=why)
    return Context(region.base, region, None)


def struct_pointers(func: str | None, returned: bool) -> tuple[str, ...] | None:
    """The parameters of vmlinux function `func` (and its return value, if `returned`) that are
    pointers to structs (None: vmlinux BTF has no such FUNC)."""
    btf = vmlinux_btf()
    type_id = btf.find(func, Kind.FUNC) if btf is not None and func else None
    if btf is None or type_id is None:
        return None
    proto = btf.type(btf.type(type_id).type)
    slots = [(btf.string(p.name_off) or "(anon)", p.type) for p in proto.params()]
    slots += [("return value", proto.type)] if returned else []
    out = []
    for name, type_id in slots:
        t = btf.type(btf.skip_mods(type_id))
        if t.kind is Kind.PTR and t.type and btf.type(btf.skip_mods(t.type)).kind in (Kind.STRUCT, Kind.UNION):
            out.append(name)
    return tuple(out)


def build_context(
    memory: AddressSpace,
    prog_type: str,
    packet: bytes | None,
    ctx_in: bytes | None,
    *,
    tstamp_type_access: bool = False,
    attach_to: str | None = None,
    attach_type: str | None = None,
) -> Context:
    """The ctx for a test run of a `prog_type` program (the BPF_PROG_TYPE_* suffix);
    `tstamp_type_access` is the verifier's prog->tstamp_type_access (how tc's tstamp converts);
    `attach_to` a tracing program's target, whose arguments `ctx_in` gives as u64s."""
    if prog_type in SKB_TYPES:
        return _skb(memory, prog_type, packet if packet is not None else bytes(ETH_HLEN), ctx_in, tstamp_type_access)
    if prog_type == "xdp":
        return _xdp(memory, packet if packet is not None else bytes(ETH_HLEN))
    if prog_type in _SKB_ELSEWHERE:
        # kernel: bpf_prog_test_run_skb gives the lwt types an skb past the Ethernet header with
        # their own access conversions, and bpf_prog_test_run_flow_dissector / _sk_lookup their own
        # contexts; the emulated kernel does not build these, so a run is unsupported
        region = memory.map(f"ctx ({prog_type})", "ctx", bytes(512))
        why = f"a {prog_type} test run's context is not emulated (tc's, socket filters', cgroup skb's and XDP's are)"
        return Context(region.base, region, None, not_emulated=why)
    if prog_type == "tracing":
        return _tracing(memory, ctx_in, attach_to, attach_type)
    if prog_type == "syscall" or ctx_in is not None:
        if ctx_in is None:
            return Context(0, None, None)
        region = memory.map("ctx (ctx_in)", "ctx", ctx_in)
        return Context(region.base, region, None)
    # the rest (kprobes, tracepoints, ...): a zeroed context
    region = memory.map(f"ctx ({prog_type})", "ctx", bytes(512))
    return Context(region.base, region, None)
