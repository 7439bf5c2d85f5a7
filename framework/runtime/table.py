"""The `bakeoff_rt` table (runtime.h): what the machine tells the runtime, and what it reports."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from framework.runtime.build import RUNTIME_DATA_SIZE

__all__ = ["MAX_FRAMES", "MAX_MAINS", "FrameInfo", "RuntimeTable", "ThrowRecord"]

MAX_MAINS = 16  # BAKEOFF_MAX_MAINS
MAX_KINDS = 16  # BAKEOFF_MAX_KINDS
MAX_FRAMES = 64  # BAKEOFF_MAX_FRAMES
SCRATCH_WORDS = 512  # bakeoff_rt.scratch (the whole table stays within RUNTIME_DATA_SIZE)
_HEAD = struct.Struct("<8Q")
_MAIN = struct.Struct("<7Q")
_FRAME = struct.Struct("<QQIB5sHI")
REG_OF_X86 = {"rbx": 6, "r13": 7, "r14": 8, "r15": 9, "r12": 0}  # the x86 JIT's reg2hex map for R6-R9


@dataclass(frozen=True, slots=True)
class ThrowRecord:
    threw: bool
    cookie: int
    frames: int
    released: int = 0  # releases the runtime asked the kernel for
    misses: int = 0  # BPF frames its table had no entry for
    boundary: int = 0  # the index of the main whose exception callback took the throw (tail-call targets: > 0)


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """struct bakeoff_frame: one subprog's code range, stack size and pushed registers."""

    lo: int
    hi: int
    stack_size: int
    pushed: tuple[str, ...]  # x86 registers in push order (FrameLayout.pushed)
    subprog: int

    def encode(self) -> bytes:
        regs = bytes(REG_OF_X86[r] for r in self.pushed)
        return _FRAME.pack(self.lo, self.hi, self.stack_size, len(regs), regs, self.subprog, 0)


@dataclass(frozen=True, slots=True)
class RuntimeTable:
    """All JITed code [text_lo, text_hi), each main program's range, exception callback and table,
    each subprog's frame, the release stub per kind, and the strategy's table."""

    text: tuple[int, int]
    mains: tuple[tuple[int, int, int], ...]  # (lo, hi, exception callback address)
    frames: tuple[FrameInfo, ...] = ()
    release: tuple[int, ...] = ()  # stub address by kind number (index 0 unused)
    table: tuple[int, int] = (0, 0)  # (address, length) of the strategy's runtime table
    tables: tuple[tuple[int, int], ...] = ()  # per main: its program's table (tail-call targets have their own)
    code: tuple[tuple[int, int], ...] = ()  # per main: all its program's code (default: the main's range)

    def encode(self) -> bytes:
        if len(self.mains) > MAX_MAINS or len(self.frames) > MAX_FRAMES or len(self.release) > MAX_KINDS:
            raise ValueError(f"at most {MAX_MAINS} mains, {MAX_FRAMES} frames, {MAX_KINDS} kinds")
        out = _HEAD.pack(0, 0, 0, 0, 0, self.text[0], self.text[1], len(self.mains))
        tables = self.tables or (self.table,) * len(self.mains)
        code = self.code or tuple((m[0], m[1]) for m in self.mains)
        rows = (_MAIN.pack(*m, *t, *c) for m, t, c in zip(self.mains, tables, code, strict=True))
        out += b"".join(rows).ljust(_MAIN.size * MAX_MAINS, b"\0")
        out += struct.pack(f"<{MAX_KINDS}Q", *self.release, *([0] * (MAX_KINDS - len(self.release))))
        out += struct.pack("<3Q", self.table[0], self.table[1], len(self.frames))
        out += b"".join(f.encode() for f in self.frames).ljust(_FRAME.size * MAX_FRAMES, b"\0")
        out += bytes(8 * SCRATCH_WORDS)
        if len(out) > RUNTIME_DATA_SIZE:  # the strategy's table is mapped right after it
            raise ValueError(f"bakeoff_rt is {len(out)} bytes, more than its {RUNTIME_DATA_SIZE}")
        return out

    @staticmethod
    def record(data: Sequence[int] | bytes) -> ThrowRecord:
        threw, cookie, frames, released, misses, *_ = _HEAD.unpack(bytes(data[: _HEAD.size]))
        return ThrowRecord(bool(threw), cookie, frames, released, misses, max(threw - 1, 0))
