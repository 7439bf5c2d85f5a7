"""Raw BTF (`.BTF`, /sys/kernel/btf/vmlinux) as the kernel's `include/uapi/linux/btf.h` lays it out.

`parse_btf` keeps every type's raw words, so `Btf.encode()` gives back the very
bytes clang wrote; accessors interpret them on demand. That keeps parsing
vmlinux (about 150k types) fast: no per-member objects are built until asked for.
Type ids index `Btf.types` (0 is void); in split BTF the base's types come first.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from framework.errors import Coord, InputError

MAGIC = 0xEB9F
VERSION = 1
HEADER = struct.Struct("<HBBIIIII")  # magic, version, flags, hdr_len, type_off, type_len, str_off, str_len
_TYPE = struct.Struct("<III")  # name_off, info, size/type


class Kind(enum.IntEnum):
    """BTF_KIND_*."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


# Words (u32) following `struct btf_type`: fixed part, and per vlen item.
_EXTRA: dict[Kind, tuple[int, int]] = {
    Kind.INT: (1, 0),
    Kind.ARRAY: (3, 0),
    Kind.STRUCT: (0, 3),
    Kind.UNION: (0, 3),
    Kind.ENUM: (0, 2),
    Kind.FUNC_PROTO: (0, 2),
    Kind.VAR: (1, 0),
    Kind.DATASEC: (0, 3),
    Kind.DECL_TAG: (1, 0),
    Kind.ENUM64: (0, 3),
}
_MODIFIERS = frozenset({Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG})
_SIZED = frozenset({Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FLOAT, Kind.DATASEC})
_REFERS = frozenset(
    {Kind.PTR, Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.FUNC, Kind.VAR, Kind.DECL_TAG}
    | {Kind.TYPE_TAG, Kind.FUNC_PROTO}
)

_INFO_MASK = 0x9F00FFFF  # kernel: BTF_INFO_MASK

# BTF_FUNC_* (FUNC's vlen) and BTF_VAR_* (VAR's linkage word).
FUNC_STATIC, FUNC_GLOBAL, FUNC_EXTERN = 0, 1, 2
VAR_STATIC, VAR_GLOBAL_ALLOCATED, VAR_GLOBAL_EXTERN = 0, 1, 2
INT_SIGNED, INT_CHAR, INT_BOOL = 1, 2, 4


