"""An object's maps: BTF-defined maps in `.maps`, and global data sections as array maps."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from framework.errors import Coord, InputError
from framework.load.btf import VAR_STATIC, Btf, BtfType, Kind
from framework.load.elf_file import (
    SHT_NOBITS,
    SHT_PROGBITS,
    STT_OBJECT,
    STT_SECTION,
    STV_HIDDEN,
    STV_INTERNAL,
    ElfObject,
    Section,
)
from framework.load.program import MapDef
from framework.platform.sections import map_type_name

BPF_OBJ_NAME_LEN = 16
BPF_F_RDONLY_PROG = 0x80
BPF_F_MMAPABLE = 0x400
_INT_FIELDS = ("type", "max_entries", "map_flags", "numa_node", "key_size", "value_size", "map_extra", "pinning")


@dataclass(frozen=True, slots=True)
class ObjectMaps:
    maps: tuple[MapDef, ...]
    by_maps_offset: dict[int, int]  # offset in .maps -> map index
    by_data_section: dict[int, int]  # data section index -> map index
    by_legacy_offset: dict[int, int] | None = None  # offset in a legacy `maps` section -> map index


LEGACY_MAPS = "maps"  # libbpf before 1.0: MAPS_ELF_SEC, `struct bpf_map_def` per symbol
_LEGACY_FIELDS = struct.Struct("<5I")  # struct bpf_map_def: type, key_size, value_size, max_entries, map_flags


def object_name(path: str) -> str:
    """libbpf: bpf_object_new (basename, at most 15 characters, cut at the first '.')."""
    return os.path.basename(path)[: BPF_OBJ_NAME_LEN - 1].split(".", 1)[0]


def internal_map_name(obj_name: str, real_name: str) -> str:
    """libbpf: internal_map_name."""
    sfx_len = min(max(7, len(real_name)), BPF_OBJ_NAME_LEN - 1)
    pfx_len = 0 if "." in real_name[1:] else min(BPF_OBJ_NAME_LEN - sfx_len - 1, len(obj_name))
    name = (obj_name[:pfx_len] + real_name[:sfx_len])[: BPF_OBJ_NAME_LEN - 1]
    return "".join(c if c.isascii() and (c.isalnum() or c in "_.") else "_" for c in name)


def data_kind(sec: Section) -> str | None:
    """'data', 'rodata' or 'bss' for a global data section (libbpf: bpf_object__elf_collect)."""
    for kind, want in (("data", SHT_PROGBITS), ("rodata", SHT_PROGBITS), ("bss", SHT_NOBITS)):
        if sec.type == want and (sec.name == "." + kind or sec.name.startswith("." + kind + ".")):
            return kind
    return None


def fixup_datasecs(elf: ElfObject, btf: Btf) -> Btf:
    """DATASEC sizes from the ELF sections, VAR offsets from the symbols (libbpf: btf_fixup_datasec)."""
    changes: dict[int, BtfType] = {}
    for type_id in range(1, len(btf.types)):
        t = btf.types[type_id]
        if t.kind is not Kind.DATASEC:
            continue
        name = btf.string(t.name_off)
        if name in (".ksyms", ".kconfig"):
            continue  # extern-backing datasecs: laid out by the kernel loader
        sec = elf.by_name(name)
        where = Coord(elf.path, ".BTF", None)
        if sec is None:
            raise InputError(where, f"sec '{name}': failed to determine size from ELF")
        if sec.size >= 1 << 32:
            raise InputError(Coord(elf.path, name, None), f"section '{name}' is too large ({sec.size} bytes)")
        words = list(t.extra)
        for i in range(0, len(words), 3):
            var = btf.type(words[i])
            var_name = btf.string(var.name_off)
            sym = next(
                (s for s in elf.symbols if s.name == var_name and s.shndx == sec.index and s.type == STT_OBJECT),
                None,
            )
            if sym is None:
                raise InputError(where, f"failed to find symbol for variable '{var_name}' in section '{name}'")
            if sym.value + words[i + 2] > sec.size:
                raise InputError(where, f"variable '{var_name}' lies outside section '{name}'")
            words[i + 1] = sym.value
            if var.kind is Kind.VAR and sym.visibility in (STV_HIDDEN, STV_INTERNAL) and var.linkage != VAR_STATIC:
                changes[words[i]] = BtfType(var.kind, var.name_off, var.info, var.size_type, (VAR_STATIC,))
        triples = sorted((tuple(words[i : i + 3]) for i in range(0, len(words), 3)), key=lambda w: w[1])
        extra = tuple(x for triple in triples for x in triple)
        changes[type_id] = BtfType(t.kind, t.name_off, t.info, t.size_type or sec.size, extra)
    return btf.with_types(changes) if changes else btf


def collect_maps(elf: ElfObject, btf: Btf | None) -> ObjectMaps:
    """libbpf: bpf_object__init_user_btf_maps, then bpf_object__init_global_data_maps."""
    maps: list[MapDef] = []
    by_off: dict[int, int] = {}
    by_sec: dict[int, int] = {}
    maps_sec = elf.by_name(".maps")
    if maps_sec is not None:
        if btf is None:
            raise InputError(Coord(elf.path, ".maps", 0), "BTF-defined maps need a .BTF section")
        sec_id = btf.find(".maps", Kind.DATASEC)
        if sec_id is None:
            raise InputError(Coord(elf.path, ".maps", 0), "no DATASEC '.maps' in BTF")
        for info in btf.type(sec_id).secinfos():
            by_off[info.offset] = len(maps)
            maps.append(_btf_map(elf.path, btf, info.type, info.offset))
    legacy = elf.by_name(LEGACY_MAPS)
    by_legacy: dict[int, int] | None = None
    if legacy is not None:
        by_legacy = {}
        for offset, m in _legacy_maps(elf, legacy):
            by_legacy[offset] = len(maps)
            maps.append(m)
    obj = object_name(elf.path)
    for sec in elf.sections:
        kind = data_kind(sec)
        if kind is None or sec.size == 0:
            continue
        if sec.size >= 1 << 32:
            raise InputError(Coord(elf.path, sec.name, None), f"section '{sec.name}' is too large ({sec.size} bytes)")
        value_id = btf.find(sec.name, Kind.DATASEC) if btf is not None else None
        flags = BPF_F_RDONLY_PROG if kind == "rodata" else 0
        if btf is not None and value_id is not None and _mmapable(btf, value_id):
            flags |= BPF_F_MMAPABLE
        by_sec[sec.index] = len(maps)
        maps.append(
            MapDef(
                name=internal_map_name(obj, sec.name),
                map_type="array",
                key_size=4,
                value_size=sec.size,
                max_entries=1,
                flags=flags,
                section=sec.name,
                initial=sec.data if kind != "bss" else bytes(sec.size),
                btf_value_type_id=value_id or 0,
            )
        )
    return ObjectMaps(tuple(maps), by_off, by_sec, by_legacy)


def _legacy_maps(elf: ElfObject, sec: Section) -> list[tuple[int, MapDef]]:
    """libbpf 0.x: bpf_object__init_user_maps. Every symbol in `maps` is a `struct bpf_map_def`
    of size (section size / symbol count); bytes past the five known fields must be zero.
    libbpf 1.0 refuses the section ("legacy map definitions in 'maps' section are not supported
    by libbpf v1.0+"); the project reads it as libbpf 0.8, ebpf-samples' and PREVAIL's objects use it."""
    syms = sorted(
        (s for s in elf.symbols if s.shndx == sec.index and s.type != STT_SECTION and s.name), key=lambda s: s.value
    )
    where = Coord(elf.path, sec.name, 0)
    if not syms:
        return []
    if sec.type == SHT_NOBITS or not sec.size or sec.size % len(syms):
        raise InputError(where, f"elf: unable to determine legacy map definition size in {sec.name}")
    def_size = sec.size // len(syms)
    out: list[tuple[int, MapDef]] = []
    for sym in syms:
        at = Coord(elf.path, sec.name, sym.value)
        if sym.value + def_size > sec.size or def_size < 4:
            raise InputError(at, f"corrupted maps section: map '{sym.name}' lies outside it")
        raw = sec.data[sym.value : sym.value + def_size]
        known = (raw + bytes(_LEGACY_FIELDS.size))[: _LEGACY_FIELDS.size]
        if any(raw[_LEGACY_FIELDS.size :]):
            raise InputError(at, f"maps section: map '{sym.name}' has unrecognized, non-zero options")
        type_, key_size, value_size, max_entries, flags = _LEGACY_FIELDS.unpack(known)
        map_type = map_type_name(type_)
        if map_type is None or map_type == "unspec":
            raise InputError(at, f"map '{sym.name}': unknown map type {type_}")
        out.append((sym.value, MapDef(sym.name, map_type, key_size, value_size, max_entries, flags, section=sec.name)))
    return out


def _mmapable(btf: Btf, datasec: int) -> bool:
    """libbpf: map_is_mmapable (some VAR is not static)."""
    for info in btf.type(datasec).secinfos():
        t = btf.type(info.type)
        if t.kind is Kind.VAR and t.linkage != VAR_STATIC:
            return True
    return False


def _btf_map(path: str, btf: Btf, var_id: int, offset: int) -> MapDef:
    """libbpf: parse_btf_map_def."""
    var = btf.type(var_id)
    name = btf.string(var.name_off)
    where = Coord(path, ".maps", offset)
    if var.kind is not Kind.VAR:
        raise InputError(where, f"map '{name}': unexpected BTF kind {var.kind.name} in .maps")
    def_id = btf.skip_mods(var.type)
    struct_t = btf.type(def_id)
    if struct_t.kind is not Kind.STRUCT:
        raise InputError(where, f"map '{name}': unexpected def kind {struct_t.kind.name}")
    ints: dict[str, int] = {}
    key_id = value_id = 0
    for m in struct_t.members():
        field = btf.string(m.name_off)
        if field in ("values",):
            continue  # inner maps: not supported by the corpus
        ptr = btf.type(btf.skip_mods(m.type))
        if ptr.kind is not Kind.PTR:
            raise InputError(where, f"map '{name}': attr '{field}': expected PTR, got {ptr.kind.name}")
        if field in _INT_FIELDS:
            target = btf.type(btf.skip_mods(ptr.type))
            if target.kind is not Kind.ARRAY:
                raise InputError(where, f"map '{name}': attr '{field}': expected ARRAY, got {target.kind.name}")
            ints[field] = target.array.nelems
        elif field in ("key", "value"):
            if field == "key":
                key_id = ptr.type
            else:
                value_id = ptr.type
            ints[field + "_size"] = btf.size(ptr.type)
        else:
            raise InputError(where, f"map '{name}': unknown field '{field}'")
    map_type = map_type_name(ints.get("type", 0))
    if map_type is None or map_type == "unspec":
        raise InputError(where, f"map '{name}': unknown map type {ints.get('type', 0)}")
    return MapDef(
        name=name,
        map_type=map_type,
        key_size=ints.get("key_size", 0),
        value_size=ints.get("value_size", 0),
        max_entries=ints.get("max_entries", 0),
        flags=ints.get("map_flags", 0),
        btf_key_type_id=key_id,
        btf_value_type_id=value_id,
    )
