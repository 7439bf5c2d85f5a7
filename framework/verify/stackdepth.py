"""check_max_stack_depth: callbacks may not throw, and the deepest chain fits in 512 bytes."""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.opcodes import Kind
from framework.verify.cfg import has_tail_call
from framework.verify.env import Env, Reject, reject
from framework.verify.state import MAX_BPF_STACK

TAIL_CALL_STACK = 256  # check_max_stack_depth_subprog: what the frames below a tail-calling subprog may hold


def round_up_stack_depth(depth: int) -> int:
    # kernel: round_up_stack_depth (jit_requested: round_up(depth, 16))
    return (depth + 15) // 16 * 16


def _callees(env: Env, subprog: int) -> list[tuple[int, int, bool]]:
    """(pc, callee subprog, is a callback reference) in pc order."""
    sub = env.program.subprogs[subprog]
    out = []
    for pc in range(sub.start, sub.end):
        insn = env.insns.get(pc)
        if insn is None:
            continue
        if insn.kind is Kind.CALL and insn.src == op.PSEUDO_CALL:
            out.append((pc, env.subprog_of(insn.jump_target(pc)), False))
        elif insn.kind is Kind.LD_IMM64 and insn.src == op.PSEUDO_FUNC:
            out.append((pc, env.subprog_of(insn.jump_target(pc)), True))
    return out


def _throws(env: Env, subprog: int) -> list[int]:
    sub = env.program.subprogs[subprog]
    return [
        pc
        for pc in range(sub.start, sub.end)
        if (i := env.insns.get(pc)) is not None
        and i.kind is Kind.CALL
        and i.src == op.PSEUDO_KFUNC_CALL
        and env.program.kfuncs[i.imm] == "bpf_throw"
    ]


def check_max_stack_depth(env: Env) -> Reject | None:
    # kernel: check_max_stack_depth / check_max_stack_depth_subprog: the main program and each
    # async callback (a timer's, the exception callback) are roots, walked from the last subprog back
    asyncs = env.async_callback_subprogs | ({env.exception_cb} if env.exception_cb >= 0 else set())
    for root in sorted(asyncs | {0}, reverse=True):
        err = _walk(env, root, [], 0, root in asyncs)
        if err:
            return err
    return None


def _walk(env: Env, idx: int, chain: list[int], depth: int, in_cb: bool) -> Reject | None:
    """One subprog of check_max_stack_depth_subprog's walk from a root (`chain`: its callers)."""
    is_cb = in_cb or idx in env.callback_subprogs or idx == env.exception_cb
    if is_cb:
        for pc in _throws(env, idx):
            return reject(pc, f"bpf_throw kfunc (insn {pc}) cannot be called from callback subprog {idx}")
    if idx and has_tail_call(env, idx) and depth >= TAIL_CALL_STACK:
        # kernel: check_max_stack_depth_subprog: a tail call unwinds only its own frame
        return reject(
            env.program.subprogs[idx].start,
            f"tail_calls are not allowed when call stack of previous frames is {depth} bytes. Too large",
        )
    if has_tail_call(env, idx):
        # kernel: a tail-calling subprog and every frame on the path to it are tail_call_reachable
        # (the JIT keeps the tail-call counter through them); the live JIT marks no other frame
        for frame in (*chain, idx):
            if frame == env.exception_cb:
                return reject(env.program.subprogs[idx].start, "cannot tail call within exception cb")
            env.tail_call_reachable.add(frame)
    depth += round_up_stack_depth(env.stack_depth[idx])
    env.deepest_chain = max(env.deepest_chain, depth)
    if depth > MAX_BPF_STACK:
        return reject(
            env.program.subprogs[idx].start, f"combined stack size of {len(chain) + 1} calls is {depth}. Too large"
        )
    for pc, callee, is_ref in _callees(env, idx):
        if not is_ref and callee == env.exception_cb:
            # kernel: check_max_stack_depth_subprog, found once every path was verified
            return reject(pc, f"insn {pc} cannot call exception cb directly")
        if callee in chain or callee == idx:
            continue
        if is_ref and (callee not in env.callback_subprogs or callee in env.async_callback_subprogs):
            continue  # an async callback adds nothing to its caller's stack: it is a root of its own
        err = _walk(env, callee, [*chain, idx], depth, is_cb)
        if err:
            return err
    return None
