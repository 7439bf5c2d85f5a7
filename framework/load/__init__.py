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

        return _checked(path, load_object(path), elf=True)
    if path.endswith(".s"):
        from framework.load.asm import load_asm

        return _checked(path, load_asm(path), elf=False)
    raise InputError(Coord(path), "not an ELF object or a .s assembly file")


def _checked(path: str, programs: tuple[Program, ...], *, elf: bool) -> tuple[Program, ...]:
    """What bpf() would refuse before verifying: a program with no instructions, a map it cannot create."""
    from framework.load.map_limits import map_refusal

    for program in programs:
        if not any(insn is not None for insn in program.slots):
            # kernel: bpf_prog_load (attr->insn_cnt == 0 is refused: E2BIG)
            where = Coord(path, program.section) if elf else Coord(path)
            raise InputError(where, f"program '{program.name}' has no instructions (bpf_prog_load: E2BIG)")
        for m in program.maps:
            why = map_refusal(m)
            if why is not None:  # kernel: map_create, before any program is loaded
                raise InputError(Coord(path, m.section) if elf else Coord(path), f"map '{m.name}': {why}")
    return programs
