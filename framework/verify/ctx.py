"""Context access for tc programs: `struct __sk_buff` as tc_cls_act_is_valid_access sees it."""

from __future__ import annotations

from framework.verify.regs import RT

SK_BUFF_SIZE = 192
# offsets of struct __sk_buff (include/uapi/linux/bpf.h, Linux 6.18)
DATA, DATA_END, DATA_META = 76, 80, 140
FAMILY, LOCAL_PORT_END = 88, 140  # family .. local_port: not for tc
FLOW_KEYS, TSTAMP, SK, HWTSTAMP = 144, 152, 168, 184
_WRITABLE = [(8, 12), (44, 48), (32, 36), (48, 68), (72, 76), (TSTAMP, TSTAMP + 8), (12, 16)]
_EIGHT_BYTE = {FLOW_KEYS, TSTAMP, SK, HWTSTAMP}


def ctx_access(off: int, size: int, write: bool) -> RT | None:
    """The register type a valid access yields (SCALAR for plain fields), or None when invalid."""
    # kernel: tc_cls_act_is_valid_access, bpf_skb_is_valid_access
    if off < 0 or off + size > SK_BUFF_SIZE or off % size:
        return None
    if write and not any(lo <= off and off + size <= hi for lo, hi in _WRITABLE):
        return None
    if FAMILY <= off < LOCAL_PORT_END or FLOW_KEYS <= off < FLOW_KEYS + 8:
        return None
    if off in (DATA, DATA_END, DATA_META):
        if size != 4:
            return None
        return {DATA: RT.PACKET, DATA_END: RT.PACKET_END, DATA_META: RT.PACKET_META}[off]
    base = off - off % 8
    if base in _EIGHT_BYTE and off < base + 8 and size != 8:
        return None
    if off == SK:
        return RT.SOCKET  # PTR_TO_SOCK_COMMON_OR_NULL
    return RT.SCALAR
