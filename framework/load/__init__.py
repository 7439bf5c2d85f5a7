"""Load stage: files to `Program`s (ELF objects as libbpf reads them, or assembly text)."""

from __future__ import annotations

from framework.errors import Coord, InputError
from framework.load.program import Program

__all__ = ["load_path"]


def load_path(path: str) -> tuple[Program, ...]:
    """Every program in `path`: an ELF object (by its magic) or a `.s` assembly file."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise InputError(Coord(path), f"cannot read: {exc.strerror}") from None
    if magic == b"\x7fELF":
        from framework.load.elf import load_object

        return load_object(path)
    if path.endswith(".s"):
        from framework.load.asm import load_asm

        return load_asm(path)
    raise InputError(Coord(path), "not an ELF object or a .s assembly file")
