"""Maps in the emulated kernel: arrays (global data included), hashes and ring buffers.

Layouts follow kernel/bpf/arraymap.c (elements of round_up(value_size, 8) bytes,
one contiguous value area) and kernel/bpf/ringbuf.c (an 8-byte header before
each record, records rounded to 8 bytes, capacity max_entries bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from framework.kernel.memory import AddressSpace, Region
from framework.load.program import MapDef

__all__ = ["BPF_F_RDONLY_PROG", "MapState"]

BPF_F_RDONLY_PROG = 1 << 7  # uapi bpf.h
BPF_NOEXIST, BPF_EXIST = 1, 2
RINGBUF_HDR = 8  # BPF_RINGBUF_HDR_SZ
EINVAL, ENOENT, EEXIST, E2BIG = 22, 2, 17, 7
_ARRAYS = ("array", "percpu_array", "cgroup_array", "prog_array")
_HASHES = ("hash", "lru_hash", "percpu_hash", "lru_percpu_hash")


def _round8(n: int) -> int:
    return (n + 7) // 8 * 8


@dataclass(eq=False, slots=True)
class MapState:
    mdef: MapDef
    memory: AddressSpace
    obj: Region  # stands for `struct bpf_map`: what ld_imm64 of the map yields
    values: Region | None = None  # arrays: every element, contiguous
    entries: dict[bytes, Region] = field(default_factory=dict)  # hashes
    ring_used: int = 0

    @classmethod
    def create(cls, memory: AddressSpace, mdef: MapDef) -> MapState:
        state = cls(mdef, memory, memory.map(f"map {mdef.name}", "map", bytes(64), writable=False))
        if mdef.map_type in _ARRAYS:
            size = _round8(mdef.value_size) * max(mdef.max_entries, 1)
            data = bytearray(size)
            data[: len(mdef.initial)] = mdef.initial
            writable = not mdef.flags & BPF_F_RDONLY_PROG
            state.values = memory.map(f"map {mdef.name} values", "map_value", data, writable=writable)
        return state

    @property
    def is_array(self) -> bool:
        return self.values is not None

    @property
    def is_hash(self) -> bool:
        return self.mdef.map_type in _HASHES

    @property
    def is_ringbuf(self) -> bool:
        return self.mdef.map_type == "ringbuf"

    def lookup(self, key: bytes) -> int:
        """map_lookup_elem: the value's address, or 0."""
        if self.values is not None:
            index = int.from_bytes(key[:4], "little")
            if index >= self.mdef.max_entries:
                return 0
            return self.values.base + index * _round8(self.mdef.value_size)
        region = self.entries.get(key)
        return region.base if region is not None and not region.freed else 0

    def update(self, key: bytes, value: bytes, flags: int) -> int:
        """map_update_elem: 0 or a negative errno."""
        if flags > BPF_EXIST:
            return -EINVAL
        if self.values is not None:
            index = int.from_bytes(key[:4], "little")
            if index >= self.mdef.max_entries:
                return -E2BIG
            if flags == BPF_NOEXIST:
                return -EEXIST
            at = index * _round8(self.mdef.value_size)
            self.values.data[at : at + self.mdef.value_size] = value[: self.mdef.value_size]
            return 0
        if not self.is_hash:
            return -EINVAL
        present = key in self.entries and not self.entries[key].freed
        if flags == BPF_NOEXIST and present:
            return -EEXIST
        if flags == BPF_EXIST and not present:
            return -ENOENT
        if present:
            self.entries[key].data[:] = value[: self.mdef.value_size].ljust(self.mdef.value_size, b"\0")
            return 0
        if len([r for r in self.entries.values() if not r.freed]) >= self.mdef.max_entries:
            return -E2BIG
        self.entries[key] = self.memory.map(
            f"map {self.mdef.name}[{key.hex()}]",
            "map_value",
            value[: self.mdef.value_size].ljust(self.mdef.value_size, b"\0"),
        )
        return 0

    def delete(self, key: bytes) -> int:
        if not self.is_hash:
            return -EINVAL
        region = self.entries.get(key)
        if region is None or region.freed:
            return -ENOENT
        self.memory.free(region)
        del self.entries[key]
        return 0

    def all_keys(self) -> list[bytes]:
        if self.values is not None:
            return [i.to_bytes(4, "little") for i in range(self.mdef.max_entries)]
        return [k for k, r in self.entries.items() if not r.freed]

    def ring_reserve(self, size: int) -> bool:
        """Room for a record of `size` bytes (header included, rounded to 8)?"""
        need = _round8(size + RINGBUF_HDR)
        if self.ring_used + need > self.mdef.max_entries:
            return False
        self.ring_used += need
        return True
