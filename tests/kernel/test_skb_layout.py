"""framework.platform.skb's SkbLayout is the running kernel's: every offset checked against its BTF."""

from __future__ import annotations

import dataclasses

import pytest

from framework.load.btf import Btf, Kind
from framework.platform.skb import SKB_LAYOUT

# SkbLayout field -> (struct, member) in vmlinux; `size` fields are sizeof(struct)
WHERE = {
    "size": ("sk_buff", None),
    "dev": ("sk_buff", "dev"),
    "sk": ("sk_buff", "sk"),
    "tstamp": ("sk_buff", "tstamp"),
    "cb": ("sk_buff", "cb"),
    "len": ("sk_buff", "len"),
    "queue_mapping": ("sk_buff", "queue_mapping"),
    "pkt_type": ("sk_buff", "__pkt_type_offset"),
    "mono_tc": ("sk_buff", "__mono_tc_offset"),
    "tc_index": ("sk_buff", "tc_index"),
    "priority": ("sk_buff", "priority"),
    "skb_iif": ("sk_buff", "skb_iif"),
    "hash": ("sk_buff", "hash"),
    "vlan_all": ("sk_buff", "vlan_all"),
    "napi_id": ("sk_buff", "napi_id"),
    "mark": ("sk_buff", "mark"),
    "protocol": ("sk_buff", "protocol"),
    "end": ("sk_buff", "end"),
    "head": ("sk_buff", "head"),
    "data": ("sk_buff", "data"),
    "dev_ifindex": ("net_device", "ifindex"),
    "qdisc_pkt_len": ("qdisc_skb_cb", "pkt_len"),
    "qdisc_tc_classid": ("qdisc_skb_cb", "tc_classid"),
    "qdisc_data": ("qdisc_skb_cb", "data"),
    "data_meta": ("bpf_skb_data_end", "data_meta"),
    "data_end": ("bpf_skb_data_end", "data_end"),
    "shinfo_gso_size": ("skb_shared_info", "gso_size"),
    "shinfo_gso_segs": ("skb_shared_info", "gso_segs"),
    "shinfo_hwtstamps": ("skb_shared_info", "hwtstamps"),
    "shinfo_size": ("skb_shared_info", None),
}


def _offset(btf: Btf, tid: int, field: str, base: int = 0) -> int | None:
    for m in btf.type(tid).members():
        off = base + m.bit_offset // 8
        if btf.string(m.name_off) == field:
            return off
        inner = btf.skip_mods(m.type)
        if not btf.string(m.name_off) and btf.kind(inner) in (Kind.STRUCT, Kind.UNION):
            found = _offset(btf, inner, field, off)
            if found is not None:
                return found
    return None


def test_every_layout_field_is_named() -> None:
    assert {f.name for f in dataclasses.fields(SKB_LAYOUT)} == set(WHERE)


@pytest.mark.parametrize("name", sorted(WHERE))
def test_layout_is_the_running_kernels(name: str) -> None:
    from framework.oracle.vmlinux import VMLINUX_BTF, vmlinux_btf

    if not VMLINUX_BTF.is_file():
        pytest.skip("no /sys/kernel/btf/vmlinux to compare with")
    btf = vmlinux_btf()
    struct, member = WHERE[name]
    tid = btf.find(struct, Kind.STRUCT)
    assert tid is not None, struct
    got = btf.size(tid) if member is None else _offset(btf, tid, member)
    assert got == getattr(SKB_LAYOUT, name), f"{struct}.{member or 'sizeof'}"
