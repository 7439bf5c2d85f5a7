"""The verifier log's formats: register state lines and the statistics line."""

from __future__ import annotations

from framework.verify.env import Env
from framework.verify.regs import RT
from framework.verify.regs import render as render_reg
from framework.verify.stack import render_slots
from framework.verify.state import State


def state_line(st: State) -> str:
    """print_verifier_state for the current frame: `R1=ctx() R10=fp0 fp-8=mmmm????`."""
    f = st.cur
    parts = [f"R{i}={render_reg(r)}" for i, r in enumerate(f.regs) if r.type is not RT.NOT_INIT]
    parts.extend(render_slots(f.stack))
    prefix = f"frame{f.frameno}: " if f.frameno else ""
    return prefix + " ".join(parts)


def stats_line(env: Env) -> str:
    # kernel: print_verification_stats
    return (
        f"processed {env.insn_processed} insns (limit 1000000) max_states_per_insn {env.max_states_per_insn} "
        f"total_states {env.total_states} peak_states {env.peak_states} mark_read 0"
    )
