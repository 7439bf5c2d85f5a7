"""One step per instruction Kind: what do_check does with each instruction (Linux 6.18).

`STEPS` maps every `Kind` to its step: loads, stores and atomics (check_mem_access,
check_atomic), calls (check_helper_call, check_kfunc_call, check_func_call, bpf_throw) and exit
(prepare_func_exit, check_return_code); ALU and jumps are framework.verify.ops'. The walk over
paths that calls them is framework.verify.analyzer's.
"""

from __future__ import annotations

from collections.abc import Callable

from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind
from framework.platform.kfuncs import KFUNCS
from framework.verify import calls, frames, kfunc_calls, ops, timers
from framework.verify.arith import coerce_to_size
from framework.verify.aux import save_ptr_type
from framework.verify.env import STOP, Env, Outcome, Reject, reject, unsupported
from framework.verify.graph import GRAPH_API
from framework.verify.memory import check_mem_access
from framework.verify.precision import mark_chain_precision
from framework.verify.regs import RT, Reg, scalar, type_str
from framework.verify.retcode import check_return_code, return_range
from framework.verify.state import State
from framework.verify.throw import check_resource_leak, process_throw, unwind, unwind_resume

Step = Callable[[Env, State, int, Insn], Outcome]


def _step_load(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_load_mem
    base = ops.read_reg(st, pc, insn.src)
    if isinstance(base, Reject):
        return base
    if insn.dst == 10:
        return reject(pc, "frame pointer is read only")  # check_reg_arg(dst, DST_OP_NO_MARK), before the access
    res = check_mem_access(env, st, pc, insn.src, insn.off, insn.size, False, None, None)
    if isinstance(res, Reject):
        return res
    assert isinstance(res, Reg)
    if insn.code & 0xE0 == op.MEMSX and insn.size < 8 and res.type is RT.SCALAR and base.type is not RT.STACK:
        # kernel: check_mem_access, coerce_reg_to_size_sx after any sign-extending load (the stack's: stack_read)
        res = res.with_(var=coerce_to_size(res.var, insn.size, signed=True))
    st.cur.regs[insn.dst] = res
    return save_ptr_type(env, pc, base, True) or pc + 1


def _step_store_reg(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_store_reg
    val = ops.read_reg(st, pc, insn.src)
    if isinstance(val, Reject):
        return val
    base = ops.read_reg(st, pc, insn.dst)
    if isinstance(base, Reject):
        return base
    if base.type is RT.STACK and (base.off + insn.off) % 8 and val.is_const and val.const == 0:
        # kernel: check_stack_write_fixed_off, a misaligned zero becomes STACK_ZERO, which
        # backtracking cannot follow, so the register is marked precise here
        mark_chain_precision(env, st, insn.src)
    res = check_mem_access(env, st, pc, insn.dst, insn.off, insn.size, True, val, None)
    return res if isinstance(res, Reject) else save_ptr_type(env, pc, base, False) or pc + 1


def _step_store_imm(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_mem_access from do_check_insn (BPF_ST)
    base = ops.read_reg(st, pc, insn.dst)
    if isinstance(base, Reject):
        return base
    res = check_mem_access(env, st, pc, insn.dst, insn.off, insn.size, True, None, insn.imm)
    return res if isinstance(res, Reject) else save_ptr_type(env, pc, base, False) or pc + 1


def _step_atomic(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_atomic (dispatch on imm)
    if insn.imm == op.LOAD_ACQ:
        return _atomic_load(env, st, pc, insn)
    if insn.imm == op.STORE_REL:
        return _atomic_store(env, st, pc, insn)
    return _atomic_rmw(env, st, pc, insn)


def _atomic_rmw(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_atomic_rmw (read, then write, through dst; aligned on every pointer type)
    for regno in (insn.src, insn.dst, *((0,) if insn.imm == op.CMPXCHG else ())):
        r = ops.read_reg(st, pc, regno)
        if isinstance(r, Reject):
            return r
    ptr = st.cur.regs[insn.dst]
    if not _atomic_ptr_type_ok(ptr):
        return reject(pc, f"BPF_ATOMIC stores into R{insn.dst} {type_str(ptr)} is not allowed")
    load_reg = (0 if insn.imm == op.CMPXCHG else insn.src) if insn.imm & op.FETCH else -1
    if load_reg == 10:
        return reject(pc, "frame pointer is read only")
    if load_reg >= 0:
        # kernel: check_reg_arg(load_reg, DST_OP) marks it unknown before the access (which may be through it)
        st.cur.regs[load_reg] = scalar()
    res = check_mem_access(env, st, pc, insn.dst, insn.off, insn.size, False, None, None, strict=True)
    if isinstance(res, Reject):
        return res
    if load_reg >= 0:
        assert isinstance(res, Reg)
        st.cur.regs[load_reg] = res  # the second check_mem_access, BPF_READ into load_reg
    res2 = check_mem_access(env, st, pc, insn.dst, insn.off, insn.size, True, scalar(), None, strict=True)
    if isinstance(res2, Reject):
        return res2
    return pc + 1


def _atomic_load(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_atomic_load: atomic_ptr_type_ok of src, then check_load_mem (strict alignment)
    base = ops.read_reg(st, pc, insn.src)
    if isinstance(base, Reject):
        return base
    if not _atomic_ptr_type_ok(base):
        return reject(pc, f"BPF_ATOMIC loads from R{insn.src} {type_str(base)} is not allowed")
    if insn.dst == 10:
        return reject(pc, "frame pointer is read only")  # check_load_mem, before the access
    res = check_mem_access(env, st, pc, insn.src, insn.off, insn.size, False, None, None, strict=True)
    if isinstance(res, Reject):
        return res
    assert isinstance(res, Reg)
    st.cur.regs[insn.dst] = res
    return save_ptr_type(env, pc, base, True) or pc + 1


def _atomic_store(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_atomic_store: check_store_reg (strict alignment), then atomic_ptr_type_ok of dst
    val = ops.read_reg(st, pc, insn.src)
    if isinstance(val, Reject):
        return val
    base = ops.read_reg(st, pc, insn.dst)
    if isinstance(base, Reject):
        return base
    res = check_mem_access(env, st, pc, insn.dst, insn.off, insn.size, True, val, None, strict=True)
    if isinstance(res, Reject):
        return res
    if not _atomic_ptr_type_ok(base):
        return reject(pc, f"BPF_ATOMIC stores into R{insn.dst} {type_str(base)} is not allowed")
    return save_ptr_type(env, pc, base, False) or pc + 1


def _atomic_ptr_type_ok(ptr: Reg) -> bool:
    # kernel: atomic_ptr_type_ok (ctx, packet and socket pointers refused; the model has no
    # flow keys or arena pointers)
    return ptr.type not in (RT.CTX, RT.PACKET, RT.PACKET_META, RT.SOCKET)


def _step_ld_pkt(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: check_ld_abs
    if st.cur.regs[6].type is not RT.CTX:
        return reject(pc, "at the time of BPF_LD_ABS|IND R6 != pointer to skb")
    err = check_resource_leak(env, st, pc, False, True, "BPF_LD_[ABS|IND]")
    if err:
        return err
    if insn.code & 0xE0 == op.IND:  # BPF_IND only: in class LD the 0x08 bit is BPF_H's size, not BPF_X
        r = ops.read_reg(st, pc, insn.src)
        if isinstance(r, Reject):
            return r
    calls.clobber_caller_saved(st)
    st.cur.regs[0] = scalar()
    return pc + 1


def _step_callx(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    return reject(pc, f"unknown opcode {insn.code:02x}")


def _step_call(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: do_check_insn, BPF_CALL
    if st.active_locks:
        unlock = insn.src == 0 and insn.imm == calls.SPIN_UNLOCK
        # kernel: kfunc_spin_allowed (the graph kfuncs)
        kfunc_ok = insn.src == op.PSEUDO_KFUNC_CALL and insn.off == 0 and kfunc_calls.kfunc_name(env, insn) in GRAPH_API
        if (insn.src == 0 and not unlock) or (insn.src == op.PSEUDO_KFUNC_CALL and not kfunc_ok):
            return reject(pc, "function calls are not allowed while holding a lock")
    if insn.src == op.PSEUDO_CALL:
        return frames.check_func_call(env, st, pc, insn.jump_target(pc))
    if insn.src == op.PSEUDO_KFUNC_CALL:
        name = kfunc_calls.kfunc_name(env, insn)
        if name not in KFUNCS:  # the kernel would find it in vmlinux BTF; the project has only its table
            return unsupported(pc, "kfunc", name, "its BTF prototype and flags in the kfunc table and its semantics")
        if not kfunc_calls.kfunc_allowed(env.program.prog_type, name):
            return reject(pc, f"calling kernel function {name} is not allowed")
        if name == "bpf_throw":
            return _bpf_throw(env, st, pc)
        if name == "bpf_unwind_resume":
            return unwind_resume(env, st, pc)
        return kfunc_calls.check_kfunc_call(env, st, pc, insn)
    out = calls.check_helper_call(env, st, pc, insn)
    if insn.imm == calls.TAIL_CALL and st.curframe and isinstance(out, int):
        # kernel: a tail call in a subprog returns from it when it succeeds (the hidden exit
        # visit_tailcall_insn adds): the failed call's path is pushed, this one leaves the
        # subprog now with whatever the target returned
        fallthrough = st.copy()
        fallthrough.pc = out
        env.push(fallthrough)
        st.cur.regs[0] = scalar()
        return frames.prepare_func_exit(env, st, pc)
    return out


def _bpf_throw(env: Env, st: State, pc: int) -> Outcome:
    # kernel: check_kfunc_call, is_bpf_throw_kfunc
    env.throws_reached.add(pc)
    r1 = st.cur.regs[1]
    if r1.type is RT.NOT_INIT:
        return reject(pc, "R1 !read_ok")
    if env.exception_cb < 0 and st.frames[0].in_async_cb:
        # kernel: check_return_code(env, BPF_REG_1, "R1"), frame 0 an async callback's
        err = timers.check_async_return(env, st, pc, 1)
        if err:
            return err
    elif env.exception_cb < 0:
        # kernel: check_return_code(env, BPF_REG_1, "R1")
        _mark_return(env, st, 1)
        err = check_return_code(env.program.prog_type, pc, r1, "R1", attach=env.program.expected_attach_type)
        if err:
            return err
    return unwind(env, st, pc) if env.program.cleanup else process_throw(env, st, pc)


def _mark_return(env: Env, st: State, regno: int) -> None:
    # kernel: check_return_code (a restricted return value is checked by range: precise)
    if return_range(env.program.prog_type, env.program.expected_attach_type) is not None:
        mark_chain_precision(env, st, regno)


def _step_exit(env: Env, st: State, pc: int, insn: Insn) -> Outcome:
    # kernel: process_bpf_exit_full
    err = check_resource_leak(env, st, pc, False, st.curframe == 0, "BPF_EXIT instruction in main prog")
    if err:
        return err
    if st.curframe:
        return frames.prepare_func_exit(env, st, pc)
    r0 = st.cur.regs[0]
    if r0.type is RT.NOT_INIT:
        return reject(pc, "R0 !read_ok")
    # kernel: check_return_code
    if st.cur.in_async_cb:  # frame->in_async_callback_fn: its callback_ret_range
        return timers.check_async_return(env, st, pc, 0) or STOP
    if st.cur.subprog and not st.cur.in_exception_cb and r0.type is not RT.SCALAR:
        return reject(pc, f"At subprogram exit the register R0 is not a scalar value ({r0.type.value})")
    if st.cur.subprog == 0 or st.cur.in_exception_cb:
        _mark_return(env, st, 0)
        err = check_return_code(env.program.prog_type, pc, r0, "R0", attach=env.program.expected_attach_type)
        if err:
            return err
    return STOP


STEPS: dict[Kind, Step] = {
    Kind.ALU: ops.step_alu,
    Kind.NEG: ops.step_neg,
    Kind.END: ops.step_end,
    Kind.JA: ops.step_ja,
    Kind.JCOND: ops.step_jcond,
    Kind.MAY_GOTO: ops.step_may_goto,
    Kind.CALL: _step_call,
    Kind.CALLX: _step_callx,
    Kind.EXIT: _step_exit,
    Kind.LD_IMM64: ops.step_ld_imm64,
    Kind.LD_PKT: _step_ld_pkt,
    Kind.LOAD: _step_load,
    Kind.STORE_IMM: _step_store_imm,
    Kind.STORE_REG: _step_store_reg,
    Kind.ATOMIC: _step_atomic,
}
