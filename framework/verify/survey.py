"""The survey: what a compiler knows of a program before a strategy compiles for it.

A strategy that emits code before verification (landing pads write a pad per throwing call)
or must know every release before it judges a throw (resource-table-inline gives no slot to
an acquire site released in another subprog, also at a throw the verifier explores before
that release) sets `Strategy.surveys`, and its `prepare` is given the program's `Survey`: one
verification, with every throw let through, of the program as loaded. It stands in for the
compiler's own analysis (a compiler knows what is live at each call); the kernel would check
after its main pass. It is the same for every strategy, so it is made once per program and
shared; its time is not in any verification time figure.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace

from framework.load.program import Program
from framework.strategy import Acquired, Ledger, Prepared, Released, Strategy
from framework.verify.analyzer import verify
from framework.verify.result import Analysis, ThrowSite

_KEPT = 32  # programs whose survey is kept (a bake-off prepares one program under each strategy in turn)


@dataclass(frozen=True)
class Survey:
    """One verification's view of a program with every throw let through."""

    accepted: bool = False  # False: refused for another reason than a throw (nothing to compile for)
    ledger: Ledger = field(default_factory=Ledger)  # every acquire and release site, on every path
    sites: tuple[ThrowSite, ...] = ()  # every path's holdings at every throwing point, as explored (not merged)


class _Surveyor(Strategy):
    name = "survey"

    def on_acquire(self, state: Survey, event: Acquired) -> Survey:
        return replace(state, ledger=state.ledger.acquired(event))

    def on_release(self, state: Survey, event: Released) -> Survey:
        return replace(state, ledger=state.ledger.released(event))

    def on_throw(self, state: Survey, site: ThrowSite) -> Survey:
        return replace(state, sites=(*state.sites, site))

    def releases_on_throw(self, state: Survey, site: ThrowSite) -> bool:
        return True


_made: OrderedDict[int, tuple[Program, Survey]] = OrderedDict()


def survey(program: Program) -> Survey:
    """The survey of `program` (made once for the last few programs surveyed)."""
    kept = _made.get(id(program))
    if kept is not None and kept[0] is program:
        return kept[1]
    analysis = verify(program, _Surveyor(), state=Survey(), log_level=0)
    assert isinstance(analysis.strategy_state, Survey)
    made = replace(analysis.strategy_state, accepted=analysis.accepted)
    _made[id(program)] = (program, made)
    while len(_made) > _KEPT:
        _made.popitem(last=False)
    return made


def prepare(program: Program, strategy: Strategy) -> Prepared:
    """The strategy's `prepare` of `program`, given its survey when the strategy asks for one."""
    return strategy.prepare(program, survey(program) if strategy.surveys else None)


def prepared_and_verified(program: Program, strategy: Strategy, log_level: int = 0) -> tuple[Program, Analysis]:
    """`prepare`, then the verifier from the state it returned: the program the verifier saw and
    its Analysis (framework.pipeline.verify, and a tail-call target's own load)."""
    prepared = prepare(program, strategy)
    return prepared.program, verify(prepared.program, strategy, state=prepared.state, log_level=log_level)
