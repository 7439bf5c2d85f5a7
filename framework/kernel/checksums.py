"""The emulated kernel's checksum helpers (net/core/filter.c bpf_csum_diff, bpf_l3_csum_replace,
bpf_l4_csum_replace) and the ones' complement arithmetic they share (lib/checksum.c,
include/net/checksum.h), registered into framework.kernel.services' table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from framework.kernel.api import Engine
from framework.kernel.net_helpers import _writable
from framework.kernel.registry import EFAULT, EINVAL, helper_service, neg_errno

if TYPE_CHECKING:
    from framework.kernel.services import EmulatedKernel

__all__ = ["csum_from32to16", "csum_partial"]

BPF_F_HDR_FIELD_MASK, BPF_F_PSEUDO_HDR, BPF_F_MARK_MANGLED_0, BPF_F_MARK_ENFORCE, BPF_F_IPV6 = 0xF, 16, 32, 64, 128
CSUM_MANGLED_0 = 0xFFFF


def csum_partial(data: bytes, seed: int) -> int:
    # lib/checksum.c / arch/x86 csum_partial: the ones' complement sum of little-endian 16-bit
    # words (data is a whole number of 32-bit words here), added to a 32-bit seed, folded to 32 bits
    total = seed & 0xFFFFFFFF
    for i in range(0, len(data), 2):
        total += int.from_bytes(data[i : i + 2], "little")
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


@helper_service("csum_diff")
def _csum_diff(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_csum_diff: to's sum less from's (csum_sub), seeded, folded to 16 bits
    from_size, to_size, seed = a[1] & 0xFFFFFFFF, a[3] & 0xFFFFFFFF, a[4] & 0xFFFFFFFF
    frm = k.memory.read(a[0], from_size) if from_size else b""
    to = k.memory.read(a[2], to_size) if to_size else b""
    if from_size and to_size:
        total = _csum_add(csum_partial(to, seed), ~csum_partial(frm, 0) & 0xFFFFFFFF)
    elif to_size:
        total = csum_partial(to, seed)
    elif from_size:
        total = ~csum_partial(frm, ~seed & 0xFFFFFFFF) & 0xFFFFFFFF
    else:
        total = seed
    return csum_from32to16(total)


def _csum_add(x: int, y: int) -> int:
    # include/net/checksum.h csum_add: 32-bit ones' complement addition (end-around carry)
    total = x + y
    return (total & 0xFFFFFFFF) + (total >> 32)


def csum_from32to16(total: int) -> int:
    # include/net/checksum.h: the 32-bit sum folded to 16 bits (bpf_csum_diff returns it folded
    # on every architecture, as the live kernel's test run shows)
    total += ((total >> 16) | (total << 16)) & 0xFFFFFFFF
    return (total >> 16) & 0xFFFF


def _csum_fold(total: int) -> int:
    # csum_fold: 32 bits to 16, complemented
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _csum_replace(old_sum: int, field: int, frm: int, to: int) -> int:
    # csum_replace_by_diff (field 0), csum_replace2, csum_replace4 (include/net/checksum.h), on the
    # raw (network-order) values as the CPU loads them
    if field == 0:
        return _csum_fold(_csum_add(to & 0xFFFFFFFF, ~old_sum & 0xFFFFFFFF))
    if field == 4:
        tmp = _csum_add(~old_sum & 0xFFFFFFFF, ~frm & 0xFFFFFFFF)  # csum_sub(~csum_unfold(*sum), from)
        return _csum_fold(_csum_add(tmp, to & 0xFFFFFFFF))
    res = _csum16_add(_csum16_add(~old_sum & 0xFFFF, ~frm & 0xFFFF), to & 0xFFFF)  # field 2
    return ~res & 0xFFFF


def _csum16_add(csum: int, addend: int) -> int:
    res = (csum + addend) & 0xFFFF
    return (res + (res < addend)) & 0xFFFF


def _csum_at(k: EmulatedKernel, offset: int) -> int | None:
    # the __sum16 the csum helpers rewrite: an even offset within 0xffff the packet holds
    if offset > 0xFFFF or offset & 1:
        return None
    span = _writable(k, offset + 2)
    return None if span is None else span[0] + offset


@helper_service("l3_csum_replace")
def _l3_csum_replace(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_l3_csum_replace
    flags, field = a[4], a[4] & BPF_F_HDR_FIELD_MASK
    if flags & ~BPF_F_HDR_FIELD_MASK:
        return neg_errno(EINVAL)
    at = _csum_at(k, a[1] & 0xFFFFFFFF)
    if at is None:
        return neg_errno(EFAULT)
    if field not in (0, 2, 4) or (field == 0 and a[2]):
        return neg_errno(EINVAL)
    old = int.from_bytes(k.memory.read(at, 2), "little")
    k.memory.write(at, _csum_replace(old, field, a[2], a[3]).to_bytes(2, "little"))
    return 0


@helper_service("l4_csum_replace")
def _l4_csum_replace(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_l4_csum_replace -> inet_proto_csum_replace{4,2,_by_diff}; the test run's skb is not
    # CHECKSUM_PARTIAL, so each is csum_replace on the field (2 as 4 with zero-extended values)
    flags, field = a[4], a[4] & BPF_F_HDR_FIELD_MASK
    allowed = BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | BPF_F_HDR_FIELD_MASK | BPF_F_IPV6
    if flags & ~allowed:
        return neg_errno(EINVAL)
    at = _csum_at(k, a[1] & 0xFFFFFFFF)
    if at is None:
        return neg_errno(EFAULT)
    old = int.from_bytes(k.memory.read(at, 2), "little")
    mangled0 = bool(flags & BPF_F_MARK_MANGLED_0)
    if mangled0 and not flags & BPF_F_MARK_ENFORCE and not old:
        return 0
    if field not in (0, 2, 4) or (field == 0 and a[2]):
        return neg_errno(EINVAL)
    frm, to = (a[2] & 0xFFFF, a[3] & 0xFFFF) if field == 2 else (a[2], a[3])
    new = _csum_replace(old, 4 if field == 2 else field, frm, to)
    k.memory.write(at, (CSUM_MANGLED_0 if mangled0 and not new else new).to_bytes(2, "little"))
    return 0
