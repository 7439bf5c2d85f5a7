"""An ELF object's sections, symbols and relocations as plain data, read with pyelftools.

Everything pyelftools may raise on a damaged file is turned into one `InputError`
here, so the loader works on checked, plain values only.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from framework.errors import Coord, InputError

EM_BPF = 247
SHT_PROGBITS, SHT_SYMTAB, SHT_NOBITS, SHT_REL = 1, 2, 8, 9
SHF_EXECINSTR = 0x4
SHN_UNDEF, SHN_LORESERVE = 0, 0xFF00
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION = 0, 1, 2, 3
STV_DEFAULT, STV_INTERNAL, STV_HIDDEN = 0, 1, 2

# What pyelftools raises on damaged input.
_ELF_ERRORS = (ELFError, struct.error, ValueError, IndexError, KeyError, UnicodeDecodeError)
_ELF_ERRORS_MORE = (OverflowError, ZeroDivisionError, EOFError, TypeError, AttributeError, RecursionError)


@dataclass(frozen=True, slots=True)
class Section:
    index: int
    name: str
    type: int
    flags: int
    data: bytes  # empty for SHT_NOBITS
    size: int
    link: int
    info: int

    @property
    def is_code(self) -> bool:
        return self.type == SHT_PROGBITS and bool(self.flags & SHF_EXECINSTR)


@dataclass(frozen=True, slots=True)
class Symbol:
    index: int
    name: str
    value: int
    size: int
    bind: int
    type: int
    shndx: int
    visibility: int = 0  # STV_*


@dataclass(frozen=True, slots=True)
class Reloc:
    offset: int
    sym: int
    type: int


@dataclass(frozen=True, slots=True)
class ElfObject:
    path: str
    sections: tuple[Section, ...]
    symbols: tuple[Symbol, ...]
    relocs: dict[int, tuple[Reloc, ...]]  # target section index -> relocations

    def by_name(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)


def _check_header(path: str, data: bytes) -> None:
    """ELF64, little-endian, EM_BPF (libbpf: bpf_object__elf_init)."""
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise InputError(Coord(path, None, 0), "not an ELF file")
    if data[4] != 2:
        raise InputError(Coord(path, None, 4), "not a 64-bit ELF file")
    if data[5] != 1:
        raise InputError(Coord(path, None, 5), "not a little-endian ELF file")
    (machine,) = struct.unpack_from("<H", data, 18)
    if machine != EM_BPF:
        raise InputError(Coord(path, None, 18), f"not a BPF object (e_machine {machine}, want {EM_BPF})")


def read_elf(path: str, data: bytes) -> ElfObject:
    _check_header(path, data)
    try:
        return _read(path, data)
    except InputError:
        raise
    except _ELF_ERRORS + _ELF_ERRORS_MORE as exc:
        raise InputError(Coord(path, None, None), f"malformed ELF: {exc}") from None


def _read(path: str, data: bytes) -> ElfObject:
    elf = ELFFile(io.BytesIO(data))
    sections: list[Section] = []
    symtab_idx: int | None = None
    for index in range(elf.num_sections()):
        sec = elf.get_section(index)
        hdr = sec.header
        kind = hdr["sh_type"]
        kind_no = kind if isinstance(kind, int) else _SHT_BY_NAME.get(kind, -1)
        size = hdr["sh_size"]
        if kind_no != SHT_NOBITS and index and hdr["sh_offset"] + size > len(data):
            raise InputError(Coord(path, sec.name or str(index), None), "section extends past the end of the file")
        body = b"" if kind_no == SHT_NOBITS or index == 0 else bytes(data[hdr["sh_offset"] : hdr["sh_offset"] + size])
        if kind_no == SHT_SYMTAB:
            if symtab_idx is not None:
                raise InputError(Coord(path, sec.name, None), "multiple symbol tables")
            symtab_idx = index
        sections.append(Section(index, sec.name, kind_no, hdr["sh_flags"], body, size, hdr["sh_link"], hdr["sh_info"]))
    if symtab_idx is None:
        raise InputError(Coord(path, None, None), "no symbol table")
    symtab = sections[symtab_idx]
    symbols = _symbols(path, symtab, sections)
    relocs: dict[int, tuple[Reloc, ...]] = {}
    for rel_sec in sections:
        if rel_sec.type != SHT_REL:
            continue
        body = rel_sec.data
        if len(body) % 16:
            raise InputError(Coord(path, rel_sec.name, len(body) - len(body) % 16), "truncated relocation")
        rels = []
        for at in range(0, len(body), 16):
            offset, info = struct.unpack_from("<QQ", body, at)
            rels.append(Reloc(offset, info >> 32, info & 0xFFFFFFFF))
        relocs[rel_sec.info] = tuple(rels)
    return ElfObject(path, tuple(sections), symbols, relocs)


def _symbols(path: str, symtab: Section, sections: list[Section]) -> tuple[Symbol, ...]:
    if len(symtab.data) % 24:
        raise InputError(Coord(path, symtab.name, None), "symbol table size is not a multiple of 24")
    if not 0 < symtab.link < len(sections):
        raise InputError(Coord(path, symtab.name, None), f"bad string table index {symtab.link}")
    strtab = sections[symtab.link].data
    out = []
    for index, at in enumerate(range(0, len(symtab.data), 24)):
        name_off, info, other, shndx, value, size = struct.unpack_from("<IBBHQQ", symtab.data, at)
        if name_off >= max(len(strtab), 1) and name_off:
            raise InputError(Coord(path, symtab.name, at), f"symbol name offset {name_off} out of range")
        end = strtab.find(b"\0", name_off)
        name = strtab[name_off : end if end >= 0 else len(strtab)].decode("utf-8", "replace")
        out.append(Symbol(index, name, value, size, info >> 4, info & 0xF, shndx, other & 0x3))
    return tuple(out)


_SHT_BY_NAME = {"SHT_NULL": 0, "SHT_PROGBITS": 1, "SHT_SYMTAB": 2, "SHT_STRTAB": 3, "SHT_NOBITS": 8, "SHT_REL": 9}
