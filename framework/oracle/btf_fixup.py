"""The fix-ups libbpf applies to an object's .BTF before BPF_BTF_LOAD.

clang leaves DATASEC sizes and VAR offsets at 0 and marks `__ksym` functions
with extern linkage, which the kernel refuses ("Invalid func linkage"). libbpf
repairs them in bpf_object__collect_externs (.ksyms) and btf_fixup_datasec
(every other DATASEC); this module does the same on a `framework.load.btf.Btf`.
bpf_object__sanitize_btf is not needed: Linux 6.18 knows every kind clang 19 emits.
"""

from __future__ import annotations

from collections.abc import Mapping

from framework.load.btf import Btf, BtfType, Kind, make_type, parse_btf

__all__ = ["fixup_btf", "intern_strings"]

_BTF_FUNC_GLOBAL = 1
_BTF_VAR_GLOBAL_ALLOCATED = 1
_DUMMY_KSYM = "dummy_ksym"


def fixup_btf(data: bytes, section_sizes: Mapping[str, int], symbol_offsets: Mapping[str, int]) -> bytes:
    """libbpf's fix-ups: .ksyms externs, then DATASEC sizes and VAR offsets from the ELF's sections and symbols.

    `section_sizes` maps an ELF section name to its size, `symbol_offsets` a
    variable's name to its st_value. A DATASEC whose section size is unknown is
    left alone, and the kernel's BTF check says why.
    """
    btf = parse_btf(data)
    for type_id, t in enumerate(btf.types):
        if t.kind is not Kind.DATASEC:
            continue
        if btf.string(t.name_off) == ".ksyms":
            btf = _fix_ksyms(btf, type_id)
        else:
            btf = _fix_datasec(btf, type_id, section_sizes, symbol_offsets)
    return btf.encode()


def _int4(btf: Btf) -> int:
    # libbpf: find_int_btf_id (the first 4-byte INT; 0, void, if there is none)
    return next((i for i, t in enumerate(btf.types) if t.kind is Kind.INT and t.size == 4), 0)


def _fix_ksyms(btf: Btf, sec_id: int) -> Btf:
    # libbpf: bpf_object__collect_externs (add_dummy_ksym_var; each .ksyms entry an int, 4 bytes apart)
    int4 = _int4(btf)
    sec = btf.types[sec_id]
    dummy = 0
    changes: dict[int, BtfType] = {}
    entries: list[int] = []
    for i, entry in enumerate(sec.secinfos()):
        target = btf.types[entry.type]
        if target.kind is Kind.FUNC:
            if not dummy:
                btf, name = btf.add_string(_DUMMY_KSYM)
                btf, dummy = btf.add_type(make_type(Kind.VAR, name, int4, (_BTF_VAR_GLOBAL_ALLOCATED,)))
            _n, param_name = btf.add_string(_DUMMY_KSYM)
            changes.update(_name_params(btf, target.type, param_name))
            changes[entry.type] = make_type(Kind.FUNC, target.name_off, target.type, vlen=_BTF_FUNC_GLOBAL)
            entries += [dummy, 4 * i, 4]
        else:
            if target.kind is Kind.VAR:
                changes[entry.type] = make_type(Kind.VAR, target.name_off, int4, (_BTF_VAR_GLOBAL_ALLOCATED,))
            entries += [entry.type, 4 * i, 4]
    vlen = len(sec.secinfos())
    changes[sec_id] = make_type(Kind.DATASEC, sec.name_off, 4 * vlen, tuple(entries), vlen=vlen)
    return btf.with_types(changes)


def _name_params(btf: Btf, proto_id: int, name: int) -> dict[int, BtfType]:
    # libbpf: a ksym FUNC's unnamed parameters take the dummy var's name (the kernel wants names)
    proto = btf.types[proto_id]
    words = list(proto.extra)
    for j in range(0, len(words), 2):
        if words[j + 1] and not words[j]:
            words[j] = name
    return {proto_id: make_type(Kind.FUNC_PROTO, proto.name_off, proto.size_type, tuple(words), vlen=proto.vlen)}


def _fix_datasec(btf: Btf, sec_id: int, sizes: Mapping[str, int], symbols: Mapping[str, int]) -> Btf:
    # libbpf: btf_fixup_datasec (size from the ELF section, each VAR's offset from its symbol, sorted)
    sec = btf.types[sec_id]
    name = btf.string(sec.name_off)
    size = sec.size if sec.size or name not in sizes else sizes[name]
    fixed = []
    for entry in sec.secinfos():
        var = btf.types[entry.type]
        offset = symbols.get(btf.string(var.name_off), entry.offset) if var.kind is Kind.VAR else entry.offset
        fixed.append((entry.type, offset, entry.size))
    fixed.sort(key=lambda e: e[1])
    words = tuple(w for e in fixed for w in e)
    return btf.with_types({sec_id: make_type(Kind.DATASEC, sec.name_off, size, words, vlen=sec.vlen)})


def intern_strings(data: bytes, texts: tuple[str, ...]) -> tuple[bytes, dict[str, int]]:
    """The BTF with every text in its string section, and each text's offset (for bpf_line_info)."""
    btf = parse_btf(data)
    where: dict[str, int] = {}
    for text in texts:
        btf, where[text] = btf.add_string(text)
    return btf.encode(), where
