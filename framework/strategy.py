"""The strategy protocol: what a cleanup strategy is, as the core sees it.

A strategy is an object with a `name`, a `version` and a `summary`; its methods
are the pipeline stages it fills in. `Strategy` is the base class: it is Linux
today (`stock`), and every method returns what the core does without a strategy.
The methods are grouped by the stage that calls them (load, verify, plan, jit), each
with its arguments and result documented. The plugin manager's own hooks
(registration, provenance) are `framework.hookspecs`'.

A strategy keeps no state of its own: every method is a function of its arguments.
What it learns while the verifier explores (its descriptor table, the acquire and release
sites it will instrument, the slots it spills to) is a frozen value of its own choosing,
its *state*: `prepare` returns the first one, each verifier hook takes the current one and
returns the next, the verifier hands the last one on in `Analysis.strategy_state`, and
`rewrite` gets it as an argument. One instance can verify any number of programs, at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from framework.kernel.kinds import KINDS
from framework.load.program import Program

if TYPE_CHECKING:
    from framework.fixup import Fixed
    from framework.jit import NativeImage
    from framework.plan import Plan
    from framework.verify.result import Analysis, ThrowSite
    from framework.verify.survey import Survey


STOCK_RUNTIME = Path(__file__).resolve().parent / "runtime" / "stock.c"  # bpf_throw as Linux runs it
RELEASABLE = {k.name: k for k in KINDS}  # the resource kinds a runtime can release (framework.kernel.kinds)


@dataclass(frozen=True, slots=True)
class Acquired:
    """A reference the verifier acquired on one path (acquire_reference; an iterator's or
    dynptr's init)."""

    pc: int  # the acquiring instruction, in the program `prepare` returned
    subprog: int  # the subprog pc belongs to
    ref_id: int  # the verifier's reference id, unique in one verification
    kind: str  # the resource kind (framework.kernel.kinds: obj, ringbuf, task, iter_num, ...)
    slot: int | None = None  # the fp offset of an iterator or dynptr living in the current frame


@dataclass(frozen=True, slots=True)
class Released:
    """A reference the program released on one path (release_reference)."""

    pc: int  # the releasing instruction
    subprog: int
    ref_id: int  # as `Acquired.ref_id`
    kind: str
    acquired_at: int  # the pc that acquired it (the kernel's refs[].insn_idx)


def _frozen(entries: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(entries))


@dataclass(frozen=True)
class Ledger:
    """Every acquire and release site the verifier has shown a strategy so far, folded from its
    `Acquired` and `Released` events: what a strategy that instruments those sites keeps in its
    state (`acquired` and `released` return the next ledger, this one unchanged)."""

    shapes: Mapping[int, tuple[tuple[str, int | None], ...]] = field(default_factory=lambda: _frozen({}))
    # acquire pc -> each (kind, stack slot) seen there, first first
    acquire_subprog: Mapping[int, int] = field(default_factory=lambda: _frozen({}))
    released_from: Mapping[int, frozenset[int]] = field(default_factory=lambda: _frozen({}))
    # release pc -> the acquire pcs of what it releases (-1: not known)
    release_subprog: Mapping[int, int] = field(default_factory=lambda: _frozen({}))

    def acquired(self, event: Acquired) -> Ledger:
        seen = self.shapes.get(event.pc, ())
        shape = (event.kind, event.slot)
        if shape in seen and self.acquire_subprog.get(event.pc) == event.subprog:
            return self
        return replace(
            self,
            shapes=_frozen({**self.shapes, event.pc: seen if shape in seen else (*seen, shape)}),
            acquire_subprog=_frozen({**self.acquire_subprog, event.pc: event.subprog}),
        )

    def released(self, event: Released) -> Ledger:
        sources = self.released_from.get(event.pc, frozenset())
        if event.acquired_at in sources and self.release_subprog.get(event.pc) == event.subprog:
            return self
        return replace(
            self,
            released_from=_frozen({**self.released_from, event.pc: sources | {event.acquired_at}}),
            release_subprog=_frozen({**self.release_subprog, event.pc: event.subprog}),
        )

    @property
    def acquires(self) -> dict[int, tuple[str, int | None]]:
        """Acquire pc -> (kind, slot) as first seen there."""
        return {pc: seen[0] for pc, seen in self.shapes.items()}

    def kind(self, pc: int) -> str:
        """The kind acquired at `pc`."""
        return self.shapes[pc][0][0]

    def elsewhere(self) -> set[int]:
        """Acquire pcs some reference of which a release in another subprog releases: a slot of
        theirs would be out of that release's r10 reach (-1, an unknown acquire, is never one)."""
        return {
            a
            for pc, sources in self.released_from.items()
            for a in sources
            if a >= 0 and self.acquire_subprog.get(a) != self.release_subprog.get(pc)
        }

    def untracked(self) -> set[int]:
        """Acquire pcs no record can follow: a kind no runtime releases, or an iterator or dynptr
        (released by its slot's address) not in one stack slot of its own frame on every path."""
        return {
            pc
            for pc, seen in self.shapes.items()
            if any(
                kind not in RELEASABLE or (RELEASABLE[kind].by_address and (slot is None or len(seen) > 1))
                for kind, slot in seen
            )
        }


@dataclass(frozen=True, slots=True)
class Prepared:
    """What `prepare` returns: the program the verifier sees and the strategy state it starts from."""

    program: Program
    state: Any = None


@dataclass(frozen=True, slots=True)
class Refused:
    """What a verifier hook returns to refuse the program at the instruction it was asked about."""

    message: str


class Strategy:
    """Base class and stock behaviour: change nothing, release nothing, keep no state."""

    name: str = "stock"
    version: str = "0"
    summary: str = "Linux today: refuse any throw while something is held."
    runtime: Path | None = STOCK_RUNTIME  # the throw-time C runtime (None: the strategy has none built yet)
    surveys: bool = False  # True: `prepare` is given the program's `Survey` (what a compiler knows)

    # ---- load (framework.pipeline.verify calls it first)

    def prepare(self, program: Program, survey: Survey | None = None) -> Prepared:
        """What a compiler would have emitted for this strategy, and the state verification starts from.

        :param program: the program as loaded from its object.
        :param survey: when the strategy sets `surveys`, what one verification that lets every throw
            through saw of `program` on every path (framework.verify.survey: acquire and release
            sites, every path's holdings at every throwing point); None otherwise.
        :returns: the program the verifier sees (a strategy that compiles its own cleanup, landing
            pads, returns it with that code and its tables) and the first state (stock: None).
        """
        return Prepared(program, None)

    # ---- verify (framework/verify calls them while it explores every path; each returns the next state)

    def on_acquire(self, state: Any, event: Acquired) -> Any:
        """A reference was acquired (a helper's or kfunc's acquire, an iterator's or dynptr's init).

        :param state: the strategy's state so far.
        :param event: where, in which subprog, the reference's id, its kind and stack slot.
        :returns: the next state (stock: `state`).
        """
        return state

    def on_release(self, state: Any, event: Released) -> Any:
        """The program released a reference (release_reference).

        :param state: the strategy's state so far.
        :param event: where, the reference's id and kind, and the pc that acquired it.
        :returns: the next state (stock: `state`).
        """
        return state

    def reserved_stack(self, state: Any, subprog: int, peak: int) -> int:
        """After verification, once per subprog: bytes the strategy adds to its frame, checked
        against the 512-byte limits (check_max_stack_depth) with the program's own (stock: 0).

        :param state: the strategy's state once every path is explored.
        :param subprog: the subprog's index.
        :param peak: the most references acquired in the subprog and held at one time.
        :returns: bytes, a multiple of 8.
        """
        return 0

    def on_throw(self, state: Any, site: ThrowSite) -> Any:
        """A throwing point reached on one path, with what each frame holds there.

        :param state: the strategy's state so far.
        :param site: the throw's pc and its call chain's frames, innermost first.
        :returns: the next state (stock: `state`), or `Refused` to refuse the program at this throw.
        """
        return state

    def releases_on_throw(self, state: Any, site: ThrowSite) -> bool:
        """Whether the strategy releases what `site` holds; when not, a throw that holds
        anything is Linux's reference leak. Asked after `on_throw`, with the state it returned.

        :param state: the strategy's state so far.
        :param site: as `on_throw` was given it.
        :returns: True to take responsibility for everything `site` holds (stock: False).
        """
        return False

    def merge_throw_sites(self, old: ThrowSite, new: ThrowSite) -> ThrowSite | str:
        """Two paths reach one throwing point: what the strategy keeps of both in the `Analysis`.

        :param old: the site as kept so far.
        :param new: the site on the path just explored.
        :returns: the site to keep (stock: the newer one), or a message that refuses the program.
        """
        return new

    # ---- plan (framework.pipeline.plan calls it once the program is accepted)

    def rewrite(self, program: Program, analysis: Analysis, state: Any) -> Plan | None:
        """The tables, reserved stack and inserted instructions the strategy adds.

        :param program: the program `prepare` returned, as the verifier accepted it.
        :param analysis: everything the verifier found (throw sites merged, stack depths,
            per-instruction records).
        :param state: the strategy's state once every path is explored (`analysis.strategy_state`).
        :returns: the `Plan` (stock: None, the empty plan).
        """
        return None

    # ---- jit (framework.machine.engine.jit_program calls it once the code is laid out)

    def runtime_table(self, plan: Plan, fixed: Fixed, image: NativeImage, address: int) -> bytes:
        """The table the strategy's C runtime reads at a throw, built once the JIT has laid the
        code out (stock: none).

        :param plan: what `rewrite` returned.
        :param fixed: the program after the fixup stage, with its pc map (`fixed.pc_map`).
        :param image: the JITed code (`image.base`, `image.return_offset(pc)`).
        :param address: where the machine maps the table.
        :returns: the table's bytes, in the layout the runtime's C declares.
        """
        return b""


class RecordsResources(Strategy):
    """The verifier side of a strategy that records each resource at run time, as it is taken
    (resource-table's regions, registration records' list): its state is the `Ledger` of acquire
    and release sites, for its `rewrite` to instrument, and a throw releases what it holds when
    every reference has a record of a kind the kernel can release. An iterator or dynptr
    (released by its stack slot's address) is followed only from one slot per acquire site;
    otherwise no record can follow it, and every throw stays a leak."""

    def prepare(self, program: Program, survey: Survey | None = None) -> Prepared:
        return Prepared(program, Ledger())

    def on_acquire(self, state: Ledger, event: Acquired) -> Ledger:
        return state.acquired(event)

    def on_release(self, state: Ledger, event: Released) -> Ledger:
        return state.released(event)

    def releases_on_throw(self, state: Ledger, site: ThrowSite) -> bool:
        return not state.untracked() and all(r.kind in RELEASABLE for r in site.refs)


def interior_pointer(site: ThrowSite) -> str | None:
    """Why a runtime that releases the pointer it finds cannot release what `site` holds: a slot
    or register pointing inside its object (a list pop's or rbtree remove's node, whose release
    needs the object's start), or None. A strategy whose runtime records the object (the
    resource table) does not need it; the others refuse the throw with this message."""
    for frame in site.frames:
        for h in frame.holdings:
            if h.off:
                return (
                    f"{h.location} holds {h.kind} at off={h.off} (a list or rbtree node inside its object) at the "
                    "throw: the runtime would release the pointer, not the object's start"
                )
    return None
