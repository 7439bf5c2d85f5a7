"""Names to type ids in the running kernel's BTF (/sys/kernel/btf/vmlinux).

Only what the loader needs: the id of a FUNC by name (kfuncs, fentry targets),
as libbpf's find_ksym_btf_id resolves them. Parsed once per process.
"""

from __future__ import annotations

import functools
from pathlib import Path

from framework.load.btf import Btf, Kind, parse_btf

__all__ = ["VMLINUX_BTF", "func_ids", "vmlinux_btf"]

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")


@functools.cache
def vmlinux_btf(path: Path = VMLINUX_BTF) -> Btf:
    return parse_btf(path.read_bytes(), source=str(path))


def func_ids(names: tuple[str, ...], path: Path = VMLINUX_BTF) -> dict[str, int]:
    """BTF ids of the FUNCs named; names the kernel lacks are left out."""
    if not names:
        return {}
    btf = vmlinux_btf(path)
    found = {name: btf.find(name, Kind.FUNC) for name in names}
    return {name: type_id for name, type_id in found.items() if type_id is not None}
