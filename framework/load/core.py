"""CO-RE relocations: the few kinds the corpus needs, resolved as libbpf resolves them.

TYPE_ID_LOCAL needs only the object's BTF. Field and type relocations against
kernel types are resolved against /sys/kernel/btf/vmlinux when it exists;
`resolve` returns None for a relocation it leaves as written.
"""

from __future__ import annotations

import functools
import os

from framework.errors import InputError
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind as IKind
from framework.load.btf import Btf, Kind, parse_btf

VMLINUX = "/sys/kernel/btf/vmlinux"

# enum bpf_core_relo_kind (include/uapi/linux/bpf.h).
FIELD_BYTE_OFFSET, FIELD_BYTE_SIZE, FIELD_EXISTS = 0, 1, 2
TYPE_ID_LOCAL, TYPE_ID_TARGET, TYPE_EXISTS, TYPE_SIZE = 6, 7, 8, 9


@functools.lru_cache(maxsize=1)
def vmlinux_btf(path: str = VMLINUX) -> Btf | None:
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as f:
            return parse_btf(f.read(), source=path)
    except (OSError, InputError):
        return None


def _essential(name: str) -> str:
    """libbpf: bpf_core_essential_name_len (drop a ___flavor suffix)."""
    cut = name.find("___")
    return name[:cut] if cut > 0 else name


def _find_member(btf: Btf, type_id: int, name: str) -> tuple[int, int] | None:
    """(bit offset, member type) of `name` in a struct/union, through anonymous members."""
    t = btf.type(btf.skip_mods(type_id))
    if t.kind not in (Kind.STRUCT, Kind.UNION):
        return None
    for m in t.members():
        m_name = btf.string(m.name_off)
        if m_name == name:
            return m.bit_offset, m.type
        if not m_name:
            inner = _find_member(btf, m.type, name)
            if inner is not None:
                return m.bit_offset + inner[0], inner[1]
    return None


def _field(local: Btf, local_id: int, access: list[int], target: Btf, target_id: int) -> tuple[int, int] | None:
    """(byte offset, byte size) of the accessed field in the target (libbpf: bpf_core_spec_match)."""
    l_id, t_id = local_id, target_id
    bits = access[0] * 8 * target.size(t_id)
    for index in access[1:]:
        lt = local.type(local.skip_mods(l_id))
        if lt.kind in (Kind.STRUCT, Kind.UNION):
            members = lt.members()
            if index >= len(members):
                return None
            found = _find_member(target, t_id, local.string(members[index].name_off))
            if found is None:
                return None
            bits += found[0]
            l_id, t_id = members[index].type, found[1]
        elif lt.kind is Kind.ARRAY:
            tt = target.type(target.skip_mods(t_id))
            if tt.kind is not Kind.ARRAY:
                return None
            l_id, t_id = lt.array.type, tt.array.type
            bits += index * 8 * target.size(t_id)
        else:
            return None
    if bits % 8:
        return None  # bitfields: left to the kernel
    return bits // 8, target.size(t_id)


def _candidate(local: Btf, local_id: int, target: Btf) -> int | None:
    t = local.type(local_id)
    return target.find(_essential(local.string(t.name_off)), t.kind)


def resolve(insn: Insn, local: Btf, type_id: int, access: str, kind: int) -> Insn | None:
    """The patched instruction, or None when the relocation is kept as written."""
    if kind == TYPE_ID_LOCAL:
        return _patch_imm(insn, type_id)
    target = vmlinux_btf()
    if target is None or kind not in (FIELD_BYTE_OFFSET, FIELD_BYTE_SIZE, FIELD_EXISTS, TYPE_EXISTS, TYPE_SIZE):
        return None
    try:
        spec = [int(part) for part in access.split(":")]
    except ValueError:
        return None
    root = local.skip_mods(type_id)
    cand = _candidate(local, root, target)
    if kind == TYPE_EXISTS:
        return _patch_imm(insn, int(cand is not None))
    if cand is None:
        return _patch_imm(insn, 0) if kind == FIELD_EXISTS else None
    if kind == TYPE_SIZE:
        return _patch_imm(insn, target.size(cand))
    found = _field(local, root, spec, target, cand)
    if kind == FIELD_EXISTS:
        return _patch_imm(insn, int(found is not None))
    if found is None:
        return None
    value = found[0] if kind == FIELD_BYTE_OFFSET else found[1]
    if kind == FIELD_BYTE_OFFSET and insn.kind in (IKind.LOAD, IKind.STORE_IMM, IKind.STORE_REG):
        return insn.replace(off=value)  # libbpf: bpf_core_patch_insn, BPF_LDX/ST/STX
    return _patch_imm(insn, value)


def _patch_imm(insn: Insn, value: int) -> Insn | None:
    """libbpf: bpf_core_patch_insn (ALU with K source, or ld_imm64)."""
    if insn.kind is IKind.LD_IMM64:
        return insn.replace(imm=value & 0xFFFFFFFF, imm_hi=value >> 32)
    if insn.kind is IKind.ALU and not insn.uses_reg_src:
        return insn.replace(imm=value)
    return None