def _s32(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


@dataclass(frozen=True, slots=True)
class Member:
    """`struct btf_member` (STRUCT/UNION), with the bitfield split out when kind_flag is set."""

    name_off: int
    type: int
    bit_offset: int
    bitfield_size: int


@dataclass(frozen=True, slots=True)
class Param:
    """`struct btf_param` of a FUNC_PROTO."""

    name_off: int
    type: int


@dataclass(frozen=True, slots=True)
class EnumValue:
    name_off: int
    value: int


@dataclass(frozen=True, slots=True)
class VarSecinfo:
    """`struct btf_var_secinfo` of a DATASEC."""

    type: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Array:
    type: int
    index_type: int
    nelems: int


@dataclass(frozen=True, slots=True)
class BtfType:
    """`struct btf_type` and the raw u32 words that follow it."""

    kind: Kind
    name_off: int
    info: int
    size_type: int  # the union: size for sized kinds, type for referring kinds
    extra: tuple[int, ...] = ()

    @property
    def vlen(self) -> int:
        return self.info & 0xFFFF

    @property
    def kind_flag(self) -> bool:
        return bool(self.info >> 31)

    @property
    def type(self) -> int:
        return self.size_type

    @property
    def size(self) -> int:
        return self.size_type

    @property
    def linkage(self) -> int:
        """FUNC: BTF_FUNC_*; VAR: BTF_VAR_*."""
        return self.vlen if self.kind is Kind.FUNC else self.extra[0]

    @property
    def int_encoding(self) -> int:
        return self.extra[0] >> 24

    @property
    def int_bits(self) -> int:
        return self.extra[0] & 0xFF

    @property
    def int_offset(self) -> int:
        return (self.extra[0] >> 16) & 0xFF

    @property
    def array(self) -> Array:
        return Array(*self.extra[:3])

    @property
    def component_idx(self) -> int:
        return _s32(self.extra[0])

    def members(self) -> tuple[Member, ...]:
        words = self.extra
        if self.kind_flag:
            return tuple(
                Member(words[i], words[i + 1], words[i + 2] & 0xFFFFFF, words[i + 2] >> 24)
                for i in range(0, len(words), 3)
            )
        return tuple(Member(words[i], words[i + 1], words[i + 2], 0) for i in range(0, len(words), 3))

    def params(self) -> tuple[Param, ...]:
        words = self.extra
        return tuple(Param(words[i], words[i + 1]) for i in range(0, len(words), 2))

    def enum_values(self) -> tuple[EnumValue, ...]:
        words = self.extra
        if self.kind is Kind.ENUM64:
            raw = [(words[i], words[i + 1] | (words[i + 2] << 32)) for i in range(0, len(words), 3)]
            bits = 64
        else:
            raw = [(words[i], words[i + 1]) for i in range(0, len(words), 2)]
            bits = 32
        signed = self.kind_flag
        return tuple(EnumValue(off, v - (1 << bits) if signed and v >> (bits - 1) else v) for off, v in raw)

    def secinfos(self) -> tuple[VarSecinfo, ...]:
        words = self.extra
        return tuple(VarSecinfo(words[i], words[i + 1], words[i + 2]) for i in range(0, len(words), 3))

    def encode(self) -> bytes:
        return _TYPE.pack(self.name_off, self.info, self.size_type) + struct.pack(f"<{len(self.extra)}I", *self.extra)


VOID = BtfType(Kind.UNKN, 0, 0, 0)


def make_type(
    kind: Kind,
    name_off: int = 0,
    size_type: int = 0,
    extra: tuple[int, ...] = (),
    vlen: int = 0,
    kind_flag: bool = False,
) -> BtfType:
    """A type from its parts (for the loader's fix-ups and for tests)."""
    info = (int(kind_flag) << 31) | (int(kind) << 24) | vlen
    return BtfType(kind, name_off, info, size_type, extra)


@dataclass(frozen=True, slots=True)
class Btf:
    """Parsed BTF; `types[id]`, with `types[0]` void."""

    types: tuple[BtfType, ...]
    strings: bytes  # this BTF's own string section
    base: Btf | None = None
    source: str = "<btf>"
    flags: int = 0
    hdr_extra: bytes = b""  # header bytes past the 24 this module knows (kept for encode)
    _cache: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    # -- strings ---------------------------------------------------------------
    @property
    def start_id(self) -> int:
        """First type id this BTF defines (1, or the base's type count for split BTF)."""
        return len(self.base.types) if self.base is not None else 1

    @property
    def start_str(self) -> int:
        return self.base.str_len if self.base is not None else 0

    @property
    def str_len(self) -> int:
        return self.start_str + len(self.strings)

    def _str_table(self) -> dict[int, str]:
        table = self._cache.get("strs")
        if table is None:
            built: dict[int, str] = {}
            at = self.start_str
            for raw in self.strings.split(b"\0"):
                built[at] = raw.decode("utf-8", "replace")
                at += len(raw) + 1
            self._cache["strs"] = table = built
        assert isinstance(table, dict)
        return table

    def string(self, off: int) -> str:
        """The NUL-terminated string at `off` in the (base + own) string section."""
        if self.base is not None and off < self.start_str:
            return self.base.string(off)
        table = self._str_table()
        hit = table.get(off)
        if hit is not None:
            return hit
        local = off - self.start_str
        if not 0 <= local < len(self.strings):
            raise InputError(Coord(self.source, ".BTF"), f"string offset {off} out of range")
        end = self.strings.find(b"\0", local)
        return self.strings[local : end if end >= 0 else len(self.strings)].decode("utf-8", "replace")

    # -- types -----------------------------------------------------------------
    def type(self, type_id: int) -> BtfType:
        if not 0 <= type_id < len(self.types):
            raise InputError(Coord(self.source, ".BTF"), f"type id {type_id} out of range")
        return self.types[type_id]

    def name(self, type_id: int) -> str:
        return self.string(self.type(type_id).name_off)

    def kind(self, type_id: int) -> Kind:
        return self.type(type_id).kind

    def _index(self) -> dict[tuple[str, Kind], int]:
        index = self._cache.get("index")
        if index is None:
            built: dict[tuple[str, Kind], int] = {}
            for type_id in range(len(self.types) - 1, 0, -1):  # first id wins
                t = self.types[type_id]
                if t.name_off:
                    built[(self.string(t.name_off), t.kind)] = type_id
            self._cache["index"] = index = built
        assert isinstance(index, dict)
        return index

    def find(self, name: str, kind: Kind) -> int | None:
        """The lowest type id with this name and kind (libbpf: btf__find_by_name_kind)."""
        return self._index().get((name, kind))

    def find_all(self, name: str) -> Iterator[int]:
        for type_id, t in enumerate(self.types):
            if t.name_off and self.string(t.name_off) == name:
                yield type_id

    def skip_mods(self, type_id: int) -> int:
        """Skip typedef/const/volatile/restrict/type_tag (libbpf: skip_mods_and_typedefs)."""
        seen = 0
        while self.type(type_id).kind in _MODIFIERS:
            type_id = self.types[type_id].type
            seen += 1
            if seen > len(self.types):
                raise InputError(Coord(self.source, ".BTF"), f"type loop at id {type_id}")
        return type_id

    def resolve(self, type_id: int) -> int:
        return self.skip_mods(type_id)

    def size(self, type_id: int) -> int:
        """Byte size of a type (libbpf: btf__resolve_size)."""
        nelems = 1
        for _ in range(len(self.types) + 1):
            t = self.type(type_id)
            if t.kind in _SIZED:
                return nelems * t.size
            if t.kind is Kind.PTR:
                return nelems * 8
            if t.kind in _MODIFIERS or t.kind is Kind.VAR:
                type_id = t.type
            elif t.kind is Kind.ARRAY:
                nelems *= t.array.nelems
                type_id = t.array.type
            else:
                raise InputError(Coord(self.source, ".BTF"), f"type id {type_id} ({t.kind.name}) has no size")
        raise InputError(Coord(self.source, ".BTF"), f"type loop at id {type_id}")

    def decl_tags(self, type_id: int) -> list[tuple[int, str]]:
        """(component_idx, value) of every DECL_TAG on `type_id`; -1 tags the type itself."""
        tags = self._cache.get("tags")
        if tags is None:
            built: dict[int, list[tuple[int, str]]] = {}
            for t in self.types:
                if t.kind is Kind.DECL_TAG:
                    built.setdefault(t.type, []).append((t.component_idx, self.string(t.name_off)))
            self._cache["tags"] = tags = built
        assert isinstance(tags, dict)
        return list(tags.get(type_id, []))

    def own_types(self) -> tuple[BtfType, ...]:
        return self.types[self.start_id :] if self.base is not None else self.types[1:]

    # -- building and encoding ---------------------------------------------------
    def with_types(self, changes: dict[int, BtfType]) -> Btf:
        """A copy with some types replaced (the loader's fix-ups)."""
        types = list(self.types)
        for type_id, t in changes.items():
            types[type_id] = t
        return replace(self, types=tuple(types), _cache={})

    def add_type(self, t: BtfType) -> tuple[Btf, int]:
        return replace(self, types=(*self.types, t), _cache={}), len(self.types)

    def add_string(self, text: str) -> tuple[Btf, int]:
        """A copy with `text` in the string section, and its offset (reused if present)."""
        for off, s in self._str_table().items():
            if s == text and off + len(s.encode()) < self.str_len:
                return self, off
        off = self.str_len
        return replace(self, strings=self.strings + text.encode() + b"\0", _cache={}), off

    def encode(self) -> bytes:
        """Header, types, strings: the layout clang and libbpf write."""
        body = b"".join(t.encode() for t in self.own_types())
        hdr_len = HEADER.size + len(self.hdr_extra)
        header = HEADER.pack(MAGIC, VERSION, self.flags, hdr_len, 0, len(body), len(body), len(self.strings))
        return header + self.hdr_extra + body + self.strings


def parse_btf(data: bytes, base: Btf | None = None, source: str = "<btf>", section: str = ".BTF") -> Btf:
    """Parse raw BTF; errors are InputErrors at `source:section:offset` (kernel: btf_parse)."""

    def fail(offset: int, message: str) -> InputError:
        return InputError(Coord(source, section, offset), message)

    if len(data) < HEADER.size:
        raise fail(0, f"BTF too short ({len(data)} bytes)")
    magic, version, flags, hdr_len, type_off, type_len, str_off, str_len = HEADER.unpack_from(data, 0)
    if magic == 0x9FEB:
        raise fail(0, "big-endian BTF is not supported")
    if magic != MAGIC:
        raise fail(0, f"bad BTF magic 0x{magic:04x}")
    if version != VERSION:
        raise fail(2, f"unsupported BTF version {version}")
    if hdr_len < HEADER.size or hdr_len > len(data):
        raise fail(4, f"bad BTF header length {hdr_len}")
    # kernel: btf_check_sec_info
    total = len(data) - hdr_len
    if type_off % 4 or type_off + type_len > total or type_len % 4:
        raise fail(8, "bad BTF type section bounds")
    if str_off + str_len > total:
        raise fail(16, "bad BTF string section bounds")
    strings = bytes(data[hdr_len + str_off : hdr_len + str_off + str_len])
    start_str = base.str_len if base is not None else 0
    if base is None and (not strings or strings[0] != 0):
        raise fail(hdr_len + str_off, "BTF string section does not start with NUL")
    if strings and strings[-1] != 0:
        raise fail(hdr_len + str_off + str_len - 1, "BTF string section is not NUL-terminated")
    str_limit = start_str + len(strings)

    types: list[BtfType] = list(base.types) if base is not None else [VOID]
    view = memoryview(data)[hdr_len + type_off : hdr_len + type_off + type_len]
    n_words = type_len // 4
    words = struct.unpack_from(f"<{n_words}I", view, 0) if n_words else ()
    kinds = list(Kind)
    extra_of = _EXTRA
    refers = _REFERS
    max_ref = 0
    w = 0
    while w < n_words:
        if w + 3 > n_words:
            raise fail(hdr_len + type_off + w * 4, "truncated BTF type")
        name_off, info, size_type = words[w : w + 3]
        kind_no = (info >> 24) & 0x1F
        if info & ~_INFO_MASK:  # kernel: btf_check_meta
            raise fail(hdr_len + type_off + w * 4, f"invalid btf_info 0x{info:x}")
        if kind_no == 0 or kind_no >= len(kinds):
            raise fail(hdr_len + type_off + w * 4, f"unknown BTF kind {kind_no}")
        kind = kinds[kind_no]
        fixed, per = extra_of.get(kind, (0, 0))
        count = fixed + per * (info & 0xFFFF)
        if w + 3 + count > n_words:
            raise fail(hdr_len + type_off + w * 4, f"truncated BTF {kind.name}")
        if name_off >= str_limit:
            raise fail(hdr_len + type_off + w * 4, f"BTF name offset {name_off} out of range")
        extra = words[w + 3 : w + 3 + count] if count else ()
        if kind in refers and size_type > max_ref:
            max_ref = size_type
        if per == 3 and count:
            top = max(extra[0::3] if kind is Kind.DATASEC else extra[1::3]) if kind is not Kind.ENUM64 else 0
            max_ref = max(max_ref, top)
        elif kind is Kind.FUNC_PROTO and count:
            max_ref = max(max_ref, *extra[1::2])
        elif kind is Kind.ARRAY:
            max_ref = max(max_ref, extra[0], extra[1])
        types.append(BtfType(kind, name_off, info, size_type, extra))
        w += 3 + count
    btf = Btf(tuple(types), strings, base, source, flags, bytes(data[HEADER.size : hdr_len]))
    if max_ref >= len(types):
        _check_refs(btf)
    return btf


def _check_refs(btf: Btf) -> None:
    """Every referenced type id exists (kernel: btf_check_all_metas / btf_resolve)."""
    count = len(btf.types)
    for type_id in range(btf.start_id, count):
        t = btf.types[type_id]
        refs: list[int] = []
        if t.kind in _REFERS:
            refs.append(t.type)
        if t.kind is Kind.ARRAY:
            refs.extend(t.extra[:2])
        elif t.kind in (Kind.STRUCT, Kind.UNION, Kind.DATASEC):
            refs.extend(t.extra[1::3] if t.kind is not Kind.DATASEC else t.extra[0::3])
        elif t.kind is Kind.FUNC_PROTO:
            refs.extend(t.extra[1::2])
        for ref in refs:
            if ref >= count:
                raise InputError(
                    Coord(btf.source, ".BTF"), f"type id {type_id} ({t.kind.name}) refers to missing type {ref}"
                )
