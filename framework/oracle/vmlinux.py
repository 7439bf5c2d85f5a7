"""Names to type ids in the running kernel's BTF (/sys/kernel/btf/vmlinux).

Only what the loader needs: the id of a FUNC by name (kfuncs, fentry targets).
A lean scan of the type section, since vmlinux BTF holds some 150,000 types;
the full parser is framework.load.btf. Type sizes follow the kernel's
btf_type_size (kernel/bpf/btf.c).
"""

from __future__ import annotations

import functools
import struct
from pathlib import Path

__all__ = ["EXTRA", "VMLINUX_BTF", "func_ids", "type_size"]

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")

_FUNC = 12
# Bytes after the 12-byte btf_type, per kind: fixed, and per vlen member.
EXTRA: dict[int, tuple[int, int]] = {
    1: (4, 0),  # INT
    3: (12, 0),  # ARRAY
    4: (0, 12),  # STRUCT
    5: (0, 12),  # UNION
    6: (0, 8),  # ENUM
    13: (0, 8),  # FUNC_PROTO
    14: (4, 0),  # VAR
    15: (0, 12),  # DATASEC
    17: (4, 0),  # DECL_TAG
    19: (0, 12),  # ENUM64
}


def type_size(info: int) -> int:
    """Bytes of one type record (btf_type plus what follows it), from its `info` word."""
    fixed, per = EXTRA.get((info >> 24) & 0x1F, (0, 0))
    return 12 + fixed + per * (info & 0xFFFF)


@functools.cache
def _index(path: Path) -> dict[str, int]:
    data = path.read_bytes()
    magic, _version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
    if magic != 0xEB9F:
        raise ValueError(f"{path}: not BTF (magic 0x{magic:04x})")
    type_off, type_len, str_off, _str_len = struct.unpack_from("<IIII", data, 8)
    types = hdr_len + type_off
    strings = hdr_len + str_off
    found: dict[str, int] = {}
    at, end, type_id = types, types + type_len, 1
    while at < end:
        name_off, info, _size = struct.unpack_from("<III", data, at)
        kind = (info >> 24) & 0x1F
        if kind == _FUNC:
            stop = data.index(b"\0", strings + name_off)
            found.setdefault(data[strings + name_off : stop].decode(), type_id)
        at += type_size(info)
        type_id += 1
    return found


def func_ids(names: tuple[str, ...], path: Path = VMLINUX_BTF) -> dict[str, int]:
    """BTF ids of the FUNCs named, as libbpf's find_ksym_btf_id resolves kfuncs; missing names are left out."""
    index = _index(path)
    return {name: index[name] for name in names if name in index}
