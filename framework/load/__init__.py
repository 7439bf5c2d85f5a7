"""Load stage: files to `Program`s (ELF objects as libbpf reads them, or assembly text)."""

from __future__ import annotations

from framework.errors import Coord, InputError
from framework.load.program import LoadFailure, Program, strict

__all__ = ["LoadFailure", "load_path", "load_path_each"]


def load_path(path: str) -> tuple[Program, ...]:
    """Every program in `path`: an ELF object (by its magic) or a `.s` assembly file; the first
    program that cannot be loaded raises its InputError."""
    return strict(load_path_each(path))


def load_path_each(path: str) -> tuple[Program | LoadFailure, ...]:
    """Every program in `path`, each loaded alone: one that cannot be is a `LoadFailure` in its place."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise InputError(Coord(path), f"cannot read: {exc.strerror}") from None
    if magic == b"\x7fELF":
        from framework.load.elf import load_object_each

        return _checked(path, load_object_each(path), elf=True)
    if path.endswith(".s"):
        from framework.load.asm import load_asm

        return _checked(path, tuple(load_asm(path)), elf=False)
    raise InputError(Coord(path), "not an ELF object or a .s assembly file")


def _checked(path: str, items: tuple[Program | LoadFailure, ...], *, elf: bool) -> tuple[Program | LoadFailure, ...]:
    """What bpf() would refuse before verifying: a program with no instructions (that program
    fails), a map it cannot create (the object fails: libbpf creates every map first)."""
    from framework.load.btf import parse_btf
    from framework.load.map_limits import TIMER_MAP_TYPES, map_refusal, value_field_refusal

    out: list[Program | LoadFailure] = []
    for item in items:
        if isinstance(item, Program):
            typed = any(m.btf_value_type_id and m.map_type not in TIMER_MAP_TYPES for m in item.maps)
            btf = parse_btf(item.btf, source=path) if item.btf and typed else None
            for m in item.maps:
                why = map_refusal(m) or (value_field_refusal(m, btf) if btf is not None else None)
                if why is not None:  # kernel: map_create, before any program is loaded
                    raise InputError(Coord(path, m.section) if elf else Coord(path), f"map '{m.name}': {why}")
            if not any(insn is not None for insn in item.slots):
                # kernel: bpf_prog_load (attr->insn_cnt == 0 is refused: E2BIG)
                where = Coord(path, item.section) if elf else Coord(path)
                error = InputError(where, f"program '{item.name}' has no instructions (bpf_prog_load: E2BIG)")
                item = LoadFailure(item.name, item.section, error)
        out.append(item)
    return tuple(out)
