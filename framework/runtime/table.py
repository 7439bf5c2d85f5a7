"""The `bakeoff_rt` table (runtime.h): what the machine tells the runtime, and what it reports."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MAX_MAINS", "RuntimeTable", "ThrowRecord"]

MAX_MAINS = 16
_HEAD = struct.Struct("<6Q")


@dataclass(frozen=True, slots=True)
class ThrowRecord:
    threw: bool
    cookie: int
    frames: int


@dataclass(frozen=True, slots=True)
class RuntimeTable:
    """All JITed code [text_lo, text_hi) and each main program's range and exception callback."""

    text: tuple[int, int]
    mains: tuple[tuple[int, int, int], ...]  # (lo, hi, exception callback address)

    def encode(self) -> bytes:
        if len(self.mains) > MAX_MAINS:
            raise ValueError(f"at most {MAX_MAINS} main programs")
        out = _HEAD.pack(0, 0, 0, self.text[0], self.text[1], len(self.mains))
        for lo, hi, cb in self.mains:
            out += struct.pack("<3Q", lo, hi, cb)
        return out.ljust(_HEAD.size + 24 * MAX_MAINS, b"\0")

    @staticmethod
    def record(data: Sequence[int] | bytes) -> ThrowRecord:
        threw, cookie, frames, *_ = _HEAD.unpack(bytes(data[: _HEAD.size]))
        return ThrowRecord(bool(threw), cookie, frames)
