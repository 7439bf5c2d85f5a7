"""The emulated kernel's address space: named regions, and faults that say why.

Every byte a BPF program can touch lives in a `Region`: a frame's stack, the
context, the packet, a map value, a kernel object (task, socket, cgroup, an
allocated object, a ring-buffer record). An access outside every region, or one
that straddles a region's end, or a write to a read-only region, raises `Fault`
with the reason; the engine adds the BPF pc. A region freed by the kernel stays
mapped (the real kernel would read stale memory, not trap) but is marked, so the
ledger can record a use after release.

`GuestMemory` is the interface the kernel services use: the interpreter passes an
`AddressSpace`; another engine can implement the same methods over its own memory.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["AddressSpace", "Fault", "GuestMemory", "Region"]

MASK64 = (1 << 64) - 1
PAGE = 0x1000

# A load hook: (region offset, size) -> the value the load yields, or None to read bytes.
LoadHook = Callable[[int, int], "int | None"]
# A store hook: (region offset, size, value) -> True when it stored (the bytes are then left alone).
StoreHook = Callable[[int, int, int], bool]


class Fault(Exception):
    """A bad memory access; `reason` is one line, `addr` the address."""

    def __init__(self, addr: int, size: int, reason: str) -> None:
        super().__init__(reason)
        self.addr = addr
        self.size = size
        self.reason = reason


@dataclass(eq=False, slots=True)
class Region:
    """A mapped range of guest memory."""

    name: str  # e.g. "stack#0", "ctx", "packet", "map:counts[0]", "task:1"
    kind: str  # "stack", "ctx", "packet", "map_value", "map", "object", "func", "mem"
    base: int
    data: bytearray
    writable: bool = True
    load_hook: LoadHook | None = None
    store_hook: StoreHook | None = None
    freed: bool = False
    resource: int | None = None  # the ledger id of the resource this memory belongs to
    # an access watch: (region, offset, size, is_write), before the access; it may raise to refuse it
    on_access: Callable[[Region, int, int, bool], None] | None = field(default=None, repr=False)

    @property
    def end(self) -> int:
        return self.base + len(self.data)


class GuestMemory(Protocol):
    """What the kernel services need from an engine's memory."""

    def read(self, addr: int, size: int) -> bytes: ...

    def write(self, addr: int, data: bytes) -> None: ...

    def map(self, name: str, kind: str, data: bytes | bytearray, writable: bool = True) -> Region: ...

    def free(self, region: Region) -> None: ...

    def region_at(self, addr: int) -> Region | None: ...


class AddressSpace:
    """Regions placed at increasing addresses with a guard page between each."""

    def __init__(self, first: int = 0x1000_0000) -> None:
        self._next = first
        self._bases: list[int] = []
        self._regions: list[Region] = []
        self._last: Region | None = None

    def map(self, name: str, kind: str, data: bytes | bytearray, writable: bool = True) -> Region:
        """Map `data` at a fresh address (page aligned, a guard page after it)."""
        region = Region(name, kind, self._next, bytearray(data), writable)
        self._place(region)
        self._next += (max(len(data), 1) + 2 * PAGE - 1) // PAGE * PAGE
        return region

    def map_at(self, base: int, name: str, kind: str, data: bytes | bytearray, writable: bool = True) -> Region:
        """Map `data` at a fixed address (stacks, whose frame pointer is fixed)."""
        region = Region(name, kind, base, bytearray(data), writable)
        at = bisect.bisect_right(self._bases, base)
        if (at and self._regions[at - 1].end > base) or (at < len(self._bases) and region.end > self._bases[at]):
            raise ValueError(f"region {name} at 0x{base:x} overlaps another")
        self._place(region)
        return region

    def _place(self, region: Region) -> None:
        at = bisect.bisect_right(self._bases, region.base)
        self._bases.insert(at, region.base)
        self._regions.insert(at, region)

    def free(self, region: Region) -> None:
        region.freed = True

    def regions(self) -> tuple[Region, ...]:
        return tuple(self._regions)

    def region_at(self, addr: int) -> Region | None:
        last = self._last
        if last is not None and last.base <= addr < last.end:
            return last
        at = bisect.bisect_right(self._bases, addr) - 1
        if at >= 0:
            region = self._regions[at]
            if addr < region.end:
                self._last = region
                return region
        return None

    def _below(self, addr: int) -> Region | None:
        at = bisect.bisect_right(self._bases, addr) - 1
        return self._regions[at] if at >= 0 else None

    def _find(self, addr: int, size: int, write: bool) -> Region:
        region = self.region_at(addr)
        if region is None:
            verb = "write" if write else "read"
            below = self._below(addr)
            if below is not None and addr - below.end < PAGE:
                raise Fault(
                    addr,
                    size,
                    f"{verb} of {size} bytes at 0x{addr:x} runs past the end of {below.name} "
                    f"(offset {addr - below.base}, size {len(below.data)})",
                )
            what = "NULL pointer dereference" if addr < PAGE else "unmapped address"
            raise Fault(addr, size, f"{verb} of {size} bytes at 0x{addr:x}: {what}")
        if addr + size > region.end:
            raise Fault(
                addr,
                size,
                f"{'write' if write else 'read'} of {size} bytes at 0x{addr:x} runs past the end of "
                f"{region.name} (offset {addr - region.base}, size {len(region.data)})",
            )
        if write and not region.writable:
            raise Fault(addr, size, f"write of {size} bytes at 0x{addr:x} into read-only {region.name}")
        if region.on_access is not None:
            region.on_access(region, addr - region.base, size, write)
        return region

    def read(self, addr: int, size: int) -> bytes:
        region = self._find(addr, size, False)
        off = addr - region.base
        return bytes(region.data[off : off + size])

    def load(self, addr: int, size: int) -> int:
        """A little-endian unsigned load, through the region's load hook if it has one."""
        region = self._find(addr, size, False)
        off = addr - region.base
        if region.load_hook is not None:
            value = region.load_hook(off, size)
            if value is not None:
                return value & MASK64
        return int.from_bytes(region.data[off : off + size], "little")

    def write(self, addr: int, data: bytes) -> None:
        region = self._find(addr, len(data), True)
        off = addr - region.base
        region.data[off : off + len(data)] = data

    def store(self, addr: int, size: int, value: int) -> None:
        """A little-endian store of `value` (all its bits reach a store hook), through the region's hook."""
        region = self._find(addr, size, True)
        off = addr - region.base
        if region.store_hook is not None and region.store_hook(off, size, value & MASK64):
            return
        region.data[off : off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
