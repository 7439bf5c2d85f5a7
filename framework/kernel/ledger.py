"""The resource ledger: the life of every resource a run acquires, as the kernel services saw it.

The services record each acquire (by which pc, through which kfunc or helper),
each release (by the program, or by an unwinder while a throw is handled), each
release of something no longer held, and each use of a released resource. At
the end of a run, what is still live is leaked.

The ledger only observes. No engine, strategy or unwinder may read it to decide
what to release: it is the measuring instrument, not the mechanism.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["Event", "EventKind", "Ledger", "Resource", "State"]


class State(enum.Enum):
    LIVE = "live"
    RELEASED = "released"  # by the program
    UNWOUND = "released_by_unwinder"
    LEAKED = "leaked"  # still live when the run ended


class EventKind(enum.Enum):
    ACQUIRE = "acquire"
    RELEASE = "release"
    UNWINDER_RELEASE = "unwinder_release"
    DOUBLE_RELEASE = "double_release"
    USE_AFTER_RELEASE = "use_after_release"
    LEAK = "leak"


@dataclass(slots=True)
class Resource:
    """One acquired reference (a second reference on the same object is a second Resource)."""

    id: int
    kind: str  # "obj", "percpu_obj", "task", "cgroup", "socket", "ringbuf", "iter_num", "rcu", ...
    handle: int  # the pointer the program holds (or the iterator/lock address, or 0 for sections)
    acquired_pc: int
    acquired_by: str
    state: State = State.LIVE
    released_pc: int | None = None
    released_by: str | None = None

    def describe(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "acquired_pc": self.acquired_pc,
            "acquired_by": self.acquired_by,
            "released_pc": self.released_pc,
            "released_by": self.released_by,
        }


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    resource: int | None  # Resource.id, None when the handle named nothing ever acquired
    pc: int
    by: str  # the service that recorded it
    handle: int = 0


@dataclass(slots=True)
class Ledger:
    resources: list[Resource] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    finished: bool = False

    def acquire(self, kind: str, handle: int, pc: int, by: str) -> Resource:
        res = Resource(len(self.resources) + 1, kind, handle, pc, by)
        self.resources.append(res)
        self.events.append(Event(EventKind.ACQUIRE, res.id, pc, by, handle))
        return res

    def live(self, kind: str | None = None, handle: int | None = None) -> list[Resource]:
        return [
            r
            for r in self.resources
            if r.state is State.LIVE and (kind is None or r.kind == kind) and (handle is None or r.handle == handle)
        ]

    def release(self, kind: str, handle: int | None, pc: int, by: str, unwinder: bool = False) -> Resource | None:
        """Release the most recent live `kind` held through `handle` (None: the most recent of the kind).

        Releasing what is not held records a double release (or a release of
        something never acquired) and returns None.
        """
        held = self.live(kind, handle)
        if not held:
            ever = [r for r in self.resources if r.kind == kind and (handle is None or r.handle == handle)]
            self.events.append(Event(EventKind.DOUBLE_RELEASE, ever[-1].id if ever else None, pc, by, handle or 0))
            return None
        res = held[-1]
        res.state = State.UNWOUND if unwinder else State.RELEASED
        res.released_pc = pc
        res.released_by = by
        kind_ = EventKind.UNWINDER_RELEASE if unwinder else EventKind.RELEASE
        self.events.append(Event(kind_, res.id, pc, by, handle or 0))
        return res

    def use(self, resource: Resource, pc: int, by: str) -> None:
        """Record a use of `resource`; only a use after its release is an event."""
        if resource.state is not State.LIVE:
            self.events.append(Event(EventKind.USE_AFTER_RELEASE, resource.id, pc, by, resource.handle))

    def finish(self, pc: int) -> None:
        """End of run: whatever is still live has leaked."""
        if self.finished:
            return
        self.finished = True
        for res in self.resources:
            if res.state is State.LIVE:
                res.state = State.LEAKED
                self.events.append(Event(EventKind.LEAK, res.id, pc, "end of run", res.handle))

    def _with(self, kind: EventKind) -> list[Event]:
        return [e for e in self.events if e.kind is kind]

    @property
    def leaked(self) -> list[Resource]:
        return [r for r in self.resources if r.state is State.LEAKED]

    @property
    def released_by_program(self) -> list[Resource]:
        return [r for r in self.resources if r.state is State.RELEASED]

    @property
    def released_by_unwinder(self) -> list[Resource]:
        return [r for r in self.resources if r.state is State.UNWOUND]

    @property
    def double_released(self) -> list[Event]:
        return self._with(EventKind.DOUBLE_RELEASE)

    @property
    def used_after_release(self) -> list[Event]:
        return self._with(EventKind.USE_AFTER_RELEASE)
