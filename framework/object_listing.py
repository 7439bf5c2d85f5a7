"""An ELF object's code as `llvm-objdump-19 -d` prints it, whatever the loader can make of it.

Every executable section, in section order, each cut at its symbols as llvm-objdump
cuts it; nothing here needs the object to hold programs libbpf would load. The
layout and choices, observed on llvm-objdump-19 (tests/test_object_listing.py holds
each against the tool):

- symbols: every symbol defined in the section but section symbols; of several at one
  address, the greatest name (byte order) is the one printed and the one branches name;
  without one at offset 0, the section's own name stands there;
- a region under an STT_OBJECT symbol is dumped as data, 8 bytes a row with their ASCII;
- branches (`goto`, `gotol`, `if`, `may_goto`) are annotated `<sym>` or `<sym+0xNN>`
  with the last symbol at or before the target, the target computed modulo 2^64;
- bytes that are no instruction are `<unknown>`, 8 at a time, or one at a time where
  fewer than an instruction remain (an `ld_imm64` cut short); eight or more zero bytes
  are skipped as `...` (in steps of 4, up to the next symbol or relocation);
- `relocs` (`-r`): each relocation below the instruction it falls in,
  `\\t\\t<offset, 16 hex digits>:  <type>\\t<symbol>` (a section symbol by its section's
  name, symbol 0 as `*ABS*`); one past the section's end is not printed. Before them,
  the `.BTF.ext` CO-RE relocation of an instruction, if it has one, at the instruction's
  own offset: `\\t\\t<offset>:  CO-RE <byte_off> [2] struct outer::in.a (0:1:0)`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass

from framework.errors import InputError
from framework.isa.decode import DecodeError, Truncated, decode_at
from framework.isa.insn import SLOT, Insn
from framework.isa.llvm_syntax import UNKNOWN, format_insn
from framework.isa.opcodes import Kind
from framework.load.btf import Btf, parse_btf
from framework.load.btf_ext import ExtCoreRelo, parse_btf_ext
from framework.load.core_names import core_relo_text
from framework.load.elf_file import (
    SHF_EXECINSTR,
    STT_OBJECT,
    STT_SECTION,
    Reloc,
    Section,
    Symbol,
    read_relocs,
    read_sections,
    read_symbols,
)

LLVM_MAX_REG = 12  # LLVM's BPF registers are r0-r11 (r11 prints; the verifier refuses it)
BRANCHES = (Kind.JA, Kind.JCOND, Kind.MAY_GOTO)
RELOC_TYPES = {  # ELF's R_BPF_* names, as llvm-objdump prints them
    0: "R_BPF_NONE",
    1: "R_BPF_64_64",
    2: "R_BPF_64_ABS64",
    3: "R_BPF_64_ABS32",
    4: "R_BPF_64_NODYLD32",
    10: "R_BPF_64_32",
}
ZERO_RUN = 8  # llvm-objdump skips runs of zero bytes this long or longer
DATA_ROW = 8  # bytes per row of a data dump
WRAP = 1 << 64


@dataclass(frozen=True, slots=True)
class ObjectListing:
    """What `disasm` prints for an object, and what it has to say besides (one line each)."""

    text: str
    notes: tuple[str, ...]
    sections: int  # executable sections disassembled
    insns: int  # instruction lines printed (`<unknown>` included)


@dataclass(frozen=True, slots=True)
class _Mark:
    """The one symbol printed at an address."""

    addr: int
    name: str
    type: int


def object_listing(path: str, data: bytes, *, alu32: bool = False, relocs: bool = False) -> ObjectListing:
    """The object's executable sections as `llvm-objdump-19 -d` prints them (`-dr` with `relocs`;
    `alu32`: as with `--mcpu=v3` or `v4`). A damaged header or section table is an InputError;
    a symbol table that cannot be read is a note, and the code is printed without symbols,
    as llvm-objdump does after its warning."""
    sections = read_sections(path, data)
    notes: list[str] = []
    try:
        symbols = read_symbols(path, sections)
    except InputError as exc:
        notes.append(f"{exc}; disassembled without symbols or relocations")
        symbols, relocs = (), False
    rels: dict[int, tuple[Reloc, ...]] = {}
    core: dict[str, tuple[ExtCoreRelo, ...]] = {}
    btf: Btf | None = None
    if relocs:
        try:
            rels = read_relocs(path, sections)
        except InputError as exc:
            notes.append(f"{exc}; relocations not shown")
        btf, core = _core_relos(path, sections, notes)
    out = ["", f"{path}:\tfile format elf64-bpf"]
    shown = insns = 0
    for sec in sections:
        if not sec.flags & SHF_EXECINSTR or not sec.data:  # SHT_NOBITS holds no bytes
            continue
        shown += 1
        out += ["", f"Disassembly of section {sec.name}:"]
        cores = {r.insn_off: core_relo_text(btf, r) for r in core.get(sec.name, ())} if btf else {}
        lines, count = _section(sec, symbols, sections, rels.get(sec.index, ()), cores, alu32)
        out += lines
        insns += count
    if not shown:
        notes.append(f"{path}: no executable section, nothing to disassemble")
    return ObjectListing("\n".join(out) + "\n", tuple(notes), shown, insns)


def _core_relos(
    path: str, sections: tuple[Section, ...], notes: list[str]
) -> tuple[Btf | None, dict[str, tuple[ExtCoreRelo, ...]]]:
    """The object's BTF and its CO-RE relocations by section name; none, with a note, if they cannot be read."""
    btf_sec = next((s for s in sections if s.name == ".BTF"), None)
    ext_sec = next((s for s in sections if s.name == ".BTF.ext"), None)
    if btf_sec is None or ext_sec is None:
        return None, {}
    try:
        btf = parse_btf(btf_sec.data, source=path)
        return btf, parse_btf_ext(ext_sec.data, btf, source=path).core_relos
    except InputError as exc:
        notes.append(f"{exc}; CO-RE relocations not shown")
        return None, {}


