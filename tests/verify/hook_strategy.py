"""A test strategy that fills in every verifier hook; its state is what the verifier told it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from framework.load.program import Program
from framework.strategy import Acquired, Prepared, Refused, Released, Strategy
from framework.verify.result import ThrowSite
from framework.verify.survey import Survey


@dataclass(frozen=True)
class Told:
    """Every event, in the order the verifier gave them."""

    acquired: tuple[Acquired, ...] = ()
    released: tuple[Released, ...] = ()
    throws: tuple[ThrowSite, ...] = ()


class Recorder(Strategy):
    """Releases everything at a throw (no reference-leak rule), refuses to merge two kinds in one
    slot, and reserves `per_peak` bytes per reference a subprog holds at its peak."""

    name = "recorder"

    def __init__(self, refuse_throws: bool = False, per_peak: int = 0) -> None:
        self.refuse_throws = refuse_throws
        self.per_peak = per_peak

    def prepare(self, program: Program, survey: Survey | None = None) -> Prepared:
        return Prepared(program, Told())

    def on_acquire(self, state: Told, event: Acquired) -> Told:
        return replace(state, acquired=(*state.acquired, event))

    def on_release(self, state: Told, event: Released) -> Told:
        return replace(state, released=(*state.released, event))

    def reserved_stack(self, state: Told, subprog: int, peak: int) -> int:
        return self.per_peak * peak

    def on_throw(self, state: Told, site: ThrowSite) -> Told | Refused:
        if self.refuse_throws:
            return Refused("recorder: refused")
        return replace(state, throws=(*state.throws, site))

    def releases_on_throw(self, state: Told, site: ThrowSite) -> bool:
        return True

    def merge_throw_sites(self, old: ThrowSite, new: ThrowSite) -> ThrowSite | str:
        kinds: dict[tuple[int, str], str] = {}
        for site in (old, new):
            for depth, frame in enumerate(site.frames):
                for h in frame.holdings:
                    if kinds.setdefault((depth, h.location), h.kind) != h.kind:
                        return "recorder: two kinds meet in one slot"
        return new
