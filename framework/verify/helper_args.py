"""Helper arguments as check_func_arg checks them, and the checks check_helper_call makes first.

Each function checks one argument register of a helper call the way the kernel's
`check_func_arg` does for one `bpf_arg_type`, and returns the register (or the size it
bounds) or the `Reject` with the kernel's message. `framework.verify.calls` reads them.
"""

from __future__ import annotations

from framework.load.program import MapDef
from framework.platform.helper_protos import FuncProto
from framework.platform.helper_types import GPL_COMPATIBLE, HELPER_GPL_ONLY, HELPER_TYPES
from framework.platform.helpers import MAX_ID, func_id_name
from framework.platform.sections import MAP_TYPES
from framework.verify import memory
from framework.verify.aux import record_map
from framework.verify.env import Env, Reject, reject, unsupported
from framework.verify.precision import mark_chain_precision
from framework.verify.regs import RT, Reg, scalar, type_str
from framework.verify.state import State


def arg(st: State, pc: int, regno: int) -> Reg | Reject:
    r = st.cur.regs[regno]
    if r.type is RT.NOT_INIT:
        return reject(pc, f"R{regno} !read_ok")
    return r


SOCK_COMMON_TYPES = "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_"  # kernel: btf_id_sock_common_types


def expect(pc: int, regno: int, r: Reg, ok: bool, expected: str) -> Reject | None:
    # kernel: check_reg_type
    if ok:
        return None
    return reject(pc, f"R{regno} type={type_str(r)} expected={expected}")


def typed_arg(st: State, pc: int, regno: int, rt: RT, expected: str) -> Reg | Reject:
    # kernel: check_func_arg -> check_reg_type, for an argument of one base type
    r = arg(st, pc, regno)
    if isinstance(r, Reject):
        return r
    return expect(pc, regno, r, r.type is rt, expected) or r


def ctx_arg(st: State, pc: int, regno: int) -> Reg | Reject:
    # kernel: check_func_arg (ARG_PTR_TO_CTX), then check_func_arg_reg_off -> __check_ptr_off_reg:
    # the context is passed as it came, neither moved nor given a variable offset
    r = typed_arg(st, pc, regno, RT.CTX, "ctx")
    if isinstance(r, Reject):
        return r
    return memory.check_ctx_off(pc, regno, r) or r


def stack_mem(env: Env, st: State, pc: int, regno: int, size: int, uninit: bool) -> Reject | None:
    # kernel: check_helper_mem_access -> check_stack_range_initialized
    r = st.cur.regs[regno]
    if r.type is RT.STACK:
        return memory.stack_range(env, st, pc, regno, size, uninit, uninit)
    if r.type is RT.MAP_KEY and uninit:
        return reject(pc, f"R{regno} cannot write into {type_str(r)}")  # check_helper_mem_access
    if r.type in (RT.MAP_VALUE, RT.MAP_KEY, RT.MEM, RT.PACKET) and not r.maybe_null:
        res = memory.check_mem_access(env, st, pc, regno, 0, max(size, 1), uninit, None, None)
        return res if isinstance(res, Reject) else None
    return reject(
        pc,
        f"R{regno} type={type_str(r)} expected="
        "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_",
    )


BPF_MAX_VAR_SIZ = 1 << 29  # include/linux/bpf_verifier.h
# a bpf_func_proto's gpl_only, per program type, as the live kernel answered (helper_types); a type
# the table does not cover (tracing, lsm, ext, struct_ops: the tracing prototypes) takes the union
GPL_ONLY_ANY_TYPE = frozenset().union(*HELPER_GPL_ONLY.values())


def gpl_only(prog_type: str, fid: int) -> bool:
    return fid in HELPER_GPL_ONLY.get(prog_type, GPL_ONLY_ANY_TYPE)


def mem_size(env: Env, st: State, pc: int, regno: int, zero_ok: bool) -> int | Reject:
    # kernel: check_mem_size_reg (ARG_CONST_SIZE, ARG_CONST_SIZE_OR_ZERO): the bound, umax, is
    # what check_helper_mem_access checks; the register is marked precise
    r = arg(st, pc, regno)
    if isinstance(r, Reject):
        return r
    if r.type is not RT.SCALAR:
        return reject(pc, f"R{regno} type={type_str(r)} expected=scalar")
    v = r.var
    if v.smin < 0:
        return reject(pc, f"R{regno} min value is negative, either use unsigned or 'var &= const'")
    if v.umin == 0 and not zero_ok:
        return reject(pc, f"R{regno} invalid zero-sized read: u64=[{v.umin},{v.umax}]")
    if v.umax >= BPF_MAX_VAR_SIZ:
        return reject(pc, f"R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'")
    mark_chain_precision(env, st, regno)
    return v.umax


def const_size(env: Env, st: State, pc: int, regno: int) -> int | Reject:
    # kernel: check_mem_size_reg (the size is trusted as it is: precise)
    r = st.cur.regs[regno]
    mark_chain_precision(env, st, regno)
    if r.type is not RT.SCALAR:
        return reject(pc, f"R{regno} type={type_str(r)} expected=scalar")
    if not r.is_const:
        return reject(pc, f"R{regno} is not a known constant'")
    return r.const


