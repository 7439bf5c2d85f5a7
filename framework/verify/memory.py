"""Loads and stores: check_mem_access for the pointer kinds the model keeps."""

from __future__ import annotations

from framework.isa.opcodes import MEMSX, STORE_REL, Kind
from framework.platform.contexts import TCP_SOCK_UNCONVERTIBLE, context_of, sock_access
from framework.verify.arith import coerce_to_size
from framework.verify.btf_access import check_ptr_to_btf_access
from framework.verify.ctx import TSTAMP_TYPE, ctx_access, ctx_socket
from framework.verify.env import Env, Reject, reject, unsupported
from framework.verify.precision import mark_chain_precision
from framework.verify.regs import MEM_ALLOC, MEM_PERCPU, MEM_RDONLY, RT, Reg, const, loaded_scalar, scalar, type_str
from framework.verify.scalar import s64
from framework.verify.stack import DYNPTR, INVALID, ITER, MISC, SLOT_SIZE, SPILL, ZERO, Slot, slot_index
from framework.verify.state import MAX_BPF_STACK, Frame, State
from framework.verify.tnum import Tnum
from framework.verify.tracing import ctx_load


def stack_alignment(pc: int, ptr: Reg, off: int, size: int) -> Reject | None:
    """A stack access at `off` (the pointer's own offset included) of `size` bytes through `ptr`."""
    # kernel: check_ptr_alignment -> check_generic_ptr_alignment, strict for PTR_TO_STACK
    if size == 1 or ptr.var.var_off.add(Tnum.const(off)).is_aligned(size):
        return None
    return reject(pc, f"misaligned stack access off {ptr.var.var_off.strn()}+{ptr.off}+{off - ptr.off} size {size}")


def stack_bounds(env: Env, st: State, pc: int, regno: int, off: int, size: int, what: str) -> Reject | None:
    # kernel: check_ptr_alignment, then check_stack_access_within_bounds (then grow_stack_state)
    err = stack_alignment(pc, st.cur.regs[regno], off, size)
    if err:
        return err
    return fixed_stack_bounds(pc, regno, off, size, what)


def fixed_stack_bounds(pc: int, regno: int, off: int, size: int, what: str) -> Reject | None:
    # kernel: check_stack_access_within_bounds, constant offset (root: allow_uninit_stack, so reads
    # too may reach -MAX_BPF_STACK: check_stack_slot_within_bounds)
    if off < -MAX_BPF_STACK or off > -1 or off + size > 0 or size < 0:
        return reject(pc, f"invalid {what} stack R{regno} off={off} size={size}")
    return None


def var_stack_bounds(pc: int, regno: int, ptr: Reg, off: int, size: int, what: str) -> Reject | int:
    """The lowest offset a variable-offset access may touch, or why it is refused."""
    # kernel: check_stack_access_within_bounds, variable offset (the BPF_MAX_VAR_OFF check first)
    v = ptr.var
    if v.smax >= BPF_MAX_VAR_OFF or v.smin <= -BPF_MAX_VAR_OFF:
        return reject(pc, f"invalid unbounded variable-offset {what} stack R{regno}")
    lo, hi = v.smin + off, v.smax + off + size
    if lo < -MAX_BPF_STACK or lo > -1 or hi > 0 or size < 0:
        return reject(
            pc, f"invalid variable-offset {what} stack R{regno} var_off={v.var_off.strn()} off={off} size={size}"
        )
    return lo


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


def scrubbed(slot: Slot) -> Slot:
    """A slot whose spilled register, iterator or dynptr a plain write destroys."""
    # kernel: check_stack_write_fixed_off, is_stack_slot_special then scrub_spilled_slot per byte
    # (every byte but STACK_INVALID becomes STACK_MISC); spilled_ptr.type = NOT_INIT
    if slot.types[SLOT_SIZE - 1] in (SPILL, ITER, DYNPTR) or slot.special:
        return Slot("".join(INVALID if t == INVALID else MISC for t in slot.types))
    return Slot(slot.types)


