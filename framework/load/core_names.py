"""A CO-RE relocation record in words, as `llvm-objdump-19 -r` prints it from `.BTF.ext`.

`<byte_off> [2] struct outer::arr[2].b[1] (0:2:2:1:1)`: the kind, the local type id and
the type, then for a field the path the access string walks (`[N]` first when its
first index is not 0, a member without a name as `<anon INDEX>`) and the string
itself; for an enumerator its name and value. Observed on llvm-objdump-19; every form
is held to the tool by tests/test_object_listing.py.
"""

from __future__ import annotations

from framework.errors import InputError
from framework.load.btf import Btf, Kind
from framework.load.btf_ext import ExtCoreRelo

KIND_NAMES = {  # enum bpf_core_relo_kind, as llvm-objdump names them
    0: "byte_off",
    1: "byte_sz",
    2: "field_exists",
    3: "signed",
    4: "lshift_u64",
    5: "rshift_u64",
    6: "local_type_id",
    7: "target_type_id",
    8: "type_exists",
    9: "type_size",
    10: "enumval_exists",
    11: "enumval_value",
    12: "type_matches",
}
FIELD_KINDS = frozenset(range(6))
ENUM_KINDS = frozenset({10, 11})
KEYWORDS = {Kind.STRUCT: "struct", Kind.UNION: "union", Kind.ENUM: "enum", Kind.ENUM64: "enum", Kind.TYPEDEF: "typedef"}


def core_relo_text(btf: Btf, relo: ExtCoreRelo) -> str:
    """`CO-RE <kind> [id] type...`: the text after the offset on llvm-objdump's line."""
    head = f"CO-RE <{KIND_NAMES.get(relo.kind, 'unknown')}> [{relo.type_id}]"
    try:
        text = f"{head} {_type_name(btf, relo.type_id)}"
        if relo.kind in FIELD_KINDS:
            return f"{text}::{_field_path(btf, relo.type_id, _indices(relo.access))} ({relo.access})"
        if relo.kind in ENUM_KINDS:
            return f"{text}::{_enumerator(btf, relo.type_id, _indices(relo.access))}"
        return text
    except (InputError, ValueError, IndexError):  # an access string the types do not bear out
        return f"{head} ({relo.access})"


def _indices(access: str) -> list[int]:
    return [int(part) for part in access.split(":")]


def _type_name(btf: Btf, type_id: int) -> str:
    t = btf.type(type_id)
    name = btf.string(t.name_off) or f"<anon {type_id}>"
    keyword = ("fwd union" if t.kind_flag else "fwd struct") if t.kind is Kind.FWD else KEYWORDS.get(t.kind, "")
    return f"{keyword} {name}" if keyword else name


def _field_path(btf: Btf, type_id: int, access: list[int]) -> str:
    path = f"[{access[0]}]" if access[0] else ""
    current = btf.skip_mods(type_id)
    for index in access[1:]:
        t = btf.type(current)
        if t.kind in (Kind.STRUCT, Kind.UNION):
            member = t.members()[index]
            name = btf.string(member.name_off) or f"<anon {index}>"
            path += f".{name}" if path else name
            current = btf.skip_mods(member.type)
        elif t.kind is Kind.ARRAY:
            path += f"[{index}]"
            current = btf.skip_mods(t.array.type)
        else:
            raise ValueError(f"type {current} has no index {index}")
    return path


def _enumerator(btf: Btf, type_id: int, access: list[int]) -> str:
    value = btf.type(btf.skip_mods(type_id)).enum_values()[access[0]]
    return f"{btf.string(value.name_off)} = {value.value}"
