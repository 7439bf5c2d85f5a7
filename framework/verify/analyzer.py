"""do_check: the worklist walk over every path, with checkpoints, exits, throws and calls."""

from __future__ import annotations

import time

from framework.errors import Coord
from framework.isa import opcodes as op
from framework.isa.kernel_syntax import format_insn
from framework.isa.opcodes import Kind
from framework.load.program import Program
from framework.strategy import Strategy
from framework.verify import ops, reserved
from framework.verify.aux import collect
from framework.verify.cfg import check_abnormal_return, check_cfg, check_subprogs, find_exception_callback
from framework.verify.env import COMPLEXITY_LIMIT_INSNS, Env, Reject, Stop, reject
from framework.verify.globals_ import arg_types, might_throw
from framework.verify.liveness import live_before, loops
from framework.verify.log import (
    SCRATCH_ALL,
    call_args,
    call_name,
    insn_state,
    log_step,
    state_line,
    stats_line,
)
from framework.verify.prune import (
    history_aux,
    is_state_visited,
    mark_prune_points,
    path_done,
)
from framework.verify.regs import RT, Reg, scalar
from framework.verify.reserved import reserved_fields
from framework.verify.result import Analysis, Verdict, VerifierRecord
from framework.verify.stackdepth import check_max_stack_depth
from framework.verify.state import State, entry_frame
from framework.verify.steps import STEPS
from framework.verify.tracing import attach_target


def do_check(env: Env, start: State) -> Reject | None:
    """Walk every path from `start` (do_check_common's loop)."""
    st: State | None = start
    namer = call_name(env)
    logging = env.log_level >= 2
    popped = False
    if logging:
        env.scratched_regs = set(SCRATCH_ALL)
        env.scratched_slots = set(start.cur.stack)
        env.last_insn_line = -1
    while True:
        if st is None:
            if not env.worklist:
                return None
            st = env.worklist.pop()
            popped = True
        pc = st.pc
        # kernel: do_check counts the instruction before is_state_visited may prune it
        env.insn_processed += 1
        if env.insn_processed > COMPLEXITY_LIMIT_INSNS:
            return reject(pc, f"BPF program is too large. Processed {env.insn_processed} insn")
        if pc in env.prune_points and is_state_visited(env, st, pc):
            if env.loop_at >= 0:
                return reject(pc, f"infinite loop detected at insn {pc}")
            if logging:
                env.log.extend(("", f"from {st.from_pc} to {pc}: safe") if popped else (f"{pc}: safe",))
                env.last_insn_line = -1
            path_done(env, st)
            st, popped = None, False
            continue
        if logging and popped:
            # kernel: do_check, do_print_state after pop_stack
            env.log.extend(("", f"from {st.from_pc} to {pc}:{state_line(env, st)}"))
            env.scratched_regs = set(SCRATCH_ALL)
            env.scratched_slots = set(st.cur.stack)
            env.last_insn_line = -1
        popped = False
        env.seen.add(pc)  # kernel: do_check, insn_aux_data[insn_idx].seen
        insn = env.insns.get(pc)
        if insn is None:
            return reject(pc, f"invalid insn idx {pc} insn_cnt {len(env.program.slots)}")
        if insn.kind in (Kind.JA, Kind.JCOND, Kind.CALL, Kind.EXIT):
            env.jmps_processed += 1
        refused = reserved.ld_pkt_program_type(insn, env.program.prog_type) or reserved_fields(insn)
        bad = None if refused else ops.invalid_register(st, insn)
        if bad is None and refused is None:
            st.history.append((pc, history_aux(st, insn)))
        if logging:
            if env.scratched_regs or env.scratched_slots:
                insn_state(env, st, pc)
            env.log.append(f"{pc}: {format_insn(insn, call_name=namer)}")
            env.last_insn_line = len(env.log) - 1
            before, slots = st.cur, dict(st.cur.stack)
        if refused is not None:
            return reject(pc, refused)
        if bad is not None:
            return reject(pc, f"R{bad} is invalid")  # kernel: check_reg_arg (regno >= MAX_BPF_REG)
        env.cur_pc = pc
        out = STEPS[insn.kind](env, st, pc, insn)
        if isinstance(out, Reject):
            return out
        if isinstance(out, Stop):
            path_done(env, st)
            st = None
            continue
        st.pc = out
        if logging:
            log_step(env, st, pc, insn, before, slots)