def stack_write(
    env: Env, st: State, frame: Frame, pc: int, off: int, size: int, value: Reg | None, imm: int | None
) -> Reject | None:
    # kernel: check_stack_write_fixed_off
    spi = slot_index(off)
    env.scratched_slots.add(spi)  # mark_stack_slot_scratched
    old = frame.stack.get(spi, Slot())
    if old.special and old.types[0] == DYNPTR:
        return reject(pc, "cannot overwrite referenced dynptr")
    insn = env.insns.get(pc)
    if insn is not None and insn.kind is Kind.ATOMIC and insn.imm != STORE_REL:
        # kernel: check_atomic_rmw writes with value_regno -1: an unknown value (a store-release
        # is check_store_reg's: it spills its source)
        value = imm = None
    aligned = off % SLOT_SIZE == 0
    if value is not None and aligned and value.type is RT.SCALAR:
        # kernel: check_stack_write_fixed_off, get_reg_width(reg) <= 8 * size keeps the link
        # (assign_scalar_id_before_mov); a narrowing spill breaks it
        fits = value.var.umax < (1 << (8 * size))
        if fits and not value.id and not value.var.is_const and insn is not None:
            value = value.with_(id=env.new_id())
            st.cur.regs[insn.src] = value
        frame.stack[spi] = Slot(_spill_types(old, size), value if fits else value.with_(id=0))
        return None
    if value is None and imm is not None and aligned:
        # kernel: check_stack_write_fixed_off, a BPF_ST at a slot boundary spills __mark_reg_known(imm)
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
    frame.stack[spi] = Slot(_set_bytes(scrubbed(old), off, size, t))
    return None


def _spill_types(old: Slot, size: int) -> str:
    # kernel: save_register_state: slot_type[i] for i >= 8 - size are STACK_SPILL; below them
    # mark_stack_slot_misc keeps STACK_ZERO and STACK_INVALID and makes the rest STACK_MISC
    below = "".join(t if t in (ZERO, INVALID) else MISC for t in old.types[: SLOT_SIZE - size])
    return below + SPILL * size


def _loaded(env: Env, pc: int, reg: Reg, size: int) -> Reg:
    # kernel: check_mem_access, a b/h/w load's coerce_reg_to_size (coerce_reg_to_size_sx for LDX MEMSX)
    if size == 8 or reg.type is not RT.SCALAR:
        return reg
    insn = env.insns.get(pc)
    signed = insn is not None and insn.kind is Kind.LOAD and insn.code & 0xE0 == MEMSX
    return reg.with_(var=coerce_to_size(reg.var, size, signed=signed))


def stack_read(env: Env, frame: Frame, pc: int, off: int, size: int) -> Reg | Reject:
    # kernel: check_stack_read_fixed_off
    env.scratched_slots.add(slot_index(off))  # mark_stack_slot_scratched
    slot = frame.stack.get(slot_index(off), Slot())
    types = slot.types
    start = -off - 1
    if types[SLOT_SIZE - 1] == SPILL:  # kernel: is_spilled_reg
        reg = slot.spilled or Reg()
        spill_size = len(types) - len(types.rstrip(SPILL))
        if size == SLOT_SIZE and spill_size == SLOT_SIZE:
            return reg  # the whole register comes back
        if reg.type is not RT.SCALAR:
            return reject(pc, "invalid size of register fill")
        if size <= spill_size and off % SLOT_SIZE == 0:  # kernel: bpf_stack_narrow_access_ok
            if reg.var.umax >= 1 << (8 * size):
                reg = reg.with_(id=0)  # a narrowing fill breaks the link
            return _loaded(env, pc, reg, size)
        spills = zeros = 0
        for i in range(size):
            t = types[(start - i) % SLOT_SIZE]
            if t == SPILL:
                spills += 1
            elif t == ZERO:
                zeros += 1
            elif t != MISC and not (t == INVALID and env.allow_uninit_stack):
                return reject(pc, f"invalid read from stack off {off}+{i} size {size}")
        if (spills == size and reg.is_const and reg.const == 0) or zeros == size:
            return const(0)
        return _loaded(env, pc, scalar(), size)
    zeros = 0
    for i in range(size):
        t = types[(start - i) % SLOT_SIZE]
        if t == ZERO:
            zeros += 1
        elif t != MISC and not (t == INVALID and env.allow_uninit_stack):
            return reject(pc, f"invalid read from stack off {off}+{i} size {size}")
    # kernel: mark_reg_stack_read (all zeroes read as the constant 0)
    return const(0) if zeros == size else _loaded(env, pc, scalar(), size)


