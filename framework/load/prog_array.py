"""A program array's contents as a run input names them (`[[program.input.prog_array]]`).

A slot holds a program of the same object as the program run, by name (libbpf gives
the programs of one object the same maps, so a tail-called program sees the caller's
maps). `targets` loads them; the engines link them beside the caller
(framework.run.tailcall) and the oracle loads them into the live prog array.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from framework.errors import Coord, InputError
from framework.load.program import Program

__all__ = ["ProgArraySlot", "targets"]


@dataclass(frozen=True, slots=True)
class ProgArraySlot:
    """Slot `index` of prog_array map `map` holds program `program` of the same object."""

    map: str
    index: int
    program: str


def targets(program: Program, slots: Sequence[ProgArraySlot]) -> dict[str, Program]:
    """The programs `slots` name, from `program`'s object (`program` itself by its name)."""
    names = {s.program for s in slots}
    if not names:
        return {}
    from framework.load.elf import load_object

    by_name = {p.name: p for p in load_object(program.source)} if names - {program.name} else {}
    by_name[program.name] = program
    missing = sorted(names - by_name.keys())
    if missing:
        raise InputError(Coord(program.source), f"prog_array names programs not in the object: {', '.join(missing)}")
    maps = {m.name: m for m in program.maps}
    for s in slots:
        m = maps.get(s.map)
        if m is None or m.map_type != "prog_array":
            raise InputError(Coord(program.source), f"{program.name}: '{s.map}' is not a prog_array map of it")
        if not 0 <= s.index < m.max_entries:
            raise InputError(Coord(program.source), f"{s.map}: slot {s.index} is past max_entries {m.max_entries}")
    return {name: by_name[name] for name in sorted(names)}
