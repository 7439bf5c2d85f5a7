"""Precision tracking decides pruning: without it the precision cases would be pruned unsoundly."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import framework.verify
import framework.verify.prune as prune
from framework.verify import verify
from framework.verify.env import Env
from framework.verify.regs import RT
from framework.verify.state import State

from .cases_loader import load_cases

CASES = {c.name: c for c in load_cases("precision")}
# the rejected cases whose second path is caught only because the first path's value is precise
NEEDS_PRECISION = ("precise_offset_from_two_paths", "precise_offset_through_a_spill", "precise_branch_outcome")


_PRECISION = "framework.verify.precision"


def _verifier_modules() -> list[object]:
    return [
        importlib.import_module(f"framework.verify.{m.name}") for m in pkgutil.iter_modules(framework.verify.__path__)
    ]


@pytest.mark.parametrize("name", NEEDS_PRECISION)
def test_forgetting_precision_would_accept(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    assert verify(case.program()).verdict.value == "rejected"
    users = [m for m in _verifier_modules() if hasattr(m, "mark_chain_precision") and m.__name__ != _PRECISION]
    assert len(users) >= 3  # the steps, calls, ops and frames mark registers precise
    for module in users:
        monkeypatch.setattr(module, "mark_chain_precision", lambda *_args: None)
    # the unsafe path now meets an imprecise checkpoint and is pruned: the case is sharp
    assert verify(case.program()).verdict.value == "accepted"


def test_precision_reaches_the_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    # the offset register is precise in the state kept where the two paths meet, by the time
    # the second path (r6 = 8) is compared with it
    program = CASES["precise_offset_from_two_paths"].program()
    seen: list[bool] = []
    original = prune.states_equal

    def spy(env: Env, old: State, cur: State, exact: int = 0) -> bool:
        r6 = cur.cur.regs[6]
        if old.cur.regs[6].type is RT.SCALAR and r6.is_const and r6.const == 8:
            seen.append(old.cur.regs[6].precise)
        return original(env, old, cur, exact)

    monkeypatch.setattr(prune, "states_equal", spy)  # is_state_visited calls it
    assert verify(program).verdict.value == "rejected"
    assert seen and all(seen)
