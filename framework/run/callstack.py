"""The interpreter's BPF call stack: its frames, each frame's 512-byte stack in emulated memory,
and the high-water mark of the stack the live frames have touched.

Frame d's frame pointer is `STACK_TOP - d * STACK_STRIDE`, so a stack address names its frame.
An exception boundary (a program's main, or a tail-call target's on the frame that made the
call) is a frame with an `image`.
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.fixup.maygoto import BPF_MAX_TIMED_LOOPS
from framework.kernel.memory import AddressSpace
from framework.run.frames import FrameState
from framework.run.tailcall import Image
from framework.verify.state import MAX_BPF_STACK, MAX_CALL_FRAMES  # the kernel's limits, declared once

__all__ = ["MAX_BPF_STACK", "MAX_CALL_FRAMES", "STACK_STRIDE", "STACK_TOP", "CallStack", "Frame"]

STACK_TOP = 0x7FF0_0000_0000  # frame pointer of frame 0; frame d sits STACK_STRIDE lower
STACK_STRIDE = 0x1_0000


@dataclass(slots=True)
class Frame:
    return_pc: int
    saved: tuple[int, int, int, int]  # caller's r6-r9
    caller_fp: int
    call_pc: int
    subprog: str
    may_goto: int = BPF_MAX_TIMED_LOOPS  # the timed may_goto count (its fp-16 slot after do_misc_fixups)
    may_goto_stamp: int = 0  # and its timestamp (fp-8)
    image: Image | None = None  # the program whose main runs on this frame (its exception boundary)


class CallStack:
    """The live frames, main first, and what each has touched of its stack."""

    def __init__(self, mem: AddressSpace) -> None:
        self.mem = mem
        self.frames: list[Frame] = []
        self.high_water = 0
        self._used = [0] * (MAX_CALL_FRAMES + 1)
        self._total = 0
        self._mapped = 0

    def reset(self, main: Frame) -> None:
        """A new run: `main` alone, nothing of any stack touched."""
        self.frames[:] = [main]
        self._used = [0] * (MAX_CALL_FRAMES + 1)
        self._total = 0
        self.high_water = 0
        self._map(0)

    def push(self, frame: Frame) -> int | None:
        """Enter `frame`; its frame pointer, or None past MAX_CALL_FRAMES."""
        depth = len(self.frames)
        if depth >= MAX_CALL_FRAMES:
            return None
        self._map(depth)
        self.frames.append(frame)
        self._used[depth] = 0
        return STACK_TOP - depth * STACK_STRIDE

    def pop(self) -> Frame:
        """Leave the innermost frame (main stays: its exit ends the run) and return it."""
        frame = self.frames[-1]
        if len(self.frames) > 1:
            self.frames.pop()
            self._forget(len(self.frames))
        return frame

    def cut(self, boundary: int) -> None:
        """A throw to frame `boundary`: frames above it dropped, its own stack and theirs untouched."""
        for d in range(boundary, len(self.frames)):
            self._forget(d)
        del self.frames[boundary + 1 :]

    def restart(self, depth: int) -> None:
        """A tail call on frame `depth`: the target starts with nothing of its stack touched."""
        self._forget(depth)

    def touch(self, addr: int) -> None:
        """Account a stack access to its frame for the high-water mark."""
        below = STACK_TOP - addr
        if 0 < below <= MAX_CALL_FRAMES * STACK_STRIDE:
            depth = (below - 1) // STACK_STRIDE
            used = below - depth * STACK_STRIDE
            if depth < len(self.frames) and used > self._used[depth]:
                self._total += used - self._used[depth]
                self._used[depth] = used
                if self._total > self.high_water:
                    self.high_water = self._total

    def states(self, first: int, pc: int, live: tuple[int, int, int, int]) -> tuple[FrameState, ...]:
        """Frames `first`.. as an unwinder sees them at a throw from `pc`: each frame's call site
        and r6-r9 (an outer frame's are what its callee saved on entry; the innermost's are `live`)."""
        f = self.frames
        n = len(f)
        return tuple(
            FrameState(
                f[d].subprog,
                f[d + 1].call_pc if d + 1 < n else pc,
                STACK_TOP - d * STACK_STRIDE,
                f[d + 1].saved if d + 1 < n else live,
            )
            for d in range(first, n)
        )

    def _forget(self, depth: int) -> None:
        self._total -= self._used[depth]
        self._used[depth] = 0

    def _map(self, depth: int) -> None:
        while self._mapped <= depth:
            fp = STACK_TOP - self._mapped * STACK_STRIDE
            self.mem.map_at(fp - MAX_BPF_STACK, f"stack of frame {self._mapped}", "stack", bytes(MAX_BPF_STACK))
            self._mapped += 1
