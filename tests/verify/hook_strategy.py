"""A test strategy that fills in every verifier hook and records what the verifier told it."""

from __future__ import annotations

from framework.strategy import Strategy
from framework.verify.result import ThrowSite


class Recorder(Strategy):
    """Releases everything at a throw (no reference-leak rule) and refuses to merge two kinds in one slot."""

    name = "recorder"

    def __init__(self, refuse_throws: bool = False) -> None:
        self.acquired: list[tuple[int, int, int, str]] = []
        self.released: list[tuple[int, int, int, str]] = []
        self.peaks: dict[int, int] = {}
        self.throws: list[ThrowSite] = []
        self.merges = 0
        self.refuse_throws = refuse_throws

    def on_acquire(self, pc: int, subprog: int, ref_id: int, kind: str, slot: int | None = None) -> None:
        self.acquired.append((pc, subprog, ref_id, kind))

    def on_release(self, pc: int, subprog: int, ref_id: int, kind: str) -> None:
        self.released.append((pc, subprog, ref_id, kind))

    def on_peak_resources(self, subprog: int, peak: int) -> None:
        self.peaks[subprog] = peak

    def on_throw(self, site: ThrowSite) -> str | None:
        self.throws.append(site)
        return "recorder: refused" if self.refuse_throws else None

    def releases_on_throw(self, site: ThrowSite) -> bool:
        return True

    def merge_throw_sites(self, old: ThrowSite, new: ThrowSite) -> ThrowSite | str:
        self.merges += 1
        kinds: dict[tuple[int, str], str] = {}
        for site in (old, new):
            for depth, frame in enumerate(site.frames):
                for h in frame.holdings:
                    if kinds.setdefault((depth, h.location), h.kind) != h.kind:
                        return "recorder: two kinds meet in one slot"
        return new
