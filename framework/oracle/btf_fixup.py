"""The fix-ups libbpf applies to an object's .BTF before BPF_BTF_LOAD, on raw bytes.

clang leaves DATASEC sizes and VAR offsets at 0 and marks `__ksym` functions
with extern linkage, which the kernel refuses. libbpf repairs them in
bpf_object__collect_externs (.ksyms) and btf_fixup_datasec (every other
DATASEC); this module does the same, patching the bytes in place and appending
what it adds (the `dummy_ksym` VAR, strings) at the ends of the two sections.
bpf_object__sanitize_btf is not needed: Linux 6.18 knows every kind clang 19 emits.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping

from framework.oracle.vmlinux import type_size

__all__ = ["fixup_btf", "intern_strings"]

_INT, _FUNC, _FUNC_PROTO, _VAR, _DATASEC = 1, 12, 13, 14, 15
_BTF_FUNC_GLOBAL = 1
_BTF_VAR_GLOBAL_ALLOCATED = 1
_DUMMY_KSYM = "dummy_ksym"


class _Raw:
    """A BTF blob split into header fields, type bytes and string bytes."""

    def __init__(self, data: bytes) -> None:
        magic, version, flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
        if magic != 0xEB9F:
            raise ValueError(f"not BTF (magic 0x{magic:04x})")
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
        self.version, self.flags = version, flags
        self.types = bytearray(data[hdr_len + type_off : hdr_len + type_off + type_len])
        self.strings = bytearray(data[hdr_len + str_off : hdr_len + str_off + str_len])

    def encode(self) -> bytes:
        header = struct.pack(
            "<HBBIIIII", 0xEB9F, self.version, self.flags, 24, 0, len(self.types), len(self.types), len(self.strings)
        )
        return header + bytes(self.types) + bytes(self.strings)

    def walk(self) -> Iterator[tuple[int, int]]:
        """(type id, byte offset in the type section) of every type."""
        at, type_id = 0, 1
        while at < len(self.types):
            yield type_id, at
            at += type_size(self.head(at)[1])
            type_id += 1

    def head(self, at: int) -> tuple[int, int, int]:
        name_off, info, size_or_type = struct.unpack_from("<III", self.types, at)
        return name_off, info, size_or_type

    def name(self, off: int) -> str:
        return self.strings[off : self.strings.index(0, off)].decode()

    def string(self, text: str) -> int:
        """Offset of `text` in the string section, appended if absent (btf__add_str)."""
        needle = text.encode() + b"\0"
        if not text:
            return 0
        at = self.strings.find(b"\0" + needle)
        if at >= 0:
            return at + 1
        off = len(self.strings)
        self.strings += needle
        return off

    def add_type(self, record: bytes) -> int:
        count = sum(1 for _ in self.walk())
        self.types += record
        return count + 1


def _kind(info: int) -> int:
    return (info >> 24) & 0x1F


def fixup_btf(data: bytes, section_sizes: Mapping[str, int], symbol_offsets: Mapping[str, int]) -> bytes:
    """libbpf's fix-ups: .ksyms externs, then DATASEC sizes and VAR offsets from the ELF's sections and symbols.

    `section_sizes` maps an ELF section name to its size, `symbol_offsets` a
    variable's name to its st_value. A DATASEC left without a size is left
    alone, and the kernel's BTF check will say why.
    """
    raw = _Raw(data)
    offsets = dict(raw.walk())
    by_id = {tid: raw.head(at) for tid, at in offsets.items()}
    int4 = next((tid for tid, (_n, info, size) in by_id.items() if _kind(info) == _INT and size == 4), 0)
    for tid, at in list(offsets.items()):
        name_off, info, _size = raw.head(at)
        if _kind(info) != _DATASEC:
            continue
        if raw.name(name_off) == ".ksyms":
            _fix_ksyms(raw, at, info, int4)
        else:
            _fix_datasec(raw, at, info, raw.name(name_off), section_sizes, symbol_offsets)
        del tid
    return raw.encode()


def _fix_ksyms(raw: _Raw, at: int, info: int, int4: int) -> None:
    # libbpf: bpf_object__collect_externs (add_dummy_ksym_var, then each .ksyms entry 4 bytes apart).
    offsets = dict(raw.walk())
    dummy = 0
    vlen = info & 0xFFFF
    for i in range(vlen):
        entry = at + 12 + 12 * i
        target, _off, _sz = struct.unpack_from("<III", raw.types, entry)
        t_at = offsets[target]
        t_name, t_info, t_type = raw.head(t_at)
        if _kind(t_info) == _FUNC:
            if not dummy:
                dummy_name = raw.string(_DUMMY_KSYM)
                dummy = raw.add_type(struct.pack("<IIII", dummy_name, _VAR << 24, int4, _BTF_VAR_GLOBAL_ALLOCATED))
            _name_params(raw, offsets[t_type], raw.string(_DUMMY_KSYM))
            struct.pack_into("<I", raw.types, t_at + 4, (t_info & ~0xFFFF) | _BTF_FUNC_GLOBAL)
            struct.pack_into("<I", raw.types, entry, dummy)
        elif _kind(t_info) == _VAR:
            struct.pack_into("<II", raw.types, t_at + 8, int4, _BTF_VAR_GLOBAL_ALLOCATED)
        struct.pack_into("<II", raw.types, entry + 4, 4 * i, 4)
        del t_name
    struct.pack_into("<I", raw.types, at + 8, 4 * vlen)


def _name_params(raw: _Raw, proto_at: int, name: int) -> None:
    _n, info, _ret = raw.head(proto_at)
    for j in range(info & 0xFFFF):
        p = proto_at + 12 + 8 * j
        p_name, p_type = struct.unpack_from("<II", raw.types, p)
        if p_type and not p_name:
            struct.pack_into("<I", raw.types, p, name)


def _fix_datasec(raw: _Raw, at: int, info: int, sec: str, sizes: Mapping[str, int], symbols: Mapping[str, int]) -> None:
    # libbpf: btf_fixup_datasec (size from the ELF section, each VAR's offset from its symbol, sorted).
    _n, _info, size = raw.head(at)
    if size == 0 and sec in sizes:
        struct.pack_into("<I", raw.types, at + 8, sizes[sec])
    offsets = dict(raw.walk())
    vlen = info & 0xFFFF
    entries = [struct.unpack_from("<III", raw.types, at + 12 + 12 * i) for i in range(vlen)]
    fixed = []
    for target, off, sz in entries:
        v_name, v_info, _v = raw.head(offsets[target])
        name = raw.name(v_name)
        fixed.append((target, symbols.get(name, off) if _kind(v_info) == _VAR else off, sz))
    fixed.sort(key=lambda e: e[1])
    for i, entry in enumerate(fixed):
        struct.pack_into("<III", raw.types, at + 12 + 12 * i, *entry)


def intern_strings(data: bytes, texts: tuple[str, ...]) -> tuple[bytes, dict[str, int]]:
    """The BTF with every text in its string section, and each text's offset (for bpf_line_info)."""
    raw = _Raw(data)
    where = {text: raw.string(text) for text in texts}
    return raw.encode(), where
