"""bpf_timer: the four timer helpers' checks and their async callback, as Linux 6.18 verifies them.

A `struct bpf_timer` is a special field of a map value, found in the value's BTF by
btf_parse_fields (framework.verify.graph.Record.timer_off). The helpers (kernel/bpf/helpers.c)
take a pointer to it (ARG_PTR_TO_TIMER: process_timer_func):

    bpf_timer_init(timer, map, flags)          ARG_PTR_TO_TIMER, ARG_CONST_MAP_PTR, ARG_ANYTHING
    bpf_timer_set_callback(timer, callback)    ARG_PTR_TO_TIMER, ARG_PTR_TO_FUNC
    bpf_timer_start(timer, nsecs, flags)       ARG_PTR_TO_TIMER, ARG_ANYTHING, ARG_ANYTHING
    bpf_timer_cancel(timer)                    ARG_PTR_TO_TIMER

bpf_timer_init's map must be the map the timer lives in (check_func_arg, ARG_CONST_MAP_PTR,
comparing meta->map_ptr and map_uid). bpf_timer_set_callback's callback is an async callback
(push_callback_call -> push_async_cb): it is verified on a fresh state of its own, one frame,
not as a call from the program (the caller carries on at once), with set_timer_callback_state's
arguments callback(map, key, value) and a return of 0 (check_return_code, "At async callback
return"). It runs later, from the timer's softirq, never within the call. The maps that may hold a
timer are checked at map creation (map_check_btf); a program of a tracing type may not use a map
holding one (check_map_prog_compatibility).
"""

from __future__ import annotations

from framework.verify import graph
from framework.verify.env import Env, Reject, reject
from framework.verify.helper_args import arg, expect, typed_arg
from framework.verify.regs import RT, Reg, type_str
from framework.verify.state import State, entry_frame

__all__ = ["TIMER_HELPERS", "check_timer_call", "timer_map_refusal"]

TIMER_INIT, TIMER_SET_CALLBACK, TIMER_START, TIMER_CANCEL = 169, 170, 171, 172
TIMER_HELPERS = frozenset({TIMER_INIT, TIMER_SET_CALLBACK, TIMER_START, TIMER_CANCEL})
ASYNC_CALLBACK_RET = (0, 0)  # set_timer_callback_state: callback_ret_range = retval_range(0, 0)
# kernel: is_tracing_prog_type
TRACING_PROG_TYPES = frozenset({"kprobe", "tracepoint", "perf_event", "raw_tracepoint", "raw_tracepoint_writable"})


def timer_map_refusal(env: Env, map_index: int) -> str | None:
    """check_map_prog_compatibility for a map whose value holds a bpf_timer (None: allowed)."""
    if env.program.prog_type not in TRACING_PROG_TYPES:
        return None
    if graph.reg_record(env, Reg(RT.MAP_VALUE, map_index=map_index)).timer_off < 0:
        return None
    return "tracing progs cannot use bpf_timer yet"


def _timer_arg(env: Env, st: State, pc: int) -> Reg | Reject:
    # kernel: check_func_arg, ARG_PTR_TO_TIMER: check_reg_type (timer_types: PTR_TO_MAP_VALUE),
    # then process_timer_func -> check_map_field_pointer
    r = arg(st, pc, 1)
    if isinstance(r, Reject):
        return r
    err = expect(pc, 1, r, r.type is RT.MAP_VALUE and not r.maybe_null, "map_value")
    if err:
        return err
    return graph.field_pointer(env, pc, r, "timer") or r


def _push_async_cb(env: Env, subprog: int, map_index: int) -> None:
    # kernel: push_callback_call -> push_async_cb: not a copy of the caller's state, a fresh one
    # as do_check_common starts (one frame, no references, no locks), queued; then
    # set_timer_callback_state: R1 = the timer's map (CONST_PTR_TO_MAP), R2 = its key, R3 = its
    # value, R4 and R5 not initialised
    env.callback_subprogs.add(subprog)  # is_cb
    env.async_callback_subprogs.add(subprog)  # is_async_cb
    frame = entry_frame(0, subprog)
    frame.regs[1] = Reg(RT.MAP_PTR, map_index=map_index)
    frame.regs[2] = Reg(RT.MAP_KEY, map_index=map_index)
    # the value has an id of its own, as the live kernel's log shows (R3=map_value(id=N,...))
    frame.regs[3] = Reg(RT.MAP_VALUE, map_index=map_index, id=env.new_id())
    frame.in_async_cb = True  # in_async_callback_fn
    frame.callback_ret = ASYNC_CALLBACK_RET
    cb = State([frame])
    cb.pc = env.program.subprogs[subprog].start
    env.push(cb)


def check_timer_call(env: Env, st: State, pc: int, fid: int) -> Reject | None:
    """A call of one of the four timer helpers: its arguments in register order (check_func_arg),
    and bpf_timer_set_callback's callback queued (check_helper_call -> push_callback_call)."""
    timer = _timer_arg(env, st, pc)
    if isinstance(timer, Reject):
        return timer
    if fid == 169:  # bpf_timer_init(timer, map, flags)
        m = typed_arg(st, pc, 2, RT.MAP_PTR, "map_ptr")
        if isinstance(m, Reject):
            return m
        if m.map_index != timer.map_index:
            # kernel: check_func_arg, ARG_CONST_MAP_PTR with meta->map_ptr set by the timer (inner
            # maps, which the project does not model, have a map_uid other than 0)
            return reject(pc, "timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0")
        flags = arg(st, pc, 3)
        return flags if isinstance(flags, Reject) else None
    if fid == 170:  # bpf_timer_set_callback(timer, callback_fn)
        fn = arg(st, pc, 2)
        if isinstance(fn, Reject):
            return fn
        if fn.type is not RT.FUNC:
            return reject(pc, f"R2 type={type_str(fn)} expected=func")
        _push_async_cb(env, fn.subprog, timer.map_index)
        return None
    if fid == 171:  # bpf_timer_start(timer, nsecs, flags)
        for regno in (2, 3):
            r = arg(st, pc, regno)
            if isinstance(r, Reject):
                return r
        return None
    assert fid == 172, fid  # bpf_timer_cancel(timer)
    return None


def check_async_return(env: Env, st: State, pc: int, regno: int) -> Reject | None:
    """check_return_code in an async callback (frame 0's in_async_callback_fn): R0 at its exit, or
    bpf_throw's R1 (the cookie is the return value when the default exception callback runs)."""
    from framework.verify.precision import mark_chain_precision

    r = st.cur.regs[regno]
    where = "At async callback return"
    if r.type is not RT.SCALAR:
        return reject(pc, f"{where} the register R{regno} is not a known value ({type_str(r)})")
    mark_chain_precision(env, st, regno)
    lo, hi = st.frames[0].callback_ret
    v = r.var
    if lo <= v.smin and v.smax <= hi:
        return None
    # kernel: verbose_invalid_scalar (a bound at its type's limit is not printed)
    bounds = (f" smin={v.smin}" if v.smin > -(1 << 63) else "") + (f" smax={v.smax}" if v.smax < (1 << 63) - 1 else "")
    said = bounds or " unknown scalar value"
    return reject(pc, f"{where} the register R{regno} has{said} should have been in [{lo}, {hi}]")
