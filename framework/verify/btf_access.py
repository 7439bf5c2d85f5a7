"""Loads through a PTR_TO_BTF_ID of a vmlinux struct: check_ptr_to_btf_access and btf_struct_walk.

The offset and size of the load are checked against the struct's layout in vmlinux BTF
(kernel/bpf/btf.c btf_struct_walk): a scalar member (or a bitfield read whole, or a byte
range of an int array) is a scalar; a pointer member read whole at its offset is a new
PTR_TO_BTF_ID of the pointee, with the flags check_ptr_to_btf_access gives a walked pointer
(from an argument that is not trusted: untrusted, the member's __user / __percpu / __rcu
tags dropped: PTR_UNTRUSTED, as the live kernel gives it). Such loads are BPF_PROBE_MEM
loads in the kernel (the JIT's exception table reads 0 where the address faults); the
emulated kernel does not run them (framework/run refuses such a run as unsupported).
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.load.btf import Btf, BtfType, Kind
from framework.load.core import vmlinux_btf
from framework.platform.helper_types import GPL_COMPATIBLE
from framework.verify.env import Env, Reject, reject, unsupported
from framework.verify.regs import (
    MEM_PERCPU,
    MEM_RCU,
    MEM_USER,
    PTR_TRUSTED,
    PTR_UNTRUSTED,
    RT,
    Reg,
    loaded_scalar,
    type_str,
)
from framework.verify.state import State

__all__ = ["Unmodelled", "check_ptr_to_btf_access", "skc_to_tcp_sock", "struct_access"]

_MODIFIERS = frozenset({Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG})
_WALK_SCALAR, _WALK_PTR, _WALK_UNTRUSTED, _WALK_STRUCT = "scalar", "ptr", "ptr_untrusted", "struct"


def anon_name(btf: Btf, name_off: int) -> str:
    # kernel: __btf_name_by_offset
    return btf.string(name_off) if name_off else "(anon)"


def _skip(btf: Btf, type_id: int) -> int:
    while btf.type(type_id).kind in _MODIFIERS:
        type_id = btf.type(type_id).type
    return type_id


def _is_struct(t: BtfType) -> bool:
    return t.kind in (Kind.STRUCT, Kind.UNION)


def skc_to_tcp_sock(env: Env, st: State, pc: int) -> Reg | Reject:
    """bpf_skc_to_tcp_sock (#137): a socket as PTR_TO_BTF_ID_OR_NULL of vmlinux's struct tcp_sock."""
    # kernel: bpf_skc_to_tcp_sock_proto (ARG_PTR_TO_BTF_ID_SOCK_COMMON, RET_PTR_TO_BTF_ID_OR_NULL)
    r = st.cur.regs[1]
    if r.type is RT.NOT_INIT:
        return reject(pc, "R1 !read_ok")
    if r.type is RT.BTF_ID:
        return unsupported(pc, "helper argument", "bpf_skc_to_tcp_sock#137 R1", "btf_struct_ids_match on sock_common")
    if r.type is not RT.SOCKET or r.maybe_null:
        return reject(pc, f"R1 type={type_str(r)} expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_")
    btf = vmlinux_btf()
    tcp_sock = btf.find("tcp_sock", Kind.STRUCT) if btf is not None else None
    if tcp_sock is None:
        return unsupported(pc, "helper", "bpf_skc_to_tcp_sock#137", "struct tcp_sock in vmlinux BTF")
    # kernel: check_helper_call, is_ptr_cast_function: a fresh id for the NULL check, the parent's ref_obj_id
    return Reg(
        RT.BTF_ID, maybe_null=True, id=env.new_id(), ref_obj_id=r.ref_obj_id, btf_name="tcp_sock", btf_id=tcp_sock
    )


def check_ptr_to_btf_access(
    env: Env, pc: int, regno: int, ptr: Reg, off: int, size: int, write: bool
) -> Reg | Reject | None:
    """A load through `ptr` (a PTR_TO_BTF_ID of vmlinux type `ptr.btf_id`) at `off` (its own offset included)."""
    # kernel: check_ptr_to_btf_access
    name = ptr.btf_name
    btf = vmlinux_btf()
    if btf is None:
        return unsupported(pc, "kernel struct", name, "its layout from vmlinux BTF")

    if env.program.license not in GPL_COMPATIBLE:
        return reject(pc, f"Cannot access kernel 'struct {name}' from non-GPL compatible program")
    if off < 0:
        return reject(pc, f"R{regno} is ptr_{name} invalid negative access: off={off}")
    if not ptr.var.is_const or ptr.var.var_off.value:
        tn = ptr.var.var_off.strn()
        return reject(pc, f"R{regno} is ptr_{name} invalid variable offset: off={off}, var_off={tn}")
    if MEM_USER in ptr.flags:
        return reject(pc, f"R{regno} is ptr_{name} access user memory: off={off}")
    if MEM_PERCPU in ptr.flags:
        return reject(pc, f"R{regno} is ptr_{name} access percpu memory: off={off}")
    if write:  # tracing has no btf_struct_access of its own, tc's writes only nf_conn: read only
        return reject(pc, "only read is supported")
    got = struct_access(btf, ptr, off, size)
    if isinstance(got, str):
        return reject(pc, got)
    if isinstance(got, Unmodelled):
        return unsupported(pc, "kernel struct member", f"{name}+{off} (size {size})", got.needs)
    if got.type is RT.SCALAR:
        return loaded_scalar(size)
    return got


@dataclass(frozen=True, slots=True)
class Unmodelled:
    """A load whose result the project does not model (the verdict is `unsupported`)."""

    needs: str


def struct_access(btf: Btf, ptr: Reg, off: int, size: int) -> Reg | str | Unmodelled:
    # kernel: btf_struct_access (a str: the message of its refusal)
    type_id = ptr.btf_id
    flags: set[str] = set()
    while True:
        step = _walk(btf, type_id, off, size, flags)
        if isinstance(step, str):
            return step
        kind, found, tagged = step
        if kind == _WALK_STRUCT:  # a nested struct at the offset: dive into it
            type_id, off = found, 0
            continue
        if kind == _WALK_SCALAR:
            return Reg(RT.SCALAR)
        if kind == _WALK_PTR:
            return _walked_pointer(btf, ptr, found, tagged | flags)
        return Unmodelled("a pointer member to non-struct memory (WALK_PTR_UNTRUSTED: rdonly untrusted mem)")


def _walked_pointer(btf: Btf, ptr: Reg, type_id: int, flags: set[str]) -> Reg | Unmodelled:
    # kernel: check_ptr_to_btf_access, the flags of a pointer formed by walking `ptr`: from a
    # pointer neither trusted nor RCU (an fentry argument, bpf_skc_to_tcp_sock's result) or an
    # untrusted one, PTR_UNTRUSTED alone (the live kernel: `untrusted_ptr_socket` from a plain
    # `ptr_tcp_sock`, in or outside a union)
    if PTR_TRUSTED in ptr.flags or MEM_RCU in ptr.flags or ptr.ref_obj_id:
        return Unmodelled("a pointer walked from a trusted one (the BTF_TYPE_SAFE_TRUSTED / _RCU tables)")
    del flags  # the member's __user / __percpu / __rcu tags do not survive
    return Reg(RT.BTF_ID, btf_name=btf.name(type_id), btf_id=type_id, flags=frozenset({PTR_UNTRUSTED}))


Step = tuple[str, int, set[str]]  # (WALK_*, the next btf id, the pointer member's type-tag flags)


def _walk(btf: Btf, type_id: int, off: int, size: int, flags: set[str]) -> Step | str:
    # kernel: btf_struct_walk (a str: the message it logs before failing)
    while True:
        t = btf.type(_skip(btf, type_id))
        tname = anon_name(btf, t.name_off)
        if not _is_struct(t):
            return f"Type '{tname}' is not a struct"
        members = t.members()
        if t.kind is Kind.UNION and len(members) != 1:
            flags.add(PTR_UNTRUSTED)  # walking unions yields untrusted pointers (but __bpf_md_ptr's)
        if off + size > t.size:
            # only a flexible array at the end may be read past the struct's size
            beyond = f"access beyond struct {tname} at off {off} size {size}"
            last = members[-1] if members else None
            lt = btf.type(_skip(btf, last.type)) if last is not None else None
            if last is None or lt is None or lt.kind is not Kind.ARRAY or lt.array.nelems or off < last.bit_offset // 8:
                return beyond
            elem = btf.type(_skip(btf, lt.array.type))
            if elem.kind is Kind.INT:
                return _WALK_SCALAR, 0, set()
            if not _is_struct(elem):
                return beyond
            off = (off - last.bit_offset // 8) % elem.size
            type_id = _skip(btf, lt.array.type)
            continue
        got = _member_at(btf, t, tname, off, size, flags)
        if isinstance(got, tuple) and got[0] == "inside":  # inside a nested struct: walk it
            type_id, off = got[1], off - got[2]
            continue
        return got if isinstance(got, str) else (got[0], got[1], got[3])


def _member_at(
    btf: Btf, t: BtfType, tname: str, off: int, size: int, flags: set[str]
) -> tuple[str, int, int, set[str]] | str:
    # kernel: btf_struct_walk's for_each_member loop: (WALK_* or "inside", type id, member offset, tags)
    for m in t.members():
        moff = m.bit_offset // 8
        if off + size <= moff:
            break
        if m.bitfield_size:
            end_bit = m.bit_offset + m.bitfield_size
            if off <= moff and (end_bit + 7) // 8 <= off + size:
                return _WALK_SCALAR, 0, 0, set()
            continue
        if off < moff:
            break  # a hole in the struct
        mname = anon_name(btf, m.name_off)
        resolved = _resolve(btf, m.type)
        if resolved is None:
            return f"field {mname} doesn't have size"
        mtype_id, msize, elem_id, nelems = resolved
        mtrue_end = moff + msize
        if off >= mtrue_end:
            continue
        mtype = btf.type(mtype_id)
        if mtype.kind is Kind.ARRAY:
            if moff == mtrue_end:
                continue  # an empty array
            msize //= nelems
            moff += (off - moff) // msize * msize
            mtype_id, mtype = elem_id, btf.type(elem_id)
        if _is_struct(mtype):
            return (_WALK_STRUCT, mtype_id, moff, set()) if off == moff else ("inside", mtype_id, moff, set())
        if mtype.kind is Kind.PTR:
            if msize != size or off != moff:
                return f"cannot access ptr member {mname} with moff {moff} in struct {tname} with off {off} size {size}"
            tag = btf.type(mtype.type)
            tagged: set[str] = set()
            if tag.kind is Kind.TYPE_TAG and not tag.kind_flag:
                tagged = {_TAGS[v]} if (v := btf.string(tag.name_off)) in _TAGS else set()
            target = _skip(btf, mtype.type)
            return (_WALK_PTR if _is_struct(btf.type(target)) else _WALK_UNTRUSTED, target, moff, tagged)
        if off + size > mtrue_end and PTR_UNTRUSTED not in flags:
            return (
                f"access beyond the end of member {mname} (mend:{mtrue_end}) in struct {tname} "
                f"with off {off} size {size}"
            )
        return _WALK_SCALAR, 0, 0, set()
    return f"struct {tname} doesn't have field at offset {off}"


_TAGS = {"user": MEM_USER, "percpu": MEM_PERCPU, "rcu": MEM_RCU}


def _resolve(btf: Btf, type_id: int) -> tuple[int, int, int, int] | None:
    # kernel: __btf_resolve_size: (the type past modifiers and arrays' outer layers, total size,
    # innermost element type, total elements); multi-dimensional arrays are linearised
    nelems = 1
    t_id = _skip(btf, type_id)
    outer = t_id
    while btf.type(t_id).kind is Kind.ARRAY:
        arr = btf.type(t_id).array
        nelems *= arr.nelems
        t_id = _skip(btf, arr.type)
    t = btf.type(t_id)
    if t.kind is Kind.PTR:
        size = 8
    elif t.kind in (Kind.INT, Kind.ENUM, Kind.ENUM64, Kind.FLOAT) or _is_struct(t):
        size = t.size
    else:
        return None
    if btf.type(outer).kind is Kind.ARRAY:
        return outer, size * nelems, t_id, nelems
    return t_id, size, t_id, 1