def _initial(env: Env, subprog: int) -> State:
    # kernel: do_check_common (init_func_state and the arguments of a main prog or global func)
    frame = entry_frame(0, subprog)
    if subprog == 0:
        frame.regs[1] = Reg(RT.CTX)
    elif subprog == env.exception_cb:
        frame.regs[1] = scalar()
        frame.in_exception_cb = True
    else:
        for i, kind in enumerate(arg_types(env, subprog), start=1):
            if kind == "ctx":
                frame.regs[i] = Reg(RT.CTX)
            elif kind == "scalar":
                frame.regs[i] = scalar()
            else:
                frame.regs[i] = Reg(RT.MEM, maybe_null=True, id=env.new_id())
    st = State([frame])
    st.pc = env.program.subprogs[subprog].start
    return st


def _verify_all(env: Env) -> Reject | None:
    # kernel: do_check_main, then do_check_subprogs (global subprogs lazily, the exception callback)
    err = do_check(env, _initial(env, 0))
    if err:
        return err
    done: set[int] = set()
    while True:
        todo = [s for s in env.global_called if s not in done]
        if env.exception_cb >= 0 and env.exception_cb not in done:
            todo.append(env.exception_cb)
        if not todo:
            return None
        sub = todo[0]
        done.add(sub)
        name = env.program.subprogs[sub].name
        env.log.append(f"Validating {name}() func#{sub}...")
        if sub == env.exception_cb and arg_types(env, sub) != ["scalar"]:
            # kernel: do_check_common, checked as the callback's own verification starts
            return reject(env.program.subprogs[sub].start, "exception cb only supports single integer argument")
        env.explored.clear()
        env.active.clear()
        env.scc_visits.clear()
        env.worklist.clear()
        err = do_check(env, _initial(env, sub))
        if err:
            return err
        env.log.append(f"Func#{sub} ('{name}') is safe for any args that match its prototype")


def _precheck(env: Env) -> Reject | None:
    # kernel: bpf_check, in its order: add_subprog_and_kfunc (call targets, the exception callback),
    # check_subprogs, resolve_pseudo_ldimm64 (reserved load fields, ld_imm64's second slot,
    # opcodes), check_cfg, check_btf_info (check_abnormal_return), check_attach_btf_id
    for pc, insn in env.insns.items():
        local = insn.src == op.PSEUDO_CALL if insn.kind is Kind.CALL else insn.src == op.PSEUDO_FUNC
        if insn.kind in (Kind.CALL, Kind.LD_IMM64) and local:
            target = insn.jump_target(pc)
            if not 0 <= target < len(env.program.slots):
                return reject(pc, "call to invalid destination")  # add_subprog
    found = find_exception_callback(env)
    if isinstance(found, Reject):
        return found
    if found >= 0:
        env.exception_cb = found
    return (
        check_subprogs(env)
        or _resolve_pseudo_ldimm64(env)
        or check_cfg(env)
        or check_abnormal_return(env)  # kernel: check_btf_info -> check_btf_func
        or _check_attach_btf_id(env)  # kernel: check_attach_btf_id, after check_btf_info
    )


def _check_attach_btf_id(env: Env) -> Reject | None:
    # kernel: check_attach_btf_id (after check_cfg and check_btf_info): a tracing program's target
    found = attach_target(env)
    if isinstance(found, Reject):
        return found
    env.attach_target = found
    return None


def _resolve_pseudo_ldimm64(env: Env) -> Reject | None:
    for pc, insn in env.insns.items():
        refused = reserved.load(insn) or reserved.second_slot(insn) or ops.resolve_ld_imm64(env, insn)
        if refused:
            return reject(pc, refused)
        if insn.kind is Kind.CALLX:
            return reject(pc, f"unknown opcode {insn.code:02x}")  # kernel: bpf_opcode_in_insntable
    return None


# kernel messages printed without a trailing newline: the log runs each into the line after it
UNTERMINATED = frozenset({"expected prog array map for tail call"})  # record_func_key


def _run_on(lines: list[str], tail: list[str]) -> list[str]:
    if lines and lines[-1] in UNTERMINATED:
        return [*lines[:-1], lines[-1] + tail[0], *tail[1:]]
    return lines + tail


_PREPARED = object()  # verify's `state` not given


