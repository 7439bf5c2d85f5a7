"""An assembly file (LLVM syntax) to one `Program`.

Header comments, one per line, before or among the instructions:
    # program: NAME          (default: the file's stem)
    # section: tc            (selects the program type as libbpf's SEC() does)
    # type: sched_cls        (overrides the type the section selects)
    # map: name=m type=hash key=4 value=8 max_entries=16 [flags=0]
    # kfunc: bpf_throw       (any kfunc framework/platform/kfuncs.py knows may be called by name)
    # global: LABEL          (a subprog with global linkage; others are static)
    # exception_cb: LABEL    (the exception callback; global)
Subprogs start at pc 0 and at every `call LABEL` or `ld_imm64` function target.
"""

from __future__ import annotations

import hashlib
import os
import re

from framework.errors import Coord, InputError
from framework.isa import opcodes as op
from framework.isa.insn import Insn, UnknownOpcode
from framework.isa.llvm_asm import AsmError, assemble
from framework.isa.opcodes import Kind as IKind
from framework.load.program import Linkage, MapDef, Program, Subprog
from framework.platform import kfuncs
from framework.platform.sections import MAP_TYPES, PROG_TYPES, match_section

_HEADER = re.compile(r"\s*#\s*(program|section|type|map|kfunc|global|exception_cb)\s*:\s*(.*?)\s*$")


def _map(path: str, line: int, text: str) -> MapDef:
    fields: dict[str, str] = {}
    for part in text.split():
        key, sep, value = part.partition("=")
        if not sep:
            raise InputError(Coord(path, line=line), f"map field '{part}' is not key=value")
        fields[key] = value
    try:
        map_type = fields.get("type", "array")
        if map_type not in MAP_TYPES:
            raise InputError(Coord(path, line=line), f"unknown map type '{map_type}'")
        return MapDef(
            name=fields["name"],
            map_type=map_type,
            key_size=int(fields.get("key", "4"), 0),
            value_size=int(fields.get("value", "8"), 0),
            max_entries=int(fields.get("max_entries", "1"), 0),
            flags=int(fields.get("flags", "0"), 0),
        )
    except KeyError:
        raise InputError(Coord(path, line=line), "map needs name=") from None
    except ValueError as exc:
        raise InputError(Coord(path, line=line), f"bad map field: {exc}") from None


def load_asm(path: str) -> tuple[Program, ...]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        text = data.decode("utf-8")
    except OSError as exc:
        raise InputError(Coord(path), f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(Coord(path, None, exc.start), "not UTF-8 text") from None
    lines = text.splitlines()
    head: dict[str, str] = {}
    maps: list[MapDef] = []
    declared: list[str] = []
    global_labels: set[str] = set()
    for number, raw in enumerate(lines, 1):
        m = _HEADER.match(raw)
        if not m:
            continue
        key, value = m[1], m[2]
        if key == "map":
            maps.append(_map(path, number, value))
        elif key == "kfunc":
            declared.append(value)
        elif key == "global":
            global_labels.add(value)
        else:
            head[key] = value
    try:
        asm = assemble(lines)
    except AsmError as exc:
        raise InputError(Coord(path, line=getattr(exc, "line", None)), str(exc)) from None
    section = head.get("section", "")
    sec_def = match_section(section) if section else None
    prog_type = head.get("type") or (sec_def.prog_type if sec_def else None)
    if prog_type is None:
        raise InputError(Coord(path, line=1), "no '# section:' or '# type:' header")
    if prog_type not in PROG_TYPES:  # the kernel: bpf_prog_load, find_prog_type refuses it (EINVAL)
        line = next((i + 1 for i, text in enumerate(lines) if text.lstrip().startswith("# type:")), 1)
        raise InputError(
            Coord(path, line=line), f"unknown program type '{prog_type}' (a BPF_PROG_TYPE_* name in lower case)"
        )
    slots = list(asm.slots)
    kfunc_names: list[str] = []
    map_names = [m.name for m in maps]
    for pc, symbol, field in asm.relocations:
        insn = slots[pc]
        assert insn is not None
        where = Coord(path, line=asm.lines[pc])
        try:
            slots[pc] = _resolve(insn, symbol, field, kfunc_names, map_names, declared, where)
        except UnknownOpcode as exc:
            raise InputError(where, str(exc)) from None
    starts = {0}
    for pc, insn in enumerate(slots):
        if insn is not None and insn.src == op.PSEUDO_CALL and insn.kind is IKind.CALL:
            starts.add(insn.jump_target(pc))
        if insn is not None and insn.kind is IKind.LD_IMM64 and insn.src == op.PSEUDO_FUNC:
            starts.add(insn.jump_target(pc))
    names = {pc: name for name, pc in asm.labels.items()}
    exc_label = head.get("exception_cb")
    if exc_label is not None:
        if exc_label not in asm.labels:
            raise InputError(Coord(path, line=1), f"exception callback '{exc_label}' is not a label")
        starts.add(asm.labels[exc_label])
        global_labels.add(exc_label)
    ordered = sorted(s for s in starts if 0 <= s < len(slots))
    prog_name = head.get("program") or os.path.basename(path).split(".")[0]
    subprogs = []
    for i, start in enumerate(ordered):
        end = ordered[i + 1] if i + 1 < len(ordered) else len(slots)
        name = prog_name if start == 0 else names.get(start, f"sub_{start}")
        linkage = Linkage.GLOBAL if start == 0 or name in global_labels else Linkage.STATIC
        subprogs.append(Subprog(name, start, end, linkage, None, name == exc_label and start != 0))
    return (
        Program(
            name=prog_name,
            section=section or prog_type,
            prog_type=prog_type,
            slots=tuple(slots),
            subprogs=tuple(subprogs),
            source=path,
            sha256=hashlib.sha256(data).hexdigest(),
            expected_attach_type=sec_def.expected_attach_type if sec_def else None,
            attach_to=sec_def.attach_to if sec_def else None,
            maps=tuple(maps),
            kfuncs=tuple(kfunc_names),
            symbols={**names, 0: prog_name},
        ),
    )


def _resolve(
    insn: Insn, symbol: str, field: str, kfunc_names: list[str], map_names: list[str], declared: list[str], where: Coord
) -> Insn:
    if field == "call":
        if not kfuncs.is_known(symbol):
            raise InputError(where, f"unknown kfunc '{symbol}'")
        if symbol not in kfunc_names:
            kfunc_names.append(symbol)
        return insn.replace(src=op.PSEUDO_KFUNC_CALL, off=0, imm=kfunc_names.index(symbol))
    if field == "ld_imm64" and symbol in map_names:
        return insn.replace(src=op.PSEUDO_MAP_IDX, imm=map_names.index(symbol), imm_hi=0)
    raise InputError(where, f"unknown symbol '{symbol}'")
