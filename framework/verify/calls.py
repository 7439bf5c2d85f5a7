"""Helper calls: argument checks, acquire/release, sections (check_helper_call); kfuncs are
framework.verify.kfunc_calls'."""

from __future__ import annotations

from collections.abc import Callable

from framework.isa.insn import Insn
from framework.platform.helper_protos import proto_for
from framework.platform.helpers import func_id_name
from framework.verify import btf_access, graph, memory
from framework.verify.aux import record_key, record_map
from framework.verify.env import Env, Outcome, Reject, reject, unsupported
from framework.verify.helper_args import (
    arg,
    check_proto_args,
    const_size,
    ctx_arg,
    expect,
    helper_given,
    stack_mem,
    typed_arg,
)
from framework.verify.precision import mark_chain_precision, mark_slot_precision
from framework.verify.refs import acquire, release
from framework.verify.regs import (
    MEM_ALLOC,
    MEM_RINGBUF,
    NOT_INIT,
    RT,
    Reg,
    scalar,
    type_str,
)
from framework.verify.stack import DYNPTR, SLOT_SIZE, Slot, slot_index
from framework.verify.state import Frame, Ref, RefKind, State
from framework.verify.timers import TIMER_HELPERS, check_timer_call

CALLER_SAVED = (1, 2, 3, 4, 5)
SPIN_UNLOCK = 94
TAIL_CALL = 12


def clobber_caller_saved(st: State) -> None:
    # kernel: mark_reg_not_init for BPF_REG_1..5 after a call
    for r in CALLER_SAVED:
        st.cur.regs[r] = NOT_INIT


# ---------------------------------------------------------------- helpers


# helpers whose checks are written out below (WRITTEN, one function each), not read from
# framework.platform.helper_protos:
# map_lookup_elem (a map value or NULL), tail_call (record_func_key, the leak check), the ring
# buffer's and its dynptrs' reserve/submit/discard (references), the socket lookups and
# sk_release, sk_fullsock and tcp_sock (socket pointers), spin_lock/unlock, bpf_loop and
# bpf_for_each_map_elem (callbacks), the timer helpers (framework.verify.timers) and
# skc_to_tcp_sock (a vmlinux BTF pointer: framework.verify.btf_access)
# helpers modelled here whose bpf_func_proto has ret_type RET_VOID: tail_call, spin_lock, spin_unlock,
# ringbuf_submit, ringbuf_discard, ringbuf_submit_dynptr, ringbuf_discard_dynptr
RET_VOID = frozenset({12, 93, 94, 132, 133, 199, 200})


# the map types whose bpf_map_ops have map_for_each_callback (kernel/bpf/arraymap.c, hashtab.c)
FOR_EACH_MAPS = frozenset({"array", "percpu_array", "hash", "percpu_hash", "lru_hash", "lru_percpu_hash"})


def _for_each_map_elem(env: Env, st: State, pc: int) -> Reject | None:
    # kernel: bpf_for_each_map_elem_proto (ARG_CONST_MAP_PTR, ARG_PTR_TO_FUNC,
    # ARG_PTR_TO_STACK_OR_NULL, ARG_ANYTHING), then push_callback_call with
    # set_map_elem_callback_state: callback(map, key, value, ctx) returning 0 or 1
    from framework.verify.frames import push_callback

    regs = st.cur.regs
    m = typed_arg(st, pc, 1, RT.MAP_PTR, "map_ptr")
    if isinstance(m, Reject):
        return m
    fn = typed_arg(st, pc, 2, RT.FUNC, "func")
    if isinstance(fn, Reject):
        return fn
    ctx = arg(st, pc, 3)
    if isinstance(ctx, Reject):
        return ctx
    if not (ctx.type is RT.STACK or (ctx.type is RT.SCALAR and ctx.is_const and ctx.const == 0)):
        return reject(pc, f"R3 type={type_str(ctx)} expected=fp")
    flags = arg(st, pc, 4)
    if isinstance(flags, Reject):
        return flags
    if env.program.maps[m.map_index].map_type not in FOR_EACH_MAPS:
        return reject(pc, "callback function not allowed for map")  # set_map_elem_callback_state
    key = Reg(RT.MAP_KEY, map_index=m.map_index)
    value = Reg(RT.MAP_VALUE, map_index=m.map_index)
    return push_callback(env, st, pc, fn.subprog, [regs[1], key, value, regs[3]], (0, 1))


