"""The reference result every run is checked against: what the program means.

The reference is the interpreter's run of the program as given (before any strategy's
`prepare`), on the same input and driven to the same throwing point, under the ideal
cleanup: at a throw, everything the ledger holds is released once (innermost acquisition
first, through the very service the program would call), then the exception callback
runs. A strategy's run agrees with it when it returns the same value, throws (or not) with
the same cookie, releases the same resources (by kind and acquiring pc, by the program or
by the unwinder), leaks the same, and faults (or not) alike. Anything else is a
`mismatch`, never a figure; a run either side stopped by its limit is a `timeout`.

The interpreter is the project's second, independent reading of the program: it runs the
instructions as written against `struct __sk_buff`, where the JIT runs the fixup stage's
rewrite of them against `struct sk_buff` (framework.kernel.skb); the ledger is the
measuring instrument, which only the reference's ideal cleanup may read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from framework.kernel.api import Engine, Kernel
from framework.kernel.kinds import KINDS
from framework.kernel.objects import RunInput
from framework.kernel.services import EmulatedKernel
from framework.load.program import Program
from framework.plan import Plan, baseline
from framework.run.frames import ThrowState
from framework.run.result import RunResult, run_program
from framework.run.targets import TargetBuilds, program_key
from framework.throwpoints import Force, Guard, ThrowPoint

__all__ = ["Check", "Held", "Reference", "References", "check", "given_force", "ideal_cleanup", "reference_run"]

# the ledger's kind names for what a release kind frees (a ringbuf dynptr's record is "ringbuf_dynptr")
_RELEASES = {k.name: k for k in KINDS} | {"ringbuf_dynptr": next(k for k in KINDS if k.name == "dynptr")}


@dataclass(frozen=True, slots=True, order=True)
class Held:
    """One resource of a run, as the comparison sees it."""

    kind: str
    acquired_pc: int  # in the program as given
    released: bool
    by_unwinder: bool

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "acquired_pc": self.acquired_pc,
            "released": self.released,
            "by_unwinder": self.by_unwinder,
        }


@dataclass(frozen=True, slots=True)
class Reference:
    """The meaning of one run: what the program as given does on the input, ideally cleaned up."""

    retval: int
    threw: bool
    cookie: int | None
    resources: tuple[Held, ...]  # sorted
    fault: str | None = None
    timed_out: bool = False
    unsupported: bool = False  # the reference run reached a service the emulated kernel lacks
    frames: int = 0  # BPF frames live at the throw (0: it did not throw)

    @property
    def released(self) -> tuple[Held, ...]:
        return tuple(h for h in self.resources if h.released)

    def to_json(self) -> dict[str, object]:
        return {
            "retval": self.retval,
            "threw": self.threw,
            "cookie": self.cookie,
            "released": [h.to_json() for h in self.released],
            "fault": self.fault,
            "timed_out": self.timed_out,
            "frames": self.frames,
        }


def ideal_cleanup(state: ThrowState, kernel: Kernel, engine: Engine) -> None:
    """The reference's unwinder: every resource live at the throw released once, newest first."""
    del state  # what the frames hold is the strategies' question; the ideal answer is the ledger's
    assert isinstance(kernel, EmulatedKernel)
    for res in reversed(kernel.ledger.live()):
        kind = _RELEASES.get(res.kind)
        if kind is not None:  # locks and sections have no release kind: stock refuses a throw under them
            kernel.unwind_release(kind.id, res.handle, engine)


def _holdings(result: RunResult, origin: Sequence[int] = ()) -> tuple[Held, ...]:
    def given(pc: int | None) -> int:
        if pc is None:
            return -1
        return origin[pc] if origin and 0 <= pc < len(origin) else pc

    out = [Held(r.kind, given(r.acquired_pc), True, True) for r in result.released_by_unwinder]
    out += [Held(r.kind, given(r.acquired_pc), True, False) for r in result.released_by_program]
    out += [Held(r.kind, given(r.acquired_pc), False, False) for r in result.leaked]
    return tuple(sorted(out))


def reference_run(given: Program, run_input: RunInput, force: Force | None, *, timeout_s: float) -> Reference:
    """The interpreter's run of `given` on `run_input`, driven by `force` (a throwing point of
    `given`), under the ideal cleanup."""
    frames: list[int] = []

    def unwind(state: ThrowState, kernel: Kernel, engine: Engine) -> None:
        frames.append(len(state.frames))
        ideal_cleanup(state, kernel, engine)

    result = run_program(given, run_input, "interp", unwinder=unwind, force=force, timeout_s=timeout_s)
    return Reference(
        result.retval,
        result.threw,
        result.cookie,
        _holdings(result),
        result.fault,
        result.timed_out,
        result.unsupported,
        frames[0] if frames and result.threw else 0,
    )


