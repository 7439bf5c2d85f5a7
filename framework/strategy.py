"""The strategy protocol: what a cleanup strategy is, as the core sees it.

A strategy is an object with a `name`, a `version` and a `summary`; its methods
are the pipeline stages it fills in. `Strategy` is the base class: it is Linux
today (`stock`), and every method returns what the core does without a strategy.
Later stages (verifier hooks, rewrite, JIT, runtime) add methods here as they land.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from framework.kernel.kinds import KINDS
from framework.load.program import Program

if TYPE_CHECKING:
    from framework.fixup import Fixed
    from framework.jit import NativeImage
    from framework.plan import Plan
    from framework.verify.result import Analysis, ThrowSite


STOCK_RUNTIME = Path(__file__).resolve().parent / "runtime" / "stock.c"  # bpf_throw as Linux runs it


class Strategy:
    """Base class and stock behaviour: change nothing, release nothing."""

    name: str = "stock"
    version: str = "0"
    summary: str = "Linux today: refuse any throw while something is held."
    runtime: Path | None = STOCK_RUNTIME  # the throw-time C runtime (None: the strategy has none built yet)

    def prepare(self, program: Program) -> Program:
        """Return the program with what a compiler would have emitted (stock: unchanged)."""
        return program

    # ---- verifier hooks (framework/verify calls them while it explores; stock: observe only)

    def on_acquire(self, pc: int, subprog: int, ref_id: int, kind: str, slot: int | None = None) -> None:
        """A reference was acquired at `pc` (helper or kfunc acquire, iterator or dynptr init);
        `slot` is the fp offset of an iterator or dynptr living in the current frame."""

    def on_release(self, pc: int, subprog: int, ref_id: int, kind: str) -> None:
        """A reference was released at `pc` by the program."""

    def on_peak_resources(self, subprog: int, peak: int) -> None:
        """After verification: the most references held at once while `subprog` ran."""

    def reserved_stack(self, subprog: int) -> int:
        """Bytes the strategy adds to `subprog`'s stack, checked against the 512-byte limits (stock: 0)."""
        return 0

    def on_throw(self, site: ThrowSite) -> str | None:
        """A throwing point on one path; a returned message refuses the program there."""
        return None

    def releases_on_throw(self, site: ThrowSite) -> bool:
        """Whether the strategy releases what `site` holds (stock: no, so it is a reference leak)."""
        return False

    def merge_throw_sites(self, old: ThrowSite, new: ThrowSite) -> ThrowSite | str:
        """Two paths meet at one throwing point: the site to keep, or a message that refuses."""
        return new

    # ---- rewrite (framework.plan.plan calls it after verification)

    def rewrite(self, program: Program, analysis: Analysis) -> Plan | None:
        """The tables, reserved stack and inserted code the strategy adds (stock: nothing)."""
        return None

    # ---- jit (framework.machine.engine.prepare calls it once the code is laid out)

    def runtime_table(self, plan: Plan, fixed: Fixed, image: NativeImage, address: int) -> bytes:
        """The table the runtime reads, built from `plan` and the JITed code, mapped at `address` (stock: none)."""
        return b""


RELEASABLE = {k.name: k for k in KINDS}  # the resource kinds a runtime can release (framework.kernel.kinds)


class RecordsResources(Strategy):
    """The verifier side of a strategy that records each resource at run time, as it is taken
    (resource-table's regions, registration records' list): the acquire and release sites, for
    its `rewrite` to instrument, and a throw releases what it holds when every reference has a
    record of a kind the kernel can release. An iterator or dynptr (released by its stack slot's
    address) is followed only from one slot per acquire site; otherwise no record can follow it,
    and every throw stays a leak. `prepare` starts a verification's tables afresh."""

    def __init__(self) -> None:
        self.acquires: dict[int, tuple[str, int | None]] = {}  # acquire pc -> (kind, the slot of a stack resource)
        self.releases: set[int] = set()
        self.kinds: dict[int, str] = {}  # reference id -> kind
        self.untracked: set[int] = set()  # acquire pcs no record can follow

    def prepare(self, program: Program) -> Program:
        self.__init__()  # type: ignore[misc]  # one verification at a time: prepare starts it
        return program

    def on_acquire(self, pc: int, subprog: int, ref_id: int, kind: str, slot: int | None = None) -> None:
        self.kinds[ref_id] = kind
        seen = self.acquires.setdefault(pc, (kind, slot))
        if kind not in RELEASABLE or (RELEASABLE[kind].by_address and (slot is None or seen != (kind, slot))):
            self.untracked.add(pc)

    def on_release(self, pc: int, subprog: int, ref_id: int, kind: str) -> None:
        self.releases.add(pc)

    def releases_on_throw(self, site: ThrowSite) -> bool:
        return not self.untracked and all(self.kinds.get(r) in RELEASABLE for r in site.refs)


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