def check_ctx_off(pc: int, regno: int, ptr: Reg) -> Reject | None:
    # kernel: __check_ptr_off_reg for PTR_TO_CTX: the context as it came, neither moved nor given a
    # variable offset
    if ptr.off < 0:
        return reject(pc, f"negative offset ctx ptr R{regno} off={ptr.off} disallowed")
    if ptr.off:
        return reject(pc, f"dereference of modified ctx ptr R{regno} off={ptr.off} disallowed")
    if not ptr.var.is_const or ptr.var.var_off.value:
        return reject(pc, f"variable ctx access var_off={ptr.var.var_off.strn()} disallowed")
    return None


# kernel: check_ptr_alignment, the pointer_desc of each type (a nullable pointer has none)
_ALIGN_DESC = {RT.MAP_VALUE: "value ", RT.CTX: "context ", RT.SOCKET: "sock "}


def strict_alignment(pc: int, ptr: Reg, insn_off: int, size: int) -> Reject | None:
    """An atomic's access must be aligned on every pointer type (check_mem_access's
    strict_alignment_once); the stack's own check, always strict, is stack_alignment."""
    # kernel: check_ptr_alignment -> check_pkt_ptr_alignment / check_generic_ptr_alignment
    if size == 1 or ptr.type is RT.STACK or ptr.var.var_off.add(Tnum.const(ptr.off + insn_off)).is_aligned(size):
        return None
    tn = ptr.var.var_off.strn()
    if ptr.type in (RT.PACKET, RT.PACKET_META):
        return reject(pc, f"misaligned packet access off 0+{tn}+{ptr.off}+{insn_off} size {size}")  # NET_IP_ALIGN 0
    desc = "" if ptr.maybe_null else _ALIGN_DESC.get(ptr.type, "")
    return reject(pc, f"misaligned {desc}access off {tn}+{ptr.off}+{insn_off} size {size}")


