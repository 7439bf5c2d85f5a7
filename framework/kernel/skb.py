"""The skb of one `__sk_buff` test run (tc, socket filter, cgroup skb): one state, two views.

The state is a `struct sk_buff` laid out as the live kernel lays it out (framework.platform.skb's
`SkbLayout`), with the net_device, skb_shared_info and socket it points to, filled as
net/bpf/test_run.c bpf_prog_test_run_skb fills them: the packet is the linear data,
`protocol` and `pkt_type` from eth_type_trans on the loopback device of the test's netns
(ifindex 1), `sk` a dummy socket (family and addresses from the IP header, TCP_CLOSE), and what
ctx_in may set (convert___skb_to_skb: mark, priority, ingress_ifindex, cb, tstamp, wire_len,
gso_segs, gso_size, hwtstamp); the rest is zero. By program type (bpf_prog_test_run_skb's
is_l2 and is_direct_pkt_access):
- tc (is_l2): the data starts at the Ethernet header (__skb_push of it again), `len` is the
  packet's size; data/data_end/data_meta from bpf_compute_data_pointers;
- socket filters and cgroup skb: the data starts past the Ethernet header (eth_type_trans pulled
  it, nothing pushes it back), `len` is the packet's size less ETH_HLEN; cgroup skb computes the
  data pointers, a socket filter's data_end and data_meta stay zero;
- after the run (`data_out`, `ctx_out`): the data from skb->data, with a zeroed Ethernet header
  pushed before it for the non-L2 types, and convert_skb_to___skb over the ctx given.

- The JIT's view: the program's context accesses were rewritten by the fixup stage
  (convert_ctx_accesses) into loads and stores of this `struct sk_buff`, so r1 is its address.
- The interpreter's view: the program as written reads a `struct __sk_buff`; its loads and
  stores land on hooks that compute what each converted access yields from the same state
  (`load`, `store`: bpf_convert_ctx_access's meaning, with convert_ctx_accesses' narrow-load
  shift and mask). The two views share nothing but the state and the field table, so running
  both engines checks the fixup stage's instructions against this model, and the oracle's tests
  check the model against the live kernel.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from framework.errors import InputError
from framework.kernel.memory import AddressSpace, Fault
from framework.platform.contexts import skb_access
from framework.platform.skb import (
    BYTES,
    MIN_NAPI_ID,
    NARROW,
    NO_QUEUE_MAPPING,
    PKT_TYPE_MAX,
    SK_BUFF_SIZE,
    SKB_LAYOUT,
    SKB_TSTAMP_TYPE_MASK,
    SOCK_VIEW,
    TC_AT_INGRESS_MASK,
    SkbField,
    field_at,
)

__all__ = ["ETH_HLEN", "LOOPBACK_IFINDEX", "TestRunSkb", "TunnelInfo"]

L = SKB_LAYOUT
ETH_HLEN = 14
LOOPBACK_IFINDEX = 1
PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST = 1, 2, 3  # uapi if_packet.h
ETH_P_802_3_MIN, ETH_P_802_3, ETH_P_802_2 = 0x0600, 0x0001, 0x0004
ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD
AF_INET, AF_INET6 = 2, 10
TCP_CLOSE = 7  # sock_init_data's sk_state
GSO_MAX_SEGS, GSO_LEGACY_MAX_SIZE = 65535, 65536
NET_DEVICE_SIZE = 256
BPF_SOCK_SIZE = 80  # struct bpf_sock: what a load through the socket pointer reads (both engines)
# convert___skb_to_skb: the __sk_buff bytes ctx_in may set; every other byte must be zero (-EINVAL)
CTX_IN_SETTABLE = ((8, 12), (32, 44), (48, 68), (152, 168), (176, 180), (184, 192))
SKF_NET_OFF, SKF_LL_OFF = -0x100000, -0x200000  # uapi filter.h: LD_ABS offsets from the headers
L2_TYPES = ("sched_cls", "sched_act")  # bpf_prog_test_run_skb's is_l2
DIRECT_TYPES = (*L2_TYPES, "cgroup_skb")  # is_direct_pkt_access (the lwt types too, not built here)
_MASK64 = (1 << 64) - 1


def eth_type_trans(packet: bytes) -> tuple[int, int]:
    """(skb->protocol, pkt_type) for `packet` received on loopback: net/ethernet/eth.c eth_type_trans.
    The protocol is the u16 as it sits in memory (network order, read little-endian)."""
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


def _check_ctx_in(ctx_in: bytes, length: int) -> bytes:
    # kernel: bpf_ctx_init (at most sizeof(struct __sk_buff)), convert___skb_to_skb's range_is_zero
    if len(ctx_in) > SK_BUFF_SIZE:
        raise InputError("ctx_in", f"{len(ctx_in)} bytes; struct __sk_buff has {SK_BUFF_SIZE} (test_run: -EINVAL)")
    user = bytes(ctx_in).ljust(SK_BUFF_SIZE, b"\0")
    for off, byte in enumerate(user):
        if byte and not any(lo <= off < hi for lo, hi in CTX_IN_SETTABLE):
            name = f.name if (f := field_at(off)) is not None else "padding"
            raise InputError("ctx_in", f"byte {off} ({name}) must be zero: BPF_PROG_TEST_RUN refuses it (-EINVAL)")
    ifindex, wire, segs = (struct.unpack_from("<I", user, off)[0] for off in (40, 160, 164))
    if ifindex > LOOPBACK_IFINDEX:
        raise InputError("ctx_in", f"ifindex {ifindex}: the test run's netns has only lo (-ENODEV)")
    if wire and not length <= wire <= GSO_LEGACY_MAX_SIZE:
        raise InputError("ctx_in", f"wire_len {wire} is below the packet's {length} bytes or too large (-EINVAL)")
    if segs > GSO_MAX_SEGS:
        raise InputError("ctx_in", f"gso_segs {segs} is above GSO_MAX_SEGS {GSO_MAX_SEGS} (-EINVAL)")
    return user


@dataclass(frozen=True, slots=True)
class TunnelInfo:
    """The skb's tunnel metadata (struct ip_tunnel_info of the metadata dst bpf_skb_set_tunnel_key
    attaches): addresses as the key gave them, IP_TUNNEL_* flags as ip_tunnel_flags_to_be16 packs them."""

    ipv6: bool
    tun_id: int
    tos: int
    ttl: int
    flags: int
    label: int
    dst: bytes
    src: bytes


class TestRunSkb:
    """The state of one test run's skb, and the `__sk_buff` semantics over it."""

    def __init__(
        self,
        memory: AddressSpace,
        packet: bytes,
        ctx_in: bytes | None,
        *,
        tstamp_type_access: bool = False,
        prog_type: str = "sched_cls",
    ) -> None:
        if len(packet) < ETH_HLEN:  # bpf_test_init: size < ETH_HLEN is -EINVAL
            raise InputError("input", f"an skb test run needs at least {ETH_HLEN} bytes of packet, got {len(packet)}")
        ip = {ETH_P_IP: (4, 20), ETH_P_IPV6: (6, 40)}.get(int.from_bytes(packet[12:14], "big"))
        if ip is not None and len(packet) < ETH_HLEN + ip[1]:
            # bpf_prog_test_run_skb (6.18, as the live kernel answers): an IP skb whose linear data
            # cannot hold its IP header is -EINVAL, whatever the program type
            raise InputError(
                "input", f"an IPv{ip[0]} test-run packet needs {ETH_HLEN + ip[1]} bytes, got {len(packet)}"
            )
        self.memory = memory
        self.prog_type = prog_type
        self.is_l2 = prog_type in L2_TYPES
        self.tstamp_type_access = tstamp_type_access  # prog->tstamp_type_access (the verifier's)
        self.network_offset = ETH_HLEN if self.is_l2 else 0  # skb_network_offset, from skb->data
        self.packet = memory.map("packet", "packet", packet)  # the frame; skb->data may start past its header
        dev = bytearray(NET_DEVICE_SIZE)
        struct.pack_into("<I", dev, L.dev_ifindex, LOOPBACK_IFINDEX)
        self.dev = memory.map("net_device (lo)", "object", dev, writable=False)
        self.shinfo = memory.map("skb_shared_info", "object", bytes(L.shinfo_size))
        self.sock = memory.map("sock (test run)", "object", self._sock(packet), writable=False)
        self.skb = memory.map("ctx (struct sk_buff)", "ctx", bytes(L.size))
        length = len(packet) - (0 if self.is_l2 else ETH_HLEN)
        # the ctx given, as bpf_ctx_init read it (None: no ctx_in, and so no ctx_out)
        self.user = _check_ctx_in(ctx_in, length) if ctx_in is not None else None
        self._fill(packet, self.user)
        view = memory.map("ctx (__sk_buff)", "ctx", bytes(SK_BUFF_SIZE))
        view.load_hook = self.load
        view.store_hook = self.store
        self.view = view

    # -- the state --------------------------------------------------------------------------

    @staticmethod
    def _sock(packet: bytes) -> bytes:
        """bpf_prog_test_run_skb's dummy socket, as struct bpf_sock presents it."""
        data = bytearray(BPF_SOCK_SIZE)
        proto = int.from_bytes(packet[12:14], "big")
        if proto == ETH_P_IP:
            struct.pack_into("<I", data, 4, AF_INET)
            if len(packet) >= ETH_HLEN + 20:  # sizeof(struct iphdr) <= skb_headlen(skb)
                data[24:28], data[52:56] = packet[26:30], packet[30:34]  # rcv_saddr, daddr
        elif proto == ETH_P_IPV6:
            struct.pack_into("<I", data, 4, AF_INET6)
            if len(packet) >= ETH_HLEN + 40:
                data[28:44], data[56:72] = packet[22:38], packet[38:54]
        struct.pack_into("<I", data, 72, TCP_CLOSE)
        struct.pack_into("<i", data, 76, -1)  # rx_queue_mapping: NO_QUEUE_MAPPING reads as -1
        return bytes(data)

    def _fill(self, packet: bytes, user: bytes | None) -> None:
        d = self.skb.data
        protocol, pkt_type = eth_type_trans(packet)
        # eth_type_trans pulls the Ethernet header; only tc's test run pushes it back (is_l2)
        base, end = self.packet.base + (0 if self.is_l2 else ETH_HLEN), self.packet.end
        struct.pack_into("<Q", d, L.dev, self.dev.base)
        struct.pack_into("<Q", d, L.sk, self.sock.base)
        struct.pack_into("<I", d, L.len, end - base)
        d[L.pkt_type] = pkt_type
        struct.pack_into("<H", d, L.protocol, protocol)
        struct.pack_into("<Q", d, L.data, base)
        if self.prog_type in DIRECT_TYPES:  # bpf_compute_data_pointers: no metadata
            struct.pack_into("<Q", d, L.cb + L.data_meta, base)
            struct.pack_into("<Q", d, L.cb + L.data_end, end)
        struct.pack_into("<I", d, L.end, 0)  # skb_shinfo(skb) = head + end
        struct.pack_into("<Q", d, L.head, self.shinfo.base)
        if user is None:
            return
        struct.pack_into("<I", d, L.mark, struct.unpack_from("<I", user, 8)[0])
        struct.pack_into("<I", d, L.priority, struct.unpack_from("<I", user, 32)[0])
        struct.pack_into("<I", d, L.skb_iif, struct.unpack_from("<I", user, 36)[0])
        d[L.cb + L.qdisc_data : L.cb + L.qdisc_data + 20] = user[48:68]
        struct.pack_into("<Q", d, L.tstamp, struct.unpack_from("<Q", user, 152)[0])
        wire = struct.unpack_from("<I", user, 160)[0]
        struct.pack_into("<I", d, L.cb + L.qdisc_pkt_len, wire or end - base)
        s = self.shinfo.data
        struct.pack_into("<H", s, L.shinfo_gso_segs, struct.unpack_from("<I", user, 164)[0])
        struct.pack_into("<H", s, L.shinfo_gso_size, struct.unpack_from("<I", user, 176)[0])
        struct.pack_into("<Q", s, L.shinfo_hwtstamps, struct.unpack_from("<Q", user, 184)[0])

    def _u(self, off: int, size: int) -> int:
        return int.from_bytes(self.skb.data[off : off + size], "little")

    def _put(self, off: int, size: int, value: int) -> None:
        self.skb.data[off : off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    # -- what helpers change (net/core/filter.c) ----------------------------------------------

    def set_pkt_type(self, pkt_type: int) -> None:
        # bpf_skb_change_type: skb->pkt_type, the low 3 bits of its byte
        self._put(L.pkt_type, 1, (self._u(L.pkt_type, 1) & ~PKT_TYPE_MAX) | pkt_type)

    def set_hash(self, value: int, software: bool) -> None:
        # __skb_set_sw_hash / skb_clear_hash: skb->hash, as ctx->hash reads it, and skb->sw_hash
        self._put(L.hash, 4, value)
        self.sw_hash = software

    @property
    def hash(self) -> int:
        return self._u(L.hash, 4)

    tunnel: TunnelInfo | None = None  # skb_tunnel_info: the test run's skb has no dst

    def load_pointer(self, k: int, size: int) -> int | None:
        """Where bpf_skb_load_helper_{8,16,32} reads `size` bytes at offset `k` (None: -EFAULT)."""
        if k >= 0:  # from skb->data, within the linear data (the test run's skb has no fragments)
            at = k
        elif k >= SKF_NET_OFF:  # bpf_internal_load_pointer_neg_helper: from the network header
            at = self.network_offset + k - SKF_NET_OFF
        elif k >= SKF_LL_OFF:  # ... or the mac header
            at = self.mac_offset + k - SKF_LL_OFF
        else:
            return None
        data, length = self.span
        return data + at if at + size <= length else None  # up to the tail (never below skb->head here)

    @property
    def mac_offset(self) -> int:
        # skb_mac_header - skb->data: eth_type_trans set the mac header at the Ethernet header
        return 0 if self.is_l2 else -ETH_HLEN

    @property
    def span(self) -> tuple[int, int]:
        """The linear data: skb->data and skb->len (the test run's skb has no fragments)."""
        return self._u(L.data, 8), self._u(L.len, 4)

    def set_length(self, length: int) -> None:
        # __skb_grow / __skb_trim: the data cut, or grown by zeros (the test run's buffer is
        # kzalloc'ed; past its tailroom pskb_expand_head's new bytes are whatever the allocator had)
        base, old = self.span
        self._remap(0, self.memory.read(base, min(old, length)) + bytes(max(0, length - old)))

    def push_head(self, room: int) -> None:
        # skb_cow, __skb_push and the memset of bpf_skb_change_head: zeros before the data; the
        # network header stays where it was, now `room` bytes further in
        base, old = self.span
        self._remap(room, bytes(room) + self.memory.read(base, old))

    def _remap(self, moved: int, data: bytes) -> None:
        # the packet moves to a buffer of its new size; bpf_compute_data_pointers after the helper
        assert self.is_l2, "only tc's helpers resize the skb"
        self.memory.free(self.packet)
        self.packet = self.memory.map("packet", "packet", data)
        self.network_offset += moved
        self._put(L.data, 8, self.packet.base)
        self._put(L.len, 4, len(data))
        self._put(L.cb + L.data_meta, 8, self.packet.base)
        self._put(L.cb + L.data_end, 8, self.packet.base + len(data))

    def reset_gso(self) -> None:
        # skb_gso_reset: gso_size, gso_segs (and gso_type) cleared
        at = self._shinfo()
        self.memory.write(at + L.shinfo_gso_size, bytes(2))
        self.memory.write(at + L.shinfo_gso_segs, bytes(2))

    @property
    def at_ingress(self) -> bool:
        return bool(self._u(L.mono_tc, 1) & TC_AT_INGRESS_MASK)  # skb->tc_at_ingress

    @property
    def gso_size(self) -> int:
        return self.memory.load(self._shinfo() + L.shinfo_gso_size, 2)

    sw_hash = False  # the test run's skb starts with no hash (skb_get_hash would dissect the flow)

    def clear_vlan_tag(self) -> None:
        self._put(L.vlan_all, 4, 0)  # __vlan_hwaccel_clear_tag

    @property
    def protocol(self) -> int:
        return self._u(L.protocol, 2)  # __be16, as the CPU loads it

    @property
    def vlan_tagged(self) -> bool:
        return self._u(L.vlan_all, 4) != 0

    def put_vlan_tag(self, vlan_proto: int, vlan_tci: int) -> None:
        # __vlan_hwaccel_put_tag: skb->vlan_proto (__be16) and skb->vlan_tci
        self._put(L.vlan_all, 2, vlan_proto)
        self._put(L.vlan_all + 2, 2, vlan_tci)

    def _shinfo(self) -> int:
        return self._u(L.head, 8) + self._u(L.end, 4)  # bpf_convert_shinfo_access

    # -- the __sk_buff view ---------------------------------------------------------------------

    def value(self, f: SkbField, off: int = 0) -> int:
        """What the conversion of a load of field `f` (at `off`, for the IPv6 words) yields, at its full
        width (bpf_convert_ctx_access; tc_cls_act_convert_ctx_access's ifindex reads the same here)."""
        m = self.memory
        match f.name:
            case "len" | "mark" | "priority" | "hash":
                return self._u(getattr(L, f.name), 4)
            case "pkt_type":
                return self._u(L.pkt_type, 1) & PKT_TYPE_MAX
            case "queue_mapping" | "protocol" | "tc_index":
                return self._u(getattr(L, f.name), 2)
            case "vlan_present":
                return int(self._u(L.vlan_all, 4) != 0)
            case "vlan_proto":
                return self._u(L.vlan_all, 2)
            case "vlan_tci":
                return self._u(L.vlan_all + 2, 2)
            case "ingress_ifindex":
                return self._u(L.skb_iif, 4)
            case "ifindex":  # tc_cls_act_convert_ctx_access: skb->dev->ifindex, no NULL check
                return m.load(self._u(L.dev, 8) + L.dev_ifindex, 4)
            case "tc_classid":
                return self._u(L.cb + L.qdisc_tc_classid, 2)
            case "data":
                return self._u(L.data, 8)
            case "data_end":
                return self._u(L.cb + L.data_end, 8)
            case "data_meta":
                return self._u(L.cb + L.data_meta, 8)
            case "napi_id":
                napi = self._u(L.napi_id, 4)
                return napi if napi >= MIN_NAPI_ID else 0
            case "tstamp":  # bpf_convert_tstamp_read
                flags = self._u(L.mono_tc, 1)
                if not self.tstamp_type_access and flags & TC_AT_INGRESS_MASK and flags & SKB_TSTAMP_TYPE_MASK:
                    return 0
                return self._u(L.tstamp, 8)
            case "tstamp_type":
                return self._u(L.mono_tc, 1) & SKB_TSTAMP_TYPE_MASK
            case "wire_len":
                return self._u(L.cb + L.qdisc_pkt_len, 4)
            case "gso_segs":
                return m.load(self._shinfo() + L.shinfo_gso_segs, 2)
            case "gso_size":
                return m.load(self._shinfo() + L.shinfo_gso_size, 2)
            case "hwtstamp":
                return m.load(self._shinfo() + L.shinfo_hwtstamps, 8)
            case "sk":
                return self._u(L.sk, 8)
            case name if name in SOCK_VIEW:  # through skb->sk (the test run's socket, never NULL)
                at, width = SOCK_VIEW[name]
                value = m.load(self._u(L.sk, 8) + at + (off & ~3) - f.off, width)
                return (value << 16) & 0xFFFFFFFF if name == "remote_port" else value
        raise AssertionError(f"no conversion for __sk_buff.{f.name}")

    def load(self, off: int, size: int) -> int:
        """A load of `size` bytes at __sk_buff offset `off`, as the converted code computes it."""
        f = skb_access(self.prog_type, off, size, False)
        if f is None:
            raise Fault(
                self.view.base + off, size, f"__sk_buff access at offset {off} (size {size}) is refused by Linux"
            )
        if f.access == BYTES:
            at = L.cb + L.qdisc_data + off - f.off
            return self._u(at, size)
        full = self.value(f, off)
        if f.access == NARROW and size < f.target:  # convert_ctx_accesses: a narrower load, shifted and masked
            return (full >> (8 * (off & 3))) & ((1 << (8 * size)) - 1)
        return full

    def store(self, off: int, size: int, value: int) -> bool:
        """A store of `size` bytes at __sk_buff offset `off`, as the converted code does it."""
        f = skb_access(self.prog_type, off, size, True)
        if f is None:
            raise Fault(
                self.view.base + off, size, f"__sk_buff store at offset {off} (size {size}) is refused by Linux"
            )
        match f.name:
            case "mark" | "priority":
                self._put(getattr(L, f.name), 4, value)
            case "queue_mapping":  # a value of NO_QUEUE_MAPPING or more is not stored
                if value & _MASK64 < NO_QUEUE_MAPPING:
                    self._put(L.queue_mapping, 2, value)
            case "tc_index":
                self._put(L.tc_index, 2, value)
            case "tc_classid":
                self._put(L.cb + L.qdisc_tc_classid, 2, value)
            case "cb":
                self._put(L.cb + L.qdisc_data + off - f.off, size, value)
            case "tstamp":  # bpf_convert_tstamp_write: at ingress the delivery-time type is cleared
                flags = self._u(L.mono_tc, 1)
                if not self.tstamp_type_access and flags & TC_AT_INGRESS_MASK:
                    self._put(L.mono_tc, 1, flags & ~SKB_TSTAMP_TYPE_MASK)
                self._put(L.tstamp, 8, value)
            case _:
                raise AssertionError(f"no store conversion for __sk_buff.{f.name}")
        return True

    # -- what the test run hands back (bpf_test_finish, bpf_ctx_finish) --------------------------

    def data_out(self) -> bytes:
        """data_out: skb->len bytes from skb->data, after a zeroed Ethernet header for the non-L2
        types (bpf_prog_test_run_skb: `memset(__skb_push(skb, hh_len), 0, hh_len)` when !is_l2)."""
        base, length = self.span
        data = self.memory.read(base, length) if length else b""
        return data if self.is_l2 else bytes(ETH_HLEN) + data

    def ctx_out(self) -> bytes | None:
        """ctx_out: the ctx given, with convert_skb_to___skb's fields from the skb (None: no ctx)."""
        if self.user is None:
            return None
        out = bytearray(self.user)
        m, shinfo = self.memory, self._shinfo()
        for at, size, value in (
            (8, 4, self._u(L.mark, 4)),
            (32, 4, self._u(L.priority, 4)),
            (36, 4, self._u(L.skb_iif, 4)),
            (40, 4, m.load(self._u(L.dev, 8) + L.dev_ifindex, 4)),
            (152, 8, self._u(L.tstamp, 8)),
            (160, 4, self._u(L.cb + L.qdisc_pkt_len, 4)),
            (164, 4, m.load(shinfo + L.shinfo_gso_segs, 2)),
            (184, 8, m.load(shinfo + L.shinfo_hwtstamps, 8)),
        ):
            out[at : at + size] = value.to_bytes(size, "little")
        out[48:68] = self.skb.data[L.cb + L.qdisc_data : L.cb + L.qdisc_data + 20]
        return bytes(out)