def sized_mem(
    env: Env, st: State, pc: int, func: str, buf: int, zero_ok: bool, uninit: bool, null_ok: bool = False
) -> Reject | None:
    # kernel: check_func_arg for an ARG_PTR_TO_(UNINIT_)MEM (| PTR_MAYBE_NULL with `null_ok`) at `buf`
    # and its ARG_CONST_SIZE(_OR_ZERO) in the next register: check_mem_size_reg, then
    # check_helper_mem_access over the bound
    r = arg(st, pc, buf)
    if isinstance(r, Reject):
        return r
    size = mem_size(env, st, pc, buf + 1, zero_ok)
    if isinstance(size, Reject):
        return size
    if null_ok and r.type is RT.SCALAR and r.is_const and r.const == 0:
        # check_func_arg skips the type check of a NULL for a PTR_MAYBE_NULL argument; then
        # check_helper_mem_access: "Allow zero-byte read from NULL, regardless of pointer type"
        return None if size == 0 else reject(pc, f"R{buf} type=scalar expected=fp")
    if size == 0:
        return unsupported(pc, "helper argument", f"{func} with size 0", "check_helper_mem_access's zero size")
    return stack_mem(env, st, pc, buf, size, uninit)


def map_compatible(env: Env, pc: int, m: Reg, map_types: frozenset[str], func: str) -> MapDef | Reject:
    # kernel: check_map_func_compatibility, after every argument is checked
    mdef = env.program.maps[m.map_index]
    if mdef.map_type not in map_types:
        return reject(pc, f"cannot pass map_type {MAP_TYPES.index(mdef.map_type)} into func {func}")
    record_map(env, pc, m.map_index)
    return mdef


def helper_given(env: Env, pc: int, fid: int) -> Reject | None:
    # kernel: check_helper_call, before any argument: get_helper_proto, then gpl_only
    name = func_id_name(fid)
    if not 0 <= fid < MAX_ID:  # get_helper_proto's -ERANGE
        return reject(pc, f"invalid func {name}#{fid}")
    given = HELPER_TYPES.get(env.program.prog_type)  # the live kernel's get_func_proto, as a table
    if given is not None and fid not in given:
        return reject(pc, f"program of this type cannot use helper {name}#{fid}")
    if gpl_only(env.program.prog_type, fid) and env.program.license not in GPL_COMPATIBLE:
        return reject(pc, "cannot call GPL-restricted function from non-GPL compatible program")
    return None


def check_proto_args(env: Env, st: State, pc: int, proto: FuncProto) -> Reject | None:
    """A call's arguments checked from its prototype row, in register order (check_func_arg for
    each, the size of a memory argument with it: check_mem_size_reg), then
    check_map_func_compatibility; packet pointers are invalidated where the helper changes them."""
    func = f"{proto.name}#{proto.func_id}"
    if proto.prog_types is not None and env.program.prog_type not in proto.prog_types:
        return unsupported(pc, "helper", func, f"{env.program.prog_type}'s bpf_func_proto for it")
    m: Reg | None = None
    for regno, a in enumerate(proto.args, start=1):
        if a.is_size:
            continue  # checked with the memory argument before it
        err: Reg | Reject | None
        if a.base == "ARG_ANYTHING":
            err = arg(st, pc, regno)
        elif a.base == "ARG_PTR_TO_CTX":
            # kernel: check_func_arg, ARG_PTR_TO_CTX_OR_NULL: a NULL skips the type check
            given = st.cur.regs[regno]
            null_ok = "PTR_MAYBE_NULL" in a.flags and given.type is RT.SCALAR and given.is_const and given.const == 0
            err = None if null_ok else ctx_arg(st, pc, regno)
        elif a.base == "ARG_PTR_TO_BTF_ID_SOCK_COMMON":
            sock = arg(st, pc, regno)
            if isinstance(sock, Reject):
                return sock
            # kernel: check_reg_type, compatible_reg_types for a socket (a NULL is not one)
            err = expect(pc, regno, sock, sock.type is RT.SOCKET and not sock.maybe_null, SOCK_COMMON_TYPES)
        elif a.base == "ARG_CONST_MAP_PTR":
            err = typed_arg(st, pc, regno, RT.MAP_PTR, "map_ptr")
            if isinstance(err, Reject):
                return err
            m, mdef = err, env.program.maps[err.map_index]
            if proto.modelled_maps is not None and (mdef.map_type not in proto.modelled_maps or mdef.flags & 0x80):
                what = f"{mdef.map_type} map" + (" with BPF_F_RDONLY_PROG" if mdef.flags & 0x80 else "")
                return unsupported(pc, "map type", what, f"check_map_func_compatibility's rules for {func}")
            if proto.records_map:
                record_map(env, pc, m.map_index)
        elif a.base in ("ARG_PTR_TO_MAP_KEY", "ARG_PTR_TO_MAP_VALUE"):
            assert isinstance(m, Reg), f"{func}: a map key or value before the map"
            mdef = env.program.maps[m.map_index]
            size = mdef.key_size if a.base == "ARG_PTR_TO_MAP_KEY" else mdef.value_size
            err = stack_mem(env, st, pc, regno, size, False)
        else:  # a memory argument and the size after it
            size_arg = proto.args[regno] if regno < len(proto.args) else None
            assert size_arg is not None and size_arg.is_size, f"{func}: R{regno} has no size after it"
            zero_ok = size_arg.base == "ARG_CONST_SIZE_OR_ZERO"
            err = sized_mem(env, st, pc, func, regno, zero_ok, a.uninit, null_ok="PTR_MAYBE_NULL" in a.flags)
        if isinstance(err, Reject):
            return err
    if m is not None and proto.map_types:
        compatible = map_compatible(env, pc, m, proto.map_types, func)
        if isinstance(compatible, Reject):
            return compatible
    if proto.changes_pkt_data:
        # kernel: bpf_helper_changes_pkt_data -> clear_all_pkt_pointers (mark_reg_invalid on every copy)
        st.map_regs(lambda r: scalar() if r.type in (RT.PACKET, RT.PACKET_END, RT.PACKET_META) else r)
    return None