def check_mem_access(
    env: Env,
    st: State,
    pc: int,
    regno: int,
    insn_off: int,
    size: int,
    write: bool,
    value: Reg | None,
    imm: int | None,
    strict: bool = False,
) -> Reg | Reject | None:
    """A load (returns the loaded register) or a store (returns None) through register `regno`;
    `strict`: every pointer type must be aligned (an atomic)."""
    # kernel: check_mem_access
    ptr = st.cur.regs[regno]
    what = "write to" if write else "read from"
    if ptr.type is RT.NOT_INIT:
        return reject(pc, f"R{regno} !read_ok")
    if strict and (err := strict_alignment(pc, ptr, insn_off, size)):
        return err
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
        moved = check_ctx_off(pc, regno, ptr)
        if moved:
            return moved
        if env.attach_target is not None:  # a tracing program's u64 arguments: btf_ctx_access
            return ctx_load(env, env.attach_target, pc, insn_off, size, write)
        kind = ctx_access(env.program.prog_type, insn_off, size, write, env.program.expected_attach_type)
        if kind is None:
            return reject(pc, f"invalid bpf_context access off={insn_off} size={size}")
        if not isinstance(kind, RT):  # UNMODELLED: the project cannot say what Linux would
            ctx = context_of(env.program.prog_type)
            if ctx is None:
                return unsupported(
                    pc, "program type", env.program.prog_type, "its context's rules (is_valid_access) as a Context"
                )
            return unsupported(
                pc, "context field", f"{ctx.struct}+{insn_off} (size {size})", f"the field in {ctx.kernel}'s rule"
            )
        if insn_off == TSTAMP_TYPE and env.program.prog_type in ("sched_cls", "sched_act"):
            env.tstamp_type_access = True  # kernel: tc_cls_act_is_valid_access sets prog->tstamp_type_access
        if write:
            return None
        if kind is RT.SCALAR:
            return loaded_scalar(size)
        if kind is RT.SOCKET:
            name, nullable = ctx_socket(env.program.prog_type, insn_off, size)
            return Reg(RT.SOCKET, maybe_null=nullable, id=env.new_id() if nullable else 0, btf_name=name)
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
        from framework.verify.graph import reg_record

        lo, hi = off + ptr.var.smin, off + ptr.var.umax + size
        if special := reg_record(env, ptr).field_at(lo, hi - lo):  # kernel: check_map_access
            return reject(pc, f"{special} cannot be accessed directly by load/store")
        if write and value is not None and value.is_pointer:
            return reject(pc, f"R{value_regno_hint(st, value)} leaks addr into map")
        return None if write else loaded_scalar(size)
    if ptr.type is RT.MAP_KEY:
        if write:
            return reject(pc, f"write to change key R{regno} not allowed")
        ksize = env.program.maps[ptr.map_index].key_size
        err = mem_region(pc, regno, ptr, off, size, ksize, "invalid access to map key, key_size={n} off={o} size={s}")
        return err or loaded_scalar(size)
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
        if ptr.btf_id and MEM_ALLOC not in ptr.flags:  # a vmlinux struct (a local object's is MEM_ALLOC)
            return check_ptr_to_btf_access(env, pc, regno, ptr, off, size, write)
        if MEM_PERCPU in ptr.flags:
            return reject(pc, f"R{regno} is ptr_{ptr.btf_name} access percpu memory: off={off}")
        if write and MEM_ALLOC not in ptr.flags:
            return reject(pc, "only read is supported")
        if MEM_ALLOC in ptr.flags:
            from framework.verify.graph import reg_record

            special = reg_record(env, ptr).field_at(off, size)
            if special:  # kernel: btf_struct_access, a local object's special fields
                return reject(pc, f"direct access to {special} is disallowed")
        if ptr.mem_size and off + size > ptr.mem_size:
            return reject(pc, f"access beyond struct {ptr.btf_name} at off {off} size {size}")
        return None if write else loaded_scalar(size)
    if ptr.type is RT.SOCKET:
        # kernel: check_mem_access, type_is_sk_pointer: read only, then check_sock_access (the
        # socket's kind decides which fields)
        if write:
            return reject(pc, f"R{regno} cannot write into {type_str(ptr)}")
        if not sock_access(ptr.btf_name or "sock", off, size):
            return reject(pc, f"R{regno} invalid {type_str(ptr)} access off={off} size={size}")
        if ptr.btf_name == "tcp_sock" and size == 4 and off in TCP_SOCK_UNCONVERTIBLE and env.unconvertible_pc < 0:
            env.unconvertible_pc = pc
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
    # kernel: check_ptr_alignment, check_stack_access_within_bounds with a variable offset, then
    # check_stack_write_var_off or check_stack_read_var_off (check_stack_range_initialized)
    err = stack_alignment(pc, ptr, off, size)
    if err:
        return err
    what = "write to" if write else "read from"
    frame = st.frames[ptr.frameno]
    if ptr.var.is_const:
        # kernel: check_stack_read / check_stack_write, a constant var_off joins the fixed offset
        at = off + s64(ptr.var.var_off.value)
        if at < -MAX_BPF_STACK or at > -1 or at + size > 0:
            return reject(pc, f"invalid {what} stack R{regno} off={off} size={size}")
        grow(env, frame, at)
        if not write:
            return stack_read(env, frame, pc, at, size)
        insn = env.insns.get(pc)
        kind = insn.kind if insn is not None else None
        value = st.cur.regs[insn.src] if insn is not None and kind is Kind.STORE_REG else None
        imm = insn.imm if insn is not None and kind is Kind.STORE_IMM else None
        return stack_write(env, st, frame, pc, at, size, value, imm)
    lo = var_stack_bounds(pc, regno, ptr, off, size, what)
    if isinstance(lo, Reject):
        return lo
    end = off + ptr.var.smax + size
    grow(env, frame, lo)
    if write:
        return _stack_write_var(env, st, frame, pc, lo, end)
    # kernel: check_stack_range_initialized (BPF_READ), then mark_reg_stack_read
    zeros = 0
    for byte in range(lo, end):
        slot = frame.stack.get(slot_index(byte), Slot())
        t = slot.types[(-byte - 1) % SLOT_SIZE]
        zeros += t == ZERO
        if t in (MISC, ZERO) or (t == INVALID and env.allow_uninit_stack) or _spilled_readable(slot):
            continue
        return reject(pc, f"invalid read from stack R{regno} var_off {ptr.var.var_off.strn()}+{byte - lo} size {size}")
    for byte in range(lo, end):
        # kernel: mark_reg_stack_read scratches the slots up to the first byte that is not STACK_ZERO
        env.scratched_slots.add(slot_index(byte))
        if frame.stack.get(slot_index(byte), Slot()).types[(-byte - 1) % SLOT_SIZE] != ZERO:
            break
    return const(0) if zeros == end - lo else _loaded(env, pc, scalar(), size)


