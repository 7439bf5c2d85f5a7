"""Register state as `struct bpf_reg_state` keeps it: a type, flags, ids and the scalar part.

A pointer keeps its constant offset in `off` and its variable part in `var` (a
`Scalar`, as the kernel keeps var_off and the ranges on pointers too).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from framework.verify.scalar import Scalar


class RT(enum.Enum):
    """enum bpf_reg_type, the base types the model knows."""

    NOT_INIT = "?"
    SCALAR = "scalar"
    CTX = "ctx"
    STACK = "fp"
    PACKET = "pkt"
    PACKET_END = "pkt_end"
    PACKET_META = "pkt_meta"
    MAP_VALUE = "map_value"
    MAP_KEY = "map_key"  # a for_each_map_elem callback's key
    MAP_PTR = "map_ptr"
    BTF_ID = "ptr_"
    MEM = "mem"
    SOCKET = "sock"
    FUNC = "func"
    ITER = "iter"  # only inside a STACK_ITER slot
    DYNPTR = "dynptr"  # only inside STACK_DYNPTR slots


# type flags (enum bpf_type_flag) the model uses
MEM_ALLOC = "alloc"
MEM_PERCPU = "percpu"
MEM_RINGBUF = "ringbuf"
MEM_RDONLY = "rdonly"
PTR_TRUSTED = "trusted"
PTR_UNTRUSTED = "untrusted"
MEM_USER = "user"
MEM_RCU = "rcu"
NON_OWN_REF = "non_own_ref"  # a graph node the collection owns (valid until bpf_spin_unlock)


@dataclass(frozen=True, slots=True)
class Reg:
    """One register (or a spilled register / iterator / dynptr kept in a stack slot)."""

    type: RT = RT.NOT_INIT
    var: Scalar = field(default_factory=lambda: Scalar.const(0))
    off: int = 0
    maybe_null: bool = False
    id: int = 0
    ref_obj_id: int = 0
    frameno: int = 0  # PTR_TO_STACK: whose frame
    range: int = 0  # PTR_TO_PACKET: bytes known to be inside the packet
    map_index: int = -1
    mem_size: int = 0
    btf_name: str = ""
    btf_id: int = 0
    flags: frozenset[str] = frozenset()
    subprog: int = -1  # PTR_TO_FUNC
    iter_active: bool = True  # STACK_ITER: ACTIVE or DRAINED
    iter_depth: int = 0
    precise: bool = False

    @property
    def is_pointer(self) -> bool:
        # kernel: __is_pointer_value
        return self.type not in (RT.SCALAR, RT.NOT_INIT)

    @property
    def is_const(self) -> bool:
        return self.type is RT.SCALAR and self.var.is_const

    @property
    def const(self) -> int:
        return self.var.var_off.value

    def with_(self, **changes: object) -> Reg:
        return replace(self, **changes)  # type: ignore[arg-type]


NOT_INIT = Reg()


def scalar(value: Scalar | None = None) -> Reg:
    # kernel: mark_reg_unknown / __mark_reg_known
    return Reg(RT.SCALAR, value if value is not None else Scalar.unknown())


def loaded_scalar(size: int) -> Reg:
    # kernel: mark_reg_unknown + coerce_reg_to_size
    if size == 8:
        return scalar()
    return scalar(Scalar.from_bounds(smin=0, smax=(1 << (8 * size)) - 1, umax=(1 << (8 * size)) - 1))


def const(value: int) -> Reg:
    # kernel: __mark_reg_known
    return Reg(RT.SCALAR, Scalar.const(value))


def stack_ptr(frameno: int, off: int = 0) -> Reg:
    return Reg(RT.STACK, off=off, frameno=frameno)


_PREFIX = (
    (MEM_RDONLY, "rdonly_"),
    (MEM_RINGBUF, "ringbuf_"),
    (MEM_USER, "user_"),
    (MEM_PERCPU, "percpu_"),
    (MEM_RCU, "rcu_"),
    (PTR_UNTRUSTED, "untrusted_"),
    (PTR_TRUSTED, "trusted_"),
)


def type_str(r: Reg) -> str:
    """reg_type_str: the name the log and messages use."""
    base = {
        RT.NOT_INIT: "?",
        RT.SCALAR: "scalar",
        RT.CTX: "ctx",
        RT.STACK: "fp",
        RT.PACKET: "pkt",
        RT.PACKET_END: "pkt_end",
        RT.PACKET_META: "pkt_meta",
        RT.MAP_VALUE: "map_value",
        RT.MAP_KEY: "map_key",
        RT.MAP_PTR: "map_ptr",
        RT.BTF_ID: "ptr_",
        RT.MEM: "mem",
        RT.SOCKET: r.btf_name or "sock",  # PTR_TO_SOCK_COMMON / PTR_TO_SOCKET / PTR_TO_TCP_SOCK
        RT.FUNC: "func",
        RT.ITER: "iter",
        RT.DYNPTR: "dynptr",
    }[r.type]
    # kernel: reg_type_str's prefix order
    prefix = "".join(text for flag, text in _PREFIX if flag in r.flags)
    postfix = ("or_null_" if r.type is RT.BTF_ID else "_or_null") if r.maybe_null else ""
    return prefix + base + postfix
