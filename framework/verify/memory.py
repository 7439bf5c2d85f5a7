"""Loads and stores: check_mem_access for the pointer kinds the model keeps."""

from __future__ import annotations

from framework.verify.ctx import TSTAMP_TYPE, ctx_access
from framework.verify.env import Env, Reject, reject
from framework.verify.regs import MEM_ALLOC, MEM_PERCPU, MEM_RDONLY, RT, Reg, const, scalar, type_str
from framework.verify.scalar import Scalar
from framework.verify.stack import DYNPTR, INVALID, ITER, MISC, SLOT_SIZE, SPILL, ZERO, Slot, slot_index
from framework.verify.state import MAX_BPF_STACK, Frame, State


def loaded_scalar(size: int) -> Reg:
    # kernel: mark_reg_unknown + coerce_reg_to_size
    if size == 8:
        return scalar()
    return scalar(Scalar.from_bounds(smin=0, smax=(1 << (8 * size)) - 1, umax=(1 << (8 * size)) - 1))


def stack_bounds(env: Env, st: State, pc: int, regno: int, off: int, size: int, what: str) -> Reject | None:
    # kernel: check_stack_access_within_bounds (then grow_stack_state)
    if off < -MAX_BPF_STACK or off + size > 0 or size <= 0:
        return reject(pc, f"invalid {what} stack R{regno} off={off} size={size}")
    return None


def grow(env: Env, frame: Frame, off: int) -> None:
    # kernel: grow_stack_state
    if -off > frame.allocated:
        frame.allocated = (-off + 7) // 8 * 8
    env.grow_stack(frame.subprog, -off)


def _set_bytes(slot: Slot, off: int, size: int, t: str) -> str:
    types = list(slot.types)
    start = -off - 1
    for i in range(size):
        types[(start - i) % SLOT_SIZE] = t
    return "".join(types)


def stack_write(
    env: Env, st: State, frame: Frame, pc: int, off: int, size: int, value: Reg | None, imm: int | None
) -> Reject | None:
    # kernel: check_stack_write_fixed_off
    spi = slot_index(off)
    old = frame.stack.get(spi, Slot())
    if old.special and old.types[0] == DYNPTR:
        return reject(pc, "cannot overwrite referenced dynptr")
    aligned = off % SLOT_SIZE == 0
    if value is not None and aligned and value.type is RT.SCALAR:
        fits = size == 8 or (value.var.umax < (1 << (8 * size)))
        spilled = value if fits else value.with_(id=0)
        # kernel: save_register_state
        frame.stack[spi] = Slot(_spill_types(old, size), spilled)
        return None
    if value is None and imm is not None and aligned:
        frame.stack[spi] = Slot(_spill_types(old, size), const(imm))
        return None
    if value is not None and value.is_pointer:
        if size != 8:
            return reject(pc, "invalid size of register spill")
        if value.type is RT.STACK and frame is not st.cur:
            return reject(pc, "cannot spill pointers to stack into stack frame of the caller")
        frame.stack[spi] = Slot(SPILL * 8, value)
        return None
    t = MISC
    if (value is not None and value.is_const and value.const == 0) or (value is None and imm == 0):
        t = ZERO
    base = old if not (old.is_spill or old.special) else Slot(MISC * 8)
    if old.is_spill:
        base = Slot("".join(MISC if c == SPILL else c for c in old.types))
    frame.stack[spi] = Slot(_set_bytes(base, off, size, t))
    return None


def _spill_types(old: Slot, size: int) -> str:
    # kernel: save_register_state: slot_type[i] for i >= 8 - size are STACK_SPILL; below them
    # mark_stack_slot_misc keeps STACK_ZERO and STACK_INVALID and makes the rest STACK_MISC
    below = "".join(t if t in (ZERO, INVALID) else MISC for t in old.types[: SLOT_SIZE - size])
    return below + SPILL * size


