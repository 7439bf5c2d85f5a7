"""What the interpreter shows of a run: the frames an unwinder sees at a throw, and how it ended."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from framework.kernel.api import Engine, Kernel

__all__ = ["FrameState", "Outcome", "ThrowState", "Unwinder"]


@dataclass(frozen=True, slots=True)
class FrameState:
    """One BPF frame at a throw, innermost last: where it was and what it held in r6-r9."""

    subprog: str
    pc: int  # the call site in this frame (the throwing pc for the innermost)
    fp: int  # its frame pointer (R10)
    callee_saved: tuple[int, int, int, int]  # r6-r9 as this frame last had them


@dataclass(frozen=True, slots=True)
class ThrowState:
    """What an unwinder sees at bpf_throw."""

    pc: int
    cookie: int
    frames: tuple[FrameState, ...]  # main program first


# Called at a throw, before the frames are dropped, with `Kernel.unwinding` set: what it
# releases through the kernel's services is recorded as released by the unwinder.
Unwinder = Callable[[ThrowState, Kernel, Engine], None]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended."""

    r0: int  # r0 at the final exit, 64-bit unsigned
    threw: bool
    cookie: int | None
    insns: int  # BPF instructions executed, exception callback included
    stack_high_water: int  # deepest sum of the live frames' touched stack bytes
    fault: str | None = None  # "pc N: reason" when the run faulted
    fault_pc: int | None = None
    timed_out: bool = False  # stopped by the instruction or time limit: the other figures are not a result
    unsupported: bool = False  # stopped at a service the emulated kernel does not model (NotEmulated)
    throw_target: str | None = None  # the tail-call target whose exception callback took the throw