def _marks(sec: Section, symbols: tuple[Symbol, ...]) -> list[_Mark]:
    """The symbols llvm-objdump prints in `sec`, one per address, in address order."""
    best: dict[int, _Mark] = {}
    for sym in symbols:
        if sym.shndx != sec.index or sym.type == STT_SECTION or sym.index == 0:
            continue
        mark = _Mark(sym.value, sym.name, sym.type)
        held = best.get(sym.value)
        if held is None or (mark.name.encode(), mark.type) > (held.name.encode(), held.type):
            best[sym.value] = mark
    if 0 not in best:
        best[0] = _Mark(0, sec.name, 0)
    return [best[addr] for addr in sorted(best)]


def _annotation(marks: list[_Mark], addrs: list[int], target: int) -> str:
    """` <sym+0xNN>` for a branch target: the last symbol at or before it."""
    at = bisect.bisect_right(addrs, target)
    if not at:
        return ""
    mark = marks[at - 1]
    disp = target - mark.addr
    return f" <{mark.name}>" if not disp else f" <{mark.name}+0x{disp:x}>"


def _section(
    sec: Section,
    symbols: tuple[Symbol, ...],
    sections: tuple[Section, ...],
    rels: tuple[Reloc, ...],
    cores: dict[int, str],
    alu32: bool,
) -> tuple[list[str], int]:
    """The section's lines, and how many of them are instructions."""
    marks = _marks(sec, symbols)
    addrs = [m.addr for m in marks]
    count = 0
    pending = sorted(rels, key=lambda r: r.offset)
    size = len(sec.data)
    out: list[str] = []

    def flush(end: int) -> None:
        while pending and pending[0].offset < end:
            out.append(_reloc_line(pending.pop(0), symbols, sections))

    for i, mark in enumerate(marks):
        if mark.addr >= size:
            continue
        end = min(marks[i + 1].addr if i + 1 < len(marks) else size, size)
        out += ["", f"{mark.addr:016x} <{mark.name}>:"]
        if mark.type == STT_OBJECT:
            out += _data_rows(sec.data, mark.addr, end)
            continue
        at = mark.addr
        while at < end:
            limit = min(end, pending[0].offset) if pending else end
            zeros = _zero_run(sec.data, at, limit)
            if zeros:
                out.append("\t\t...")
                at += zeros
                continue
            insn, length = _insn_at(sec.data, at)
            raw = " ".join(f"{b:02x}" for b in sec.data[at : at + length])
            if insn is None:
                text = UNKNOWN
            else:
                text = format_insn(insn, alu32=alu32)
                if insn.kind in BRANCHES and text != UNKNOWN:
                    text += _annotation(marks, addrs, _branch_target(insn, at))
            out.append(f"{at // SLOT:8d}:\t{raw}\t{text}")
            count += 1
            if at in cores:
                out.append(f"\t\t{at:016x}:  {cores[at]}")
            at += length
            flush(at)
    return out, count


def _insn_at(code: bytes, at: int) -> tuple[Insn | None, int]:
    """The instruction at `at` and its length, or None and the bytes llvm-objdump passes over."""
    try:
        insn = decode_at(code, at, LLVM_MAX_REG)
    except Truncated:
        return None, 1
    except DecodeError:
        return (None, SLOT) if len(code) - at >= SLOT else (None, 1)
    return insn, insn.slots * SLOT


def _branch_target(insn: Insn, at: int) -> int:
    return (at + SLOT + (insn.jump_target(0) - 1) * SLOT) % WRAP


def _zero_run(code: bytes, at: int, limit: int) -> int:
    """How many zero bytes llvm-objdump skips at `at` (none unless there are ZERO_RUN)."""
    n = 0
    while at + n < limit and not code[at + n]:
        n += 1
    return n & ~3 if n >= ZERO_RUN else 0


def _data_rows(data: bytes, start: int, end: int) -> Iterator[str]:
    for at in range(start, end, DATA_ROW):
        chunk = data[at : min(at + DATA_ROW, end)]
        hexes = "".join(f" {b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        yield f"{at:8x}:{hexes}{' ' * (3 * (DATA_ROW - len(chunk)))}         {text}"


def _reloc_line(rel: Reloc, symbols: tuple[Symbol, ...], sections: tuple[Section, ...]) -> str:
    kind = RELOC_TYPES.get(rel.type, "Unknown")
    if rel.sym == 0:
        name = "*ABS*"
    elif rel.sym >= len(symbols):
        name = f"<symbol {rel.sym}>"
    else:
        sym = symbols[rel.sym]
        is_section = sym.type == STT_SECTION and 0 < sym.shndx < len(sections)
        name = sections[sym.shndx].name if is_section else sym.name
    return f"\t\t{rel.offset:016x}:  {kind}\t{name}"
