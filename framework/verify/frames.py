"""Calls between BPF functions: new frames, callbacks, global calls, returns (check_func_call, prepare_func_exit)."""

from __future__ import annotations

from framework.load.program import Linkage
from framework.verify.env import Env, Outcome, Reject, reject
from framework.verify.precision import mark_chain_precision
from framework.verify.regs import NOT_INIT, RT, Reg, scalar
from framework.verify.retcode import invalid_scalar
from framework.verify.state import MAX_CALL_FRAMES, State, entry_frame


def _new_frame(env: Env, st: State, pc: int, subprog: int, args: list[Reg]) -> Reject | None:
    # kernel: setup_func_entry
    if st.curframe + 1 >= MAX_CALL_FRAMES:
        return reject(pc, f"the call stack of {st.curframe + 2} frames is too deep")
    frame = entry_frame(st.curframe + 1, subprog, pc)
    for i, a in enumerate(args, start=1):
        frame.regs[i] = a
    st.frames.append(frame)
    return None


def push_callback(env: Env, st: State, pc: int, subprog: int, args: list[Reg], ret: tuple[int, int]) -> Reject | None:
    # kernel: push_callback_call: the callback's entry is queued, the caller carries on after the call
    env.callback_subprogs.add(subprog)
    cb = st.copy()
    err = _new_frame(env, cb, pc, subprog, args)
    if err:
        return err
    cb.callback_unroll_depth += 1
    cb.frames[-2].callback_depth += 1
    st.cur.callback_depth = 0
    cb.cur.in_callback = True
    cb.cur.callback_ret = ret
    cb.pc = env.program.subprogs[subprog].start
    env.push(cb)
    return None


def check_func_call(env: Env, st: State, pc: int, target: int) -> Outcome:
    # kernel: check_func_call
    subprog = env.subprog_of(target)
    sub = env.program.subprogs[subprog]
    if sub.linkage is Linkage.GLOBAL:
        if st.active_locks:
            return reject(
                pc, "global function calls are not allowed while holding a lock,", "use static function instead"
            )
        from framework.verify.globals_ import arg_types, returns_scalar

        if not returns_scalar(env, subprog):  # kernel: btf_check_subprog_call fails on btf_prepare_func_args
            return reject(
                pc,
                f"Global function {sub.name}() doesn't return scalar. Only those are supported.",
                f"Caller passes invalid args into func#{subprog} ('{sub.name}')",
            )
        for i, kind in enumerate(arg_types(env, subprog), start=1):
            r = st.cur.regs[i]
            if kind == "ctx" and r.type is not RT.CTX:
                return reject(pc, f"arg#{i - 1} expects pointer to ctx")
            if kind == "scalar" and r.type is not RT.SCALAR:
                return reject(pc, f"R{i} is not a scalar")
        env.log.append(f"Func#{subprog} ('{sub.name}') is global and assumed valid.")
        if subprog not in env.global_called:
            env.global_called.append(subprog)
        if subprog in env.might_throw:
            # 3d562d35a044 "bpf: Check global subprog exception paths": the call may throw, so it is
            # also an exception exit here; the kernel logs nothing more than the leak it finds
            from framework.verify.throw import process_throw, unwind

            thrown = st.copy()
            if env.program.cleanup:  # the throw path goes on into the landing pads
                res = unwind(env, thrown, pc, via_global=True)
                if isinstance(res, int):
                    thrown.pc = res
                    thrown.global_throw = True  # RFC PATCH 02/14: no pruning on the throw path
                    env.push(thrown)
            else:
                res = process_throw(env, thrown, pc, via_global=True)
            if isinstance(res, Reject):
                return res
        for regno in (1, 2, 3, 4, 5):
            st.cur.regs[regno] = NOT_INIT
        st.cur.regs[0] = scalar()
        return pc + 1
    args = [st.cur.regs[i] for i in (1, 2, 3, 4, 5)]
    caller = st.cur
    err = _new_frame(env, st, pc, subprog, args)
    if err:
        return err
    for regno in (0, 1, 2, 3, 4, 5):
        caller.regs[regno] = NOT_INIT  # kernel: check_func_call -> clear_caller_saved_regs
    return target


def prepare_func_exit(env: Env, st: State, pc: int) -> Outcome:
    # kernel: prepare_func_exit
    callee = st.cur
    r0 = callee.regs[0]
    if callee.in_callback:
        if r0.type is not RT.SCALAR:
            return reject(pc, f"At callback return the register R0 is not a known value ({r0.type.value})")
        lo, hi = callee.callback_ret
        mark_chain_precision(env, st, 0)  # kernel: prepare_func_exit relies on R0's precise value
        if r0.var.smin < lo or r0.var.smax > hi:
            return reject(pc, invalid_scalar("At callback return", "R0", r0.var.smin, r0.var.smax, lo, hi))
        # kernel: prepare_func_exit for a callback: back to the call insn, which is visited again
        # (a checkpoint there prunes it unless the callback changed what the caller sees)
        st.frames.pop()
        # kernel: prepare_func_exit -> widen_imprecise_scalars against the previous visit of the
        # call site: imprecise scalars the callback changed are widened, so the call site converges
        from framework.verify.checkpoint import prev_entry, widen_imprecise_scalars

        prev = prev_entry(st, callee.callsite, include_parent=True)
        if prev is not None:
            widen_imprecise_scalars(prev, st)
        return callee.callsite
    if r0.type is RT.STACK and r0.frameno == callee.frameno:
        return reject(pc, "cannot return stack pointer to the caller")
    st.frames.pop()
    caller = st.cur
    for r in (1, 2, 3, 4, 5):
        caller.regs[r] = NOT_INIT
    caller.regs[0] = r0
    return callee.callsite + 1
