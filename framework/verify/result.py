"""What the verify stage hands on: `Analysis` and the `ThrowSite`s in it (DESIGN.md)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from framework.errors import Coord
from framework.verify.env import Missing
from framework.verify.regs import RT


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # by a rule of the kernel's verifier
    UNSUPPORTED = "unsupported"  # the program needs what the project does not model (Analysis.missing names it)


class Nullness(enum.Enum):
    """Whether a resource location holds the pointer on this path."""

    POINTER = "pointer"
    NULL = "null"
    MAYBE_NULL = "maybe-null"
    INVALID = "invalid"


def location_name(at: int) -> str:
    """A register (6..9) or an fp offset (below 0) as the verifier log names it: "r6", "fp-8"."""
    return f"r{at}" if at > 0 else f"fp{at}"


@dataclass(frozen=True, slots=True)
class Holding:
    """One stack slot or callee-saved register holding a resource at a throwing point."""

    at: int  # 6..9: that callee-saved register; below 0: the stack slot at that fp offset
    kind: str  # obj, percpu_obj, ringbuf, dynptr, socket, task, cgroup, iter_num, ...
    btf_id: int
    ref_id: int
    state: Nullness
    off: int = 0  # how far into its object the pointer points (a list or rbtree node: the node's offset)
    acquired_at: int = -1  # the pc that acquired the reference (refs[].insn_idx; -1: released on this path)

    @property
    def register(self) -> int | None:
        """The register (6..9) holding it, or None for a stack slot."""
        return self.at if self.at > 0 else None

    @property
    def location(self) -> str:
        """As the verifier log names it: "r6".."r9", or "fp-8"."""
        return location_name(self.at)


@dataclass(frozen=True, slots=True)
class FrameHoldings:
    """One frame of the chain at a throwing point, innermost first."""

    subprog: int
    callsite: int  # pc of the call into this frame (-1 for the boundary frame)
    holdings: tuple[Holding, ...]
    nulls: tuple[int, ...] = ()  # slots and callee-saved registers (as Holding.at) known to hold 0 on this path


@dataclass(frozen=True, slots=True)
class Reference:
    """A pointer reference held at a throwing point (acquired, not released): `struct bpf_reference_state`."""

    id: int
    acquired_at: int  # insn_idx: the acquiring pc
    kind: str


@dataclass(frozen=True, slots=True)
class ThrowSite:
    """A throwing point (a bpf_throw call, or a call to a global subprog that may throw)."""

    pc: int
    frames: tuple[FrameHoldings, ...]
    via_global: bool = False
    refs: tuple[Reference, ...] = ()  # every pointer reference held on this path, by id


@dataclass(frozen=True, slots=True)
class InsnAux:
    """What the verifier saw at one instruction, kept for the rewrites after it (`struct bpf_insn_aux_data`).

    The fixup stage reads only this, never the instruction's shape: a context access is
    converted because the verifier typed its base register as the context, whatever
    register, copy, spill or arithmetic led there (convert_ctx_accesses)."""

    ptr_type: RT | None = None  # the base register's type at a load or store (insn_aux_data[].ptr_type)
    ptr_flags: frozenset[str] = frozenset()  # its type flags (alloc, percpu, rdonly, trusted, ...)
    map_index: int | None = None  # a map helper's map on every path (map_ptr_state); -1 when paths differ
    map_key: int | None = None  # a tail call's constant key on every path (map_key_state); -1 when poisoned
    obj_type_id: int | None = (
        None  # obj_new / obj_drop / refcount_acquire: the local type (obj_new_size, kptr_struct_meta)
    )
    loop_callback: int | None = None  # bpf_loop fit for inlining: the callback's first pc (loop_inline_state)
    node_off: int | None = None  # a graph kfunc's node argument or result points this far into its object
    # (a push's or an add's insn_aux->insert_off; a pop's or a remove's container_of)


NO_AUX = InsnAux()


@dataclass(frozen=True, slots=True)
class VerifierRecord:
    """Everything the rewrites after verification read of what the verifier saw."""

    aux: tuple[InsnAux, ...] = ()  # per pc of the verified program (empty: nothing recorded)
    tstamp_type_access: bool = False  # prog->tstamp_type_access (how tc's __sk_buff tstamp is converted)
    seen: frozenset[int] = frozenset()  # pcs some verified path reached (insn_aux_data[].seen)
    complete: bool = False  # the verification finished (accepted): every pc not `seen` is dead
    tail_call_reachable: frozenset[str] = frozenset()  # subprogs (by name) the JIT gives a tail-call counter

    def at(self, pc: int) -> InsnAux:
        return self.aux[pc] if 0 <= pc < len(self.aux) else NO_AUX

    def where(self) -> dict[int, InsnAux]:
        """The pcs something was recorded at."""
        return {pc: a for pc, a in enumerate(self.aux) if a != NO_AUX}


@dataclass(frozen=True, slots=True)
class Analysis:
    """The verifier's result for one program under one strategy."""

    program: str
    strategy: str
    verdict: Verdict
    message: str | None
    coord: Coord | None
    log1: tuple[str, ...]
    log2: tuple[str, ...]
    stack_depth: tuple[int, ...]
    insns_processed: int
    verification_usec: int
    throw_sites: tuple[ThrowSite, ...] = ()
    peak_resources: tuple[int, ...] = ()  # per subprog: most resources held at once
    stats: str = ""
    deepest_chain: int = 0  # the largest combined stack of a call chain, frames rounded to 16 (reserved included)
    throws_reached: frozenset[int] = frozenset()  # bpf_throw pcs the verifier reached (the others it proved dead)
    record: VerifierRecord = field(default_factory=VerifierRecord)  # per pc, what it saw (insn_aux_data)
    missing: Missing | None = None  # verdict UNSUPPORTED: what is not modelled
    strategy_state: object = None  # what the strategy's last verifier hook returned (framework.strategy)

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPTED

    def log(self, level: int = 1) -> str:
        lines = self.log2 if level >= 2 else self.log1 if level == 1 else ()
        return "".join(line + "\n" for line in lines)

    def to_json(self) -> dict[str, object]:
        """DESIGN.md's `bakeoff verify --json` keys."""
        return {
            "program": self.program,
            "strategy": self.strategy,
            "verdict": self.verdict.value,
            "message": self.message,
            "missing": self.missing.to_json() if self.missing else None,
            "stack_depth": list(self.stack_depth),
            "insns_processed": self.insns_processed,
            "verification_usec": self.verification_usec,
        }