# What a written-out helper's check gives: R0 after the call (None: an unknown scalar, or nothing
# for a RET_VOID helper), or the refusal.
Written = Reg | Reject | None
Check = Callable[[Env, State, int, int], Written]  # (env, state, pc, func id)
WRITTEN: dict[int, Check] = {}  # func id -> its check, one function per helper (or family)


def _written(*fids: int) -> Callable[[Check], Check]:
    """Register a helper's check under its func ids (its bpf_func_proto, written out)."""

    def register(check: Check) -> Check:
        for fid in fids:
            WRITTEN[fid] = check
        return check

    return register


def check_helper_call(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_helper_call
    fid = insn.imm
    name = func_id_name(fid)
    refused = helper_given(env, pc, fid)
    if refused:
        return refused
    result: Reg = scalar()
    proto = proto_for(fid)
    if proto is not None:  # a helper whose checks are its arguments: framework.platform.helper_protos
        err = check_proto_args(env, st, pc, proto)
        if err:
            return err
    elif (written := WRITTEN.get(fid)) is not None:  # a helper whose checks are written out below
        got = written(env, st, pc, fid)
        if isinstance(got, Reject):
            return got
        result = got if got is not None else result
    else:
        return unsupported(pc, "helper", f"{name}#{fid}", "its bpf_func_proto in the helper table and its semantics")
    clobber_caller_saved(st)
    # release() may have replaced the register list; a RET_VOID helper leaves R0 uninitialised
    void = fid in RET_VOID or (proto is not None and proto.ret == "RET_VOID")
    st.cur.regs[0] = NOT_INIT if void else result
    return pc + 1


@_written(1)
def _map_lookup_elem(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_map_lookup_elem: a map value or NULL (a constant in-range array key: no NULL, get_constant_map_key)."""
    regs = st.cur.regs
    m = typed_arg(st, pc, 1, RT.MAP_PTR, "map_ptr")
    if isinstance(m, Reject):
        return m
    mdef = env.program.maps[m.map_index]
    record_map(env, pc, m.map_index)
    err = stack_mem(env, st, pc, 2, mdef.key_size, False)
    if err:
        return err
    null = True
    key = regs[2]
    if mdef.map_type in ("array", "percpu_array") and key.type is RT.STACK:
        # kernel: get_constant_map_key: a constant in-range key needs no NULL check
        frame = st.frames[key.frameno]
        slot = frame.stack.get(slot_index(key.off), Slot())
        if slot.spilled is not None and slot.spilled.is_const:
            mark_slot_precision(env, st, key.frameno, slot_index(key.off))  # get_constant_map_key
        if (slot.spilled is not None and slot.spilled.is_const and slot.spilled.const < mdef.max_entries) or (
            all(c == "0" for c in slot.types[(-key.off - 1) % 8 - 3 : (-key.off - 1) % 8 + 1]) and key.off % 4 == 0
        ):
            null = False
    result = Reg(RT.MAP_VALUE, map_index=m.map_index, maybe_null=null, id=env.new_id() if null else 0)
    if not result.id and graph.may_point_to_spin_lock(env, result):
        # kernel: check_helper_call, "reg_may_point_to_spin_lock(&regs[BPF_REG_0]) && !regs[BPF_REG_0].id"
        result = result.with_(id=env.new_id())
    return result


@_written(12)
def _tail_call(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_tail_call(ctx, prog_array, index): record_func_map/record_func_key, then check_resource_leak."""
    # kernel: bpf_tail_call_proto (kernel/bpf/core.c): ARG_PTR_TO_CTX, ARG_CONST_MAP_PTR,
    # ARG_ANYTHING; RET_VOID. record_func_key wants a prog_array, then check_resource_leak.
    from framework.verify.throw import check_resource_leak

    ctx = ctx_arg(st, pc, 1)
    if isinstance(ctx, Reject):
        return ctx
    m = typed_arg(st, pc, 2, RT.MAP_PTR, "map_ptr")
    if isinstance(m, Reject):
        return m
    index = arg(st, pc, 3)
    if isinstance(index, Reject):
        return index
    if env.program.maps[m.map_index].map_type != "prog_array":
        return reject(pc, "expected prog array map for tail call")
    record_map(env, pc, m.map_index)  # kernel: record_func_map (the poke descriptor's map)
    if index.is_const and 0 <= index.const < env.program.maps[m.map_index].max_entries:
        mark_chain_precision(env, st, 3)  # kernel: record_func_key, a constant key (a direct tail call)
        record_key(env, pc, index.const)
    else:
        record_key(env, pc, None)
    err = check_resource_leak(env, st, pc, False, True, "tail_call")
    if err:
        return err
    return None


@_written(131)
def _ringbuf_reserve(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_ringbuf_reserve: acquires ringbuf memory of a constant size, or NULL."""
    m = arg(st, pc, 1)
    if isinstance(m, Reject):
        return m
    if m.type is not RT.MAP_PTR or env.program.maps[m.map_index].map_type != "ringbuf":
        return reject(pc, f"R1 type={type_str(m)} expected=map_ptr")
    size = const_size(env, st, pc, 2)
    if isinstance(size, Reject):
        return size
    nid = env.new_id()
    rid = acquire(env, st, pc, "ringbuf")
    del nid
    result = Reg(RT.MEM, flags=frozenset({MEM_RINGBUF}), maybe_null=True, mem_size=size, id=rid, ref_obj_id=rid)
    return result


@_written(132, 133)
def _ringbuf_submit(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_ringbuf_submit / bpf_ringbuf_discard: release the reserved record."""
    r = arg(st, pc, 1)
    if isinstance(r, Reject):
        return r
    err = expect(pc, 1, r, r.type is RT.MEM and MEM_RINGBUF in r.flags and not r.maybe_null, "ringbuf_mem")
    if err:
        return err
    if not r.ref_obj_id:
        return reject(pc, "R1 must be referenced when passed to release function")
    if r.off:
        return reject(pc, "R1 must have zero offset when passed to release func or trusted arg to kfunc")
    err = release(env, st, pc, r.ref_obj_id)
    if err:
        return err
    return None


@_written(198)
def _ringbuf_reserve_dynptr(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_ringbuf_reserve_dynptr: initialises the dynptr at R4 (a reference)."""
    m = arg(st, pc, 1)
    if isinstance(m, Reject):
        return m
    err = _dynptr_init(env, st, pc, 4)
    if err:
        return err
    return None


@_written(199, 200)
def _ringbuf_submit_dynptr(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_ringbuf_submit_dynptr / bpf_ringbuf_discard_dynptr: release the dynptr at R1."""
    err = _dynptr_release(env, st, pc, 1)
    if err:
        return err
    return None


@_written(84, 85, 99)
def _sk_lookup(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_sk_lookup_tcp, bpf_sk_lookup_udp, bpf_skc_lookup_tcp: acquire a socket, or NULL."""
    c = ctx_arg(st, pc, 1)
    if isinstance(c, Reject):
        return c
    size = const_size(env, st, pc, 3)
    if isinstance(size, Reject):
        return size
    err = stack_mem(env, st, pc, 2, size, False)
    if err:
        return err
    env.new_id()
    rid = acquire(env, st, pc, "socket")
    result = Reg(RT.SOCKET, maybe_null=True, id=rid, ref_obj_id=rid)
    return result


@_written(86)
def _sk_release(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_sk_release: releases a referenced socket."""
    r = arg(st, pc, 1)
    if isinstance(r, Reject):
        return r
    err = expect(
        pc,
        1,
        r,
        r.type is RT.SOCKET and not r.maybe_null,
        "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_",
    )
    if err:
        return err
    if not r.ref_obj_id:
        return reject(pc, "R1 must be referenced when passed to release function")
    err = release(env, st, pc, r.ref_obj_id)
    if err:
        return err
    return None


@_written(95, 96)
def _sk_fullsock(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_sk_fullsock / bpf_tcp_sock: a cast (is_ptr_cast_function): a fresh id, the parent's reference."""
    # kernel: is_ptr_cast_function: a fresh id for the NULL check, the parent's ref_obj_id
    r = arg(st, pc, 1)
    if isinstance(r, Reject):
        return r
    err = expect(pc, 1, r, r.type is RT.SOCKET and not r.maybe_null, "sock_common, sock, tcp_sock, xdp_sock")
    if err:
        return err
    kind = "sock" if fid == 95 else "tcp_sock"  # RET_PTR_TO_SOCKET_OR_NULL / RET_PTR_TO_TCP_SOCK_OR_NULL
    result = Reg(RT.SOCKET, maybe_null=True, id=env.new_id(), ref_obj_id=r.ref_obj_id, btf_name=kind)
    return result


@_written(137)
def _skc_to_tcp_sock(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_skc_to_tcp_sock: a vmlinux BTF pointer (framework.verify.btf_access)."""
    got = btf_access.skc_to_tcp_sock(env, st, pc)
    if isinstance(got, Reject):
        return got
    result = got
    return result


@_written(93)
def _spin_lock(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_spin_lock: process_spin_lock, one lock at a time."""
    r = _spin_lock_arg(env, st, pc)
    if isinstance(r, Reject):
        return r
    if st.active_locks:
        return reject(pc, "Locking two bpf_spin_locks are not allowed")
    st.active_locks += 1
    # kernel: process_spin_lock, acquire_lock_state(reg->id, the map): the lock is the allocation's
    st.refs.append(Ref(RefKind.LOCK, r.id, pc, "spin_lock", graph.lock_ptr(r)))
    return None


@_written(SPIN_UNLOCK)
def _spin_unlock(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_spin_unlock: process_spin_lock, the lock taken last."""
    r = _spin_lock_arg(env, st, pc)
    if isinstance(r, Reject):
        return r
    if not st.active_locks:
        return reject(pc, "bpf_spin_unlock without taking a lock")
    held = [x for x in st.refs if x.kind is RefKind.LOCK]
    if held and (held[-1].id, held[-1].ptr) != (r.id, graph.lock_ptr(r)):
        return reject(pc, "bpf_spin_unlock of different lock")  # kernel: process_spin_lock
    st.active_locks -= 1
    st.refs = [r for r in st.refs if r.kind is not RefKind.LOCK]
    graph.invalidate_non_owning_refs(st)  # kernel: process_spin_lock, on unlock
    return None


@_written(181)
def _loop(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_loop: the callback verified as the kernel unrolls it (push_callback_call), inline state recorded."""
    regs = st.cur.regs
    from framework.verify.frames import push_callback

    # kernel: bpf_loop_proto (ARG_ANYTHING, ARG_PTR_TO_FUNC, ARG_PTR_TO_STACK_OR_NULL, ARG_ANYTHING)
    for r in (arg(st, pc, 1), fn := typed_arg(st, pc, 2, RT.FUNC, "func"), ctx := arg(st, pc, 3)):
        if isinstance(r, Reject):
            return r
    assert isinstance(fn, Reg) and isinstance(ctx, Reg)
    if not (ctx.type is RT.STACK or (ctx.type is RT.SCALAR and ctx.is_const and ctx.const == 0)):
        return reject(pc, f"R3 type={type_str(ctx)} expected=fp")
    if isinstance(flags_reg := arg(st, pc, 4), Reject):
        return flags_reg
    # kernel: update_loop_inline_state (flags zero and one callback on every path)
    flags = regs[4]
    old = env.loop_inline.get(pc, (fn.subprog, True))
    fit = old[1] and old[0] == fn.subprog and flags.is_const and flags.const == 0
    env.loop_inline[pc] = (fn.subprog, fit)
    # kernel: check_helper_call, BPF_FUNC_loop: unroll only while the depth is below nr_loops
    # (R1 is marked precise: the verifier relies on its value); loop_flag_is_zero marks R4
    mark_chain_precision(env, st, 1)
    if flags.is_const and flags.const == 0:
        mark_chain_precision(env, st, 4)
    if st.cur.callback_depth < regs[1].var.umax:
        err = push_callback(env, st, pc, fn.subprog, [scalar(), regs[3]], (0, 1))
        if err:
            return err
    else:
        st.cur.callback_depth = 0
        env.log.append(f"frame{st.curframe} bpf_loop iteration limit reached")
    return None


@_written(164)
def _for_each(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_for_each_map_elem: the callback on a map that has map_for_each_callback."""
    err = _for_each_map_elem(env, st, pc)
    if err:
        return err
    return None


@_written(*TIMER_HELPERS)
def _timer(env: Env, st: State, pc: int, fid: int) -> Written:
    """bpf_timer_init, bpf_timer_set_callback, bpf_timer_start, bpf_timer_cancel (framework.verify.timers)."""
    err = check_timer_call(env, st, pc, fid)
    if err:
        return err
    return None


def _spin_lock_arg(env: Env, st: State, pc: int) -> Reg | Reject:
    # kernel: check_func_arg, ARG_PTR_TO_SPIN_LOCK (spin_lock_types: a map value, or an object from
    # bpf_obj_new), then process_spin_lock's checks, for the lock and the unlock alike
    r = arg(st, pc, 1)
    if isinstance(r, Reject):
        return r
    local = r.type is RT.BTF_ID and MEM_ALLOC in r.flags
    if (r.type is not RT.MAP_VALUE and not local) or r.maybe_null:
        return reject(pc, f"R1 type={type_str(r)} expected=map_value")
    return graph.field_pointer(env, pc, r, "spin_lock") or r


def _dynptr_init(env: Env, st: State, pc: int, regno: int) -> Reject | None:
    # kernel: process_dynptr_func (MEM_UNINIT) -> mark_stack_slots_dynptr
    r = st.cur.regs[regno]
    if r.type is not RT.STACK or r.off % SLOT_SIZE:
        return reject(pc, f"arg {regno - 1} expected pointer to stack or const struct bpf_dynptr")
    err = memory.stack_bounds(env, st, pc, regno, r.off, 16, "write to")
    if err:
        return err
    frame = st.frames[r.frameno]
    memory.grow(env, frame, r.off)
    did = env.new_id()
    rid = acquire(env, st, pc, "dynptr", r.off if r.frameno == st.curframe else None)
    d = Reg(RT.DYNPTR, id=did, ref_obj_id=rid)
    spi = slot_index(r.off)
    frame.stack[spi] = Slot(DYNPTR * 8, d)
    frame.stack[spi - 1] = Slot(DYNPTR * 8, None)
    return None


def dynptr_at(st: State, regno: int) -> tuple[Frame, Reg] | None:
    """The frame and dynptr an argument register points to, if it points to an initialized one
    (kernel: process_dynptr_func's is_dynptr_reg_valid_init)."""
    r = st.cur.regs[regno]
    frame = st.frames[r.frameno] if r.type is RT.STACK else None
    slot = frame.stack.get(slot_index(r.off), Slot()) if frame else None
    if frame is None or slot is None or slot.types[0] != DYNPTR or slot.spilled is None:
        return None
    return frame, slot.spilled


def _dynptr_release(env: Env, st: State, pc: int, regno: int) -> Reject | None:
    # kernel: unmark_stack_slots_dynptr
    found = dynptr_at(st, regno)
    if found is None:
        return reject(pc, f"Expected an initialized dynptr as arg #{regno - 1}")
    frame, dynptr = found
    r = st.cur.regs[regno]
    ref = dynptr.ref_obj_id
    spi = slot_index(r.off)
    frame.stack[spi] = Slot()
    frame.stack[spi - 1] = Slot()
    return release(env, st, pc, ref)


WRITTEN_OUT = frozenset(WRITTEN)  # the helpers whose checks are written out here
