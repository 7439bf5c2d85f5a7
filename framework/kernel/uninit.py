"""Memory the kernel hands out without clearing it, and the reads that would see what was there.

bpf_obj_new_impl and bpf_percpu_obj_new_impl (kernel/bpf/helpers.c) take their object from
bpf_mem_alloc, which reuses freed objects without zeroing them; bpf_obj_init then sets only
the special fields of the type's btf_record (locks, list heads and nodes, rb roots and nodes,
the refcount, kptrs). A program reading any other byte before writing it sees whatever an
earlier object left there: the live kernel's answer depends on its history, so the emulated
kernel, which could only make one up, says so (`NotEmulated`: the run is `unsupported`).

The watch is the object region's access watch (`Region.on_access`), so both engines see it:
the interpreter through the address space, the machine through the memory hook the bridge
puts on every watched region.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from framework.kernel.api import NotEmulated
from framework.kernel.memory import Region
from framework.load.btf import Btf, Kind
from framework.platform.btf_fields import SPECIAL_FIELDS

__all__ = ["initialised_fields", "unwritten_watch"]

Watch = Callable[[Region, int, int, bool], None]


def initialised_fields(btf: object, type_id: int) -> tuple[tuple[int, int], ...]:
    """(offset, size) of the members bpf_obj_init sets: the special structs and the kptrs."""
    if not isinstance(btf, Btf):
        return ()
    t = btf.type(btf.skip_mods(type_id))
    if t.kind is not Kind.STRUCT:
        return ()
    spans = []
    for m in t.members():
        member = btf.skip_mods(m.type)
        mt = btf.type(member)
        ref = btf.type(m.type)
        if mt.kind is Kind.STRUCT and btf.string(mt.name_off) in SPECIAL_FIELDS:
            spans.append((m.bit_offset // 8, btf.size(member)))
        elif ref.kind is Kind.PTR and btf.type(ref.type).kind is Kind.TYPE_TAG:  # a __kptr field
            spans.append((m.bit_offset // 8, 8))
    return tuple(spans)


def unwritten_watch(size: int, initialised: Sequence[tuple[int, int]]) -> Watch:
    """A watch that lets a read through only once every byte it reads has been written."""
    unwritten = bytearray(b"\x01" * size)
    for off, n in initialised:
        unwritten[off : off + n] = bytes(len(unwritten[off : off + n]))

    def on_access(region: Region, off: int, n: int, write: bool) -> None:
        if write:
            unwritten[off : off + n] = bytes(len(unwritten[off : off + n]))
        elif any(unwritten[off : off + n]):
            raise NotEmulated(
                f"a read of {n} bytes at offset {off} of {region.name}, which nothing wrote, is not emulated: "
                "bpf_obj_new's memory is not cleared (bpf_mem_alloc reuses freed objects), so the kernel's "
                "value is whatever was there"
            )

    return on_access