def verify(
    program: Program, strategy: Strategy | None = None, *, state: object = _PREPARED, log_level: int = 2
) -> Analysis:
    """Verify `program` as Linux 6.18.44 would (with the May 2026 global-throw fix), hooks inside.

    `state` is the strategy state its hooks start from (framework.strategy): what its `prepare`
    returned; by default, the state its `prepare` of `program` without a survey returns.

    At `log_level` 2 (the default) the log holds every instruction and the state it leaves,
    as BPF_LOG_LEVEL2 prints it; below 2 only the rejection and the statistics are kept.
    """
    strategy = strategy or Strategy()
    started = time.perf_counter()
    insns = dict(program.insns())
    env = Env(program, strategy, insns, log_level=log_level)
    env.state = strategy.prepare(program).state if state is _PREPARED else state
    if log_level >= 2:
        # kernel: check_subprogs at BPF_LOG_LEVEL2
        env.log.extend(f"func#{i} @{sub.start}" for i, sub in enumerate(program.subprogs))
    env.stack_depth = [0] * len(program.subprogs)
    env.peak_resources = [0] * len(program.subprogs)
    cb = program.exception_cb
    env.exception_cb = program.subprogs.index(cb) if cb is not None else -1
    env.might_throw = might_throw(env)
    pads = {pc: c.pad for c in program.cleanup for pc in range(c.begin, c.end)}
    env.live = live_before(insns, call_args(env), pads)
    env.scc = loops(insns)
    mark_prune_points(env)
    err = _precheck(env)
    if err is None:
        err = _verify_all(env)
    if err is None:
        # the strategy's reserved stack counts against the limits (a resource table's region)
        for sub, peak in enumerate(env.peak_resources):
            env.stack_depth[sub] += strategy.reserved_stack(env.state, sub, peak)
        err = check_max_stack_depth(env)
    if err is None and env.unconvertible_pc >= 0:
        # kernel: convert_ctx_accesses, after the walk: a converter that emitted nothing
        err = reject(env.unconvertible_pc, "verifier bug: error during ctx access conversion (0)")
    depth = list(env.stack_depth)
    if err is None:
        # kernel: optimize_bpf_loop (do_misc_fixups) gives an inlined bpf_loop's caller 3 more slots
        for sub in sorted({env.subprog_of(pc) for pc, (_cb, fit) in env.loop_inline.items() if fit}):
            depth[sub] = (depth[sub] + 7) // 8 * 8 + 3 * 8
        for sub in sorted(env.may_goto_seen):
            # kernel: do_misc_fixups, timed may_goto keeps its count and timestamp in 16 bytes
            depth[sub] = (depth[sub] + 7) // 8 * 8 + 16
    if err is None and env.seen_exception and env.exception_cb < 0:
        depth.append(0)  # do_misc_fixups: the hidden default exception callback
    usec = int((time.perf_counter() - started) * 1e6)
    log1: list[str] = []
    if err is not None:
        failing = env.insns.get(err.pc)
        if failing is not None and env.insn_processed:
            log1.append(f"{err.pc}: {format_insn(failing, call_name=call_name(env))}")
        log1.extend(err.lines)
        env.log.extend(err.lines)
    tail = [
        f"verification time {usec} usec",
        "stack depth " + "+".join(str(d) for d in depth),
        stats_line(env),
    ]
    log2 = _run_on(env.log, tail)
    log1 = _run_on(log1, tail)
    coord = Coord(program.source, program.section, err.pc) if err is not None else None
    return Analysis(
        program=program.name,
        strategy=strategy.name,
        verdict=Verdict.ACCEPTED if err is None else Verdict.UNSUPPORTED if err.missing else Verdict.REJECTED,
        message=err.message if err else None,
        coord=coord,
        log1=tuple(log1),
        log2=tuple(log2),
        stack_depth=tuple(depth),
        insns_processed=env.insn_processed,
        verification_usec=usec,
        throw_sites=tuple(env.throw_sites),
        peak_resources=tuple(env.peak_resources),
        deepest_chain=env.deepest_chain,
        throws_reached=frozenset(env.throws_reached),
        record=VerifierRecord(
            collect(env, len(program.slots)),
            env.tstamp_type_access,
            frozenset(env.seen),
            err is None,
            frozenset(program.subprogs[i].name for i in env.tail_call_reachable if i < len(program.subprogs)),
        ),
        stats=tail[-1],
        missing=err.missing if err is not None else None,
        strategy_state=env.state,
    )
