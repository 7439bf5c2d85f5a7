"""Hand-built BTF for tests: just the kinds a program with an exception callback needs."""

from __future__ import annotations

import struct


class BtfBuilder:
    """Types are appended in order; ids start at 1, as in the kernel's BTF."""

    def __init__(self) -> None:
        self.types = bytearray()
        self.strings = bytearray(b"\0")
        self.count = 0

    def _str(self, text: str) -> int:
        if not text:
            return 0
        off = len(self.strings)
        self.strings += text.encode() + b"\0"
        return off

    def _add(self, record: bytes) -> int:
        self.types += record
        self.count += 1
        return self.count

    def int_(self, name: str, size: int, signed: bool = False) -> int:
        encoding = (1 << 24) if signed else 0
        return self._add(struct.pack("<IIII", self._str(name), 1 << 24, size, encoding | size * 8))

    def ptr(self, target: int) -> int:
        return self._add(struct.pack("<III", 0, 2 << 24, target))

    def func_proto(self, ret: int, params: list[tuple[str, int]]) -> int:
        head = struct.pack("<III", 0, (13 << 24) | len(params), ret)
        return self._add(head + b"".join(struct.pack("<II", self._str(n), t) for n, t in params))

    def func(self, name: str, proto: int, linkage: int = 1) -> int:
        return self._add(struct.pack("<III", self._str(name), (12 << 24) | linkage, proto))

    def decl_tag(self, text: str, target: int, component: int = -1) -> int:
        return self._add(struct.pack("<IIIi", self._str(text), 17 << 24, target, component))

    def encode(self) -> bytes:
        header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(self.types), len(self.types), len(self.strings))
        return header + bytes(self.types) + bytes(self.strings)
