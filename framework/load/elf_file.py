"""An ELF object's sections, symbols and relocations as plain data.

Read field by field, every offset, size and index checked against the file before it is
used, so that damaged input is one `InputError` naming the place and nothing else is caught:
a Python error from here is a bug in the project (exit status 4), never "malformed ELF".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from framework.errors import Coord, InputError

EM_BPF = 247
SHT_PROGBITS, SHT_SYMTAB, SHT_NOBITS, SHT_REL = 1, 2, 8, 9
SHF_EXECINSTR = 0x4
SHN_UNDEF, SHN_LORESERVE = 0, 0xFF00
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION = 0, 1, 2, 3
STV_DEFAULT, STV_INTERNAL, STV_HIDDEN = 0, 1, 2


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


_SHDR = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr
SHN_XINDEX = 0xFFFF
BPF_MAX_SECTION = 1 << 30  # one section of more than 1 GiB is refused here (no kernel object holds one)


def read_elf(path: str, data: bytes) -> ElfObject:
    """The object's sections, symbols and relocations, every offset and index checked against the file."""
    sections = read_sections(path, data)
    return ElfObject(path, sections, read_symbols(path, sections), read_relocs(path, sections))


def read_sections(path: str, data: bytes) -> tuple[Section, ...]:
    """The header checked (ELF64, little-endian, EM_BPF) and every section, with its bytes."""
    _check_header(path, data)
    return tuple(_sections(path, data))


def read_symbols(path: str, sections: tuple[Section, ...]) -> tuple[Symbol, ...]:
    """The one symbol table's symbols."""
    symtabs = [s for s in sections if s.type == SHT_SYMTAB]
    if not symtabs:
        raise InputError(Coord(path, None, None), "no symbol table")
    if len(symtabs) > 1:
        raise InputError(Coord(path, symtabs[1].name, None), "multiple symbol tables")
    return _symbols(path, symtabs[0], sections)


def read_relocs(path: str, sections: tuple[Section, ...]) -> dict[int, tuple[Reloc, ...]]:
    """Every SHT_REL section's relocations, by the index of the section they relocate."""
    relocs: dict[int, tuple[Reloc, ...]] = {}
    for rel_sec in sections:
        if rel_sec.type != SHT_REL:
            continue
        body = rel_sec.data
        if len(body) % 16:
            raise InputError(Coord(path, rel_sec.name, len(body) - len(body) % 16), "truncated relocation")
        if not 0 < rel_sec.info < len(sections):
            raise InputError(Coord(path, rel_sec.name, None), f"relocates section {rel_sec.info}, which is not there")
        rels = []
        for at in range(0, len(body), 16):
            offset, info = struct.unpack_from("<QQ", body, at)
            rels.append(Reloc(offset, info >> 32, info & 0xFFFFFFFF))
        relocs[rel_sec.info] = tuple(rels)
    return relocs


def _sections(path: str, data: bytes) -> list[Section]:
    """The section headers (libbpf: elf_getshdrnum, elf_nextscn), names from the section name table."""
    (shoff,) = struct.unpack_from("<Q", data, 0x28)  # e_shoff
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)  # e_shentsize, e_shnum, e_shstrndx
    if shnum == 0 or shoff == 0:
        raise InputError(Coord(path, None, 0x3C), "no section headers")
    if shentsize != _SHDR.size:
        raise InputError(Coord(path, None, 0x3A), f"section header size {shentsize}, want {_SHDR.size}")
    if shoff + shnum * _SHDR.size > len(data):
        raise InputError(Coord(path, None, 0x28), "section headers extend past the end of the file")
    if shstrndx == SHN_XINDEX or not 0 < shstrndx < shnum:
        raise InputError(Coord(path, None, 0x3E), f"bad section name table index {shstrndx}")
    headers = [_SHDR.unpack_from(data, shoff + i * _SHDR.size) for i in range(shnum)]

    def body(index: int) -> bytes:
        _, kind, _, _, offset, size, *_ = headers[index]
        if index == 0 or kind == SHT_NOBITS:
            return b""
        if offset + size > len(data):
            raise InputError(Coord(path, str(index), None), "section extends past the end of the file")
        return bytes(data[offset : offset + size])

    names = body(shstrndx)
    sections: list[Section] = []
    for index, (name_off, kind, flags, _, _, size, link, info, _, _) in enumerate(headers):
        if name_off and name_off >= len(names):
            raise InputError(Coord(path, str(index), None), f"section name offset {name_off} out of range")
        end = names.find(b"\0", name_off)
        name = names[name_off : end if end >= 0 else len(names)].decode("utf-8", "replace")
        if kind != SHT_NOBITS and size > BPF_MAX_SECTION:
            raise InputError(Coord(path, name or str(index), None), f"section of {size} bytes is too large")
        try:
            sections.append(Section(index, name, kind, flags, body(index), size, link, info))
        except InputError:
            where = Coord(path, name or str(index), None)
            raise InputError(where, "section extends past the end of the file") from None
    return sections


def _symbols(path: str, symtab: Section, sections: tuple[Section, ...]) -> tuple[Symbol, ...]:
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