def given_force(given: Program, prepared: Program, force: Force | None) -> Force | None:
    """The same forced throw in the program as given: its pc and its guards' pcs mapped back
    through what `prepare` emitted (Program.origin)."""
    if force is None:
        return None
    pc = prepared.given_pc(force.point.pc)
    guards = tuple(Guard(prepared.given_pc(g.pc), g.taken) for g in force.point.guards)
    if pc < 0 or any(g.pc < 0 for g in guards):
        raise ValueError(f"throwing point {force.point.pc} has no counterpart in the program as given")
    return Force(ThrowPoint(pc, guards), force.hit)


class References:
    """What every strategy's run of one program shares, computed once: each case's reference run
    (per program as given, input and forced throw), and stock's JIT of the program as given (its
    verified plan, and its run on each input, checked against the reference too), and the tail-call
    targets built under each strategy (`builds`)."""

    def __init__(self, size: int = 4096) -> None:
        self.builds = TargetBuilds()
        self._done: dict[tuple[object, ...], Reference] = {}
        self._plans: dict[tuple[object, ...], Plan] = {}
        self._stock: dict[tuple[object, ...], tuple[RunResult, Check]] = {}
        self._size = size

    @staticmethod
    def _key(given: Program) -> tuple[object, ...]:
        return program_key(given)

    def get(self, given: Program, run_input: RunInput, force: Force | None, timeout_s: float) -> Reference:
        key = (*self._key(given), run_input, force)
        ref = self._done.get(key)
        if ref is None:
            if len(self._done) >= self._size:
                self._done.clear()
            ref = self._done[key] = reference_run(given, run_input, force, timeout_s=timeout_s)
        return ref

    def baseline(self, given: Program) -> Plan:
        """framework.plan.baseline(given), once."""
        key = self._key(given)
        if key not in self._plans:
            self._plans[key] = baseline(given)
        return self._plans[key]

    def stock(self, given: Program, run_input: RunInput, timeout_s: float) -> tuple[RunResult, Check]:
        """Stock's JIT of the program as given on `run_input` (the happy-path baseline), beside its reference."""
        key = (*self._key(given), run_input)
        if key not in self._stock:
            run = run_program(
                given, run_input, "jit", plan=self.baseline(given), builds=self.builds, timeout_s=timeout_s
            )
            self._stock[key] = (run, check(run, self.get(given, run_input, None, timeout_s)))
        return self._stock[key]


@dataclass(frozen=True, slots=True)
class Check:
    """A run beside its reference."""

    reference: Reference
    agrees: bool
    differences: tuple[str, ...]
    timed_out: bool

    @property
    def verdict(self) -> str:
        """DESIGN.md's outcome for the run: `timeout` or `mismatch` (never a figure), else `accepted`."""
        if self.timed_out:
            return "timeout"
        return "accepted" if self.agrees else "mismatch"

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "reference_retval": self.reference.retval,
            "reference_threw": self.reference.threw,
            "reference_released": [h.to_json() for h in self.reference.released],
            "agrees": self.agrees,
            "differences": list(self.differences),
        }


def check(result: RunResult, reference: Reference, origin: Sequence[int] = ()) -> Check:
    """Compare a run with its reference; `origin` maps the run's pcs to the given program's."""
    if result.timed_out or reference.timed_out:
        return Check(reference, False, (), True)
    diffs = []
    if (result.fault is None) != (reference.fault is None):
        diffs.append(f"fault: {result.fault or 'none'}; the reference: {reference.fault or 'none'}")
    if (result.threw, result.cookie) != (reference.threw, reference.cookie):
        diffs.append(f"threw {result.threw} (cookie {result.cookie}); the reference: {reference.threw} "
                     f"(cookie {reference.cookie})")  # fmt: skip
    if result.retval != reference.retval:
        diffs.append(f"returned {result.retval}; the reference returns {reference.retval}")
    mine = _holdings(result, origin)
    if mine != reference.resources:
        diffs.append(f"resources {_describe(mine)}; the reference: {_describe(reference.resources)}")
    return Check(reference, not diffs, tuple(diffs), False)


def _describe(held: Sequence[Held]) -> str:
    def one(h: Held) -> str:
        fate = "released by the unwinder" if h.by_unwinder else "released" if h.released else "leaked"
        return f"{h.kind}@{h.acquired_pc} {fate}"

    return "[" + ", ".join(one(h) for h in held) + "]" if held else "none"
