"""`.BTF.ext`: func_info, line_info and CO-RE relocation records, per code section.

Offsets in records are byte offsets into their ELF section, as clang writes them;
strings are resolved against the object's `.BTF` string section.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from framework.errors import Coord, InputError
from framework.load.btf import Btf

MAGIC = 0xEB9F
_HEADER = struct.Struct("<HBBI")  # magic, version, flags, hdr_len
_U32 = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class ExtFuncInfo:
    insn_off: int  # bytes into the section
    type_id: int


@dataclass(frozen=True, slots=True)
class ExtLineInfo:
    insn_off: int
    file: str
    line: int
    col: int
    text: str


@dataclass(frozen=True, slots=True)
class ExtCoreRelo:
    insn_off: int
    type_id: int
    access: str
    kind: int


@dataclass(frozen=True, slots=True)
class BtfExt:
    """Records by section name."""

    func_info: dict[str, tuple[ExtFuncInfo, ...]] = field(default_factory=dict)
    line_info: dict[str, tuple[ExtLineInfo, ...]] = field(default_factory=dict)
    core_relos: dict[str, tuple[ExtCoreRelo, ...]] = field(default_factory=dict)


def _records(
    data: bytes, start: int, length: int, min_size: int, what: str, fail: Callable[[int, str], InputError]
) -> list[tuple[int, int, tuple[int, ...]]]:
    """(sec_name_off, byte offset of record, words) for one info block (libbpf: btf_ext_setup_info)."""
    if length == 0:
        return []
    end = start + length
    if end > len(data) or length < 4:
        raise fail(start, f"{what} block out of bounds")
    (rec_size,) = _U32.unpack_from(data, start)
    if rec_size < min_size or rec_size % 4:
        raise fail(start, f"{what} record size {rec_size} is invalid")
    out: list[tuple[int, int, tuple[int, ...]]] = []
    at = start + 4
    while at < end:
        if at + 8 > end:
            raise fail(at, f"truncated {what} section header")
        name_off, count = struct.unpack_from("<II", data, at)
        at += 8
        if count == 0:
            raise fail(at - 8, f"{what} section has no records")
        if at + count * rec_size > end:
            raise fail(at, f"{what} records run past the block")
        for _ in range(count):
            out.append((name_off, at, struct.unpack_from(f"<{min_size // 4}I", data, at)))
            at += rec_size
    return out


def parse_btf_ext(data: bytes, btf: Btf, source: str = "<btf.ext>") -> BtfExt:
    """Parse `.BTF.ext` (libbpf: btf_ext__new)."""

    def fail(offset: int, message: str) -> InputError:
        return InputError(Coord(source, ".BTF.ext", offset), message)

    if len(data) < 24:
        raise fail(0, f".BTF.ext too short ({len(data)} bytes)")
    magic, version, _flags, hdr_len = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise fail(0, f"bad .BTF.ext magic 0x{magic:04x}")
    if version != 1:
        raise fail(2, f"unsupported .BTF.ext version {version}")
    if hdr_len < 24 or hdr_len > len(data):
        raise fail(4, f"bad .BTF.ext header length {hdr_len}")
    fi_off, fi_len, li_off, li_len = struct.unpack_from("<IIII", data, 8)
    co_off = co_len = 0
    if hdr_len >= 32:
        co_off, co_len = struct.unpack_from("<II", data, 24)

    def name(off: int, at: int) -> str:
        try:
            return btf.string(off)
        except InputError:
            raise fail(at, f"string offset {off} out of range") from None

    func_info: dict[str, list[ExtFuncInfo]] = {}
    for sec, at, (insn_off, type_id) in _records(data, hdr_len + fi_off, fi_len, 8, "func_info", fail):
        if type_id >= len(btf.types):
            raise fail(at, f"func_info type id {type_id} out of range")
        func_info.setdefault(name(sec, at), []).append(ExtFuncInfo(insn_off, type_id))
    line_info: dict[str, list[ExtLineInfo]] = {}
    for sec, at, (insn_off, file_off, line_off, line_col) in _records(
        data, hdr_len + li_off, li_len, 16, "line_info", fail
    ):
        rec = ExtLineInfo(insn_off, name(file_off, at), line_col >> 10, line_col & 0x3FF, name(line_off, at))
        line_info.setdefault(name(sec, at), []).append(rec)
    core: dict[str, list[ExtCoreRelo]] = {}
    for sec, at, (insn_off, type_id, access_off, kind) in _records(
        data, hdr_len + co_off, co_len, 16, "core_relo", fail
    ):
        if type_id >= len(btf.types):
            raise fail(at, f"core_relo type id {type_id} out of range")
        core.setdefault(name(sec, at), []).append(ExtCoreRelo(insn_off, type_id, name(access_off, at), kind))
    return BtfExt(
        {k: tuple(v) for k, v in func_info.items()},
        {k: tuple(v) for k, v in line_info.items()},
        {k: tuple(v) for k, v in core.items()},
    )