def stack_read(env: Env, frame: Frame, pc: int, off: int, size: int) -> Reg | Reject:
    # kernel: check_stack_read_fixed_off
    spi = slot_index(off)
    slot = frame.stack.get(spi, Slot())
    if slot.types[SLOT_SIZE - 1] == SPILL and slot.spilled is not None:
        spill_size = 1
        i = SLOT_SIZE - 1
        while i > 0 and slot.types[i - 1] == SPILL:
            spill_size += 1
            i -= 1
        reg = slot.spilled
        if size == 8 and spill_size == 8:
            return reg
        if reg.type is not RT.SCALAR:
            return reject(pc, "invalid size of register fill")
        if size <= spill_size and off % SLOT_SIZE == 0:
            if reg.var.umax < (1 << (8 * size)):
                return reg
            return loaded_scalar(size)
        start = -off - 1
        for i in range(size):
            t = slot.types[(start - i) % SLOT_SIZE]
            if t in (SPILL, MISC, ZERO) or (t == INVALID and env.allow_uninit_stack):
                continue
            return reject(pc, f"invalid read from stack off {off}+{i} size {size}")
        return loaded_scalar(size)
    zeros = 0
    start = -off - 1
    for i in range(size):
        t = slot.types[(start - i) % SLOT_SIZE]
        if t == MISC:
            continue
        if t == ZERO:
            zeros += 1
            continue
        if t == INVALID and env.allow_uninit_stack:
            continue
        if t in (SPILL, ITER, DYNPTR) or t == INVALID:
            return reject(pc, f"invalid read from stack off {off}+{i} size {size}")
    if zeros == size:
        return const(0)
    return loaded_scalar(size)


def check_mem_access(
    env: Env, st: State, pc: int, regno: int, insn_off: int, size: int, write: bool, value: Reg | None, imm: int | None
) -> Reg | Reject | None:
    """A load (returns the loaded register) or a store (returns None) through register `regno`."""
    # kernel: check_mem_access
    ptr = st.cur.regs[regno]
    what = "write to" if write else "read from"
    if ptr.type is RT.NOT_INIT:
        return reject(pc, f"R{regno} !read_ok")
    if ptr.maybe_null or ptr.type in (RT.SCALAR, RT.PACKET_END, RT.MAP_PTR, RT.FUNC):
        return reject(pc, f"R{regno} invalid mem access '{type_str(ptr)}'")
    off = ptr.off + insn_off
    if ptr.type is RT.STACK:
        if not ptr.var.is_const or ptr.var.var_off.value:
            return stack_var_access(env, st, pc, regno, ptr, off, size, write)
        err = stack_bounds(env, st, pc, regno, off, size, what)
        if err:
            return err
        frame = st.frames[ptr.frameno]
        grow(env, frame, off)
        if write:
            return stack_write(env, st, frame, pc, off, size, value, imm)
        return stack_read(env, frame, pc, off, size)
    if ptr.type is RT.CTX:
        # kernel: check_ptr_off_reg (__check_ptr_off_reg), then check_ctx_access
        if ptr.off < 0:
            return reject(pc, f"negative offset ctx ptr R{regno} off={ptr.off} disallowed")
        if ptr.off:
            return reject(pc, f"dereference of modified ctx ptr R{regno} off={ptr.off} disallowed")
        if not ptr.var.is_const or ptr.var.var_off.value:
            return reject(pc, f"variable ctx access var_off={ptr.var.var_off.strn()} disallowed")
        kind = ctx_access(insn_off, size, write)
        if kind is None:
            return reject(pc, f"invalid bpf_context access off={insn_off} size={size}")
        if insn_off == TSTAMP_TYPE:
            env.tstamp_type_access = True  # kernel: tc_cls_act_is_valid_access sets prog->tstamp_type_access
        if write:
            return None
        if kind is RT.SCALAR:
            return loaded_scalar(size)
        if kind is RT.SOCKET:
            return Reg(RT.SOCKET, maybe_null=True, id=env.new_id(), btf_name="sock_common")
        return Reg(kind, id=0)
    if ptr.type in (RT.PACKET, RT.PACKET_META):
        # kernel: check_packet_access (the range is relative to this pointer's id, fixed offset only)
        if write and env.program.prog_type not in _PKT_WRITERS:
            return reject(pc, "cannot write into packet")
        if ptr.var.smin < 0:
            return reject(
                pc, f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check."
            )
        if off < 0 or off + size > ptr.range:
            return reject(
                pc,
                f"invalid access to packet, off={off} size={size}, R{regno}(id={ptr.id},off={off},r={ptr.range})",
                f"R{regno} offset is outside of the packet",
            )
        return None if write else loaded_scalar(size)
    if ptr.type is RT.MAP_VALUE:
        mdef = env.program.maps[ptr.map_index]
        vsize = mdef.value_size
        if write and (mdef.flags & 0x80 or mdef.section.startswith(".rodata")):
            return reject(pc, f"write into map forbidden, value_size={vsize} off={off} size={size}")
        err = mem_region(
            pc, regno, ptr, off, size, vsize, "invalid access to map value, value_size={n} off={o} size={s}"
        )
        if err:
            return err
        if write and value is not None and value.is_pointer:
            return reject(pc, f"R{value_regno_hint(st, value)} leaks addr into map")
        return None if write else loaded_scalar(size)
    if ptr.type is RT.MEM:
        if write and MEM_RDONLY in ptr.flags:
            return reject(pc, f"R{regno} cannot write into {type_str(ptr)}")
        err = mem_region(
            pc, regno, ptr, off, size, ptr.mem_size, "invalid access to memory, mem_size={n} off={o} size={s}"
        )
        if err:
            return err
        return None if write else loaded_scalar(size)
    if ptr.type is RT.BTF_ID:
        if MEM_PERCPU in ptr.flags:
            return reject(pc, f"R{regno} is ptr_{ptr.btf_name} access percpu memory: off={off}")
        if write and MEM_ALLOC not in ptr.flags:
            return reject(pc, "only read is supported")
        if ptr.mem_size and off + size > ptr.mem_size:
            return reject(pc, f"access beyond struct {ptr.btf_name} at off {off} size {size}")
        return None if write else loaded_scalar(size)
    if ptr.type is RT.SOCKET:
        if write:
            return reject(pc, f"R{regno} cannot write into {type_str(ptr)}")
        return loaded_scalar(size)
    return reject(pc, f"R{regno} invalid mem access '{type_str(ptr)}'")


