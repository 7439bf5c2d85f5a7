"""Context access for tc programs: `struct __sk_buff` as tc_cls_act_is_valid_access sees it.

The rules are framework.platform.skb's table, which the fixup stage's conversion and the
emulated kernel's test-run skb read too.
"""

from __future__ import annotations

from framework.platform.skb import SK_BUFF_SIZE, valid_access
from framework.verify.regs import RT

__all__ = ["SK_BUFF_SIZE", "TSTAMP_TYPE", "ctx_access"]

_YIELDS = {
    "scalar": RT.SCALAR,
    "pkt": RT.PACKET,
    "pkt_end": RT.PACKET_END,
    "pkt_meta": RT.PACKET_META,
    "sock_common_or_null": RT.SOCKET,
}
TSTAMP_TYPE = 180  # offsetof(struct __sk_buff, tstamp_type): reading it sets prog->tstamp_type_access


def ctx_access(off: int, size: int, write: bool) -> RT | None:
    """The register type a valid access yields (SCALAR for plain fields), or None when invalid."""
    # kernel: tc_cls_act_is_valid_access, bpf_skb_is_valid_access
    f = valid_access(off, size, write)
    return None if f is None else _YIELDS[f.yields]
