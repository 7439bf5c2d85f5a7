"""tc's context: `struct __sk_buff` as a program sees it, and the `struct sk_buff` it is rewritten to
(socket filters and cgroup skb programs see the same structure through narrower rules,
framework.platform.contexts; cgroup skb also reads the socket fields, `SOCK_FIELDS`).

One table, every stage reads it:
- the verifier: which loads and stores are valid, and what a load yields
  (tc_cls_act_is_valid_access, then bpf_skb_is_valid_access, net/core/filter.c);
- the fixup stage: the instructions each access becomes (tc_cls_act_convert_ctx_access,
  bpf_convert_ctx_access) and the narrow-load rule of convert_ctx_accesses, for which
  `ctx_field_size` is 4 for the fields of `bpf_skb_is_valid_access`'s default case
  (`NARROW`) and `target` is the width the conversion reads (`*target_size`);
- the emulated kernel: what each access yields and stores in a test run's skb.

`SkbLayout` holds the offsets of the live kernel's `struct sk_buff` and its neighbours
(Linux 6.18.44 x86-64, as /sys/kernel/btf/vmlinux gives them; tests/kernel compares them
with the running kernel's BTF).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BYTES",
    "EXACT",
    "MIN_NAPI_ID",
    "NARROW",
    "NO_QUEUE_MAPPING",
    "PKT_TYPE_MAX",
    "SKB_FIELDS",
    "SKB_LAYOUT",
    "SKB_TSTAMP_TYPE_MASK",
    "SK_BUFF_SIZE",
    "SOCK_FIELDS",
    "SOCK_VIEW",
    "TC_AT_INGRESS_MASK",
    "SkbField",
    "SkbLayout",
    "field_at",
    "skb_field",
    "sock_field_at",
    "valid_access",
]

SK_BUFF_SIZE = 192  # sizeof(struct __sk_buff)

NARROW = "narrow"  # bpf_skb_is_valid_access's default: reads of 1, 2 or 4 bytes (shifted and masked), writes of 4
EXACT = "exact"  # one access size only (the field's own)
BYTES = "bytes"  # cb[]: any aligned size within the field, read and written as it is


@dataclass(frozen=True, slots=True)
class SkbField:
    """One field of `struct __sk_buff` for a tc program."""

    name: str
    off: int  # offsetof(struct __sk_buff, name)
    size: int  # its bytes in struct __sk_buff
    access: str  # NARROW, EXACT or BYTES
    writable: bool = False  # tc_cls_act_is_valid_access's BPF_WRITE list
    yields: str = "scalar"  # what a load gives the verifier: scalar, pkt, pkt_end, pkt_meta, sock_common_or_null
    target: int = 4  # bytes the conversion reads (*target_size): a narrower load of a wider one is shifted and masked

    @property
    def end(self) -> int:
        return self.off + self.size


# include/uapi/linux/bpf.h (struct __sk_buff), with tc's rules; offsets 88..139 (family ..
# local_port, sk_skb only), 144 (flow_keys) and 181..183 (padding) are refused.
SKB_FIELDS: tuple[SkbField, ...] = (
    SkbField("len", 0, 4, NARROW),
    SkbField("pkt_type", 4, 4, NARROW, target=1),
    SkbField("mark", 8, 4, NARROW, writable=True),
    SkbField("queue_mapping", 12, 4, NARROW, writable=True, target=2),
    SkbField("protocol", 16, 4, NARROW, target=2),
    SkbField("vlan_present", 20, 4, NARROW),
    SkbField("vlan_tci", 24, 4, NARROW, target=2),
    SkbField("vlan_proto", 28, 4, NARROW, target=2),
    SkbField("priority", 32, 4, NARROW, writable=True),
    SkbField("ingress_ifindex", 36, 4, NARROW),
    SkbField("ifindex", 40, 4, NARROW),
    SkbField("tc_index", 44, 4, NARROW, writable=True, target=2),
    SkbField("cb", 48, 20, BYTES, writable=True),
    SkbField("hash", 68, 4, NARROW),
    SkbField("tc_classid", 72, 4, NARROW, writable=True, target=2),
    SkbField("data", 76, 4, EXACT, yields="pkt", target=8),
    SkbField("data_end", 80, 4, EXACT, yields="pkt_end", target=8),
    SkbField("napi_id", 84, 4, NARROW),
    SkbField("data_meta", 140, 4, EXACT, yields="pkt_meta", target=8),
    SkbField("tstamp", 152, 8, EXACT, writable=True, target=8),
    SkbField("wire_len", 160, 4, NARROW),
    SkbField("gso_segs", 164, 4, NARROW, target=2),
    SkbField("sk", 168, 8, EXACT, yields="sock_common_or_null", target=8),
    SkbField("gso_size", 176, 4, NARROW, target=2),
    SkbField("tstamp_type", 180, 1, EXACT, target=1),
    SkbField("hwtstamp", 184, 8, EXACT, target=8),
)
# __sk_buff's socket fields (family .. local_port, offsets 88..139): tc refuses them, cgroup_skb and
# sk_skb read them through skb->sk (bpf_convert_ctx_access: struct sock_common's skc_* fields).
# `target` is what the live kernel's xlated code reads: remote_port is skc_dport shifted into the
# upper half of a u32 (a narrow read of it is shifted and masked within that u32).
SOCK_FIELDS: tuple[SkbField, ...] = (
    SkbField("family", 88, 4, NARROW, target=2),
    SkbField("remote_ip4", 92, 4, NARROW),
    SkbField("local_ip4", 96, 4, NARROW),
    SkbField("remote_ip6", 100, 16, NARROW),
    SkbField("local_ip6", 116, 16, NARROW),
    SkbField("remote_port", 132, 4, NARROW),
    SkbField("local_port", 136, 4, NARROW, target=2),
)
# where the emulated test-run socket holds what each socket field reads: (offset, bytes) in the
# struct bpf_sock it is laid out as (loads through a socket pointer read it unconverted), for the
# kernel's skc_daddr, skc_rcv_saddr, skc_v6_daddr, skc_v6_rcv_saddr, skc_dport (__be16), skc_num
SOCK_VIEW: dict[str, tuple[int, int]] = {
    "family": (4, 2),  # bpf_sock.family (skc_family, a u16 in struct sock_common)
    "remote_ip4": (52, 4),  # dst_ip4
    "local_ip4": (24, 4),  # src_ip4
    "remote_ip6": (56, 4),  # dst_ip6[], a word at a time
    "local_ip6": (28, 4),  # src_ip6[]
    "remote_port": (48, 2),  # dst_port (__be16)
    "local_port": (44, 2),  # src_port (host order)
}
_BY_OFF = {off: f for f in SKB_FIELDS for off in range(f.off, f.end)}
_SOCK_BY_OFF = {off: f for f in SOCK_FIELDS for off in range(f.off, f.end)}
_BY_NAME = {f.name: f for f in (*SKB_FIELDS, *SOCK_FIELDS)}


def skb_field(name: str) -> SkbField:
    """The field called `name` (KeyError for a name struct __sk_buff lacks or no type can touch)."""
    return _BY_NAME[name]


def field_at(off: int) -> SkbField | None:
    """The field holding byte `off` of struct __sk_buff (None: not a tc field)."""
    return _BY_OFF.get(off)


def sock_field_at(off: int) -> SkbField | None:
    """The socket field (family .. local_port) holding byte `off` of struct __sk_buff, or None."""
    return _SOCK_BY_OFF.get(off)


def valid_access(off: int, size: int, write: bool) -> SkbField | None:
    """The field a tc access of `size` bytes at `off` reads or writes, or None where Linux refuses it."""
    # kernel: tc_cls_act_is_valid_access, bpf_skb_is_valid_access
    if off < 0 or off >= SK_BUFF_SIZE or size not in (1, 2, 4, 8):
        return None
    f = field_at(off)
    if f is None:
        return None
    if f.name == "tstamp_type":  # checked before bpf_skb_is_valid_access: a u8 read, any alignment
        return f if size == 1 and not write else None
    if off % size:
        return None
    if write and not f.writable:
        return None
    if f.access == BYTES:
        return f if off + size <= f.end else None
    if f.access == EXACT:
        return f if size == f.size and off == f.off else None
    if write:
        return f if size == 4 and off == f.off else None
    return f if size <= 4 else None  # bpf_ctx_narrow_access_ok


@dataclass(frozen=True, slots=True)
class SkbLayout:
    """Offsets in the kernel's structures a converted tc access reads (6.18.44 x86-64)."""

    size: int = 224  # sizeof(struct sk_buff)
    dev: int = 16  # struct net_device *dev
    sk: int = 24  # struct sock *sk
    tstamp: int = 32  # ktime_t tstamp
    cb: int = 40  # char cb[48]: struct qdisc_skb_cb, struct bpf_skb_data_end
    len: int = 112
    queue_mapping: int = 124  # __u16
    pkt_type: int = 128  # __pkt_type_offset: pkt_type is bits 0-2 (PKT_TYPE_MAX 7)
    mono_tc: int = 129  # __mono_tc_offset: tstamp_type bits 0-1, tc_at_ingress bit 2
    tc_index: int = 132  # __u16
    priority: int = 140
    skb_iif: int = 144
    hash: int = 148
    vlan_all: int = 152  # vlan_proto (__be16) at 152, vlan_tci at 154
    napi_id: int = 156
    mark: int = 164
    protocol: int = 176  # __be16
    end: int = 188  # sk_buff_data_t (an offset from head: NET_SKBUFF_DATA_USES_OFFSET)
    head: int = 192
    data: int = 200
    dev_ifindex: int = 224  # offsetof(struct net_device, ifindex)
    qdisc_pkt_len: int = 0  # offsetof(struct qdisc_skb_cb, pkt_len): __sk_buff wire_len
    qdisc_tc_classid: int = 6  # offsetof(struct qdisc_skb_cb, tc_classid) (__u16)
    qdisc_data: int = 8  # offsetof(struct qdisc_skb_cb, data): __sk_buff cb[0..4]
    data_meta: int = 32  # offsetof(struct bpf_skb_data_end, data_meta), in cb
    data_end: int = 40  # offsetof(struct bpf_skb_data_end, data_end), in cb
    shinfo_gso_size: int = 4  # offsetof(struct skb_shared_info, gso_size) (__u16)
    shinfo_gso_segs: int = 6  # offsetof(struct skb_shared_info, gso_segs) (__u16)
    shinfo_hwtstamps: int = 16  # offsetof(struct skb_shared_info, hwtstamps)
    shinfo_size: int = 320  # sizeof(struct skb_shared_info)


SKB_LAYOUT = SkbLayout()
TC_AT_INGRESS_MASK = 0x4  # include/linux/skbuff.h, in the __mono_tc_offset byte
SKB_TSTAMP_TYPE_MASK = 0x3
PKT_TYPE_MAX = 7
MIN_NAPI_ID = 0x101  # NR_CPUS + 1 on this build (the xlated `if r >= 0x101`)
NO_QUEUE_MAPPING = 0xFFFF