def value_regno_hint(st: State, value: Reg) -> int:
    for i, r in enumerate(st.cur.regs):
        if r is value:
            return i
    return 0


def stack_var_access(
    env: Env, st: State, pc: int, regno: int, ptr: Reg, off: int, size: int, write: bool
) -> Reg | Reject | None:
    # kernel: check_stack_access_within_bounds with a variable offset, then
    # check_stack_write_var_off (every byte it may touch becomes STACK_MISC) or
    # check_stack_read_var_off (every byte must be readable; the result is unknown)
    lo, hi = off + ptr.var.smin, off + ptr.var.smax
    if ptr.var.smin < -MAX_BPF_STACK or lo < -MAX_BPF_STACK or hi + size > 0:
        what = "write to" if write else "read from"
        return reject(
            pc, f"invalid variable-offset {what} stack R{regno} var_off={ptr.var.var_off.strn()} off={off} size={size}"
        )
    frame = st.frames[ptr.frameno]
    grow(env, frame, lo)
    for byte in range(lo, hi + size):
        spi = slot_index(byte)
        slot = frame.stack.get(spi, Slot())
        idx = (-byte - 1) % SLOT_SIZE
        t = slot.types[idx]
        if write:
            if slot.special and slot.spilled is not None and slot.spilled.ref_obj_id:
                return reject(pc, "cannot overwrite referenced iterator")
            types = list(slot.types if not slot.is_spill else MISC * 8)
            if types[idx] != ZERO or True:
                types[idx] = MISC
            frame.stack[spi] = Slot("".join(types))
        elif t == INVALID and not env.allow_uninit_stack:
            return reject(
                pc,
                f"invalid variable-offset read from stack R{regno} "
                f"var_off={ptr.var.var_off.strn()} off={off} size={size}",
            )
        elif t in (ITER, DYNPTR):
            return reject(pc, f"invalid read from stack off {byte}+0 size {size}")
    return None if write else loaded_scalar(size)


_PKT_WRITERS = {"sched_cls", "sched_act", "xdp", "lwt_xmit", "sk_skb", "sk_msg"}  # may_access_direct_pkt_data
BPF_MAX_VAR_OFF = 1 << 29


def mem_region(pc: int, regno: int, ptr: Reg, off: int, size: int, mem_size: int, fmt: str) -> Reject | None:
    # kernel: check_mem_region_access / __check_mem_access
    v = ptr.var
    if v.smin < 0 and (v.smin == -(1 << 63) or off + v.smin < 0):
        return reject(pc, f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.")
    lo = off + v.smin
    if lo < 0 or lo + size > mem_size:
        return reject(
            pc, fmt.format(n=mem_size, o=lo, s=size), f"R{regno} min value is outside of the allowed memory range"
        )
    if v.umax >= BPF_MAX_VAR_OFF:
        return reject(pc, f"R{regno} unbounded memory access, make sure to bounds check any such access")
    hi = off + v.umax
    if hi + size > mem_size:
        return reject(
            pc, fmt.format(n=mem_size, o=hi, s=size), f"R{regno} max value is outside of the allowed memory range"
        )
    return None
