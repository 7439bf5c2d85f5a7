"""Tail-call targets, each built once per (target, strategy) as its own load would have it.

The kernel loads each program of a prog array on its own, so a target is prepared,
verified, planned and fixed up under the caller's strategy (stock's
for a name), and, with the strategy's own runtime, gets its table. A bake-off runs each
caller on many inputs and forced throws; `TargetBuilds` keeps what it built, so each
target is verified once per strategy, not once per run.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from framework.errors import Coord, InputError
from framework.fixup import fixup_planned
from framework.load.program import Program
from framework.plan import plan
from framework.strategy import Strategy
from framework.verify.survey import prepared_and_verified

if TYPE_CHECKING:
    from framework.machine.tailcalls import Target

__all__ = ["TargetBuilds", "program_key"]


def program_key(program: Program) -> tuple[object, ...]:
    """What tells two programs apart, cheaply (the caches of a run key on it)."""
    return (
        program.source,
        program.section,
        program.name,
        program.prog_type,
        program.slots,
        program.kfuncs,
        program.maps,
    )


class TargetBuilds:
    """The tail-call targets built so far, by (target, strategy, whether its runtime is the strategy's)."""

    def __init__(self) -> None:
        self._done: dict[tuple[object, ...], Target] = {}

    def get(self, program: Program, strategy: Strategy | str, own_runtime: bool) -> Target:
        name = strategy if isinstance(strategy, str) else strategy.name
        key = (*program_key(program), name, own_runtime)
        if key not in self._done:
            self._done[key] = _build(program, strategy, own_runtime)
        return self._done[key]


def _build(program: Program, strategy: Strategy | str, own_runtime: bool) -> Target:
    """A target refused by the verifier cannot be in a prog array: bad input."""
    from framework.machine.tailcalls import Target

    chosen = strategy if isinstance(strategy, Strategy) else Strategy()
    prepared, analysis = prepared_and_verified(program, chosen)
    if not analysis.accepted:
        raise InputError(
            Coord(program.source),
            f"tail-call target {program.name} is refused under {chosen.name} (no prog array can hold it): "
            f"{analysis.message}",
        )
    made = plan(chosen, prepared, analysis)
    return Target(
        program.name, fixup_planned(made, prepared), partial(chosen.runtime_table, made) if own_runtime else None
    )
