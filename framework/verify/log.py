"""The verifier log's formats: register and stack state as Linux 6.18 prints them, and statistics.

print_reg_state / print_verifier_state print one frame: the registers (and, unless
everything is asked for, only those the last instruction touched: "scratched"),
the stack slots, `refs=` and ` cb`. print_insn_state puts that after the
instruction's own line, aligned to a column, or on a line of its own when
something else was printed in between; `log_step` is do_check's line per instruction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind
from framework.load.program import MapDef
from framework.platform.helpers import HELPER_NARGS
from framework.platform.kfuncs import KFUNCS
from framework.verify import kfunc_calls
from framework.verify.env import Env
from framework.verify.precision import stack_slot
from framework.verify.regs import RT, Reg, type_str
from framework.verify.stack import DYNPTR, INVALID, ITER, SPILL, Slot
from framework.verify.state import Frame, State


def reg_text(r: Reg, frameno: int, maps: Sequence[MapDef]) -> str:
    """print_reg_state: `P5`, `scalar(id=1,smin=...)`, `fp-8`, `fp[0]-8`, `map_value(map=m,ks=4,vs=8)`."""
    if r.type is RT.SCALAR:
        return r.var.render(precise=r.precise, reg_id=r.id)
    name = type_str(r)
    if r.type is RT.STACK:
        where = f"[{r.frameno}]" if r.frameno != frameno else ""
        if r.var.is_const:
            return f"{name}{where}{r.off + r.var.var_off.value}"
        name += where
    if r.type is RT.BTF_ID:
        name += r.btf_name
    parts = []
    if r.id:
        parts.append(f"id={r.id}")
    if r.ref_obj_id:
        parts.append(f"ref_obj_id={r.ref_obj_id}")
    if r.type in (RT.MAP_VALUE, RT.MAP_KEY, RT.MAP_PTR) and 0 <= r.map_index < len(maps):
        m = maps[r.map_index]
        if m.name:
            parts.append(f"map={m.name}")
        parts.append(f"ks={m.key_size},vs={m.value_size}")
    if r.off:
        parts.append(f"off={r.off}")
    if r.type in (RT.PACKET, RT.PACKET_META):
        parts.append(f"r={r.range}" if r.range >= 0 else f"r={r.range & 0xFFFFFFFFFFFFFFFF:#x}")
    if r.type is RT.MEM:
        parts.append(f"sz={r.mem_size}")
    if r.var.is_const:
        if r.var.var_off.value:
            parts.append(f"imm={r.var.var_off.value:x}")
    else:
        inner = r.var.render()
        if inner.startswith("scalar(") and len(inner) > len("scalar()"):
            parts.append(inner[len("scalar(") : -1])
    return f"{name}({','.join(parts)})"


def slot_text(spi: int, s: Slot, frameno: int, maps: Sequence[MapDef]) -> str | None:
    """One stack slot as print_verifier_state prints it, or None where it prints nothing."""
    if s.types == INVALID * 8:
        return None
    where = f"fp{-(spi + 1) * 8}"
    t = s.types[7]
    if t == SPILL and s.spilled is not None:
        # MISC/ZERO/INVALID bytes above a narrower spill come first
        head = s.types[: s.types.index(SPILL)]
        return f"{where}={head}{reg_text(s.spilled, frameno, maps)}"
    if t == ITER or s.types[0] == ITER:
        if s.spilled is None or not s.spilled.ref_obj_id:
            return None
        state = "active" if s.spilled.iter_active else "drained"
        return f"{where}=iter_num(ref_id={s.spilled.ref_obj_id},state={state},depth={s.spilled.iter_depth})"
    if t == DYNPTR or s.types[0] == DYNPTR:
        if s.spilled is None or s.spilled.type is not RT.DYNPTR:
            return None
        parts = [f"id={s.spilled.id}"] if s.spilled.id else []
        if s.spilled.ref_obj_id:
            parts.append(f"ref_id={s.spilled.ref_obj_id}")
        return f"{where}=dynptr_{s.spilled.btf_name or 'ringbuf'}({','.join(parts)})"
    return f"{where}={s.types}"


def frame_state(
    st: State,
    frame: Frame,
    maps: Sequence[MapDef],
    regs: set[int] | None = None,
    slots: set[int] | None = None,
) -> str:
    """print_verifier_state for one frame; `regs`/`slots` limit it to what was scratched."""
    out = [f" frame{frame.frameno}:"] if frame.frameno else []
    for i, r in enumerate(frame.regs):
        if r.type is not RT.NOT_INIT and (regs is None or i in regs):
            out.append(f" R{i}={reg_text(r, frame.frameno, maps)}")
    for spi in sorted(frame.stack):
        if slots is not None and spi not in slots:
            continue
        text = slot_text(spi, frame.stack[spi], frame.frameno, maps)
        if text is not None:
            out.append(" " + text)
    ids = [r.id for r in st.refs if r.id]
    if ids:
        out.append(" refs=" + ",".join(str(i) for i in ids))
    if frame.in_async_cb:  # kernel: print_verifier_state, in_async_callback_fn then in_callback_fn
        out.append(" async_cb")
    if frame.in_callback:
        out.append(" cb")
    return "".join(out)


def state_line(env: Env, st: State) -> str:
    """The whole current frame (print_all): what `from X to Y:` prints."""
    return frame_state(st, st.cur, env.program.maps)


def alignment(pos: int) -> int:
    # kernel: vlog_alignment (BPF_LOG_MIN_ALIGNMENT 8, BPF_LOG_ALIGNMENT 40)
    return (max(pos + 4, 40) + 7) // 8 * 8 - pos - 1


def insn_state(env: Env, st: State, pc: int) -> None:
    # kernel: print_insn_state (after the insn's line if nothing came between, else `pc:`)
    text = frame_state(st, st.cur, env.program.maps, env.scratched_regs, env.scratched_slots)
    env.scratched_regs = set()
    env.scratched_slots = set()
    if env.last_insn_line == len(env.log) - 1 >= 0:
        line = env.log[-1]
        env.log[-1] = line + " " * alignment(len(line) + 1) + ";" + text
    else:
        env.log.append(f"{pc}:{text}")
    env.last_insn_line = -1


def stats_line(env: Env) -> str:
    # kernel: print_verification_stats
    return (
        f"processed {env.insn_processed} insns (limit 1000000) max_states_per_insn {env.max_states_per_insn} "
        f"total_states {env.total_states} peak_states {env.peak_states} mark_read 0"
    )


def call_name(env: Env) -> Callable[[Insn], str | None]:
    def name(insn: Insn) -> str | None:
        if insn.src == op.PSEUDO_KFUNC_CALL:
            return kfunc_calls.kfunc_name(env, insn)
        return None

    return name


def call_args(env: Env) -> Callable[[Insn], int | None]:
    def nargs(insn: Insn) -> int | None:
        if insn.src == op.PSEUDO_KFUNC_CALL:
            spec = KFUNCS.get(kfunc_calls.kfunc_name(env, insn))
            return spec.nargs if spec else None
        if insn.src == 0:
            return HELPER_NARGS.get(insn.imm)
        return None  # a subprog: its BTF prototype is not consulted here

    return nargs


SCRATCH_ALL = set(range(11))


def _scratched(insn: Insn) -> set[int]:
    """The registers check_reg_arg marks for `insn` (mark_reg_scratched)."""
    k = insn.kind
    if k in (Kind.ALU, Kind.JCOND):
        return {insn.dst, insn.src} if insn.uses_reg_src else {insn.dst}
    if k in (Kind.NEG, Kind.END, Kind.LD_IMM64, Kind.STORE_IMM):
        return {insn.dst}
    if k in (Kind.LOAD, Kind.STORE_REG):
        return {insn.dst, insn.src}
    if k is Kind.ATOMIC:
        return {insn.dst, insn.src, 0} if insn.imm == op.CMPXCHG else {insn.dst, insn.src}
    if k is Kind.CALL:
        return {0, 1, 2, 3, 4, 5}  # the arguments, then every caller-saved register
    if k is Kind.LD_PKT:
        return {0, 1, 2, 3, 4, 5, 6, insn.src}
    if k is Kind.EXIT:
        return {0}
    return set()


def _written(old: object, new: Slot) -> bool:
    """The step wrote this slot (mark_stack_slot_scratched), rather than a release invalidating
    a spilled copy of what it freed (mark_reg_invalid, which marks nothing)."""
    if not isinstance(old, Slot):
        return True
    if old == new:
        return False
    invalidated = (
        old.types == new.types
        and old.spilled is not None
        and old.spilled.is_pointer
        and new.spilled is not None
        and new.spilled.type is RT.SCALAR
    )
    return not invalidated


def log_step(env: Env, st: State, pc: int, insn: Insn, before: Frame, slots: Mapping[int, object]) -> None:
    """What the level-2 log shows of one step: the touched registers and slots, call and return blocks."""
    maps = env.program.maps
    if st.cur is not before:
        if insn.kind is Kind.EXIT or before.frameno > st.cur.frameno:
            # kernel: prepare_func_exit (at an exit, or a subprog's tail call)
            env.log.append("returning from callee:")
            env.log.append(frame_state(st, before, maps))
            env.log.append(f"to caller at {st.pc}:")
            env.log.append(frame_state(st, st.cur, maps))
            if insn.kind is Kind.CALL:  # a tail call's return: the caller's next line shows R0 alone
                env.last_insn_line = -1
                env.scratched_regs, env.scratched_slots = {0}, set()
                return
        elif insn.kind is Kind.CALL:
            # kernel: check_func_call
            env.log.append("caller:")
            env.log.append(frame_state(st, before, maps))
            env.log.append("callee:")
            env.log.append(frame_state(st, st.cur, maps))
        env.last_insn_line = -1
        env.scratched_regs = set(SCRATCH_ALL)
        env.scratched_slots = set(st.cur.stack)
        return
    env.scratched_regs |= _scratched(insn)
    if insn.kind is not Kind.JCOND:  # a branch refines spilled copies without marking their slots
        env.scratched_slots |= {spi for spi, slot in st.cur.stack.items() if _written(slots.get(spi), slot)}
    slot = stack_slot(st.history[-1][1]) if st.history else None
    if slot is not None and slot[0] == st.curframe:
        env.scratched_slots.add(slot[1])  # a load from the stack marks the slot it read
    if insn.kind is Kind.JCOND:
        insn_state(env, st, pc)  # kernel: check_cond_jmp_op prints the state itself
