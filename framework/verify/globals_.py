"""Global subprogs from BTF: argument kinds (btf_prepare_func_args) and the throw-reachability summary."""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.opcodes import Kind
from framework.load.btf import Kind as BtfKind
from framework.verify.env import Env


def arg_types(env: Env, subprog: int) -> list[str]:
    """'ctx', 'scalar' or 'mem' per argument of a global subprog's BTF prototype."""
    # kernel: btf_prepare_func_args
    sub = env.program.subprogs[subprog]
    if sub.btf_id is None or not env.program.btf:
        return []
    btf = env.parsed_btf()
    proto = btf.type(btf.type(sub.btf_id).type)
    kinds = []
    for p in proto.params():
        t = btf.skip_mods(p.type)
        if btf.kind(t) is BtfKind.PTR:
            target = btf.skip_mods(btf.type(t).type)
            kinds.append("ctx" if btf.name(target) == "__sk_buff" else "mem")
        else:
            kinds.append("scalar")
    return kinds


def returns_scalar(env: Env, subprog: int) -> bool:
    """Whether a global subprog's BTF prototype returns an integer or enum (void does not)."""
    # kernel: btf_prepare_func_args ("Global function %s() doesn't return scalar")
    sub = env.program.subprogs[subprog]
    if sub.btf_id is None or not env.program.btf:
        return True
    btf = env.parsed_btf()
    ret = btf.type(btf.type(sub.btf_id).type).type
    return ret != 0 and btf.kind(btf.skip_mods(ret)) in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64)


def might_throw(env: Env) -> set[int]:
    """Subprogs from which a bpf_throw is reachable through calls (the 2026 might_throw summary)."""
    subs = env.program.subprogs
    throws: set[int] = set()
    calls: dict[int, set[int]] = {i: set() for i in range(len(subs))}
    for pc, insn in env.insns.items():
        if insn.kind is not Kind.CALL:
            continue
        here = env.subprog_of(pc)
        if insn.src == op.PSEUDO_KFUNC_CALL and env.program.kfuncs[insn.imm] == "bpf_throw":
            throws.add(here)
        elif insn.src == op.PSEUDO_CALL:
            calls[here].add(env.subprog_of(insn.jump_target(pc)))
    changed = True
    while changed:
        changed = False
        for s, callees in calls.items():
            if s not in throws and callees & throws:
                throws.add(s)
                changed = True
    return throws
