"""Ring buffers and dynptrs, as the emulated kernel runs them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from framework.kernel.api import Engine
from framework.kernel.registry import E2BIG, EINVAL, ENOMEM, helper_service, kfunc_service, neg_errno

if TYPE_CHECKING:
    from framework.kernel.services import EmulatedKernel


DYNPTR_TYPE_SHIFT, DYNPTR_LOCAL, DYNPTR_RINGBUF = 28, 1, 2  # include/linux/bpf.h
DYNPTR_SIZE_MASK = (1 << DYNPTR_TYPE_SHIFT) - 1


@helper_service("ringbuf_reserve")
def _ringbuf_reserve(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    state = k._map(a[0])
    size = a[1]
    if a[2] or not state.is_ringbuf or size > state.mdef.max_entries or not state.ring_reserve(size):
        return 0
    region = k.memory.map(f"ringbuf {state.mdef.name} record", "object", bytes(max(size, 1)))
    region.resource = k._acquire("ringbuf", region.base, e, "bpf_ringbuf_reserve").id
    return region.base


def _ringbuf_commit(k: EmulatedKernel, addr: int, e: Engine, by: str) -> int:
    res = k._release("ringbuf", addr, e, by)
    region = k.memory.region_at(addr)
    if region is not None and res is not None and region.base == addr:
        k._watch_freed(region, res)
    return 0


@helper_service("ringbuf_submit")
def _ringbuf_submit(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _ringbuf_commit(k, a[0], e, "bpf_ringbuf_submit")


@helper_service("ringbuf_discard")
def _ringbuf_discard(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _ringbuf_commit(k, a[0], e, "bpf_ringbuf_discard")


def _dynptr_write(k: EmulatedKernel, ptr: int, data: int, size: int, kind: int) -> None:
    k.memory.write(
        ptr, data.to_bytes(8, "little") + ((kind << DYNPTR_TYPE_SHIFT) | size).to_bytes(4, "little") + bytes(4)
    )


def _dynptr_read(k: EmulatedKernel, ptr: int) -> tuple[int, int, int]:
    raw = k.memory.read(ptr, 16)
    data = int.from_bytes(raw[0:8], "little")
    word = int.from_bytes(raw[8:12], "little")
    return data, word & DYNPTR_SIZE_MASK, int.from_bytes(raw[12:16], "little")


@helper_service("ringbuf_reserve_dynptr")
def _ringbuf_reserve_dynptr(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # the dynptr needs submit/discard even when the reservation fails (it is then NULL)
    state = k._map(a[0])
    size, ptr = a[1] & 0xFFFFFFFF, a[3]
    k._acquire("ringbuf_dynptr", ptr, e, "bpf_ringbuf_reserve_dynptr")
    if a[2]:
        _dynptr_write(k, ptr, 0, 0, 0)
        return neg_errno(EINVAL)
    if size > DYNPTR_SIZE_MASK or not state.is_ringbuf or not state.ring_reserve(size):
        _dynptr_write(k, ptr, 0, 0, 0)
        return neg_errno(E2BIG if size > DYNPTR_SIZE_MASK else ENOMEM)
    region = k.memory.map(f"ringbuf {state.mdef.name} record", "object", bytes(max(size, 1)))
    _dynptr_write(k, ptr, region.base, size, DYNPTR_RINGBUF)
    return 0


def _ringbuf_dynptr_commit(k: EmulatedKernel, a: Sequence[int], e: Engine, by: str) -> int:
    data, _size, _off = _dynptr_read(k, a[0])
    res = k._release("ringbuf_dynptr", a[0], e, by)
    region = k.memory.region_at(data) if data else None
    if region is not None and res is not None:
        k._watch_freed(region, res)
    _dynptr_write(k, a[0], 0, 0, 0)
    return 0


@helper_service("ringbuf_submit_dynptr")
def _ringbuf_submit_dynptr(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _ringbuf_dynptr_commit(k, a, e, "bpf_ringbuf_submit_dynptr")


@helper_service("ringbuf_discard_dynptr")
def _ringbuf_discard_dynptr(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _ringbuf_dynptr_commit(k, a, e, "bpf_ringbuf_discard_dynptr")


@helper_service("dynptr_from_mem")
def _dynptr_from_mem(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    size = a[1] & 0xFFFFFFFF
    if a[2] or size > DYNPTR_SIZE_MASK:
        _dynptr_write(k, a[3], 0, 0, 0)
        return neg_errno(EINVAL if a[2] else E2BIG)
    _dynptr_write(k, a[3], a[0], size, DYNPTR_LOCAL)
    return 0


@helper_service("dynptr_data")
def _dynptr_data(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    data, size, off = _dynptr_read(k, a[0])
    offset, length = a[1] & 0xFFFFFFFF, a[2] & 0xFFFFFFFF
    if not data or offset + length > size:
        return 0
    return data + off + offset


@helper_service("dynptr_read")
def _dynptr_read_helper(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    data, size, off = _dynptr_read(k, a[2])
    length, offset = a[1] & 0xFFFFFFFF, a[3] & 0xFFFFFFFF
    if not data or offset + length > size:
        return neg_errno(EINVAL if not data else E2BIG)
    k.memory.write(a[0], k.memory.read(data + off + offset, length))
    return 0


@helper_service("dynptr_write")
def _dynptr_write_helper(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    data, size, off = _dynptr_read(k, a[0])
    offset, length = a[1] & 0xFFFFFFFF, a[3] & 0xFFFFFFFF
    if not data or offset + length > size:
        return neg_errno(EINVAL if not data else E2BIG)
    k.memory.write(data + off + offset, k.memory.read(a[2], length))
    return 0


@kfunc_service("bpf_dynptr_size")
def _dynptr_size(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _dynptr_read(k, a[0])[1]
