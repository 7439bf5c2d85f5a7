"""The strategy protocol: what a cleanup strategy is, as the core sees it.

A strategy is an object with a `name`, a `version` and a `summary`; its methods
are the pipeline stages it fills in. `Strategy` is the base class: it is Linux
today (`stock`), and every method returns what the core does without a strategy.
The methods are grouped by the stage that calls them (load, verify, plan, jit), each
with its arguments and result documented; the stage owning a method calls it on the
one instance of the (program, strategy) pair. The plugin manager's own hooks
(registration, provenance) are `framework.hookspecs`'.
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

    # ---- load (framework.pipeline.verify calls it first)

    def prepare(self, program: Program) -> Program:
        """What a compiler would have emitted for this strategy (stock: the program unchanged).

        :param program: the program as loaded from its object.
        :returns: the program the verifier sees; a strategy that compiles its own cleanup
            (landing pads) returns it with that code and its tables.
        """
        return program

    # ---- verify (framework/verify calls them while it explores every path; stock: observe only)

    def on_acquire(self, pc: int, subprog: int, ref_id: int, kind: str, slot: int | None = None) -> None:
        """A reference was acquired (a helper's or kfunc's acquire, an iterator's or dynptr's init).

        :param pc: the acquiring instruction, in the program `prepare` returned.
        :param subprog: the index of the subprog that pc belongs to.
        :param ref_id: the verifier's reference id (acquire_reference's), unique in one verification.
        :param kind: the resource kind (framework.kernel.kinds: obj, ringbuf, task, iter_num, ...).
        :param slot: the fp offset of an iterator or dynptr living in the current frame, else None.
        """

    def on_release(self, pc: int, subprog: int, ref_id: int, kind: str) -> None:
        """The program released a reference (release_reference).

        :param pc: the releasing instruction.
        :param subprog: the index of the subprog that pc belongs to.
        :param ref_id: the reference's id, as `on_acquire` was given it.
        :param kind: its resource kind.
        """

    def on_peak_resources(self, subprog: int, peak: int) -> None:
        """After verification, once per subprog: the most references its frames held at once.

        :param subprog: the subprog's index.
        :param peak: the largest number of references acquired in it and held at one time.
        """

    def reserved_stack(self, subprog: int) -> int:
        """Bytes the strategy adds to a subprog's frame, checked against the 512-byte limits
        (check_max_stack_depth) with the program's own (stock: 0).

        :param subprog: the subprog's index.
        :returns: bytes, a multiple of 8.
        """
        return 0

    def on_throw(self, site: ThrowSite) -> str | None:
        """A throwing point reached on one path, with what each frame holds there.

        :param site: the throw's pc and its call chain's frames, innermost first.
        :returns: a message that refuses the program at this throw, or None.
        """
        return None

    def releases_on_throw(self, site: ThrowSite) -> bool:
        """Whether the strategy releases what `site` holds; when not, a throw that holds
        anything is Linux's reference leak.

        :param site: as `on_throw` was given it.
        :returns: True to take responsibility for everything `site` holds (stock: False).
        """
        return False

    def merge_throw_sites(self, old: ThrowSite, new: ThrowSite) -> ThrowSite | str:
        """Two paths reach one throwing point: what the strategy keeps of both.

        :param old: the site as kept so far.
        :param new: the site on the path just explored.
        :returns: the site to keep (stock: the newer one), or a message that refuses the program.
        """
        return new

    # ---- plan (framework.pipeline.plan calls it once the program is accepted)

    def rewrite(self, program: Program, analysis: Analysis) -> Plan | None:
        """The tables, reserved stack and inserted instructions the strategy adds.

        :param program: the program `prepare` returned, as the verifier accepted it.
        :param analysis: everything the verifier found (throw sites merged, stack depths,
            per-instruction records).
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
