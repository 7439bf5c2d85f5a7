"""Checks before exploration: check_subprogs, check_cfg, and the exception callback's discovery."""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.opcodes import Kind
from framework.load.btf import Kind as BtfKind
from framework.load.program import Linkage
from framework.verify.env import Env, Reject, reject

_TAG = "exception_callback:"


def check_subprogs(env: Env) -> Reject | None:
    # kernel: check_subprogs (jump range, last insn of each subprog)
    n = len(env.program.slots)
    for sub in env.program.subprogs:
        for pc in range(sub.start, sub.end):
            insn = env.insns.get(pc)
            if insn is None:
                continue
            if insn.kind in (Kind.JA, Kind.JCOND, Kind.MAY_GOTO):
                t = insn.jump_target(pc)
                if t < sub.start or t >= sub.end or t >= n:
                    return reject(pc, f"jump out of range from insn {pc} to {t}")
        last = max((pc for pc in env.insns if sub.start <= pc < sub.end), default=sub.start)
        lk = env.insns[last].kind if last in env.insns else None
        if lk not in (Kind.EXIT, Kind.JA):
            return reject(last, "last insn is not an exit or jmp")
    return None


TAIL_CALL = 12  # BPF_FUNC_tail_call


def has_tail_call(env: Env, subprog: int) -> bool:
    """check_subprogs' has_tail_call: the subprog calls helper bpf_tail_call."""
    sub = env.program.subprogs[subprog]
    return any(
        (i := env.insns.get(pc)) is not None and i.kind is Kind.CALL and i.src == op.CALL_HELPER and i.imm == TAIL_CALL
        for pc in range(sub.start, sub.end)
    )


def check_abnormal_return(env: Env) -> Reject | None:
    # kernel: check_btf_info -> check_abnormal_return: with no func_info, no subprog but main may
    # leave through LD_ABS/LD_IND or a tail call
    if env.program.func_info:
        return None
    for idx, sub in enumerate(env.program.subprogs[1:], start=1):
        pcs = range(sub.start, sub.end)
        if any((i := env.insns.get(pc)) is not None and i.kind is Kind.LD_PKT for pc in pcs):
            return reject(sub.start, "LD_ABS is not allowed in subprogs without BTF")
        if has_tail_call(env, idx):
            return reject(sub.start, "tail_call is not allowed in subprogs without BTF")
    return None


def check_cfg(env: Env) -> Reject | None:
    # kernel: check_cfg (every insn reachable, no jump into ld_imm64's second slot)
    seen: set[int] = set()
    todo = [s.start for s in env.program.subprogs]
    todo += [c.pad for c in env.program.cleanup]  # the edges from covered calls to their landing pads
    while todo:
        pc = todo.pop()
        if pc in seen:
            continue
        insn = env.insns.get(pc)
        if insn is None:
            return reject(pc, f"jump into the middle of ldimm64 insn {pc - 1}")
        seen.add(pc)
        if insn.kind is Kind.EXIT:
            continue
        if insn.kind is Kind.JA:
            todo.append(insn.jump_target(pc))
            continue
        if insn.kind in (Kind.JCOND, Kind.MAY_GOTO):
            todo.append(insn.jump_target(pc))
        if insn.kind is Kind.CALL and insn.src == op.PSEUDO_CALL:
            todo.append(insn.jump_target(pc))
        todo.append(pc + insn.slots)
    for pc in sorted(env.insns):
        if pc not in seen:
            return reject(pc, f"unreachable insn {pc}")
    return None


def find_exception_callback(env: Env) -> int | Reject:
    """The exception callback's subprog index (-1 when none) from the main prog's decl tags."""
    # kernel: bpf_find_exception_callback_insn_off
    prog = env.program
    main = prog.subprogs[0]
    if not prog.btf or main.btf_id is None:
        return -1
    btf = env.parsed_btf()
    tags = [v for idx, v in btf.decl_tags(main.btf_id) if idx == -1 and v.startswith(_TAG)]
    if not tags:
        return -1
    if len(tags) > 1:
        return reject(0, "multiple exception callback tags for main subprog")
    name = tags[0][len(_TAG) :]
    fid = btf.find(name, BtfKind.FUNC)
    if fid is None:
        return reject(0, f"exception callback '{name}' could not be found in BTF")
    if btf.type(fid).linkage != 1:
        return reject(0, f"exception callback '{name}' must have global linkage")
    for i, sub in enumerate(prog.subprogs):
        if sub.name == name:
            proto = btf.type(btf.type(fid).type)
            ret = proto.type
            if ret == 0 or btf.kind(btf.skip_mods(ret)) not in (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64):
                return reject(0, f"Global function {name}() doesn't return scalar. Only those are supported.")
            if sub.linkage is not Linkage.GLOBAL:
                return reject(0, f"exception callback '{name}' must have global linkage")
            return i
    return reject(0, f"exception callback '{name}' could not be found in BTF")
