"""The emulated kernel's packet and socket helpers (net/core/filter.c, net/core/sock_map.c,
kernel/bpf/ringbuf.c), on the test-run contexts framework.kernel.ctx builds: an XDP buffer, an
skb (tc's, a socket filter's, a cgroup skb's). Each is one function both engines call, registered
into framework.kernel.services' table; the checksum helpers are framework.kernel.checksums'.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from framework.kernel.api import Engine, KernelFault, NotEmulated
from framework.kernel.ctx import XdpBuff
from framework.kernel.map_helpers import XDP_ABORTED, cgroup_array_slot
from framework.kernel.registry import EAGAIN, EFAULT, EINVAL, ENOMEM, EOPNOTSUPP, as_s32, helper_service, neg_errno
from framework.kernel.skb import ETH_HLEN, LOOPBACK_IFINDEX, TestRunSkb, TunnelInfo
from framework.kernel.socket_lookup import BPF_SOCK_OPS_WRITE_HDR_OPT_CB
from framework.platform.skb import SKB_LAYOUT

if TYPE_CHECKING:
    from framework.kernel.services import EmulatedKernel

XDP_REDIRECT, TC_ACT_SHOT, TC_ACT_REDIRECT = 4, 2, 7  # uapi
BPF_F_INGRESS = 1
XDP_FRAME_SIZE = 40  # sizeof(struct xdp_frame): the head of the headroom, kept for xdp_frame
BPF_F_ADJ_ROOM_MASK = 0x1FF | 0xFF << 56  # the BPF_F_ADJ_ROOM_* flags and the encap L2 length
ENOTSUPP = 524  # the kernel-internal errno bpf_skb_adjust_room returns
ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD


@helper_service("redirect")
def _redirect(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_xdp_redirect (any flag: XDP_ABORTED) / bpf_redirect (a flag past BPF_F_INGRESS:
    # TC_ACT_SHOT); either records the target for after the program and returns the redirect verdict
    if k.program.prog_type == "xdp":
        return XDP_ABORTED if a[1] else XDP_REDIRECT
    return TC_ACT_SHOT if a[1] & ~BPF_F_INGRESS else TC_ACT_REDIRECT


def _xdp_buff(k: EmulatedKernel) -> XdpBuff:
    if k.context.xdp is None:
        raise KernelFault("an XDP helper without an XDP test-run buffer")
    return k.context.xdp


@helper_service("xdp_adjust_head")
def _xdp_adjust_head(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_xdp_adjust_head: data may move down to the end of the headroom's xdp_frame plus
    # the metadata, and up to ETH_HLEN before data_end; the metadata moves with it
    xdp, offset = _xdp_buff(k), as_s32(a[1])
    metalen = xdp.data - xdp.data_meta
    data = xdp.data + offset
    if data < xdp.hard_start + XDP_FRAME_SIZE + metalen or data > xdp.data_end - ETH_HLEN:
        return neg_errno(EINVAL)
    if metalen:
        k.memory.write(xdp.data_meta + offset, k.memory.read(xdp.data_meta, metalen))
    xdp.data_meta += offset
    xdp.data = data
    return 0


@helper_service("xdp_adjust_tail")
def _xdp_adjust_tail(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_xdp_adjust_tail: data_end stays within the frame less its skb_shared_info, and
    # ETH_HLEN past data; grown bytes are cleared
    xdp, offset = _xdp_buff(k), as_s32(a[1])
    data_end = xdp.data_end + offset
    if data_end > xdp.hard_end or data_end < xdp.data + ETH_HLEN:
        return neg_errno(EINVAL)
    if offset > 0:
        k.memory.write(xdp.data_end, bytes(offset))
    xdp.data_end = data_end
    return 0


@helper_service("skb_adjust_room")
def _skb_adjust_room(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_skb_adjust_room: the flags, then |len_diff| <= 0xfff, then an IP or IPv6 skb
    # (skb->protocol, as eth_type_trans set it for the test run), then the mode; moving the
    # headers of an IP packet is not emulated
    if a[3] & ~BPF_F_ADJ_ROOM_MASK:
        return neg_errno(EINVAL)
    if abs(as_s32(a[1])) > 0xFFF:
        return neg_errno(EFAULT)
    span = k.packet()
    ethertype = int.from_bytes(k.memory.read(span[0] + 12, 2), "big") if span and span[1] >= ETH_HLEN else 0
    if ethertype not in (ETH_P_IP, ETH_P_IPV6) or a[2] & 0xFFFFFFFF not in (0, 1):  # BPF_ADJ_ROOM_NET, _MAC
        return neg_errno(ENOTSUPP)
    raise NotEmulated("bpf_skb_adjust_room of an IP packet is not emulated")


BPF_F_RECOMPUTE_CSUM, BPF_F_INVALIDATE_HASH = 1, 2  # uapi


def _writable(k: EmulatedKernel, end: int) -> tuple[int, int] | None:
    # kernel: bpf_try_make_writable -> skb_ensure_writable: the packet holds `end` bytes
    span = k.packet()
    return span if span is not None and end <= span[1] else None


@helper_service("skb_store_bytes")
def _skb_store_bytes(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_skb_store_bytes (the test run's skb is CHECKSUM_NONE: no csum to recompute; its
    # hash, never computed, is already clear)
    offset, length = a[1] & 0xFFFFFFFF, a[3] & 0xFFFFFFFF
    if a[4] & ~(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH):
        return neg_errno(EINVAL)
    span = _writable(k, offset + length) if offset <= 0x7FFFFFFF else None
    if span is None:
        return neg_errno(EFAULT)
    k.memory.write(span[0] + offset, k.memory.read(a[2], length))
    return 0


@helper_service("skb_pull_data")
def _skb_pull_data(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_skb_pull_data -> bpf_try_make_writable(skb, len ?: skb_headlen(skb)): the test
    # run's skb is linear, so only a length past it fails (pskb_may_pull: -ENOMEM)
    return 0 if _writable(k, a[1] & 0xFFFFFFFF) is not None else neg_errno(ENOMEM)


BPF_REDIR_NEIGH_SIZE = 20  # sizeof(struct bpf_redir_neigh)


@helper_service("redirect_neigh")
def _redirect_neigh(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_redirect_neigh: a short nexthop or any flag is TC_ACT_SHOT
    plen = a[2] & 0xFFFFFFFF
    return TC_ACT_SHOT if (plen and plen < BPF_REDIR_NEIGH_SIZE) or a[3] else TC_ACT_REDIRECT


@helper_service("redirect_peer")
def _redirect_peer(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_redirect_peer: any flag is TC_ACT_SHOT
    return TC_ACT_SHOT if a[1] else TC_ACT_REDIRECT


@helper_service("sock_ops_cb_flags_set")
def _sock_ops_cb_flags_set(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_sock_ops_cb_flags_set: an op outside the locked TCP callbacks is -EOPNOTSUPP
    if k.memory.load(a[0], 4) > BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
        return neg_errno(EOPNOTSUPP)
    raise NotEmulated("bpf_sock_ops_cb_flags_set on a sock_ops socket is not emulated")


BPF_RB_NO_WAKEUP, BPF_RB_FORCE_WAKEUP = 1, 2


@helper_service("ringbuf_output")
def _ringbuf_output(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_ringbuf_output: the flags, then a record reserved (__bpf_ringbuf_reserve) or -EAGAIN
    if a[3] & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP):
        return neg_errno(EINVAL)
    state = k._map(a[0])
    size = a[2] & 0xFFFFFFFF
    if size > state.mdef.max_entries or not state.ring_reserve(size):
        return neg_errno(EAGAIN)
    k.memory.read(a[1], size)  # the record's bytes, copied as the helper copies them
    return 0


def _skb(k: EmulatedKernel) -> TestRunSkb:
    if k.context.skb is None:
        raise NotEmulated(f"an skb helper without a test-run skb ({k.program.prog_type} is not emulated so)")
    return k.context.skb


PACKET_OTHERHOST = 3  # skb_pkt_type_ok: PACKET_HOST .. PACKET_OTHERHOST


@helper_service("skb_change_type")
def _skb_change_type(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_skb_change_type: both the old and the new type must be host .. otherhost
    skb, pkt_type = _skb(k), a[1] & 0xFFFFFFFF
    if pkt_type > PACKET_OTHERHOST:
        return neg_errno(EINVAL)
    skb.set_pkt_type(pkt_type)
    return 0


ETH_P_8021Q, ETH_P_8021AD = 0x8100, 0x88A8


@helper_service("skb_vlan_push")
def _skb_vlan_push(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_skb_vlan_push -> skb_vlan_push: an unknown protocol is taken as 802.1Q; an
    # untagged skb takes the tag as accelerated (__vlan_hwaccel_put_tag), leaving the packet as it is
    skb = _skb(k)
    proto = a[1] & 0xFFFF  # __be16, as the register holds it
    if int.from_bytes(proto.to_bytes(2, "little"), "big") not in (ETH_P_8021Q, ETH_P_8021AD):
        proto = int.from_bytes(ETH_P_8021Q.to_bytes(2, "big"), "little")
    if skb.vlan_tagged:
        raise NotEmulated("bpf_skb_vlan_push onto a tagged skb (the old tag into the packet) is not emulated")
    skb.put_vlan_tag(proto, a[2] & 0xFFFF)
    return 0


@helper_service("skb_change_proto")
def _skb_change_proto(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_skb_change_proto -> bpf_skb_proto_xlat: only IPv4 to IPv6 or back, else -ENOTSUPP
    if a[2]:
        return neg_errno(EINVAL)
    to = int.from_bytes((a[1] & 0xFFFF).to_bytes(2, "little"), "big")
    now = int.from_bytes(_skb(k).protocol.to_bytes(2, "little"), "big")
    if (now, to) not in ((ETH_P_IP, ETH_P_IPV6), (ETH_P_IPV6, ETH_P_IP)):
        return neg_errno(ENOTSUPP)
    raise NotEmulated("bpf_skb_change_proto between IPv4 and IPv6 is not emulated")


BPF_F_TUNINFO_IPV6, BPF_F_TUNINFO_FLAGS = 1, 1 << 4
BPF_F_ZERO_CSUM_TX, BPF_F_DONT_FRAGMENT, BPF_F_SEQ_NUMBER, BPF_F_NO_TUNNEL_KEY = 1 << 1, 1 << 2, 1 << 3, 1 << 4
SET_TUNNEL_KEY_FLAGS = BPF_F_TUNINFO_IPV6 | BPF_F_ZERO_CSUM_TX | BPF_F_DONT_FRAGMENT | BPF_F_SEQ_NUMBER
SET_TUNNEL_KEY_FLAGS |= BPF_F_NO_TUNNEL_KEY
EPROTO, EBADMSG = 71, 74
# struct bpf_tunnel_key (uapi): tunnel_id @0, remote_ipv4/ipv6 @4, tos @20, ttl @21, tunnel_ext /
# tunnel_flags @22, tunnel_label @24, local_ipv4/ipv6 @28; 44 bytes. The sizes of its older
# layouts that both helpers still take (offsetof local_ipv4, tunnel_label, tunnel_ext, remote_ipv6[1]).
TUNNEL_KEY_SIZE = 44
TUNNEL_KEY_OLD_SIZES = (28, 24, 22, 8)
# IP_TUNNEL_*_BIT: the tun_flags bits set_tunnel_key sets, as ip_tunnel_flags_to_be16 packs them
TUNNEL_CSUM, TUNNEL_KEY, TUNNEL_SEQ, TUNNEL_DONT_FRAGMENT, TUNNEL_NOCACHE = 0x01, 0x04, 0x08, 0x100, 0x2000
IPV6_FLOWLABEL_MASK = 0x000FFFFF


@helper_service("skb_set_tunnel_key")
def _skb_set_tunnel_key(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_skb_set_tunnel_key: the per-CPU metadata dst becomes the skb's, in TX mode, with
    # the key's remote address as its destination and local as its source
    skb, size, flags = _skb(k), a[2] & 0xFFFFFFFF, a[3]
    if flags & ~SET_TUNNEL_KEY_FLAGS:
        return neg_errno(EINVAL)
    if size != TUNNEL_KEY_SIZE and size not in TUNNEL_KEY_OLD_SIZES:
        return neg_errno(EINVAL)
    key = k.memory.read(a[1], size) + bytes(TUNNEL_KEY_SIZE - size)  # an older layout, zero-extended
    ipv6 = bool(flags & BPF_F_TUNINFO_IPV6)
    label, ext = int.from_bytes(key[24:28], "little"), int.from_bytes(key[22:24], "little")
    if (not ipv6 and label) or ext:
        return neg_errno(EINVAL)
    tun_flags = TUNNEL_NOCACHE
    tun_flags |= TUNNEL_DONT_FRAGMENT if flags & BPF_F_DONT_FRAGMENT else 0
    tun_flags |= 0 if flags & BPF_F_ZERO_CSUM_TX else TUNNEL_CSUM
    tun_flags |= TUNNEL_SEQ if flags & BPF_F_SEQ_NUMBER else 0
    tun_flags |= 0 if flags & BPF_F_NO_TUNNEL_KEY else TUNNEL_KEY
    width = 16 if ipv6 else 4
    skb.tunnel = TunnelInfo(
        ipv6=ipv6,
        tun_id=int.from_bytes(key[0:4], "little"),
        tos=key[20],
        ttl=key[21],
        flags=tun_flags,
        label=label & IPV6_FLOWLABEL_MASK if ipv6 else 0,
        dst=key[4 : 4 + width],
        src=key[28 : 28 + width],
    )
    return 0


@helper_service("skb_get_tunnel_key")
def _skb_get_tunnel_key(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_skb_get_tunnel_key reads the tunnel info as a receiver sees it: the info's
    # source is the key's remote address; on any error the buffer is cleared (err_clear)
    info, size, flags = _skb(k).tunnel, a[2] & 0xFFFFFFFF, a[3]
    err = 0
    if info is None or flags & ~(BPF_F_TUNINFO_IPV6 | BPF_F_TUNINFO_FLAGS):
        err = EINVAL
    elif info.ipv6 != bool(flags & BPF_F_TUNINFO_IPV6):  # ip_tunnel_info_af != bpf_tunnel_key_af
        err = EPROTO
    elif size != TUNNEL_KEY_SIZE and (size not in TUNNEL_KEY_OLD_SIZES or (size == 8 and info.ipv6)):
        err = EINVAL
    if err or info is None:
        k.memory.write(a[1], bytes(size))
        return neg_errno(err)
    to = bytearray(TUNNEL_KEY_SIZE)
    to[0:4] = info.tun_id.to_bytes(4, "little")
    to[20], to[21] = info.tos, info.ttl
    if flags & BPF_F_TUNINFO_FLAGS:  # ip_tunnel_flags_to_be16
        to[22:24] = info.flags.to_bytes(2, "big")
    to[4 : 4 + len(info.src)] = info.src
    to[28 : 28 + len(info.dst)] = info.dst
    to[24:28] = info.label.to_bytes(4, "little")
    k.memory.write(a[1], bytes(to[:size]))
    return 0


SKB_DATA_ALIGN = 64  # SMP_CACHE_BYTES
# BPF_SKB_MAX_LEN (SKB_MAX_ALLOC): an order-2 allocation less its aligned skb_shared_info
BPF_SKB_MAX_LEN = (4096 << 2) - -(-SKB_LAYOUT.shinfo_size // SKB_DATA_ALIGN) * SKB_DATA_ALIGN


@helper_service("skb_change_tail")
def _skb_change_tail(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_skb_change_tail -> __bpf_skb_change_tail: no flags, a length from the network
    # header's offset (__bpf_skb_min_len: the test run sets no transport header, no partial csum)
    # to BPF_SKB_MAX_LEN; then grown or trimmed, GSO reset, and bpf_compute_data_pointers
    skb, new_len = _skb(k), a[1] & 0xFFFFFFFF
    if a[2] or new_len > BPF_SKB_MAX_LEN or new_len < skb.network_offset:
        return neg_errno(EINVAL)
    if new_len != skb.span[1]:
        skb.set_length(new_len)
    if skb.gso_size:
        skb.reset_gso()
    return 0


@helper_service("skb_change_head")
def _skb_change_head(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_skb_change_head -> __bpf_skb_change_head: no flags, the new length within
    # BPF_SKB_MAX_LEN unless GSO and not wrapped; zeroed room pushed before the mac header
    skb, room = _skb(k), a[1] & 0xFFFFFFFF
    new_len = (skb.span[1] + room) & 0xFFFFFFFF
    if a[2] or (not skb.gso_size and new_len > BPF_SKB_MAX_LEN) or new_len < skb.span[1]:
        return neg_errno(EINVAL)
    skb.push_head(room)
    return 0


@helper_service("sk_assign")
def _sk_assign(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_tc_sk_assign: no flags, then only at tc ingress (skb_at_tc_ingress), which a test
    # run is not
    skb = _skb(k)
    if a[2]:
        return neg_errno(EINVAL)
    if not skb.at_ingress:
        return neg_errno(EOPNOTSUPP)
    raise NotEmulated("bpf_sk_assign at tc ingress is not emulated")


BPF_F_REDIRECT_INTERNAL = 1 << 31  # net/core/filter.c: never a program's flag


@helper_service("clone_redirect")
def _clone_redirect(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_clone_redirect: the flags, a GSO skb without a GSO type (ctx_in can make one),
    # then the device by ifindex in the skb's namespace, where the emulated kernel has only lo
    skb, flags = _skb(k), a[2]
    if flags & (~BPF_F_INGRESS | BPF_F_REDIRECT_INTERNAL):
        return neg_errno(EINVAL)
    if skb.gso_size:
        return neg_errno(EBADMSG)
    if a[1] & 0xFFFFFFFF != LOOPBACK_IFINDEX:
        return neg_errno(EINVAL)
    raise NotEmulated("bpf_clone_redirect of a clone through lo is not emulated")


@helper_service("skb_under_cgroup")
def _skb_under_cgroup(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_skb_under_cgroup: the test run's socket is full, so the array slot decides
    return cgroup_array_slot(k, a[1], a[2], "bpf_skb_under_cgroup")


@helper_service("skb_vlan_pop")
def _skb_vlan_pop(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_skb_vlan_pop -> skb_vlan_pop: an accelerated tag is cleared; an untagged skb whose
    # protocol is no VLAN one is left as it is, 0
    skb = _skb(k)
    if skb.vlan_tagged:
        skb.clear_vlan_tag()
        return 0
    proto = int.from_bytes(skb.protocol.to_bytes(2, "little"), "big")
    if proto in (ETH_P_8021Q, ETH_P_8021AD):
        raise NotEmulated("bpf_skb_vlan_pop of a tag in the packet is not emulated")
    return 0


@helper_service("get_route_realm")
def _get_route_realm(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    _skb(k)
    return 0  # kernel: bpf_get_route_realm -> dst_tclassid: the test run's skb has no dst


@helper_service("set_hash_invalid")
def _set_hash_invalid(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    _skb(k).set_hash(0, False)  # kernel: bpf_set_hash_invalid -> skb_clear_hash
    return 0


@helper_service("set_hash")
def _set_hash(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    _skb(k).set_hash(a[1] & 0xFFFFFFFF, True)  # kernel: bpf_set_hash -> __skb_set_sw_hash(skb, hash, true)
    return 0


@helper_service("get_hash_recalc")
def _get_hash_recalc(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_get_hash_recalc -> skb_get_hash: a software (or L4) hash is returned as it is;
    # without one the flow dissector's hash is computed, which is not emulated
    skb = _skb(k)
    if not skb.sw_hash:
        raise NotEmulated("bpf_get_hash_recalc of an skb without a hash (the flow dissector's) is not emulated")
    return skb.hash


# The test run's dummy socket's cookie: sock_gen_cookie hands each CPU batches of 4096, so the
# live kernel's first test run on a CPU returns 4097 and later ones more (not reproducible).
TEST_RUN_SOCKET_COOKIE = 4097
# The test run's network namespace is init_net (the loader's, for root here). Its cookie is what a
# boot-time counter held when init_net took it (3 on the machine this was written on): a stand-in.
NETNS_COOKIE = 1


@helper_service("get_socket_cookie")
def _get_socket_cookie(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_get_socket_cookie (skb): skb->sk ? __sock_gen_cookie(skb->sk) : 0
    _skb(k)
    return TEST_RUN_SOCKET_COOKIE


@helper_service("get_netns_cookie")
def _get_netns_cookie(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_get_netns_cookie (and its _sock, _sock_addr, _sock_ops, _sk_msg, _sockopt forms):
    # NULL is init_net; a context, its socket's or device's namespace (the test run's: init_net)
    if a[0]:
        _skb(k)
    return NETNS_COOKIE


BPF_HDR_START_MAC, BPF_HDR_START_NET = 0, 1


@helper_service("skb_load_bytes_relative")
def _skb_load_bytes_relative(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_skb_load_bytes_relative: from the mac header (the Ethernet header, before skb->data
    # for the non-L2 types) or the network header, up to the tail; else -EFAULT and the buffer cleared
    skb, offset, length = _skb(k), a[1] & 0xFFFFFFFF, a[3] & 0xFFFFFFFF
    base = {BPF_HDR_START_MAC: skb.mac_offset, BPF_HDR_START_NET: skb.network_offset}.get(a[4])
    data, size = skb.span
    if base is None or offset > 0xFFFF or base + offset + length > size:
        k.memory.write(a[2], bytes(length))
        return neg_errno(EFAULT)
    k.memory.write(a[2], k.memory.read(data + base + offset, length))
    return 0


BPF_RB_AVAIL_DATA, BPF_RB_RING_SIZE, BPF_RB_CONS_POS, BPF_RB_PROD_POS = 0, 1, 2, 3


@helper_service("ringbuf_query")
def _ringbuf_query(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_ringbuf_query: nothing consumes the emulated ring, so the data available is all
    # the producer has reserved (records and their headers)
    state = k._map(a[0])
    return {
        BPF_RB_AVAIL_DATA: state.ring_used,
        BPF_RB_RING_SIZE: state.mdef.max_entries,
        BPF_RB_CONS_POS: 0,
        BPF_RB_PROD_POS: state.ring_used,
    }.get(a[1], 0)


BPF_FIB_LOOKUP_SIZE = 64  # sizeof(struct bpf_fib_lookup)
BPF_FIB_LOOKUP_FLAGS = 0x3F  # DIRECT | OUTPUT | SKIP_NEIGH | TBID | SRC | MARK
AF_INET, AF_INET6, EAFNOSUPPORT = 2, 10, 97


@helper_service("fib_lookup")
def _fib_lookup(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_xdp_fib_lookup / bpf_skb_fib_lookup: the size, the flags and the family are checked
    # before the routing tables are; the emulated kernel has no routing tables
    if a[2] & 0xFFFFFFFF < BPF_FIB_LOOKUP_SIZE or a[3] & ~BPF_FIB_LOOKUP_FLAGS:
        return neg_errno(EINVAL)
    family = k.memory.read(a[1], 1)[0]  # struct bpf_fib_lookup starts with __u8 family
    if family not in (AF_INET, AF_INET6):
        return neg_errno(EAFNOSUPPORT)
    raise NotEmulated("bpf_fib_lookup in the routing tables is not emulated")