def stack_range(env: Env, st: State, pc: int, regno: int, size: int, write: bool, raw: bool) -> Reject | None:
    """A helper's access to `size` bytes of stack at register `regno` (a PTR_TO_STACK)."""
    # kernel: check_helper_mem_access -> check_stack_range_initialized (no alignment is asked of it)
    ptr = st.cur.regs[regno]
    off = ptr.off
    what = "write to" if write else "read from"
    if size == 0:
        return reject(pc, "invalid zero-sized read")
    frame = st.frames[ptr.frameno]
    if ptr.var.is_const:
        lo = hi = off + s64(ptr.var.var_off.value)
        if lo < -MAX_BPF_STACK or lo > -1 or lo + size > 0:
            return reject(pc, f"invalid {what} stack R{regno} off={off} size={size}")
    else:
        found = var_stack_bounds(pc, regno, ptr, off, size, what)
        if isinstance(found, Reject):
            return found
        lo, hi = found, off + ptr.var.smax
        raw = False  # kernel: only an initialised buffer may be reached through a variable offset
    grow(env, frame, lo)
    if raw:
        # kernel: check_stack_range_initialized leaves a raw (MEM_UNINIT) buffer to check_helper_call,
        # which writes it byte by byte (check_mem_access, BPF_B, value_regno -1)
        for byte in range(lo, lo + size):
            if frame.stack.get(slot_index(byte), Slot()).types[(-byte - 1) % SLOT_SIZE] == DYNPTR:
                return reject(pc, f"potential write to dynptr at off={byte} disallowed")
        for byte in range(lo, lo + size):
            err = stack_write(env, st, frame, pc, byte, 1, None, None)
            if err:
                return err
        return None
    for byte in range(lo, hi + size):
        spi = slot_index(byte)
        slot = frame.stack.get(spi, Slot())
        idx = (-byte - 1) % SLOT_SIZE
        t = slot.types[idx]
        if t == MISC:
            continue
        if t == ZERO or (t == INVALID and env.allow_uninit_stack):
            if write:  # the helper may write anything there
                frame.stack[spi] = Slot(slot.types[:idx] + MISC + slot.types[idx + 1 :], slot.spilled)
            continue
        if _spilled_readable(slot):
            if write:  # kernel: __mark_reg_unknown on the spilled register, scrub_spilled_slot
                frame.stack[spi] = scrubbed(slot)
            continue
        if ptr.var.is_const:
            return reject(pc, f"invalid read from stack R{regno} off {lo}+{byte - lo} size {size}")
        return reject(pc, f"invalid read from stack R{regno} var_off {ptr.var.var_off.strn()}+{byte - lo} size {size}")
    return None


def _spilled_readable(slot: Slot) -> bool:
    # kernel: check_stack_range_initialized, a byte of a spilled register (root: allow_ptr_leaks)
    return slot.types[SLOT_SIZE - 1] == SPILL


def _stack_write_var(env: Env, st: State, frame: Frame, pc: int, lo: int, end: int) -> Reject | None:
    # kernel: check_stack_write_var_off (root: allow_ptr_leaks and allow_uninit_stack): every byte
    # in [lo, end) may be written; a zero keeps STACK_ZERO bytes and a spilled constant 0 as they are
    insn = env.insns.get(pc)
    value = None
    if insn is not None and insn.kind is Kind.STORE_REG:
        value = st.cur.regs[insn.src]
    zero = (value is not None and value.is_const and value.const == 0) or (
        insn is not None and insn.kind is Kind.STORE_IMM and insn.imm == 0
    )
    for spi in {slot_index(b) for b in range(lo, end)}:
        if frame.stack.get(spi, Slot()).types[0] == DYNPTR:
            return reject(pc, "cannot overwrite referenced dynptr")  # destroy_if_dynptr_stack_slot
    zero_used = False
    for byte in range(lo, end):
        spi = slot_index(byte)
        env.scratched_slots.add(spi)  # mark_stack_slot_scratched
        slot = frame.stack.get(spi, Slot())
        idx = (-byte - 1) % SLOT_SIZE
        t = slot.types[idx]
        spilled = slot.spilled
        if zero and t == SPILL and spilled is not None and spilled.is_const and spilled.const == 0:
            zero_used = True
            continue
        zero_used |= zero and t == ZERO
        types = list(scrubbed(slot).types)
        types[idx] = ZERO if zero and t == ZERO else MISC
        frame.stack[spi] = Slot("".join(types))
    if zero_used and value is not None and insn is not None:
        mark_chain_precision(env, st, insn.src)  # backtracking does not follow STACK_ZERO
    return None


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
