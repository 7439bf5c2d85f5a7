"""framework.platform.tailcall's offsets are the running kernel's: each checked against its BTF."""

from __future__ import annotations

import pytest

from framework.fixup.maplookup import ARRAY_VALUE_OFFSET
from framework.load.btf import Btf, Kind
from framework.platform import tailcall


def _find(btf: Btf, tid: int, name: str) -> tuple[int, int] | None:
    """(offset, type) of member `name` of `tid`, looking through anonymous structs and unions."""
    for m in btf.type(tid).members():
        inner = btf.skip_mods(m.type)
        if btf.string(m.name_off) == name:
            return m.bit_offset // 8, inner
        if not btf.string(m.name_off) and btf.kind(inner) in (Kind.STRUCT, Kind.UNION):
            found = _find(btf, inner, name)
            if found is not None:
                return m.bit_offset // 8 + found[0], found[1]
    return None


def _member(btf: Btf, struct: str, path: str) -> int:
    """offsetof(struct `struct`, `path`), `path` dotted through members."""
    tid = btf.find(struct, Kind.STRUCT)
    assert tid is not None, struct
    off = 0
    for name in path.split("."):
        found = _find(btf, tid, name)
        assert found is not None, f"struct {struct} has no {path}"
        off += found[0]
        tid = found[1]
    return off


@pytest.mark.parametrize(
    ("value", "struct", "path"),
    [
        (tailcall.BPF_ARRAY_MAX_ENTRIES, "bpf_array", "map.max_entries"),
        (tailcall.BPF_ARRAY_PTRS, "bpf_array", "ptrs"),
        (ARRAY_VALUE_OFFSET, "bpf_array", "value"),
        (tailcall.BPF_PROG_BPF_FUNC, "bpf_prog", "bpf_func"),
    ],
)
def test_offset_is_the_running_kernels(value: int, struct: str, path: str) -> None:
    from framework.oracle.vmlinux import VMLINUX_BTF, vmlinux_btf

    if not VMLINUX_BTF.is_file():
        pytest.skip("no /sys/kernel/btf/vmlinux to compare with")
    assert _member(vmlinux_btf(), struct, path) == value, f"{struct}.{path}"
